"""Make PyPI's CUDA torchvision importable beside the CPU torch build.

torchvision's ``_C`` extension links ``libtorch_cuda.so``; with a CPU torch it fails to load
and ``import torchvision`` then raises ``operator torchvision::nms does not exist``. Defining
the two op schemas first (only when the extension cannot load) lets torchvision, open_clip and
timm import; image transforms work, the detection ops are then unavailable.
"""

from __future__ import annotations

import ctypes
import importlib.util
from pathlib import Path

_LIB = None


def ensure_torchvision_importable() -> None:
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
