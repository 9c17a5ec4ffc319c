"""Every model of the installed braindecode zoo as encoder ``braindecode:<Model>``.

Listing reads braindecode's own ``models/summary.csv`` (no import); braindecode is imported
only when a model is built. Each model is built with ``n_chans``, ``n_times`` and
``n_outputs`` = the feature size, so its final layer feeds the core heads like any encoder.
Without braindecode installed nothing is registered; ``missing_hint`` explains the extra.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from eegbench.api import (
    ConfigError,
    Ge,
    PluginError,
    Register,
    Spec,
    ensure_torchvision_importable,
    hookimpl,
    module_spec,
    register_all,
)

if TYPE_CHECKING:
    from eegbench.api import EncoderContext

PREFIX = "braindecode:"
CITATION = (
    "Schirrmeister et al. (2017). Deep learning with convolutional neural networks for EEG "
    "decoding and visualization. Hum. Brain Mapp. 38(11):5391-5420. doi:10.1002/hbm.23730 "
    "(braindecode); the model's own paper is cited in braindecode.models.{model}."
)


@dataclass(frozen=True)
class BraindecodeParams:
    """Parameters shared by all braindecode models."""

    n_outputs: Annotated[int, Ge(1)] = field(
        default=128, metadata={"help": "feature size (model's n_outputs)"}
    )


def _package_dir() -> Path | None:
    spec = module_spec("braindecode")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def available() -> bool:
    """Whether braindecode is installed (checked without importing it)."""
    return _package_dir() is not None


def missing_hint(name: str) -> str | None:
    """The install hint for a ``braindecode:`` name when braindecode is absent, else None."""
    if name.startswith(PREFIX) and not available():
        return (
            f"encoder {name!r} needs the braindecode extra: "
            "pip install -c constraints.txt 'eegbench[braindecode]'"
        )
    return None


def model_descriptions() -> dict[str, str]:
    """Model name -> one-line description, from braindecode's summary table (or its zoo)."""
    pkg = _package_dir()
    if pkg is None:
        return {}
    table = pkg / "models" / "summary.csv"
    if table.is_file():
        with table.open(encoding="utf-8-sig", newline="") as f:
            return {
                row["Model"].strip(): (
                    f"braindecode {row['Model'].strip()}: {row.get('Categorization', '')}; "
                    f"{row.get('Application', '')} ({row.get('#Parameters', '?')} parameters "
                    "in braindecode's reference configuration)"
                )
                for row in csv.DictReader(f)
                if row.get("Model")
            }
    return {n: f"braindecode {n}" for n in _zoo()}


def models_module() -> Any:
    """``braindecode.models``, imported (with the torchaudio work-around when needed)."""
    ensure_torchvision_importable()
    try:
        import braindecode.models as models
    except ImportError as e:
        raise PluginError(f"braindecode is installed but does not import: {e}") from e
    return models


def _zoo() -> list[str]:
    models = models_module()
    from braindecode.models.base import EEGModuleMixin

    return sorted(
        n
        for n in getattr(models, "__all__", dir(models))
        if isinstance(getattr(models, n, None), type)
        and issubclass(getattr(models, n), EEGModuleMixin)
    )


def build(
    model: str,
    n_chans: int,
    n_times: int,
    p: BraindecodeParams = BraindecodeParams(),
    *,
    context: EncoderContext | None = None,
) -> Any:
    """Build braindecode model ``model`` as an encoder (``[B, C, T]`` -> ``[B, n_outputs]``),
    with the data's sampling rate and channel names (``chs_info``) when the context has them."""
    from eegbench_plugins.encoders.braindecode_encoder import BraindecodeEncoder

    cls = getattr(models_module(), model, None)
    if cls is None:
        raise ConfigError(f"braindecode has no model {model!r}; see `eegbench ls encoders`.")
    kwargs: dict[str, Any] = {"n_chans": n_chans, "n_times": n_times, "n_outputs": p.n_outputs}
    if context is not None and context.sfreq:
        kwargs["sfreq"] = context.sfreq
    if context is not None and context.ch_names and len(context.ch_names) == n_chans:
        kwargs["chs_info"] = [{"ch_name": name} for name in context.ch_names]
    try:
        net = cls(**kwargs)
    except Exception as e:  # braindecode raises many types for bad shapes
        raise ConfigError(
            f"{PREFIX}{model} cannot be built for {n_chans} channels x {n_times} samples: "
            f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        ) from e
    return BraindecodeEncoder(net, f"{PREFIX}{model}", n_chans, n_times, p.n_outputs, context)


def specs() -> list[Spec]:
    """One generated table row per braindecode model installed here."""
    return [
        Spec(
            f"{PREFIX}{model}",
            functools.partial(build, model),
            params=BraindecodeParams,
            citation=CITATION.format(model=model),
            description=description,
        )
        for model, description in sorted(model_descriptions().items())
    ]


@hookimpl
def register_encoders(register: Register) -> None:
    register_all(register, specs())


@hookimpl
def unknown_name_hint(kind: str, name: str) -> str | None:
    """Explains ``braindecode:<Model>`` names when the braindecode extra is missing."""
    return missing_hint(name) if kind == "encoders" else None
