"""The on-disk cache of preprocessed trials: one folder per (source files, trial selection,
preprocessing) under ``<cache_dir>/trials``, memory-mapped read-only when it is read.

An entry holds ``X.npy`` (float32 ``[N, C, T]``) and ``meta.json`` (its key, sampling rate,
channel names and preprocessing steps) and a checksum manifest written last (its completion
marker). An entry that fails its checksum is reported in one line naming its path, removed and
rebuilt. Source files are keyed by their SHA-256. The digest of a file (a source, or an entry's
``X.npy``) is remembered under ``<cache_dir>/trials/digests`` by (resolved path, size, mtime in
ns), so an unchanged multi-GB file is not re-read to be hashed on every run: an entry's files
are hashed when it is written, and again only when a file's size or mtime has changed since.

The cache is active only inside :func:`trial_cache` (``eegbench run`` and ``load_run`` open it
around the dataset factory with the run's ``cache_dir``); a dataset loaded outside it is not
cached.
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import functools
import hashlib
import json
import mmap
import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eegbench.io import atomic_dir, atomic_write, check_manifest, file_digest, manifest_digests

#: Bump when the numbers an entry holds would change for the same key.
FORMAT = 1

_ROOT: contextvars.ContextVar[Path | None] = contextvars.ContextVar("trial_cache", default=None)


@contextlib.contextmanager
def trial_cache(cache_dir: str | os.PathLike | None) -> Iterator[None]:
    """Cache preprocessed trials under ``<cache_dir>/trials`` while the block runs (None: off)."""
    token = _ROOT.set(None if cache_dir is None else Path(cache_dir).expanduser() / "trials")
    try:
        yield
    finally:
        _ROOT.reset(token)


def active_root() -> Path | None:
    """The folder of the active trial cache, or None outside :func:`trial_cache`."""
    return _ROOT.get()


def _memo(path: Path, root: Path) -> Path:
    st = path.stat()
    stamp = hashlib.sha256(f"{path}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()[:32]
    return root / "digests" / f"{stamp}.sha256"


def remembered_digest(path: str | os.PathLike, root: Path) -> str:
    """SHA-256 of a file, remembered under ``root/digests`` by path, size and mtime."""
    p = Path(path).expanduser().resolve()
    memo = _memo(p, root)
    with contextlib.suppress(OSError):
        text = memo.read_text().strip()
        if len(text) == 64 and all(c in "0123456789abcdef" for c in text):
            return text
    digest = file_digest(p)
    atomic_write(memo, digest + "\n")
    return digest


def _remember(folder: Path, root: Path) -> None:
    """Record the digests of a just-completed entry's files (from its manifest) in the memo, so
    that the next run's check of the entry does not re-read them."""
    with contextlib.suppress(OSError):  # no memo: the next run hashes the files once more
        for name, digest in manifest_digests(folder).items():
            atomic_write(_memo((folder / name).resolve(), root), digest + "\n")


def entry_key(key: Mapping[str, Any]) -> str:
    """The folder name of an entry: a digest of its JSON key."""
    text = json.dumps({"format": FORMAT, **key}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass
class Entry:
    """A complete cache entry: the memory-mapped trials and what they are."""

    path: Path
    X: np.ndarray
    sfreq: float
    ch_names: list[str]
    steps: list[str]


def lookup(folder: Path, shape: tuple[int, int, int] | None = None) -> Entry | None:
    """The entry in ``folder`` if it is complete and intact; a damaged one is reported in one
    line, removed and None returned (the caller rebuilds it). Its files' digests come from the
    memo under ``folder``'s parent unless a file changed since it was hashed."""
    from eegbench.progress import warn

    if not folder.is_dir():
        return None
    problem = check_manifest(folder, lambda p: remembered_digest(p, folder.parent))
    if problem is None:
        try:
            meta = json.loads((folder / "meta.json").read_text())
            X = np.load(folder / "X.npy", mmap_mode="r", allow_pickle=False)
            if X.dtype != np.float32 or X.ndim != 3 or list(X.shape) != meta["shape"]:
                problem = f"X.npy holds {X.dtype} {list(X.shape)}, meta.json says {meta['shape']}"
            elif shape is not None and tuple(X.shape[:1]) != shape[:1]:
                problem = f"{X.shape[0]} trials where {shape[0]} were expected"
            else:
                return Entry(folder, X, float(meta["sfreq"]), list(meta["ch_names"]), meta["steps"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            problem = f"unreadable ({e})"
    warn(f"trial cache entry {str(folder)!r} is damaged ({problem}); rebuilding it.")
    shutil.rmtree(folder, ignore_errors=True)
    return None


def store(
    folder: Path,
    X: np.ndarray,
    *,
    key: Mapping[str, Any],
    sfreq: float,
    ch_names: list[str],
    steps: list[str],
) -> Path:
    """Write ``X`` and its metadata as a complete entry (atomically, with a checksum manifest)."""

    def fill(tmp: Path) -> None:
        with open(tmp / "X.npy", "wb") as f:
            np.lib.format.write_array(f, np.ascontiguousarray(X), allow_pickle=False)
        meta = {
            "format": FORMAT,
            "key": dict(key),
            "shape": list(X.shape),
            "sfreq": sfreq,
            "ch_names": ch_names,
            "steps": steps,
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1, default=str) + "\n")

    done = atomic_dir(folder, fill, manifest=True)
    _remember(done, folder.parent)
    return done


def release_pages(address: int, nbytes: int) -> None:
    """Drop the resident pages of ``[address, address + nbytes)`` of a read-only file mapping
    (e.g. a tensor that torch loaded with ``mmap=True``) from this process's memory.

    Only whole pages inside the range are released, so nothing outside it is touched; the data
    stays valid and is read again from the file if used. Linux only (``madvise``
    ``MADV_DONTNEED``); elsewhere the pages stay resident until the mapping is closed.
    """
    if not sys.platform.startswith("linux") or nbytes <= 0:
        return
    page = mmap.PAGESIZE
    start = -(-address // page) * page
    end = (address + nbytes) // page * page
    if end > start:
        _libc().madvise(ctypes.c_void_p(start), ctypes.c_size_t(end - start), mmap.MADV_DONTNEED)


@functools.cache
def _libc() -> Any:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    libc.madvise.restype = ctypes.c_int
    return libc
