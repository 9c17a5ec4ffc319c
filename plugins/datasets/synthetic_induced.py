"""Induced (non-phase-locked) responses of the synthetic dataset: event-related changes of band
power whose topography depends on an attribute, with a fresh random phase on every trial.

Two responses follow a visual stimulus (Pfurtscheller & Lopes da Silva 1999, "Event-related
EEG/MEG synchronization and desynchronization: basic principles", Clin. Neurophysiol.
110:1842-1857; Tallon-Baudry & Bertrand 1999, "Oscillatory gamma activity in humans and its role
in object representation", Trends Cogn. Sci. 3:151-162):

- **alpha ERD**: the ongoing posterior alpha rhythm loses power from about 200 ms on;
  ``erd`` is the fractional power decrease at the response's peak electrode;
- **gamma ERS**: an induced oscillation near 40 Hz appears from about 150 ms on, with a phase
  that is not locked to stimulus onset; ``ers`` is its power relative to the background's
  power in the 35-45 Hz band at the peak electrode.

An induced attribute scales both responses electrode by electrode: the map of a trial is
``1 + depth * T[value]`` (clipped at 0), ``T`` one unit-RMS topography per attribute value, zero
mean over the values (as for the evoked modulations). Averaged over trials the oscillation
cancels (random phase), so no linear map of the raw samples can read the attribute; the
band power of single trials can.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

ALPHA_ONSET_S = 0.20
GAMMA_ONSET_S = 0.15
RISE_S = 0.03
GAMMA_HZ = 40.0
GAMMA_BAND = (35.0, 45.0)


def envelope(t: np.ndarray, onset: float) -> np.ndarray:
    """A smooth step from 0 to 1 at ``onset`` (logistic, rise ``RISE_S``)."""
    return 1.0 / (1.0 + np.exp(-(t - onset) / RISE_S))


def attribute_maps(
    rng: np.random.Generator,
    topographies: Callable[[np.random.Generator, int], np.ndarray],
    induced: dict[str, tuple[np.ndarray, int]],
    depth: float,
    n_trials: int,
    n_chans: int,
) -> np.ndarray:
    """``[N, C]`` per-trial electrode maps ``1 + depth * sum_attr T_attr[value]``, >= 0.

    ``induced``: attribute -> (per-trial value index, number of values); ``topographies(rng,
    L)`` returns ``[L, C]`` unit-RMS maps with zero mean over the ``L`` values.
    """
    maps = np.ones((n_trials, n_chans))
    for values, n_levels in induced.values():
        maps += depth * topographies(rng, n_levels)[values]
    return np.clip(maps, 0.0, None)


def band_rms(x: np.ndarray, sfreq: float, band: tuple[float, float]) -> np.ndarray:
    """Per-channel RMS of ``x`` ``[N, C, T]`` in ``band`` (Hz), over trials and samples."""
    freqs = np.fft.rfftfreq(x.shape[-1], d=1 / sfreq)
    keep = (freqs >= band[0]) & (freqs <= band[1])
    spec = np.fft.rfft(x, axis=-1) * keep
    return np.sqrt(np.mean(np.fft.irfft(spec, n=x.shape[-1], axis=-1) ** 2, axis=(0, 2)))


def alpha_erd(
    alpha: np.ndarray, t: np.ndarray, base: np.ndarray, maps: np.ndarray, erd: float
) -> np.ndarray:
    """The alpha rhythm ``[N, C, T]`` with its power lowered by ``erd * base * maps`` after
    onset (amplitude factor ``sqrt(1 - decrease)``, decrease clipped to [0, 1]); ``base`` and
    ``maps`` are ``[N, C]``."""
    drop = np.clip(erd * base * maps, 0.0, 1.0)[..., None] * envelope(t, ALPHA_ONSET_S)
    return alpha * np.sqrt(1.0 - drop)


def gamma_ers(
    rng: np.random.Generator,
    t: np.ndarray,
    base: np.ndarray,
    maps: np.ndarray,
    ers: float,
    reference_rms: np.ndarray,
) -> np.ndarray:
    """Induced gamma ``[N, C, T]``: power ``ers * reference_rms**2 * (base * maps)**2`` after
    onset, frequency ``GAMMA_HZ`` +- 2 Hz and a uniform random phase per trial, trial amplitude
    log-normal (sd 0.25)."""
    n = maps.shape[0]
    freq = GAMMA_HZ + rng.uniform(-2.0, 2.0, n)
    phase = rng.uniform(0, 2 * np.pi, n)
    wave = np.sqrt(2.0) * np.sin(2 * np.pi * freq[:, None] * t + phase[:, None])
    wave *= envelope(t, GAMMA_ONSET_S) * np.exp(rng.normal(0, 0.25, n))[:, None]
    amp = np.sqrt(ers) * reference_rms[None] * base[None] * maps
    return amp[..., None] * wave[:, None]
