"""Make PyPI's CUDA torchvision (and a mismatched torchaudio) harmless beside the CPU torch.

torchvision's ``_C`` extension links ``libtorch_cuda.so``; with a CPU torch it fails to load
and ``import torchvision`` then raises ``operator torchvision::nms does not exist``. Defining
the two op schemas first (only when the extension cannot load) lets torchvision, open_clip and
timm import; image transforms work, the detection ops are then unavailable.

braindecode pulls torchaudio, whose newest PyPI build does not match torch 2.13; its extension
then fails to load and ``import transformers``' audio helpers crash. When torchaudio is installed
but cannot load, transformers is told it is absent.
"""

from __future__ import annotations

import ctypes
import importlib.util
from pathlib import Path

_LIB = None


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
    try:
        import torchaudio  # noqa: F401
    except (OSError, ImportError, RuntimeError):
        import transformers.utils as tu
        import transformers.utils.import_utils as iu

        tu.is_torchaudio_available = iu.is_torchaudio_available = lambda: False
