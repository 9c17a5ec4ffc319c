"""File helpers shared by the core and plugins: atomic writes and content digests."""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO


def atomic_write(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` so that ``path`` keeps its old content or holds all of the new.

    Text is always written as UTF-8 (never the locale's encoding); bytes are written as they are.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    return atomic_writer(path, lambda f: f.write(data))


def atomic_writer(path: str | os.PathLike, write: Callable[[IO[bytes]], object]) -> Path:
    """Call ``write(f)`` on a temporary binary file beside ``path``, then rename it into place.

    On any error the temporary file is removed and ``path`` is untouched. The file gets the
    usual permissions (0666 minus the umask), like any file the process creates.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


@functools.cache
def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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


def atomic_dir(dest: str | os.PathLike, fill: Callable[[Path], object]) -> Path:
    """Build a directory with ``fill(tmp)`` in a temporary folder beside ``dest``, then rename it.

    If another process completed ``dest`` first, its copy is kept and ours is discarded. On any
    error the temporary folder is removed and ``dest`` is untouched.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{dest.name}.", dir=dest.parent))
    try:
        fill(tmp)
        tmp.chmod(0o777 & ~_umask())
        try:
            os.replace(tmp, dest)
        except OSError:  # another process finished first
            if not dest.is_dir():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest
