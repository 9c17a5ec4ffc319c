"""Make PyPI's CUDA torchvision (and a mismatched torchaudio) harmless beside the CPU torch.

torchvision's ``_C`` extension links ``libtorch_cuda.so``; with a CPU torch it fails to load
and ``import torchvision`` then raises ``operator torchvision::nms does not exist``. Defining
the two op schemas first (only when the extension cannot load) lets torchvision, open_clip and
timm import; image transforms work, the detection ops are then unavailable.

braindecode pulls torchaudio, whose newest PyPI build does not match torch 2.13; its extension
then fails to load and ``import transformers``' audio helpers crash. When torchaudio is installed
but cannot load, transformers is told it is absent.

Nothing here runs on ``import eegbench``. eegbench's own code calls
``ensure_torchvision_importable()`` right before it imports one of these libraries (the targets,
LLM loaders, the braindecode bridge), so ``eegbench.load_run`` and friends work without any
global hook. ``install_import_guard()`` is the opt-in for a whole process: the ``eegbench``
command installs it (so third-party plugins that import transformers at the top of a module
work), and so can a script or test suite that imports torchvision itself. ``module_spec(name)``
asks whether a package is installed without the guard's preparation (listings stay light).
"""

from __future__ import annotations

import ctypes
import functools
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

_LIB = None
_GUARDED = (
    "torchvision",
    "torchaudio",
    "transformers",
    "open_clip",
    "timm",
    "sentence_transformers",
    "braindecode",
)


class _ImportGuard(importlib.abc.MetaPathFinder):
    """Runs ``ensure_torchvision_importable`` before the first import of a guarded package, so
    any later ``import transformers`` (by eegbench, a plugin or the user) finds torchvision and
    torchaudio made safe first; installed only by ``install_import_guard``."""

    done = False  # it stays on sys.meta_path (removing it mid-import would skip a finder)
    probing = False  # set by ``module_spec``: a look-up, not an import

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if not self.done and not self.probing and name in _GUARDED:
            self.done = True
            ensure_torchvision_importable()
        return None


def install_import_guard() -> None:
    """Install the guard on ``sys.meta_path`` (idempotent): opt-in, for a whole process; the
    ``eegbench`` command calls it."""
    if _LIB is None and not any(isinstance(f, _ImportGuard) for f in sys.meta_path):
        sys.meta_path.insert(0, _ImportGuard())


def module_spec(name: str) -> importlib.machinery.ModuleSpec | None:
    """``importlib.util.find_spec(name)`` that only looks: the import guard prepares nothing
    (and so imports no torch) for a package that is looked up but not imported."""
    guards = [f for f in sys.meta_path if isinstance(f, _ImportGuard)]
    for guard in guards:
        guard.probing = True
    try:
        return importlib.util.find_spec(name)
    finally:
        for guard in guards:
            guard.probing = False


def ensure_torchvision_importable() -> None:
    """Prepare torchvision and torchaudio for import (idempotent)."""
    _hide_broken_torchaudio()
    global _LIB
    if _LIB is not None:
        return
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        return
    import torch

    try:
        torch.ops.torchvision.nms.default  # noqa: B018 - probe: is the schema defined?
        return
    except (AttributeError, RuntimeError):
        pass
    for so in Path(spec.origin).parent.glob("_C*.so"):
        try:
            ctypes.CDLL(str(so))
            return
        except OSError:
            continue
    lib = torch.library.Library("torchvision", "DEF")
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor qdets, Tensor scores, float iou_threshold) -> Tensor")
    _LIB = lib


def _hide_broken_torchaudio() -> None:
    if importlib.util.find_spec("torchaudio") is None:
        return
    _stub_torchaudio_extension()
    try:
        import torchaudio  # noqa: F401
    except (OSError, ImportError, RuntimeError):
        import transformers.utils as tu
        import transformers.utils.import_utils as iu

        tu.is_torchaudio_available = iu.is_torchaudio_available = lambda: False


def _stub_torchaudio_extension() -> None:
    """Stand in for torchaudio's C++ extension when PyPI's CUDA build cannot load beside CPU
    torch; torchaudio's pure-Python filter fallbacks (used by braindecode) then work."""
    if "torchaudio" in sys.modules or "torchaudio._extension" in sys.modules:
        return
    spec = importlib.util.find_spec("torchaudio")
    if spec is None or not spec.submodule_search_locations:
        return
    import torch  # noqa: F401 - loads libtorch before the extension is probed

    libs = list((Path(next(iter(spec.submodule_search_locations))) / "lib").glob("_torchaudio*"))
    try:
        for lib in libs:
            ctypes.CDLL(str(lib))
        return
    except OSError:
        pass
    stub = types.ModuleType("torchaudio._extension")

    def fail_if_no_align(func: Any) -> Any:
        @functools.wraps(func)
        def unavailable(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("torchaudio's C++ extension is not loadable with this torch build")

        return unavailable

    stub.__dict__.update(
        _IS_TORCHAUDIO_EXT_AVAILABLE=False,
        _IS_ALIGN_AVAILABLE=False,
        fail_if_no_align=fail_if_no_align,
        _check_cuda_version=lambda: None,
    )
    sys.modules["torchaudio._extension"] = stub
