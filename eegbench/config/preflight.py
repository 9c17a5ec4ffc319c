"""Preflight: every external requirement of a resolved config, checked before any training.

Each chosen plugin item the run will use (dataset, encoder, target, the LLM unless the dataset
declares it has no captions, every metric) runs the ``preflight`` it declared at registration;
a target that needs what the dataset declares it lacks (CLIP on images without an image folder)
is a problem too; the core adds write access to ``output_dir`` and ``cache_dir`` and free disk
for the run. ``eegbench run`` (and ``--dry-run``) stop with one line listing every problem, so
nothing fails after training for a reason known before it; when weights of the target or the
LLM are among them, the line ends naming ``--tryout`` (small models that run offline).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from eegbench import plugins
from eegbench.config.schema import TRACKER_PACKAGES, RunConfig
from eegbench.contract.errors import ConfigError
from eegbench.contract.registry import GROUPS
from eegbench.io import folder_problem

MIN_FREE_MB = 200
"""Free disk a run needs in ``output_dir`` (weights, predictions, plots) and ``cache_dir``."""


def _existing_ancestor(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _storage(path: str, key: str) -> list[str]:
    """Problems writing under ``path``: not a folder, not writable, or too little free disk."""
    target = Path(path).expanduser().absolute()
    base = _existing_ancestor(target)
    problem = folder_problem(base)
    if problem:
        return [f"{key}={path!r}: {base} {problem}; choose another {key}."]
    if not os.access(base, os.W_OK | os.X_OK):
        return [f"{key}={path!r}: {base} is not writable; choose another {key}."]
    free_mb = shutil.disk_usage(base).free / 2**20
    if free_mb < MIN_FREE_MB:
        return [
            f"{key}={path!r}: only {free_mb:.0f} MiB free on its disk, a run needs "
            f"{MIN_FREE_MB} MiB; free some space or choose another {key}."
        ]
    return []


def _tracker(report_to: str) -> list[str]:
    """The chosen tracker's package is installed."""
    if report_to == "none":
        return []
    module = TRACKER_PACKAGES[report_to]
    if importlib.util.find_spec(module) is None:
        return [
            f"report_to={report_to} needs the {module!r} package: "
            f"pip install -c constraints.txt 'eegbench[{report_to}]'"
        ]
    return []


def _optimizer(name: str, device: str) -> list[str]:
    """bitsandbytes' paged 8-bit AdamW needs the package and a CUDA device."""
    if name != "paged_adamw_8bit":
        return []
    if importlib.util.find_spec("bitsandbytes") is None:
        return [
            "stage2.optimizer=paged_adamw_8bit needs bitsandbytes: "
            "pip install -c constraints.txt 'eegbench[quant]'"
        ]
    if device == "cpu":
        return [
            "stage2.optimizer=paged_adamw_8bit (Thought2Text's 8-bit runs) pages optimizer "
            "state between CUDA and host memory and cannot run on the CPU; use "
            "stage2.optimizer=adamw"
        ]
    return []


TRYOUT_HINT = (
    "or add --tryout to try the run offline with small models (MiniLM caption targets, a tiny "
    "GPT-2 trained on the training captions)"
)


def _used_groups(carries: frozenset[str] | None) -> list[str]:
    """The plugin groups the run builds: no LLM for a dataset that has no captions."""
    skip = carries is not None and "captions" not in carries
    return [g for g in GROUPS if not (g == "llm" and skip)]


def _target_data(cfg: RunConfig, carries: frozenset[str] | None) -> list[str]:
    """The target needs what the dataset declares it will not have."""
    if carries is None:
        return []
    lacking = plugins.get("targets", cfg.target.name).needs(cfg.target.params) - carries
    if not lacking:
        return []
    what = " and ".join(sorted(lacking))
    return [
        f"target {cfg.target.name!r} embeds {what}, and dataset {cfg.dataset.name!r} has no "
        f"{what} with these settings: give it {what} (eegbench ls datasets -v: its image folder "
        "or stimulus table), or use a caption target (target=minilm, or target.modality=text)"
    ]


def problems(cfg: RunConfig) -> list[str]:
    """Every problem a resolved config would hit at run time that is knowable now."""
    found: list[str] = []
    carries = plugins.get("datasets", cfg.dataset.name).provides(cfg.dataset.params)
    for group in _used_groups(carries):
        choice = getattr(cfg, group)
        found += plugins.get(GROUPS[group], choice.name).check(choice.params, where=group)
    found += _target_data(cfg, carries)
    for name in cfg.eval.metrics:
        found += plugins.get("metrics", name).check(cfg.metrics[name], where="metric")
    found += _tracker(cfg.report_to)
    found += _optimizer(cfg.stage2.optimizer, cfg.device)
    found += _storage(cfg.output_dir, "output_dir")
    found += _storage(cfg.cache_dir, "cache_dir")
    return found


def preflight(cfg: RunConfig) -> None:
    """Raise a one-line ConfigError listing every problem ``problems(cfg)`` finds."""
    found = problems(cfg)
    if any(p.startswith(("target ", "llm ")) for p in found):
        found.append(TRYOUT_HINT)
    if found:
        raise ConfigError(f"preflight failed before training: {'; '.join(found)}")
