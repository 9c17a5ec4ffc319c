"""The metric contract: every metric plugin's factory returns a ``Metric``.

A metric declares what it reports and needs as class attributes, implements ``compute``, and
overrides whichever optional capabilities below it can offer; the base class declares each
of them with a default, so the core never probes a metric for methods.

``compute(predictions, references, **ctx)`` receives the generated and reference captions and,
as keyword context, whatever of these the evaluation has (``requires`` names what it needs):

- ``y_true`` ``[n]`` int class labels, ``logits`` ``[n, K]`` classifier outputs,
- ``embeddings`` ``[n, D]`` EEG embeddings, ``targets`` ``[n, D]`` each trial's target,
- ``target_bank`` ``[m, D]`` one target per candidate (test image) and ``target_index`` ``[n]``
  the row of each trial's own image in it (for retrieval),
- ``class_names`` list of names,
- ``expected_objects`` / ``predicted_objects`` lists of object names (from a prediction CSV),
- ``image_id`` ``[n]`` each trial's image index,
- with ground truth (``requires`` has ``ATTRIBUTES``; the dataset declares ``EEGData.attributes``):
  ``attributes`` ``{name: [n] values}`` per trial, ``attribute_words``
  ``{name: {value: [words]}}``, ``describe`` (the dataset's caption writer or None),
  ``train_embeddings`` ``[m, D]``, ``train_y`` ``[m]`` and ``train_attributes``
  ``{name: [m] values}`` of the training trials (for probes and class priors).

A metric may also offer reference systems (``oracles``): captions the harness scores with every
caption metric and records as rows beside the controls (a ``floor`` and a ``ceiling`` give the
fraction of headroom realised).

The metric's name, citation and description belong to its registration (``register(name,
"module:Class", params=..., citation=..., description=...)``), not to the class; its
parameters are the fields of the ``params`` dataclass, set as ``metrics.NAME.KEY=VALUE`` and
passed to the factory as keyword arguments.

A metric registered as ``protocol:NAME`` (a bundle of clean-up, tokenisation and metrics) has
its outputs reported as ``NAME/output`` (``output_key``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from eegbench.contract.hub import ModelFiles

CAPTIONS = "captions"
LOGITS = "logits"
EMBEDDINGS = "embeddings"
ATTRIBUTES = "attributes"

PROTOCOL_PREFIX = "protocol:"

# context entries holding one value per trial (restricted when a subset of trials is scored)
PER_TRIAL_CTX = (
    "y_true",
    "logits",
    "embeddings",
    "targets",
    "target_index",
    "expected_objects",
    "predicted_objects",
    "image_id",
    "attributes",  # a mapping {name: per-trial values}, indexed value by value
)

IndexFn = Callable[[np.ndarray], dict[str, float]]


def protocol_name(name: str) -> str | None:
    """``"coco"`` for the metric name ``"protocol:coco"``; None for a plain metric."""
    return name[len(PROTOCOL_PREFIX) :] if name.startswith(PROTOCOL_PREFIX) else None


def output_direction(outputs: Mapping[str, bool], output: str) -> bool | None:
    """``outputs[output]``, matching declared glob patterns (``"hit_*"``); None if undeclared."""
    if output in outputs:
        return bool(outputs[output])
    for pattern, up in outputs.items():
        if fnmatch.fnmatchcase(output, pattern):
            return bool(up)
    return None


def output_key(metric: str, output: str) -> str:
    """The results name of ``output`` of metric ``metric``: ``NAME/output`` for a protocol."""
    proto = protocol_name(metric)
    return f"{proto}/{output}" if proto is not None else output


def subset_context(ctx: Mapping[str, Any], idx: np.ndarray) -> dict[str, Any]:
    """The metric context restricted to trials ``idx`` (per-trial entries indexed, others kept)."""
    out = dict(ctx)
    for key in PER_TRIAL_CTX:
        value = ctx.get(key)
        if value is None:
            continue
        if isinstance(value, Mapping):
            out[key] = {k: _take(v, idx) for k, v in value.items()}
        else:
            out[key] = _take(value, idx)
    return out


def _take(value: Any, idx: np.ndarray) -> Any:
    if isinstance(value, (list, tuple)):
        return [value[i] for i in idx]
    return value[idx]


@dataclass
class Oracle:
    """A reference system's captions for the test trials (e.g. captions a dataset's own writer
    builds from the ground truth), scored beside the run. The headroom's floor and ceiling are
    the harness's, not a metric's (docs/science.md)."""

    captions: list[str]
    description: str


class Metric:
    """Base class of metric plugins.

    Declare ``outputs`` (``{output_name: higher_is_better}``; a name may be a glob pattern such
    as ``"hit_*"`` when the outputs depend on the dataset) and ``requires`` (the inputs it
    needs: ``CAPTIONS``, ``LOGITS``, ``EMBEDDINGS``, ``ATTRIBUTES``), implement ``compute``, and
    override the optional capabilities the metric offers:

    - ``per_item``: per-trial scores whose mean is the metric (bootstrap CIs, paired
      sign-flip tests in ``eegbench compare``);
    - ``sentence_stats`` + ``from_stats``: per-trial sufficient statistics that sum to the
      corpus statistic (corpus BLEU; bootstrap and approximate-randomization tests);
    - ``resampler``: a cheap exact ``fn(indices) -> outputs`` for bootstrapping; the default
      builds it from the capabilities above, or recomputes ``compute`` on each resample;
    - ``signature``: a string naming the library settings that produced the numbers (sacrebleu's
      signature for BLEU), recorded in results.json under ``metric_signatures``.

    ``multi_reference``: the metric scores each prediction against several references (each
    reference a list of captions, as ``EEGData.references`` gives them, or one caption); a
    metric without it receives each trial's first reference, one caption.
    """

    outputs: ClassVar[dict[str, bool]] = {}
    requires: ClassVar[tuple[str, ...]] = (CAPTIONS,)
    multi_reference: ClassVar[bool] = False

    @classmethod
    def higher_is_better(cls, output: str) -> bool | None:
        """Whether ``output`` improves upward; None when ``outputs`` does not declare it."""
        return output_direction(cls.outputs, output)

    def compute(
        self, predictions: Sequence[str], references: Sequence[str], **ctx: Any
    ) -> dict[str, float]:
        """``{output: value}`` over all trials (every output of ``outputs`` it can compute)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement compute()")

    def per_item(
        self, predictions: Sequence[str], references: Sequence[str], **ctx: Any
    ) -> dict[str, np.ndarray] | None:
        """``{output: array[n]}`` per-trial scores whose means are the outputs, or None.

        None (the default) means the metric is not a mean over trials.
        """
        return None

    def sentence_stats(
        self, predictions: Sequence[str], references: Sequence[str]
    ) -> np.ndarray | None:
        """Per-trial sufficient statistics ``[n, k]`` whose column sums give the corpus value
        through ``from_stats``, or None (the default: the metric has none)."""
        return None

    def from_stats(self, total: np.ndarray) -> dict[str, float]:
        """``{output: value}`` from summed ``sentence_stats`` rows (needed only with them)."""
        raise NotImplementedError(
            f"{type(self).__name__} returns sentence_stats but does not implement from_stats()"
        )

    def resampler(
        self, predictions: Sequence[str], references: Sequence[str], **ctx: Any
    ) -> IndexFn:
        """``fn(indices) -> {output: value}`` on a resample of the trials (repeats allowed).

        The default sums ``sentence_stats`` rows, else averages ``per_item`` scores, else
        recomputes ``compute`` on the resampled trials.
        """
        preds, refs = list(predictions or []), list(references or [])
        stats = self.sentence_stats(preds, refs) if preds else None
        if stats is not None:
            return lambda idx: self.from_stats(stats[np.asarray(idx)].sum(axis=0))
        per = self.per_item(preds, refs, **ctx)
        if per is not None:
            arrays = {k: np.asarray(v, dtype=float).reshape(-1) for k, v in per.items()}
            return lambda idx: {k: float(v[np.asarray(idx)].mean()) for k, v in arrays.items()}

        def recompute(idx: np.ndarray) -> dict[str, float]:
            idx = np.asarray(idx)
            p = [preds[i] for i in idx] if preds else preds
            r = [refs[i] for i in idx] if refs else refs
            return self.compute(p, r, **subset_context(ctx, idx))

        return recompute

    def signature(self) -> str | None:
        """The implementation's own description of its settings and version, or None."""
        return None

    def sources(self) -> tuple[ModelFiles, ...]:
        """The model files the metric reads (results.json ``models``; default: none)."""
        return ()

    def oracles(self, references: Sequence[str], **ctx: Any) -> dict[str, Oracle]:
        """Reference systems' captions for the test trials (default: none), by row name."""
        return {}
