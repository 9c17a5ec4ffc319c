"""Artifacts and non-stationarity of the synthetic dataset, each switched on by its parameter.

Amplitudes and shapes follow the EEG artifact literature (docs/synthetic.md cites each):

- blinks: a 0.2-0.4 s monophasic deflection of about 100 µV at Fp1/Fp2, falling off towards the
  back of the head;
- horizontal saccades: a step of about 30 µV (about 15 µV per degree of a 2-degree saccade),
  opposite in sign at F7 and F8, held to the end of the trial;
- muscle bursts: 50-200 ms of broadband activity above 20 Hz (RMS 20 µV) at the temporal
  electrodes of one side or both;
- slow drifts: a few sinusoids below 0.5 Hz per electrode over the continuous record;
- line noise at ``line_freq`` with a per-electrode amplitude, phase-continuous over the record;
- bad electrodes per session: flat (1 % of their signal) or very noisy (white noise of 50 µV);
- per-session gain: a log-normal factor on the whole signal of each subject x repetition block.

Events happen at a rate per minute; each trial draws its number from a Poisson law with mean
``rate * trial length / 60 s`` and places them uniformly in the trial.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

BLINK_UV = 100.0
SACCADE_UV = 30.0
MUSCLE_UV = 20.0
BAD_CHANNEL_UV = 50.0
MUSCLE_HIGHPASS_HZ = 20.0

Topography = Callable[[list[str], list[float]], np.ndarray]
"""``topo(electrodes, signs)``: a ``[C]`` map of signed blobs at the named 10-20 positions."""


def _events(rng: np.random.Generator, rate_per_min: float, n: int, duration_s: float):
    """``(trial, onset_s)`` of each event: Poisson counts per trial, uniform onsets."""
    counts = rng.poisson(rate_per_min * duration_s / 60.0, n)
    trials = np.repeat(np.arange(n), counts)
    return trials, rng.uniform(0, duration_s, trials.size)


def blinks(rng, rate, t, topo: Topography, n: int) -> np.ndarray:
    """``[N, C, T]`` blink potentials (frontal, positive, 0.2-0.4 s)."""
    front = topo(["Fp1", "Fp2"], [1.0, 1.0])
    front /= np.abs(front).max()
    out = np.zeros((n, front.size, t.size))
    for trial, onset in zip(*_events(rng, rate, n, t[-1] + t[1])):
        width = rng.uniform(0.2, 0.4) / 4
        wave = np.exp(-0.5 * ((t - onset - 2 * width) / width) ** 2)
        out[trial] += BLINK_UV * rng.uniform(0.7, 1.3) * front[:, None] * wave
    return out


def saccades(rng, rate, t, topo: Topography, n: int) -> np.ndarray:
    """``[N, C, T]`` horizontal saccades: steps of opposite sign at F7 and F8."""
    dipole = topo(["F7", "F8"], [1.0, -1.0])
    dipole /= np.abs(dipole).max()
    out = np.zeros((n, dipole.size, t.size))
    for trial, onset in zip(*_events(rng, rate, n, t[-1] + t[1])):
        step = (t >= onset).astype(float) * rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.5)
        out[trial] += SACCADE_UV * dipole[:, None] * step
    return out


def muscle(rng, rate, t, sfreq: float, topo: Topography, n: int) -> np.ndarray:
    """``[N, C, T]`` bursts of high-pass white noise at T7, T8 or both."""
    sides = (topo(["T7"], [1.0]), topo(["T8"], [1.0]), topo(["T7", "T8"], [1.0, 1.0]))
    sides = tuple(s / np.abs(s).max() for s in sides)
    freqs = np.fft.rfftfreq(t.size, d=1 / sfreq)
    out = np.zeros((n, sides[0].size, t.size))
    for trial, onset in zip(*_events(rng, rate, n, t[-1] + t[1])):
        spec = np.fft.rfft(rng.standard_normal(t.size)) * (freqs >= MUSCLE_HIGHPASS_HZ)
        noise = np.fft.irfft(spec, n=t.size)
        noise /= noise.std() + 1e-12
        window = ((t >= onset) & (t < onset + rng.uniform(0.05, 0.2))).astype(float)
        side = sides[rng.integers(3)]
        out[trial] += MUSCLE_UV * side[:, None] * noise * window
    return out


def drifts(rng, drift_uv: float, n: int, n_chans: int, n_times: int, sfreq: float) -> np.ndarray:
    """``[N, C, T]`` slow drifts: 3 sinusoids of 0.05-0.5 Hz per electrode over the record,
    RMS ``drift_uv``."""
    s = np.arange(n * n_times) / sfreq
    freq = rng.uniform(0.05, 0.5, (n_chans, 3))
    phase = rng.uniform(0, 2 * np.pi, (n_chans, 3))
    record = np.sin(2 * np.pi * freq[..., None] * s + phase[..., None]).sum(1)
    record *= drift_uv / np.sqrt(1.5)  # three unit sinusoids have RMS sqrt(3/2)
    return record.reshape(n_chans, n, n_times).swapaxes(0, 1)


def line_noise(
    rng, amp_uv: float, freq: float, n: int, n_chans: int, n_times: int, sfreq: float
) -> np.ndarray:
    """``[N, C, T]`` line noise, phase-continuous over the record; per-electrode amplitude
    log-normal (sd 0.5) around ``amp_uv``."""
    s = np.arange(n * n_times) / sfreq
    amp = amp_uv * np.exp(rng.normal(0, 0.5, n_chans))
    phase = rng.uniform(0, 2 * np.pi, n_chans)
    record = amp[:, None] * np.sin(2 * np.pi * freq * s + phase[:, None])
    return record.reshape(n_chans, n, n_times).swapaxes(0, 1)


def bad_channels(
    rng, X: np.ndarray, session: np.ndarray, prob: float
) -> tuple[np.ndarray, list[list[int]]]:
    """``X`` with bad electrodes per session (flat or noisy), and their indices per session."""
    bad_per_session = []
    for s in range(int(session.max()) + 1):
        bad = np.flatnonzero(rng.random(X.shape[1]) < prob)
        rows = np.flatnonzero(session == s)
        for c in bad:
            if rng.random() < 0.5:
                X[rows, c] *= 0.01
            else:
                X[rows, c] = BAD_CHANNEL_UV * rng.standard_normal((rows.size, X.shape[2]))
        bad_per_session.append(bad.tolist())
    return X, bad_per_session
