"""Preprocessing shared by the dataset plugins: channel selection, notch, band-pass, resampling,
baseline correction and per-channel z-scoring fitted on the training split only.

Filters and resampling are MNE's (``mne.filter``, ``mne.baseline``); trials are processed in
chunks so a full dataset never needs a float64 copy of itself.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np
from annotated_types import Gt

from eegbench.api.data import EEGData
from eegbench.api.errors import ConfigError, DataError
from eegbench.data.splits import SplitParams, apply_split, check_leakage, split_params_of

CHUNK = 256

POSTERIOR = re.compile(r"^(O|P)", re.IGNORECASE)


@dataclass
class Preprocess:
    """Preprocessing fields shared by the dataset plugins (``dataset.h_freq=40`` etc.).

    Applied in this order: channels, notch, band-pass, resample, baseline, z-score.
    """

    l_freq: Annotated[float, Gt(0)] | None = field(
        default=None, metadata={"help": "high-pass edge in Hz"}
    )
    h_freq: Annotated[float, Gt(0)] | None = field(
        default=None, metadata={"help": "low-pass edge in Hz"}
    )
    notch: Annotated[float, Gt(0)] | None = field(
        default=None,
        metadata={
            "help": "line frequency in Hz and its harmonics below Nyquist (or h_freq); "
            "IIR stop bands are 2 Hz wide"
        },
    )
    filter_method: str = field(
        default="iir",
        metadata={"help": "iir (zero-phase Butterworth, order 4) or fir (MNE's default FIR)"},
    )
    resample: Annotated[float, Gt(0)] | None = field(
        default=None, metadata={"help": "new sampling rate in Hz"}
    )
    baseline: tuple[float | None, float | None] | None = field(
        default=None,
        metadata={"help": "(start, end) in s from stimulus onset; None = edge; mean removed"},
    )
    channels: str = field(
        default="",
        metadata={
            "help": "comma-separated channel names, or 'posterior' (names starting with O or P, "
            "Gifford et al. 2022's 17 of 63); empty = all"
        },
    )
    zscore: bool = field(
        default=False, metadata={"help": "per-channel z-score with mean/std of the train split"}
    )

    @classmethod
    def of(cls, params: object) -> Preprocess:
        """The Preprocess fields of a dataset's params object (which inherits them)."""
        return cls(**{f.name: getattr(params, f.name) for f in dataclasses.fields(cls)})

    def is_identity(self) -> bool:
        return self == Preprocess()


def select_channels(ch_names: list[str], spec: str) -> list[int]:
    """Indices of the channels named by ``spec`` (see ``Preprocess.channels``), in spec order."""
    spec = spec.strip()
    if not spec:
        return list(range(len(ch_names)))
    if spec.lower() == "posterior":
        idx = [i for i, c in enumerate(ch_names) if POSTERIOR.match(c)]
        if not idx:
            raise DataError(
                f"channels=posterior: no channel name starts with O or P in {ch_names[:8]}..."
            )
        return idx
    lower = {c.lower(): i for i, c in enumerate(ch_names)}
    wanted = [c.strip() for c in spec.split(",") if c.strip()]
    missing = [c for c in wanted if c.lower() not in lower]
    if missing:
        raise DataError(
            f"channels: {', '.join(missing)} not in the data; available: {', '.join(ch_names)}."
        )
    return [lower[c.lower()] for c in wanted]


def _chunks(n: int) -> list[slice]:
    return [slice(i, min(i + CHUNK, n)) for i in range(0, n, CHUNK)]


def _map_chunks(X: np.ndarray, fn: Any) -> np.ndarray:
    """``fn`` applied to float64 chunks of trials; float32 result (time axis may change)."""
    out: np.ndarray | None = None
    for sl in _chunks(X.shape[0]):
        y = fn(X[sl].astype(np.float64))
        if out is None:
            out = np.empty((X.shape[0], *y.shape[1:]), dtype=np.float32)
        out[sl] = y
    assert out is not None
    return out


