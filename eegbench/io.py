"""File helpers shared by the core and plugins: atomic writes, content digests and folders
that carry a checksum manifest (their completion marker)."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import stat
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
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:  # name the file the user asked for, not our temporary
        raise OSError(e.errno, e.strerror, str(path)) from None
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


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISREG, "a regular file"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def path_kind(path: str | os.PathLike) -> str | None:
    """What ``path`` is ("a directory", "a FIFO (named pipe)", "a character device", ...;
    symbolic links followed), or None when nothing is there. Opens nothing."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "a broken symbolic link" if os.path.islink(path) else None
    except OSError as e:
        return f"unreadable ({e.strerror})"
    return next((kind for test, kind in _KINDS if test(mode)), "not a regular file")


def file_problem(path: str | os.PathLike) -> str | None:
    """Why ``path`` cannot be read as a file ("does not exist", "is a directory, not a file",
    "is a FIFO (named pipe), not a file", ...), or None for a regular file."""
    kind = path_kind(path)
    if kind is None:
        return "does not exist"
    return None if kind == "a regular file" else f"is {kind}, not a file"


def folder_problem(path: str | os.PathLike) -> str | None:
    """Why ``path`` is not a folder ("does not exist", "is a regular file, not a folder", ...),
    or None for a folder."""
    kind = path_kind(path)
    if kind is None:
        return "does not exist"
    return None if kind == "a directory" else f"is {kind}, not a folder"


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


MANIFEST = ".eegbench-complete.json"


def write_manifest(folder: str | os.PathLike) -> None:
    """Record the SHA-256 of every file under ``folder`` (the folder's completion marker)."""
    folder = Path(folder)
    files = {
        str(p.relative_to(folder)): file_digest(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    atomic_write(folder / MANIFEST, json.dumps({"files": files}, indent=1) + "\n")


def check_manifest(
    folder: str | os.PathLike, digest: Callable[[Path], str] | None = None
) -> str | None:
    """None when every file the manifest lists is there with its digest, else the reason.

    ``digest(path)`` computes a file's SHA-256 (default :func:`file_digest`); a caller with a
    persistent memo of digests (the trial cache) passes its own.
    """
    digest = digest or file_digest
    folder = Path(folder)
    try:
        files = manifest_digests(folder)
    except FileNotFoundError:
        return "no completion marker"
    except (OSError, ValueError, KeyError, TypeError):
        return "unreadable completion marker"
    for name, expected in files.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if digest(path) != expected:
            return f"{name} does not match its checksum"
    return None


def manifest_digests(folder: str | os.PathLike) -> dict[str, str]:
    """File name -> SHA-256 as the manifest of a complete ``folder`` records them."""
    return dict(json.loads((Path(folder) / MANIFEST).read_text())["files"])


def pid_alive(pid: int) -> bool:
    """Whether a process with this PID runs (on this host)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_orphan_temporaries(parent: Path, name: str) -> None:
    """Remove ``.tmp-NAME.PID.*`` folders beside ``parent/name`` whose process is gone."""
    for p in parent.glob(f".tmp-{name}.*"):
        pid = p.name[len(f".tmp-{name}.") :].split(".", 1)[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True)


def atomic_dir(
    dest: str | os.PathLike, fill: Callable[[Path], object], manifest: bool = False
) -> Path:
    """Build a directory with ``fill(tmp)`` in a temporary folder beside ``dest``, then rename it.

    If another process completed ``dest`` first, its copy is kept and ours is discarded. On any
    error the temporary folder is removed and ``dest`` is untouched; temporaries of killed
    processes are removed on the next call. With ``manifest`` the folder gets a checksum of
    every file (see ``check_manifest``).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    clean_orphan_temporaries(dest.parent, dest.name)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{dest.name}.{os.getpid()}.", dir=dest.parent))
    try:
        fill(tmp)
        if manifest:
            write_manifest(tmp)
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
