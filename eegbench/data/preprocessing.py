"""Preprocessing shared by the dataset plugins: channel selection, notch, band-pass, resampling,
baseline correction and per-channel z-scoring fitted on the training split only.

Filters and resampling are MNE's (``mne.filter``, ``mne.baseline``). Every per-trial step is
linear and acts on each channel's time series alone, so the chain is built once as a matrix
(MNE's steps run on the unit impulses in float64) and applied to chunks of trials with one
float32 matrix product, written straight into one preallocated float32 array: the data is never
copied whole, and the result matches MNE's step-by-step output to float32 rounding.
:func:`load_trials` reads a dataset's trials chunk by chunk through the steps and caches the
result on disk (``data/trialcache.py``).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from annotated_types import Gt

from eegbench.contract.data import EEGData
from eegbench.contract.errors import ConfigError, DataError
from eegbench.data.splits import SplitParams, apply_split, check_leakage, split_params_of

CHUNK = 256
#: Trials per chunk when trials are read and preprocessed (float64 temporaries of ~30 MB at
#: CVPR40's 128 x 440).
TRIAL_CHUNK = 64

POSTERIOR = re.compile(r"^(O|P)", re.IGNORECASE)


@dataclass(frozen=True)
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
    cache: bool = field(
        default=True,
        metadata={
            "help": "keep preprocessed trials under cache_dir/trials and memory-map them on the "
            "next run (datasets that support it, e.g. cvpr40)"
        },
    )

    @classmethod
    def of(cls, params: object) -> Preprocess:
        """The Preprocess fields of a dataset's params object (which inherits them)."""
        return cls(**{f.name: getattr(params, f.name) for f in dataclasses.fields(cls)})

    def is_identity(self) -> bool:
        return dataclasses.replace(self, cache=True) == Preprocess()


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


