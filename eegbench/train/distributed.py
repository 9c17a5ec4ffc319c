"""Data-parallel training over several processes: ``eegbench run --processes N``, or any launcher
that sets ``WORLD_SIZE``/``RANK``/``LOCAL_RANK`` (``accelerate launch``, ``torchrun``).

Every process loads the data, builds the models from the same seed and draws the same batch
order; each global batch is split into one contiguous shard per process, and torch's
``DistributedDataParallel`` averages the gradients (gloo on the CPU, NCCL on CUDA, where batch
norm layers become ``SyncBatchNorm``). Each process's loss is weighted by its share of the global
batch (rows in stage 1, caption tokens in stage 2), so the averaged gradient is the gradient of the
global batch's loss: the updates equal one process's up to the order of float additions. The
main process (rank 0) alone writes the run directory and evaluates.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from eegbench.contract.errors import ConfigError, EegbenchError
from eegbench.train.device import Precision

T = TypeVar("T")
S = TypeVar("S", bound=Sequence[Any])


@dataclass(frozen=True)
class World:
    """This process's place among the processes of one run (one process: rank 0 of 1)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    def shard(self, idx: S) -> S:
        """This process's contiguous part of the global batch ``idx`` (all of it in one process)."""
        if self.size == 1:
            return idx
        n = len(idx)
        return idx[self.rank * n // self.size : (self.rank + 1) * n // self.size]

    def share(self, local: int) -> float:
        """``local`` (rows or tokens of this process's shard) over its sum over the processes."""
        if self.size == 1:
            return 1.0
        total = torch.tensor([float(local)], dtype=torch.float64)
        dist.all_reduce(total)
        return local / total.item()

    def scale(self, loss: torch.Tensor, share: float) -> torch.Tensor:
        """The loss to back-propagate: DDP averages gradients over the processes, so a shard's
        loss counts ``share * size`` times (the loss itself in one process)."""
        return loss if self.size == 1 else loss * (share * self.size)

    def sum(self, *values: float) -> tuple[float, ...]:
        """The sums of ``values`` over the processes."""
        if self.size == 1:
            return values
        t = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(t)
        return tuple(t.tolist())

    def sync_buffers(self, module: nn.Module) -> None:
        """Rank 0's buffers (batch-norm running statistics) in ``module`` on every process."""
        if self.size > 1:
            for b in module.buffers():
                dist.broadcast(b, src=0)

    def from_main(self, value: T) -> T:
        """Rank 0's ``value`` (a picklable object) on every process."""
        if self.size == 1:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def wrap(self, module: nn.Module) -> nn.Module:
        """``module`` for training steps: in DDP over the processes (the module itself in one)."""
        if self.size == 1:
            return module
        device = next(module.parameters()).device
        if device.type == "cuda":
            module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
            return nn.parallel.DistributedDataParallel(module, device_ids=[device])
        return nn.parallel.DistributedDataParallel(module)

    @contextlib.contextmanager
    def main_first(self) -> Iterator[None]:
        """Rank 0 runs the block first (filling caches), then the others (reading them)."""
        if self.size > 1 and not self.main:
            dist.barrier()
        yield
        if self.size > 1 and self.main:
            dist.barrier()

    def barrier(self) -> None:
        if self.size > 1:
            dist.barrier()


SINGLE = World()


def from_env() -> World:
    """The world that a launcher set in ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK`` (else one)."""
    try:
        size = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError as e:
        raise ConfigError(f"WORLD_SIZE/RANK/LOCAL_RANK must be integers ({e}).") from None
    if size < 1 or not 0 <= rank < size:
        raise ConfigError(f"RANK={rank} with WORLD_SIZE={size}: need 0 <= RANK < WORLD_SIZE.")
    return World(rank, size, local)


def init_process_group(world: World, precision: Precision, device_setting: str) -> Precision:
    """Start ``world``'s process group (gloo, or NCCL on CUDA); returns the precision on this
    process's device (``cuda:LOCAL_RANK`` for ``device=cuda``/``auto``); ``device_setting`` is
    the config's ``device``."""
    if world.size == 1:
        return precision
    if device_setting.startswith("cuda:"):
        raise ConfigError(
            f"device={device_setting!r} pins one GPU; with {world.size} processes use device=cuda "
            "(process r uses cuda:LOCAL_RANK)."
        )
    device = precision.device
    if device.type == "cuda":
        if world.local_rank >= torch.cuda.device_count():
            raise ConfigError(
                f"{world.size} processes on this node need as many GPUs; "
                f"{torch.cuda.device_count()} visible."
            )
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    elif device.type != "cpu":
        raise ConfigError(f"device={device.type!r} cannot run several processes; use cpu or cuda.")
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, rank=world.rank, world_size=world.size)
    return Precision(device, precision.name)


def destroy_process_group(world: World) -> None:
    """End ``world``'s process group (no-op in one process)."""
    if world.size > 1 and dist.is_initialized():
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(index: int, fn: Callable[..., Any], args: tuple, n: int, port: int, box: Any) -> None:
    os.environ.update(
        {
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "WORLD_SIZE": str(n),
            "RANK": str(index),
            "LOCAL_RANK": str(index),
        }
    )
    try:
        value = fn(*args)
    except EegbenchError as e:
        box.put(("error", index, str(e), e.exit_code))
        raise
    if index == 0:
        box.put(("ok", 0, value))


class WorkerError(EegbenchError):
    """A failure in one of the processes of a ``--processes N`` run."""


def launch(n: int, fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` in ``n`` spawned processes forming one world; returns rank 0's value.

    ``fn`` and ``args`` must be picklable; the first error of any process stops them all and is
    raised here (an ``EegbenchError`` keeps its message and exit code)."""
    import torch.multiprocessing as mp
    from torch.multiprocessing.spawn import ProcessException

    if n < 1:
        raise ConfigError(f"--processes {n}: use 1 or more.")
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError("--processes cannot be used under a launcher that set WORLD_SIZE.")
    box = mp.get_context("spawn").SimpleQueue()
    # its "terminating process N" warning would follow every failure; the error says it all
    logging.getLogger("torch.multiprocessing.spawn").setLevel(logging.ERROR)
    try:
        mp.start_processes(
            _worker, args=(fn, args, n, free_port(), box), nprocs=n, start_method="spawn"
        )
    except ProcessException as e:
        while not box.empty():
            item = box.get()
            if item[0] == "error":
                _, rank, message, code = item
                err = WorkerError(message if rank == 0 else f"process {rank}: {message}")
                err.exit_code = code
                raise err from None
        last = str(e).strip().splitlines()[-1]  # the exception line of the process's traceback
        raise EegbenchError(f"a process of the run failed: {last}") from e
    while not box.empty():
        item = box.get()
        if item[0] == "ok":
            return item[2]
    raise EegbenchError("the main process of the run returned nothing.")
