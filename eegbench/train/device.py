"""Where a run computes and in what precision: ``device=auto|cpu|cuda|cuda:N|mps`` and
``precision=fp32|bf16|fp16``.

``resolve_device`` turns the config value into a ``torch.device`` (``auto``: CUDA, else MPS,
else the CPU) and raises one line when the device is not usable here. ``check_precision`` runs
bf16 on a CPU only where the CPU has it natively (elsewhere fp32, with a notice giving the
numbers of a probe). ``Precision`` gives the
autocast context and the gradient scaler (fp16 only) that both training stages and generation
use; the models themselves stay in float32 (an LLM keeps the dtype it was loaded in).
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from eegbench.config import DEVICE_PATTERN, RunConfig
from eegbench.contract.errors import ConfigError
from eegbench.progress import log

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(spec: str) -> torch.device:
    """The ``torch.device`` for a config value; a device that is not usable raises ConfigError."""
    if not DEVICE_PATTERN.match(spec):
        raise ConfigError(f"device={spec!r}: use auto, cpu, cuda, cuda:N or mps.")
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            why = "this torch has no CUDA" if torch.version.cuda is None else "no GPU is visible"
            raise ConfigError(f"device={spec!r} is not available ({why}); use device=cpu or auto.")
        index = int(spec.split(":")[1]) if ":" in spec else torch.cuda.current_device()
        if index >= torch.cuda.device_count():
            raise ConfigError(
                f"device={spec!r} is not available: {torch.cuda.device_count()} GPU(s) visible "
                f"(cuda:0..cuda:{torch.cuda.device_count() - 1})."
            )
        return torch.device("cuda", index)
    if spec == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device='mps' is not available (no Apple GPU); use device=cpu or auto.")
    return torch.device(spec)


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo`` where it exists, else ``platform``)."""
    info = Path("/proc/cpuinfo")
    if info.exists():
        for line in info.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def device_name(device: torch.device) -> str:
    """A human-readable name of the hardware behind ``device``."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return f"Apple GPU ({platform.machine()})"
    return cpu_name()


def cpu_has_native_bf16() -> bool:
    """Whether oneDNN runs bf16 natively on this CPU (AVX512-BF16 or AMX); else it is emulated."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


@dataclass(frozen=True)
class Precision:
    """Autocast settings of a run on one device."""

    device: torch.device
    name: str = "fp32"

    @property
    def dtype(self) -> torch.dtype:
        return DTYPES[self.name]

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """Autocast to ``dtype`` on the device (a no-op context for fp32)."""
        if self.name == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def scaler(self) -> torch.amp.GradScaler:
        """A gradient scaler, enabled for fp16 only (bf16 has fp32's range)."""
        return torch.amp.GradScaler(self.device.type, enabled=self.name == "fp16")


FP32 = Precision(torch.device("cpu"), "fp32")


def probe_ms(name: str, repeats: int = 3) -> float:
    """Milliseconds of a small conv training step (forward and backward) on the CPU under
    ``name``'s autocast, the fastest of ``repeats``; touches no global random state."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 16, 32, 64, generator=g)
    w = torch.randn(16, 16, 3, 3, generator=g).requires_grad_()
    precision = Precision(torch.device("cpu"), name)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        with precision.autocast():
            y = torch.nn.functional.conv2d(x, w, padding=1)
        y.float().square().mean().backward()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def check_precision(device: torch.device, name: str, warn: bool = True) -> Precision:
    """``Precision`` for ``device``; a combination the device cannot run raises ConfigError.

    bf16 on a CPU that only emulates it (no AVX512-BF16 or AMX: several times slower than fp32)
    resolves to fp32, with one line giving a probe's numbers (``warn``: print it); the run
    record's ``hardware.precision`` says what ran."""
    if name not in DTYPES:
        raise ConfigError(f"precision={name!r}: use fp32, bf16 or fp16.")
    if name == "fp16" and device.type == "cpu":
        raise ConfigError("precision=fp16 needs a GPU (CUDA or MPS); on the CPU use bf16 or fp32.")
    if name == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError(
            f"precision=bf16: {device_name(device)} has no bf16 support; use fp16 or fp32."
        )
    if name == "bf16" and device.type == "cpu" and not cpu_has_native_bf16():
        if warn:
            bf16, fp32 = probe_ms("bf16"), probe_ms("fp32")
            log(
                f"[yellow]notice:[/yellow] precision=bf16 runs as fp32 here: this CPU has no "
                f"native bf16 (AVX512-BF16/AMX), and a conv step takes {bf16:.1f} ms emulated "
                f"in bf16 against {fp32:.1f} ms in fp32 ({bf16 / fp32:.1f}x)"
            )
        return Precision(device, "fp32")
    return Precision(device, name)


def encoder_precision(cfg: RunConfig, precision: Precision) -> Precision:
    """The autocast of stage 1 and of every encoder forward: ``stage1.precision``, else the
    run's ``precision`` (Thought2Text trains and runs its encoder in fp32)."""
    name = cfg.stage1.precision
    if name is None or name == precision.name:
        return precision
    return check_precision(precision.device, name, warn=False)


def setup(cfg: RunConfig, warn: bool = True) -> Precision:
    """Device and precision of a resolved config, checked before any work starts."""
    return check_precision(resolve_device(cfg.device), cfg.precision, warn)


def busy_cores(sample_s: float = 0.3) -> float:
    """How many of this process's allowed cores other processes keep busy, over ``sample_s``."""
    import psutil

    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    per_cpu = psutil.cpu_percent(interval=sample_s, percpu=True)
    if allowed is not None and max(allowed) < len(per_cpu):
        per_cpu = [per_cpu[i] for i in allowed]
    return sum(per_cpu) / 100.0


def choose_threads(requested: int | None, sample_s: float = 0.3) -> int:
    """Torch CPU threads for a run: ``requested``, or the allowed cores that others leave free.

    OpenMP threads spin while they wait for each other, so a thread sharing a core with another
    busy process slows the whole step down (2 threads on 1 free core: 2.2-2.4x slower than 1).
    A core counts as busy from 25% use on; at least one thread, at most torch's default.
    """
    if requested:
        return int(requested)
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    busy = math.ceil(max(0.0, busy_cores(sample_s) - 0.25))
    return max(1, min(max_threads(), (allowed or 1) - busy))


def max_threads() -> int:
    """torch's default thread count: the physical cores (not the current setting, which a
    previous ``set_threads`` may have lowered)."""
    import psutil

    return int(psutil.cpu_count(logical=False) or os.cpu_count() or 1)


def set_threads(requested: int | None, processes: int = 1) -> int:
    """Set torch's CPU threads (see ``choose_threads``; a chosen count is shared among
    ``processes`` training side by side); returns the number set."""
    n = int(requested) if requested else max(1, choose_threads(None) // processes)
    torch.set_num_threads(n)
    return n


def describe(precision: Precision) -> dict[str, str | int]:
    """What the run record says about the hardware: device, its name, precision, CPU threads."""
    return {
        "device": str(precision.device),
        "device_name": device_name(precision.device),
        "precision": precision.name,
        "threads": torch.get_num_threads(),
    }


def module_device(module: torch.nn.Module) -> torch.device:
    """The device of a module's parameters (the CPU for a module without any)."""
    for p in module.parameters():
        return p.device
    return torch.device("cpu")
