"""Reading ``.npy`` files without running code from them.

``np.load`` with pickles allowed executes whatever a crafted file asks for. Plain arrays are read
with ``allow_pickle=False``; an object array (a pickled dict or list, as the THINGS-EEG2 files
are) is read by a restricted unpickler that builds only plain containers, strings, numbers and
numpy arrays of those, and refuses any other class or function before calling it.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from eegbench.contract.errors import DataError

_HOWTO = (
    "re-save it with plain arrays (np.save(path, array)) or a dict of lists/strings/numbers/"
    "arrays, e.g. np.save(path, {k: np.asarray(v) for k, v in d.items()})"
)


def _numpy_core() -> Any:
    try:
        from numpy._core import multiarray  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray
    return multiarray


# module names under which numpy 1.x and 2.x pickle the same functions
_CORE_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray")
_ALLOWED_BUILTINS = {"set": set, "frozenset": frozenset, "complex": complex}


class RestrictedUnpickler(pickle.Unpickler):
    """Admits only builtin containers/str/numbers and numpy's ndarray, dtype and scalar
    reconstructors; any other global raises ``pickle.UnpicklingError``."""

    def find_class(self, module: str, name: str) -> Any:
        core = _numpy_core()
        if module in _CORE_MODULES and name in ("_reconstruct", "scalar"):
            return getattr(core, name)
        if module == "numpy" and name in ("ndarray", "dtype"):
            return getattr(np, name)
        if module == "numpy.dtypes" and name.endswith("DType"):
            dtype_cls = getattr(np.dtypes, name, None)
            if isinstance(dtype_cls, type) and issubclass(dtype_cls, np.dtype):
                return dtype_cls
        if module == "builtins" and name in _ALLOWED_BUILTINS:
            return _ALLOWED_BUILTINS[name]
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed")


def restricted_loads(data: bytes) -> Any:
    """Unpickle ``data`` admitting only plain containers, strings, numbers and numpy arrays."""
    return RestrictedUnpickler(io.BytesIO(data)).load()


def load_npy(path: str | os.PathLike, what: str = "file") -> Any:
    """The content of a ``.npy`` file: an array, or the object a pickled object array holds.

    Raises DataError (one line naming the file) when the file is unreadable or its pickle asks
    for anything other than plain data.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(f)
            if not dtype.hasobject:
                f.seek(0)
                return np.load(f, allow_pickle=False)
            payload = f.read()
    except OSError as e:
        raise DataError(f"cannot read {what} {str(path)!r}: {e.strerror}.") from None
    except Exception as e:  # any reader failure is a corrupt-file error
        raise DataError(
            f"{what} {str(path)!r} is not a readable .npy file ({_first_line(e)})."
        ) from None
    try:
        obj = restricted_loads(payload)
    except pickle.UnpicklingError as e:
        raise DataError(
            f"{what} {str(path)!r} holds pickled code or classes ({_first_line(e)}), which "
            f"eegbench never loads; {_HOWTO}."
        ) from None
    except Exception as e:  # a truncated or garbled pickle
        raise DataError(
            f"{what} {str(path)!r} is not a readable .npy file ({_first_line(e)}); "
            "it may be truncated."
        ) from None
    if not isinstance(obj, np.ndarray) or obj.shape != tuple(shape):
        raise DataError(f"{what} {str(path)!r} does not hold the array its header declares.")
    return obj


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