def apply_preprocessing(data: EEGData, cfg: Preprocess | None) -> EEGData:
    """A new EEGData with ``cfg`` applied; records the steps in ``info["preprocessing"]``.

    ``info["tmin"]`` (time of the first sample relative to stimulus onset, default 0) places
    the baseline window. The z-score statistics are in ``info["zscore"]``.
    """
    if cfg is None or cfg.is_identity():
        return data
    import mne

    if cfg.filter_method not in ("iir", "fir"):
        raise ConfigError(f"filter_method={cfg.filter_method!r}: use 'iir' or 'fir'.")
    X, sfreq, ch_names = data.X, float(data.sfreq), list(data.ch_names)
    info = dict(data.info)
    steps: list[str] = []

    if cfg.channels.strip():
        idx = select_channels(ch_names, cfg.channels)
        X = X[:, idx]
        ch_names = [ch_names[i] for i in idx]
        steps.append(f"channels {len(idx)}")

    nyq = sfreq / 2
    iir = {"ftype": "butter", "order": 4} if cfg.filter_method == "iir" else None
    if cfg.notch is not None:
        if not 0 < cfg.notch < nyq:
            raise ConfigError(f"notch={cfg.notch} Hz must lie in (0, {nyq}) (Nyquist).")
        # Harmonics above a low-pass edge are removed by the band-pass anyway.
        top = min(nyq, cfg.h_freq + 5.0) if cfg.h_freq is not None else nyq
        freqs = np.arange(cfg.notch, top, cfg.notch)

        def notch(x: np.ndarray) -> np.ndarray:
            if cfg.filter_method == "fir":
                return mne.filter.notch_filter(x, sfreq, freqs, method="fir", verbose="error")
            # One stop band per call (MNE's IIR notch takes one); 2 Hz wide so the ringing
            # dies out within ~0.2 s of a short trial (MNE's default width is f/200).
            for f in freqs:
                x = mne.filter.notch_filter(
                    x, sfreq, f, notch_widths=2.0, method="iir", verbose="error"
                )
            return x

        X = _map_chunks(X, notch)
        steps.append(f"notch {cfg.notch:g} Hz (+harmonics)")

    if cfg.l_freq is not None or cfg.h_freq is not None:
        for name, f in (("l_freq", cfg.l_freq), ("h_freq", cfg.h_freq)):
            if f is not None and not 0 < f < nyq:
                raise ConfigError(f"{name}={f} Hz must lie in (0, {nyq}) (Nyquist).")
        if cfg.l_freq is not None and cfg.h_freq is not None and cfg.l_freq >= cfg.h_freq:
            raise ConfigError(f"l_freq={cfg.l_freq} must be below h_freq={cfg.h_freq}.")

        def band(x: np.ndarray) -> np.ndarray:
            return mne.filter.filter_data(
                x,
                sfreq,
                cfg.l_freq,
                cfg.h_freq,
                method=cfg.filter_method,
                iir_params=iir,
                verbose="error",
            )

        X = _map_chunks(X, band)
        steps.append(f"band-pass {cfg.l_freq}-{cfg.h_freq} Hz ({cfg.filter_method})")

    if cfg.resample is not None and cfg.resample != sfreq:
        if cfg.resample <= 0:
            raise ConfigError(f"resample={cfg.resample} must be a positive rate in Hz.")
        n_out = int(round(X.shape[2] * cfg.resample / sfreq))
        if n_out < 1:
            raise ConfigError(f"resample={cfg.resample} Hz leaves no samples per trial.")

        def rs(x: np.ndarray) -> np.ndarray:
            return mne.filter.resample(
                x, up=cfg.resample, down=sfreq, axis=-1, method="polyphase", verbose="error"
            )

        X = _map_chunks(X, rs)
        steps.append(f"resample {sfreq:g} -> {cfg.resample:g} Hz")
        sfreq = float(cfg.resample)

    if cfg.baseline is not None:
        tmin = float(info.get("tmin", 0.0))
        times = tmin + np.arange(X.shape[2]) / sfreq
        b0, b1 = cfg.baseline
        lo = times[0] if b0 is None else b0
        hi = times[-1] if b1 is None else b1
        if not ((times >= lo) & (times <= hi)).any():
            raise ConfigError(
                f"baseline={cfg.baseline} s holds no samples; trials span "
                f"{times[0]:.3f}..{times[-1]:.3f} s from stimulus onset."
            )

        def base(x: np.ndarray) -> np.ndarray:
            return mne.baseline.rescale(x, times, (b0, b1), mode="mean", verbose="error")

        X = _map_chunks(X, base)
        steps.append(f"baseline {cfg.baseline}")

    if cfg.zscore:
        train = np.asarray(data.splits["train"])
        mean, std = _channel_stats(X, train)
        flat = [ch_names[i] for i in np.flatnonzero(std <= 1e-12 * max(1.0, float(std.max())))]
        if flat:
            raise DataError(
                f"channel(s) {', '.join(flat)} are flat in the train split; drop them with "
                "channels=..."
            )
        X = (X - mean[None, :, None].astype(np.float32)) / std[None, :, None].astype(np.float32)
        X = X.astype(np.float32, copy=False)
        info["zscore"] = {"mean": mean.tolist(), "std": std.tolist(), "fitted_on": "train"}
        steps.append("z-score per channel (train statistics)")

    info["preprocessing"] = steps
    out = dataclasses.replace(data, X=X, sfreq=sfreq, ch_names=ch_names, info=info)
    return out.validate()


def _channel_stats(X: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std over the trials ``idx`` and all times (float64, chunked)."""
    c = X.shape[1]
    total = np.zeros(c)
    total_sq = np.zeros(c)
    count = 0
    for i in range(0, len(idx), CHUNK):
        x = X[idx[i : i + CHUNK]].astype(np.float64)
        total += x.sum(axis=(0, 2))
        count += x.shape[0] * x.shape[2]
    mean = total / count
    for i in range(0, len(idx), CHUNK):
        x = X[idx[i : i + CHUNK]].astype(np.float64) - mean[None, :, None]
        total_sq += (x**2).sum(axis=(0, 2))
    return mean, np.sqrt(total_sq / count)


@dataclass
class DatasetParams(SplitParams, Preprocess):
    """Split and preprocessing fields every dataset plugin's params class inherits."""


def finalize(data: EEGData, params: object, *, has_published: bool) -> EEGData:
    """Apply the split strategy, then preprocessing (z-score fitted on the final train split),
    validate, and store the leakage warnings in ``info["leakage"]``."""
    data = apply_split(data.validate(), split_params_of(params), has_published=has_published)
    data = apply_preprocessing(data.validate(), Preprocess.of(params)).validate()
    data.info["leakage"] = check_leakage(data)
    return data