def _chunks(n: int, size: int = CHUNK) -> list[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


@dataclass
class Plan:
    """The per-trial steps of a :class:`Preprocess` (channels, notch, band-pass, resampling,
    baseline) for trials of one length: all of them together are one linear map of each
    channel's time series, applied as a matrix (see :meth:`matrix`)."""

    channels: list[int] | None
    n_times: int
    sfreq: float
    ch_names: list[str]
    steps: list[str]
    fns: list[Any]
    _matrix: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def out_times(self) -> int:
        return int(self.matrix().shape[1]) if self.fns else self.n_times

    def is_identity(self) -> bool:
        return self.channels is None and not self.fns

    def matrix(self) -> np.ndarray:
        """``[n_times, out_times]`` float64: a trial's rows times it give the preprocessed rows.

        Built once by running the steps (MNE's filters, the reference implementation) on the
        unit impulses: every step is linear and acts on each row alone.
        """
        if self._matrix is None:
            out = np.eye(self.n_times)
            for fn in self.fns:
                out = fn(out)
            self._matrix = np.ascontiguousarray(out)
        return self._matrix

    def run(self, read: Callable[[slice], np.ndarray], n_trials: int) -> np.ndarray:
        """float32 ``[n_trials, channels, out_times]`` from raw trials read ``TRIAL_CHUNK`` at a
        time (``read(slice)`` gives ``[k, C, n_times]`` of any float dtype); each chunk goes
        through the steps as one matrix product and is written straight into the preallocated
        result."""
        from eegbench.progress import task

        t_out = self.out_times
        X = np.empty((n_trials, len(self.ch_names), t_out), dtype=np.float32)
        if self.fns:
            mat = self.matrix().astype(np.float32)
            dc = self.matrix().sum(axis=0).astype(np.float32)  # the response to a constant
        with task(f"loading {n_trials} trials", total=n_trials) as advance:
            for sl in _chunks(n_trials, TRIAL_CHUNK):
                x = np.asarray(read(sl))
                k = sl.stop - sl.start
                if x.ndim != 3 or x.shape[0] != k or x.shape[2] != self.n_times:
                    raise DataError(
                        f"trials {sl.start}..{sl.stop - 1} have shape {list(x.shape)}, expected "
                        f"[{k}, channels, {self.n_times}]."
                    )
                if self.channels is not None:
                    x = x[:, self.channels]
                if not self.fns:
                    X[sl] = x
                    advance(k)
                    continue
                # float32 product of the centred rows (DC offsets of raw EEG would otherwise
                # dominate its rounding), the mean's response added back: errors stay below
                # those of MNE's step-by-step chain with float32 between steps (tested).
                rows = x.reshape(-1, self.n_times).astype(np.float32, copy=False)
                mean = rows.mean(axis=1, keepdims=True, dtype=np.float64).astype(np.float32)
                y = np.matmul(rows - mean, mat)
                y += mean * dc
                X[sl] = y.reshape(k, -1, t_out)
                advance(k)
        return X


def plan(cfg: Preprocess, *, sfreq: float, ch_names: list[str], n_times: int, tmin: float) -> Plan:
    """The per-trial steps of ``cfg`` for trials of ``n_times`` samples at ``sfreq``, checked
    (one-line ConfigError/DataError); ``tmin`` (s from stimulus onset of the first sample)
    places the baseline window."""
    if cfg.filter_method not in ("iir", "fir"):
        raise ConfigError(f"filter_method={cfg.filter_method!r}: use 'iir' or 'fir'.")
    sfreq = float(sfreq)
    ch_names = list(ch_names)
    steps: list[str] = []
    channels = None
    if cfg.channels.strip():
        channels = select_channels(ch_names, cfg.channels)
        ch_names = [ch_names[i] for i in channels]
        steps.append(f"channels {len(channels)}")
    _check_filters(cfg, sfreq / 2)
    notch = _notch_step(cfg, sfreq, n_times)
    band = _band_step(cfg, sfreq, n_times)
    resample, out_times, out_sfreq = _resample_step(cfg, sfreq, n_times)
    baseline = _baseline_step(cfg, tmin, out_times, out_sfreq)
    chain = [step for step in (notch, band, resample, baseline) if step is not None]
    steps += [what for _, what in chain]
    return Plan(channels, n_times, out_sfreq, ch_names, steps, [fn for fn, _ in chain])


_Step = tuple[Callable[..., np.ndarray], str]
"""A per-trial step: the function on ``[rows, times]`` arrays and its description."""


def _notch_step(cfg: Preprocess, sfreq: float, n_times: int) -> _Step | None:
    """The notch filter at the line frequency and its harmonics (None without ``notch``)."""
    if cfg.notch is None:
        return None
    freqs = _notch_freqs(cfg, sfreq / 2)

    def notch(x: np.ndarray, sfreq: float = sfreq, verbose: str = "error") -> np.ndarray:
        import mne

        if cfg.filter_method == "fir":
            return mne.filter.notch_filter(x, sfreq, freqs, method="fir", verbose=verbose)
        # One stop band per call (MNE's IIR notch takes one); 2 Hz wide so the ringing
        # dies out within ~0.2 s of a short trial (MNE's default width is f/200).
        for f in freqs:
            x = mne.filter.notch_filter(
                x, sfreq, f, notch_widths=2.0, method="iir", verbose=verbose
            )
        return x

    _warn_if_longer(notch, f"the notch filter at {cfg.notch:g} Hz", n_times, sfreq)
    return notch, f"notch {cfg.notch:g} Hz (+harmonics)"


def _band_step(cfg: Preprocess, sfreq: float, n_times: int) -> _Step | None:
    """The band-pass (or high-/low-pass) filter (None without ``l_freq`` and ``h_freq``)."""
    if cfg.l_freq is None and cfg.h_freq is None:
        return None
    iir = {"ftype": "butter", "order": 4} if cfg.filter_method == "iir" else None

    def band(x: np.ndarray, sfreq: float = sfreq, verbose: str = "error") -> np.ndarray:
        import mne

        return mne.filter.filter_data(
            x,
            sfreq,
            cfg.l_freq,
            cfg.h_freq,
            method=cfg.filter_method,
            iir_params=None if iir is None else dict(iir),
            verbose=verbose,
        )

    what = f"the band-pass {cfg.l_freq}-{cfg.h_freq} Hz ({cfg.filter_method})"
    _warn_if_longer(band, what, n_times, sfreq)
    return band, f"band-pass {cfg.l_freq}-{cfg.h_freq} Hz ({cfg.filter_method})"


def _resample_step(cfg: Preprocess, sfreq: float, n_times: int) -> tuple[_Step | None, int, float]:
    """The resampling step (None without a new rate), and the samples per trial and sampling
    rate after it."""
    if cfg.resample is None or cfg.resample == sfreq:
        return None, n_times, sfreq
    if cfg.resample <= 0:
        raise ConfigError(f"resample={cfg.resample} must be a positive rate in Hz.")
    out_times = int(round(n_times * cfg.resample / sfreq))
    if out_times < 1:
        raise ConfigError(f"resample={cfg.resample} Hz leaves no samples per trial.")

    def rs(x: np.ndarray, sfreq: float = sfreq) -> np.ndarray:
        import mne

        return mne.filter.resample(
            x, up=cfg.resample, down=sfreq, axis=-1, method="polyphase", verbose="error"
        )

    return (rs, f"resample {sfreq:g} -> {cfg.resample:g} Hz"), out_times, float(cfg.resample)


def _baseline_step(cfg: Preprocess, tmin: float, n_times: int, sfreq: float) -> _Step | None:
    """Subtraction of the mean over the baseline window (None without ``baseline``)."""
    if cfg.baseline is None:
        return None
    times = float(tmin) + np.arange(n_times) / sfreq
    b0, b1 = cfg.baseline
    lo = times[0] if b0 is None else b0
    hi = times[-1] if b1 is None else b1
    if not ((times >= lo) & (times <= hi)).any():
        raise ConfigError(
            f"baseline={cfg.baseline} s holds no samples; trials span "
            f"{times[0]:.3f}..{times[-1]:.3f} s from stimulus onset."
        )

    def base(x: np.ndarray) -> np.ndarray:
        import mne

        return mne.baseline.rescale(x, times, (b0, b1), mode="mean", verbose="error")

    return base, f"baseline {cfg.baseline}"


def _check_filters(cfg: Preprocess, nyq: float) -> None:
    """One-line errors for a notch or band edge outside (0, Nyquist) or an empty band."""
    if cfg.notch is not None and not 0 < cfg.notch < nyq:
        raise ConfigError(f"notch={cfg.notch} Hz must lie in (0, {nyq}) (Nyquist).")
    for name, f in (("l_freq", cfg.l_freq), ("h_freq", cfg.h_freq)):
        if f is not None and not 0 < f < nyq:
            raise ConfigError(f"{name}={f} Hz must lie in (0, {nyq}) (Nyquist).")
    if cfg.l_freq is not None and cfg.h_freq is not None and cfg.l_freq >= cfg.h_freq:
        raise ConfigError(f"l_freq={cfg.l_freq} must be below h_freq={cfg.h_freq}.")


def _notch_freqs(cfg: Preprocess, nyq: float) -> np.ndarray:
    """The line frequency and its harmonics below Nyquist; harmonics above a low-pass edge
    are removed by the band-pass anyway."""
    assert cfg.notch is not None
    top = min(nyq, cfg.h_freq + 5.0) if cfg.h_freq is not None else nyq
    return np.arange(cfg.notch, top, cfg.notch)


_TOO_LONG = re.compile(r"filter_length \((\d+)\) is longer than the signal")


def _warn_if_longer(step: Callable[..., np.ndarray], what: str, n_times: int, sfreq: float) -> None:
    """One eegbench warning, naming the filter and the epoch length, when MNE finds the filter
    ``step`` longer than an epoch of ``n_times`` samples (MNE's own warning stays silent)."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        step(np.zeros((1, n_times)), verbose="warning")
    lengths = [int(m.group(1)) for w in caught if (m := _TOO_LONG.search(str(w.message)))]
    if lengths:
        from eegbench.progress import warn

        n = max(lengths)
        warn(
            f"{what} is a {n}-sample filter ({n / sfreq:.2f} s), longer than the "
            f"{n_times}-sample epoch ({n_times / sfreq:.2f} s): distortion is likely; use "
            "filter_method=iir, a higher l_freq, or filter the continuous recording before "
            "epoching (dataset bids does)."
        )


def filter_continuous(raw: Any, params: object) -> list[str]:
    """Apply the notch and band-pass of a dataset's ``params`` to a continuous ``mne.io.Raw``
    (in place, before epoching: no edge effects within epochs); returns the steps' descriptions.

    The same checks and filters as the per-epoch steps (``filter_method`` iir: zero-phase
    Butterworth order 4; fir: MNE's default FIR); pass ``params`` with ``l_freq``, ``h_freq``
    and ``notch`` cleared to ``finalize`` afterwards, so they are not applied twice.
    """
    cfg = Preprocess.of(params)
    if cfg.filter_method not in ("iir", "fir"):
        raise ConfigError(f"filter_method={cfg.filter_method!r}: use 'iir' or 'fir'.")
    nyq = float(raw.info["sfreq"]) / 2
    _check_filters(cfg, nyq)
    steps = []
    raw.load_data(verbose="error")
    iir = {"ftype": "butter", "order": 4} if cfg.filter_method == "iir" else None
    if cfg.notch is not None:
        freqs = _notch_freqs(cfg, nyq)
        if cfg.filter_method == "fir":
            raw.notch_filter(freqs, picks="data", method="fir", verbose="error")
        for f in freqs if cfg.filter_method == "iir" else ():  # MNE's IIR notch: one band a call
            raw.notch_filter(f, picks="data", method="iir", notch_widths=2.0, verbose="error")
        steps.append(f"notch {cfg.notch:g} Hz (+harmonics)")
    if cfg.l_freq is not None or cfg.h_freq is not None:
        steps.append(f"band-pass {cfg.l_freq}-{cfg.h_freq} Hz ({cfg.filter_method})")
        raw.filter(
            cfg.l_freq,
            cfg.h_freq,
            picks="data",
            method=cfg.filter_method,
            iir_params=None if iir is None else dict(iir),
            verbose="error",
        )
    return [f"{step} on the continuous recording" for step in steps]


def apply_preprocessing(data: EEGData, cfg: Preprocess | None) -> EEGData:
    """A new EEGData with ``cfg`` applied; records the steps in ``info["preprocessing"]``.

    ``info["tmin"]`` (time of the first sample relative to stimulus onset, default 0) places
    the baseline window. The z-score statistics are in ``info["zscore"]``.
    """
    if cfg is None or cfg.is_identity():
        return data
    p = plan(
        cfg,
        sfreq=data.sfreq,
        ch_names=data.ch_names,
        n_times=data.n_times,
        tmin=float(data.info.get("tmin", 0.0)),
    )
    X = data.X if p.is_identity() else p.run(lambda sl: data.X[sl], data.n_trials)
    info = dict(data.info)
    out = dataclasses.replace(data, X=X, sfreq=p.sfreq, ch_names=p.ch_names, info=info)
    info["preprocessing"] = [*data.info.get("preprocessing", []), *p.steps]
    return zscore(out, cfg, owned=X is not data.X).validate()


def zscore(data: EEGData, cfg: Preprocess, *, owned: bool) -> EEGData:
    """``data`` with each channel z-scored by the mean/std of the train split if ``cfg.zscore``
    (in place when ``owned`` and writable, else into a new array), chunk by chunk."""
    if not cfg.zscore:
        return data
    X, ch_names = data.X, data.ch_names
    train = np.asarray(data.splits["train"])
    mean, std = _channel_stats(X, train)
    flat = [ch_names[i] for i in np.flatnonzero(std <= 1e-12 * max(1.0, float(std.max())))]
    if flat:
        raise DataError(
            f"channel(s) {', '.join(flat)} are flat in the train split; drop them with channels=..."
        )
    m = mean[None, :, None].astype(np.float32)
    s = std[None, :, None].astype(np.float32)
    out = X if owned and X.flags.writeable and not isinstance(X, np.memmap) else np.empty_like(X)
    for sl in _chunks(X.shape[0]):
        out[sl] = (X[sl] - m) / s
    info = dict(data.info)
    info["zscore"] = {"mean": mean.tolist(), "std": std.tolist(), "fitted_on": "train"}
    info["preprocessing"] = [
        *info.get("preprocessing", []),
        "z-score per channel (train statistics)",
    ]
    return dataclasses.replace(data, X=np.asarray(out), info=info)


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


@dataclass(frozen=True)
class DatasetParams(SplitParams, Preprocess):
    """Split and preprocessing fields every dataset plugin's params class inherits."""


@dataclass
class Trials:
    """Trials after the per-trial preprocessing, as :func:`load_trials` returns them.

    ``X`` float32 ``[N, C, T]`` (a read-only memory map when it came from the cache);
    ``cache``: ``{"path", "hit"}`` of the cache entry, None when not cached.
    """

    X: np.ndarray
    sfreq: float
    ch_names: list[str]
    steps: list[str]
    cache: dict[str, Any] | None = None


def load_trials(
    read: Callable[[slice], np.ndarray],
    shape: tuple[int, int, int],
    params: object,
    *,
    sfreq: float,
    ch_names: list[str],
    name: str,
    tmin: float = 0.0,
    sources: Sequence[str | os.PathLike] = (),
    selection: Mapping[str, Any] | None = None,
) -> Trials:
    """A dataset's ``shape[0]`` trials, read chunk by chunk and preprocessed on the way.

    ``read(slice)`` returns the raw trials of that range as ``[k, C, T]`` (``shape`` gives
    ``[N, C, T]``); it is called in order over the trials, so a loader can release what it has
    handed over. The per-trial steps of ``params`` (channels, notch, band-pass, resampling,
    baseline) are applied; z-scoring is left to :func:`finalize` (pass it ``trials=``).

    With a trial cache active (``eegbench run``), ``params.cache`` true, some preprocessing to
    do and ``sources`` given (the files the trials come from), the result is cached under
    ``cache_dir/trials`` keyed by the files' SHA-256, ``selection`` (whatever else picks the
    trials: indices, window), ``name``, ``sfreq``, ``ch_names``, ``tmin`` and the steps'
    parameters, and the next call memory-maps it without calling ``read``.
    """
    from eegbench.data import trialcache

    cfg = Preprocess.of(params)
    n, c, t = (int(v) for v in shape)
    if len(ch_names) != c:
        raise DataError(f"{name}: {len(ch_names)} channel names for {c} channels.")
    p = plan(cfg, sfreq=sfreq, ch_names=ch_names, n_times=t, tmin=tmin)
    root = trialcache.active_root()
    if not p.fns or root is None or not cfg.cache or not sources:
        return Trials(p.run(read, n), p.sfreq, p.ch_names, list(p.steps))
    key = {
        "dataset": name,
        "sources": [trialcache.remembered_digest(s, root) for s in sources],
        "selection": dict(selection or {}),
        "shape": [n, c, t],
        "sfreq": float(sfreq),
        "ch_names": list(ch_names),
        "tmin": float(tmin),
        "preprocess": {
            k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("zscore", "cache")
        },
        "versions": _versions(),
    }
    folder = root / f"{name}-{trialcache.entry_key(key)}"
    hit = trialcache.lookup(folder, (n, c, t))
    if hit is not None:
        return Trials(hit.X, hit.sfreq, hit.ch_names, hit.steps, {"path": str(folder), "hit": True})
    return _stored(folder, p.run(read, n), key, p)


def _stored(folder: Path, X: np.ndarray, key: dict[str, Any], p: Plan) -> Trials:
    """Trials ``X`` (the result of ``p``), written to the trial cache entry ``folder`` if the
    disk allows."""
    from eegbench.data import trialcache

    try:
        trialcache.store(folder, X, key=key, sfreq=p.sfreq, ch_names=p.ch_names, steps=p.steps)
    except OSError as e:  # a full disk costs the next run its head start, not this run
        from eegbench.progress import warn

        warn(f"could not write trial cache entry {str(folder)!r} ({e}); continuing without it.")
        return Trials(X, p.sfreq, p.ch_names, list(p.steps))
    return Trials(X, p.sfreq, p.ch_names, list(p.steps), {"path": str(folder), "hit": False})


def _versions() -> dict[str, str]:
    """Versions of the libraries whose filters the cached numbers depend on."""
    from importlib.metadata import version

    return {k: version(k) for k in ("mne", "scipy", "numpy")}


def finalize(
    data: EEGData, params: object, *, has_published: bool, trials: Trials | None = None
) -> EEGData:
    """Apply the split strategy, then preprocessing (z-score fitted on the final train split),
    validate, and store the leakage warnings in ``info["leakage"]``.

    ``trials``: what :func:`load_trials` returned when ``data.X`` is its ``X``; its per-trial
    steps are then not applied again (they commute with the split: they act on each trial
    alone).
    """
    data = apply_split(data.validate(), split_params_of(params), has_published=has_published)
    cfg = Preprocess.of(params)
    if trials is None:
        data = apply_preprocessing(data.validate(), cfg).validate()
    else:
        data.info["preprocessing"] = list(trials.steps)
        if trials.cache is not None:
            data.info["trial_cache"] = dict(trials.cache)
        data = zscore(data.validate(), cfg, owned=True).validate()
    data.info["leakage"] = check_leakage(data)
    return data
