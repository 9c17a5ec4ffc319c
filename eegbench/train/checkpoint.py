"""Training state at epoch boundaries, so that a killed run continues to the same numbers.

A checkpoint is a folder: ``state.json`` (epoch counters, history, optimiser, scheduler and
fp16 gradient-scaler settings, numpy and python RNG states) and ``tensors-N.safetensors``
(weights, optimiser moments, torch RNG states) that ``state.json`` names. ``state.json`` is
replaced last and atomically, so a kill at any moment leaves the previous complete checkpoint.
Nothing is unpickled on resume.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file

from eegbench.contract.errors import EegbenchError
from eegbench.io import atomic_write, atomic_writer
from eegbench.train.preemption import deferred

STATE = "state.json"


def _split(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """``obj`` with every tensor replaced by ``{"__tensor__": key}`` (stored in ``tensors``)."""
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj.detach().cpu().contiguous().clone()
        return {"__tensor__": prefix}
    if isinstance(obj, dict):
        return {
            "__dict__": [
                [_split(k, f"{prefix}.k{i}", tensors), _split(v, f"{prefix}.{i}", tensors)]
                for i, (k, v) in enumerate(obj.items())
            ]
        }
    if isinstance(obj, tuple):
        return {"__tuple__": [_split(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_split(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": obj.tolist(), "dtype": str(obj.dtype)}
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot checkpoint {type(obj).__name__}")


def _join(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, list):
        return [_join(v, tensors) for v in obj]
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__tuple__" in obj:
            return tuple(_join(v, tensors) for v in obj["__tuple__"])
        if "__ndarray__" in obj:
            return np.asarray(obj["__ndarray__"], dtype=obj["dtype"])
        return {_join(k, tensors): _join(v, tensors) for k, v in obj["__dict__"]}
    return obj


def rng_state(generator: torch.Generator) -> dict[str, Any]:
    """The states of torch's global RNG, ``generator``, numpy's and python's RNG."""
    return {
        "torch": torch.get_rng_state(),
        "generator": generator.get_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }


def set_rng_state(state: dict[str, Any], generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    generator.set_state(state["generator"])
    np.random.set_state(state["numpy"])
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))


class Checkpoint:
    """Save and load named training states in one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def _index(self) -> dict[str, Any]:
        path = self.folder / STATE
        if not path.is_file():
            return {}
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise EegbenchError(
                f"checkpoint {str(path)!r} is unreadable ({e}); delete the run folder and "
                "start the run again."
            ) from None

    def load(self, name: str) -> Any | None:
        """The state saved under ``name``, or None."""
        entry = self._index().get(name)
        if entry is None:
            return None
        path = self.folder / entry["tensors"]
        try:
            tensors = load_file(str(path))
        except Exception as e:  # any safetensors failure is a corrupt file
            raise EegbenchError(
                f"checkpoint file {str(path)!r} is corrupt ({e}); delete the run folder and start "
                "the run again."
            ) from None
        return _join(entry["state"], tensors)

    def save(self, name: str, state: Any) -> None:
        """Store ``state`` (nested dicts/lists/tuples of tensors, arrays and JSON values)."""
        with deferred():  # SIGTERM/SIGINT while saving: stop once this checkpoint is complete
            index = self._index()
            tensors: dict[str, torch.Tensor] = {}
            plain = _split(state, "s", tensors)
            counter = int(index.get("_counter", 0)) + 1
            fname = f"tensors-{counter}.safetensors"
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_writer(self.folder / fname, lambda f: f.write(_tensor_bytes(tensors)))
            old = index.get(name, {}).get("tensors")
            index[name] = {"tensors": fname, "state": plain}
            index["_counter"] = counter
            atomic_write(self.folder / STATE, json.dumps(index))
            if old and old != fname:
                (self.folder / old).unlink(missing_ok=True)


def _tensor_bytes(tensors: dict[str, torch.Tensor]) -> bytes:
    from safetensors.torch import save

    return save(tensors) if tensors else save({"_": torch.zeros(0)})
