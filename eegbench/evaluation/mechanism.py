"""Mechanism probes: how much of an attribute a linear read-out of single raw trials can decode
(the *evoked* ceiling) and how much the band power of single trials can (the *induced* ceiling).

- **raw probe**: a shrinkage LDA (scikit-learn ``LinearDiscriminantAnalysis(solver="lsqr",
  shrinkage="auto")``) on the standardised, flattened trials (every channel and sample). A
  response whose phase is random on every trial averages out of every class mean, so this
  probe cannot read it.
- **band-power probe**: the same classifier on the log-variance of each channel in each band
  (``BANDS``: alpha 8-13, beta 13-30, gamma 30-45 Hz; FFT band-pass of each trial) after the
  training trials' grand-average ERP is subtracted (the usual definition of induced power).
  It reads power changes whatever their phase, and a phase-locked waveform only through the
  power it adds in those bands.

Both are fitted on the training split and scored per trial on the evaluation split; the 95%
interval resamples whole clusters (the dataset's unit, the image by default).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from eegbench.contract.data import EEGData
from eegbench.contract.errors import DataError
from eegbench.evaluation.stats import CI, bootstrap_ci

BANDS: Mapping[str, tuple[float, float]] = {
    "alpha": (8.0, 13.0),
    "beta": (13.0, 30.0),
    "gamma": (30.0, 45.0),
}


@dataclass(frozen=True)
class ProbeResult:
    """Accuracy of the raw and band-power probes on one target, and its chance level."""

    raw: CI
    band_power: CI
    chance: float

    def as_dict(self) -> dict[str, object]:
        def cell(c: CI) -> dict[str, object]:
            return {"value": c.estimate, "ci": [c.low, c.high]}

        return {"raw": cell(self.raw), "band_power": cell(self.band_power), "chance": self.chance}


def band_power_features(X: np.ndarray, sfreq: float, erp: np.ndarray) -> np.ndarray:
    """``[N, C * len(BANDS)]``: log-variance per channel and band of ``X - erp``."""
    x = np.asarray(X, dtype=np.float64) - erp[None]
    freqs = np.fft.rfftfreq(x.shape[-1], d=1 / sfreq)
    spec = np.fft.rfft(x, axis=-1)
    feats = []
    for low, high in BANDS.values():
        if high >= sfreq / 2:
            raise DataError(f"band {low}-{high} Hz needs sfreq > {2 * high:g}, got {sfreq}.")
        band = np.fft.irfft(spec * ((freqs >= low) & (freqs < high)), n=x.shape[-1], axis=-1)
        feats.append(np.log(band.var(axis=-1) + 1e-12))
    return np.concatenate(feats, axis=1)


def _probe(features: np.ndarray, y: np.ndarray, train: np.ndarray, ev: np.ndarray) -> np.ndarray:
    """Per-trial correctness on ``ev`` of a shrinkage LDA fitted on ``train``."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from threadpoolctl import threadpool_limits

    mean, std = features[train].mean(0), features[train].std(0) + 1e-9
    z = (features - mean) / std
    with threadpool_limits(1, user_api="blas"):
        lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(z[train], y[train])
        return (lda.predict(z[ev]) == y[ev]).astype(np.float64)


def mechanism_probes(
    data: EEGData, split: str = "test", n_boot: int = 1000, seed: int = 0
) -> dict[str, ProbeResult]:
    """``{target: ProbeResult}`` for the class and every attribute of ``data`` on ``split``."""
    train, ev = data.splits["train"], data.splits[split]
    if len(train) == 0 or len(ev) == 0:
        raise DataError(f"mechanism probes need train and {split} trials.")
    X = np.asarray(data.X, dtype=np.float64)
    raw = X.reshape(len(X), -1)
    power = band_power_features(X, data.sfreq, X[train].mean(0))
    targets = {"class": (np.asarray(data.y), data.n_classes)}
    for attr, values in (data.attributes or {}).items():
        labels = np.asarray(values, dtype=object)[data.image].astype(str)
        targets[attr] = (labels, len(set(values)))
    clusters = data.clusters[ev]
    out = {}
    for name, (y, n_levels) in targets.items():
        cis = [
            bootstrap_ci(_probe(f, y, train, ev), n_boot=n_boot, seed=seed, clusters=clusters)
            for f in (raw, power)
        ]
        out[name] = ProbeResult(cis[0], cis[1], 1.0 / n_levels)
    return out
