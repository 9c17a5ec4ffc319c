"""Content digests of weight files, computed once per file version in a process."""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file's bytes; re-read only when its size or mtime changes."""
    st = Path(path).stat()
    return _digest(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()
