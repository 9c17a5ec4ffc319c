"""Embedded default dataset: simulated visual-evoked EEG with known ground truth.

Forty CVPR40 object classes, several images per class, each image with a colour and a setting
and a one-sentence caption that names them. Every trial is an ERP (P1/N1/P2/N2/P3-like
components) whose scalp topographies and amplitudes depend on the class, the colour and the
setting separately, projected onto standard 10-20 electrode positions, plus spatially correlated
1/f background noise, a posterior ~10 Hz alpha rhythm and sensor noise. ``X`` is in microvolts.
See docs/synthetic.md for the generative model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Literal

import numpy as np
from eegbench_plugins.datasets import synthetic_artifacts, synthetic_induced

from eegbench.api import (
    ConfigError,
    EEGData,
    Ge,
    Gt,
    Interval,
    Preprocess,
    apply_preprocessing,
    subject_split,
)

# (ImageNet WNID, short name as Thought2Text uses it, caption noun phrase; {c} is the colour)
CLASSES: tuple[tuple[str, str, str], ...] = (
    ("n02106662", "dog", "{c} dog"),
    ("n02124075", "cat", "{c} cat"),
    ("n02281787", "butterfly", "{c} butterfly"),
    ("n02389026", "horse", "{c} horse"),
    ("n02492035", "monkey", "monkey holding a {c} ball"),
    ("n02504458", "elephant", "elephant under a {c} blanket"),
    ("n02510455", "panda", "panda on a {c} blanket"),
    ("n02607072", "clownfish", "{c} clownfish"),
    ("n02690373", "airplane", "{c} airplane"),
    ("n02906734", "brush", "{c} brush"),
    ("n02951358", "canoe", "{c} canoe"),
    ("n02992529", "cell phone", "{c} cell phone"),
    ("n03063599", "coffee mug", "{c} coffee mug"),
    ("n03100240", "car", "{c} car"),
    ("n03180011", "computer", "{c} computer"),
    ("n03197337", "watch", "{c} watch"),
    ("n03272010", "guitar", "{c} guitar"),
    ("n03272562", "train", "{c} train"),
    ("n03297495", "coffee maker", "{c} coffee maker"),
    ("n03376595", "chair", "{c} chair"),
    ("n03445777", "ball", "{c} ball"),
    ("n03452741", "piano", "{c} piano"),
    ("n03584829", "ironing machine", "{c} ironing machine"),
    ("n03590841", "pumpkin", "pumpkin with a {c} ribbon"),
    ("n03709823", "handbag", "{c} handbag"),
    ("n03773504", "rocket", "{c} rocket"),
    ("n03775071", "gloves", "pair of {c} gloves"),
    ("n03792782", "bicycle", "{c} bicycle"),
    ("n03792972", "camp", "camp with a {c} tent"),
    ("n03877472", "girl", "girl in a {c} dress"),
    ("n03888257", "parachutes", "group of {c} parachutes"),
    ("n03982430", "pool table", "{c} pool table"),
    ("n04044716", "tower", "{c} tower"),
    ("n04069434", "camera", "{c} camera"),
    ("n04086273", "gun", "{c} gun"),
    ("n04120489", "shoes", "pair of {c} shoes"),
    ("n07753592", "fruits and vegetables", "pile of {c} fruits and vegetables"),
    ("n07873807", "pizza", "pizza on a {c} plate"),
    ("n11939491", "flower", "{c} flower"),
    ("n13054560", "mushroom", "{c} mushroom"),
)
ANIMATE = {"dog", "cat", "butterfly", "horse", "monkey", "elephant", "panda", "girl"}

COLOURS: tuple[str, ...] = ("red", "blue", "green", "yellow", "white", "black")
SETTINGS: dict[str, tuple[str, ...]] = {
    "park": ("in a park", "on the grass in a park", "in a sunny park"),
    "beach": ("on a beach", "on a sandy beach", "at the beach"),
    "street": ("on a street", "on a busy street", "by the side of a street"),
    "forest": ("in a forest", "in a dense forest", "among the trees of a forest"),
    "kitchen": ("in a kitchen", "in a bright kitchen", "on the floor of a kitchen"),
    "living room": ("in a living room", "in a cozy living room", "on the floor of a living room"),
}
OPENERS: tuple[str, ...] = (
    "{A}",
    "A photo of {a}",
    "An image of {a}",
    "A picture showing {a}",
    "There is {a}",
)
ANIMATE_VERBS: tuple[str, ...] = ("", "sitting", "standing", "resting")

# ERP components: name, polarity, latency (s), width (s), amplitude, anchor electrodes,
# weights of the class / colour / setting / image-specific topographies.
Component = tuple[str, float, float, float, float, tuple[str, ...], tuple[float, ...]]
COMPONENTS: tuple[Component, ...] = (
    ("P1", +1.0, 0.100, 0.016, 1.0, ("O1", "Oz", "O2"), (0.4, 1.0, 0.3, 0.3)),
    ("N1", -1.0, 0.170, 0.022, 1.3, ("P7", "P8"), (1.0, 0.9, 0.4, 0.3)),
    ("P2", +1.0, 0.230, 0.026, 0.9, ("Cz", "CPz"), (0.7, 0.5, 1.0, 0.3)),
    ("N2", -1.0, 0.290, 0.030, 0.8, ("FCz",), (0.6, 0.3, 0.8, 0.3)),
    ("P3", +1.0, 0.380, 0.055, 1.2, ("Pz",), (1.0, 0.2, 0.4, 0.3)),
)
BACKGROUND_UV = 10.0  # RMS of the background (1/f + alpha + sensor noise), microvolts
ALPHA_RATIO = 0.4  # RMS of alpha relative to the 1/f part
SENSOR_RATIO = 0.1  # RMS of white sensor noise relative to the 1/f part
BLOB_WIDTH = 0.45  # angular width (rad) of a topography blob
HIGHPASS_HZ = 0.5  # the background has no power below this (as after a high-pass filter)
NOISE_CORR_LENGTH = 0.6  # angular length (rad) of the background's spatial correlation
# The 32-channel 10-20 layout (BioSemi 32 positions), taken first.
LAYOUT_32 = (
    "Fp1", "AF3", "F7", "F3", "FC1", "FC5", "T7", "C3", "CP1", "CP5", "P7", "P3", "Pz", "PO3",
    "O1", "Oz", "O2", "PO4", "P4", "P8", "CP6", "CP2", "C4", "T8", "FC6", "FC2", "F4", "F8",
    "AF4", "Fp2", "Fz", "Cz",
)  # fmt: skip
# Channels not used: old aliases of T7/T8/P7/P8 and reference sites.
EXCLUDED_CHANNELS = {"T3", "T4", "T5", "T6", "M1", "M2", "A1", "A2"}


@dataclass(frozen=True)
class SyntheticParams(Preprocess):
    """The simulated world's parameters, after the shared preprocessing fields (off by default:
    ``dataset.l_freq=1 dataset.notch=50`` filters the simulated trials as a recording's)."""

    n_subjects: Annotated[int, Ge(1)] = field(
        default=3, metadata={"help": "number of simulated subjects"}
    )
    images_per_class: Annotated[int, Ge(3)] = field(
        default=5, metadata={"help": "images per class (>= 3)"}
    )
    repetitions: Annotated[int, Ge(1)] = field(
        default=2, metadata={"help": "presentations per image and subject"}
    )
    n_classes: Annotated[int, Interval(ge=2, le=40)] = field(
        default=40, metadata={"help": "the first n of the 40 CVPR40 classes"}
    )
    n_chans: Annotated[int, Ge(1)] = field(
        default=32, metadata={"help": "electrodes, spread over the 10-20 montage"}
    )
    n_times: Annotated[int, Ge(8)] = field(
        default=128, metadata={"help": "samples per trial, from stimulus onset"}
    )
    sfreq: Annotated[float, Gt(0)] = field(
        default=256.0, metadata={"help": "sampling frequency (Hz)"}
    )
    snr: Annotated[float, Ge(0)] = field(
        default=0.6, metadata={"help": "RMS of the evoked response / RMS of the background"}
    )
    val_images: Annotated[int, Ge(1)] = field(
        default=1, metadata={"help": "images per class in the val split"}
    )
    test_images: Annotated[int, Ge(1)] = field(
        default=1, metadata={"help": "images per class in the test split"}
    )
    seed: Annotated[int, Interval(ge=0, lt=2**32)] | None = field(
        default=None,
        metadata={
            "help": "seed of the simulated world (null: the run's seed, so every seed is "
            "another world)"
        },
    )
    split: Literal["auto", "per_subject", "loso"] = field(
        default="auto",
        metadata={
            "help": "auto (within-subject: every subject in train, val and test) | per_subject "
            "(split_subject only) | loso (leave split_subject out: train and val on the other "
            "subjects, test on it)"
        },
    )
    split_subject: Annotated[int, Ge(0)] = field(
        default=0, metadata={"help": "subject 1..n_subjects for per_subject / loso (0 = not set)"}
    )
    latency_jitter_ms: Annotated[float, Ge(0)] = field(
        default=10.0,
        metadata={"help": "sd of the trial-to-trial latency jitter shared by all components (ms)"},
    )
    mechanism_colour: Literal["evoked", "induced", "both"] = field(
        default="evoked",
        metadata={
            "help": "what carries the colour: evoked (ERP topographies), induced (band power of "
            "non-phase-locked alpha ERD and gamma ERS) or both"
        },
    )
    mechanism_setting: Literal["evoked", "induced", "both"] = field(
        default="evoked", metadata={"help": "what carries the setting (as mechanism_colour)"}
    )
    induced_erd: Annotated[float, Interval(ge=0, le=1)] = field(
        default=0.4,
        metadata={"help": "alpha power decrease at the ERD's peak electrode (fraction)"},
    )
    induced_ers: Annotated[float, Ge(0)] = field(
        default=0.5,
        metadata={"help": "gamma power increase relative to the background's 35-45 Hz power"},
    )
    induced_depth: Annotated[float, Ge(0)] = field(
        default=0.5,
        metadata={"help": "how much an induced attribute's topography scales ERD and ERS"},
    )
    blink_rate: Annotated[float, Ge(0)] = field(
        default=0.0, metadata={"help": "blinks per minute (0: none)"}
    )
    saccade_rate: Annotated[float, Ge(0)] = field(
        default=0.0, metadata={"help": "horizontal saccades per minute (0: none)"}
    )
    muscle_rate: Annotated[float, Ge(0)] = field(
        default=0.0, metadata={"help": "temporal muscle bursts per minute (0: none)"}
    )
    drift_uv: Annotated[float, Ge(0)] = field(
        default=0.0, metadata={"help": "RMS of slow (< 0.5 Hz) drifts in microvolts (0: none)"}
    )
    line_noise_uv: Annotated[float, Ge(0)] = field(
        default=0.0, metadata={"help": "line-noise amplitude in microvolts (0: none)"}
    )
    line_freq: Annotated[float, Gt(0)] = field(
        default=50.0, metadata={"help": "line frequency in Hz (50 or 60)"}
    )
    bad_channel_prob: Annotated[float, Interval(ge=0, le=1)] = field(
        default=0.0, metadata={"help": "probability that an electrode is bad in a session"}
    )
    session_gain_sd: Annotated[float, Ge(0)] = field(
        default=0.0,
        metadata={"help": "sd of the log gain of each session (subject x repetition block)"},
    )

    @property
    def induced(self) -> tuple[str, ...]:
        """The attributes carried (also) by induced band power."""
        mech = {"colour": self.mechanism_colour, "setting": self.mechanism_setting}
        return tuple(a for a, m in mech.items() if m != "evoked")

    @property
    def artifacts(self) -> bool:
        rates = (self.blink_rate, self.saccade_rate, self.muscle_rate)
        return any(rates) or bool(self.drift_uv or self.line_noise_uv)


def _check(p: SyntheticParams) -> None:
    def bad(msg: str) -> ConfigError:
        return ConfigError(f"dataset 'synthetic': {msg}")

    if not 2 <= p.n_classes <= len(CLASSES):
        raise bad(f"n_classes={p.n_classes} must lie in [2, {len(CLASSES)}].")
    if p.images_per_class < 3:
        raise bad(f"images_per_class={p.images_per_class} must be >= 3 (train, val, test).")
    if p.val_images < 1 or p.test_images < 1:
        raise bad("val_images and test_images must be >= 1.")
    if p.images_per_class - p.val_images - p.test_images < 1:
        raise bad(
            f"images_per_class={p.images_per_class} leaves no training image after "
            f"val_images={p.val_images} and test_images={p.test_images}; raise images_per_class."
        )
    if p.n_subjects < 1 or p.repetitions < 1:
        raise bad("n_subjects and repetitions must be >= 1.")
    if p.n_times < 16:
        raise bad(f"n_times={p.n_times} must be >= 16.")
    if not (math.isfinite(p.sfreq) and p.sfreq >= 64):
        raise bad(f"sfreq={p.sfreq} must be >= 64 Hz (to resolve alpha and the ERP).")
    if not (math.isfinite(p.snr) and p.snr > 0):
        raise bad(f"snr={p.snr} must be a positive number.")
    if p.seed is None:
        raise bad(
            "seed=None means the run's seed; outside a run give the world's seed, e.g. seed=0."
        )
    if p.seed < 0:
        raise bad(f"seed={p.seed} must be >= 0.")
    if p.induced and p.sfreq < 2 * synthetic_induced.GAMMA_BAND[1]:
        raise bad(
            f"sfreq={p.sfreq} cannot carry the induced gamma response (35-45 Hz); use sfreq >= "
            f"{2 * synthetic_induced.GAMMA_BAND[1]:g} or mechanism evoked."
        )
    if p.line_noise_uv and p.line_freq >= p.sfreq / 2:
        raise bad(
            f"line_freq={p.line_freq} Hz is above Nyquist at sfreq={p.sfreq}; a recording "
            "filtered before sampling has no line noise there: set line_noise_uv=0."
        )


def montage_positions() -> tuple[list[str], np.ndarray, dict[str, np.ndarray]]:
    """Usable 10-20 electrode names and unit vectors from a sphere fitted to the MNE montage."""
    import mne

    name = (
        "colin27_1020"
        if "colin27_1020" in mne.channels.get_builtin_montages()
        else ("standard_1020")
    )
    ch_pos = mne.channels.make_standard_montage(name).get_positions()["ch_pos"]
    names = [n for n in ch_pos if n not in EXCLUDED_CHANNELS]
    pos = np.array([ch_pos[n] for n in names], dtype=np.float64)
    # algebraic least-squares sphere fit: |p|^2 = 2 p.c + (r^2 - |c|^2)
    a = np.c_[2 * pos, np.ones(len(pos))]
    sol = np.linalg.lstsq(a, (pos**2).sum(1), rcond=None)[0]
    unit = pos - sol[:3]
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    return names, unit, dict(zip(names, unit, strict=True))


def select_channels(names: list[str], unit: np.ndarray, n: int) -> list[int]:
    """Indices of ``n`` electrodes spread over the scalp, in montage order.

    The 32-channel 10-20 layout comes first, then the other 10-10 positions, then the inferior
    ring (9/10 electrodes, Iz); within each group, greedy farthest-point sampling from Cz.
    """
    lower = {c for c in names if c == "Iz" or c.endswith(("9", "10"))}
    groups = [
        [names.index(c) for c in LAYOUT_32],
        [i for i, c in enumerate(names) if c not in LAYOUT_32 and c not in lower],
        [i for i, c in enumerate(names) if c in lower],
    ]
    chosen: list[int] = []
    for group in groups:
        seed = [names.index("Cz")] if not chosen else chosen
        dist = np.arccos(np.clip(unit[group] @ unit[seed].T, -1, 1)).min(1)
        dist[np.isin(group, chosen)] = -np.inf
        while len(chosen) < n and np.isfinite(dist).any():
            j = int(np.argmax(dist))
            chosen.append(group[j])
            dist = np.minimum(dist, np.arccos(np.clip(unit[group] @ unit[group[j]], -1, 1)))
            dist[j] = -np.inf
    return sorted(chosen)


def _random_rotation(rng: np.random.Generator, max_angle: float) -> np.ndarray:
    axis = rng.standard_normal(3)
    axis /= np.linalg.norm(axis)
    angle = rng.uniform(-max_angle, max_angle)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * (k @ k)


def _perturb(rng: np.random.Generator, centre: np.ndarray, angle: float, size: int) -> np.ndarray:
    """``size`` unit vectors scattered around ``centre`` with angular spread ``angle``."""
    v = centre[None, :] + angle * rng.standard_normal((size, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _blobs(unit: np.ndarray, centres: np.ndarray, signs: np.ndarray) -> np.ndarray:
    """Topographies ``[..., C]``: signed sums of von Mises-Fisher blobs over the last blob axis.

    ``centres``: ``[..., B, 3]``, ``signs``: ``[..., B]``, ``unit``: electrodes ``[..., C, 3]``
    (leading axes broadcast).
    """
    cos = np.einsum("...bk,...ck->...bc", centres, unit)
    return np.einsum("...b,...bc->...c", signs, np.exp((cos - 1) / BLOB_WIDTH**2))


def _factor_topographies(
    rng: np.random.Generator, anchor: np.ndarray, n_levels: int, n_blobs: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Blob centres ``[L, B, 3]`` and signs ``[L, B]`` of ``n_levels`` topographies near anchor."""
    centres = _perturb(rng, anchor, 0.5, n_levels * n_blobs).reshape(n_levels, n_blobs, 3)
    signs = rng.choice([-1.0, 1.0], size=(n_levels, n_blobs)) * rng.uniform(
        0.5, 1.0, (n_levels, n_blobs)
    )
    return centres, signs


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def _article(np_text: str) -> str:
    return ("an " if np_text[0] in "aeiou" else "a ") + np_text


def make_caption(rng: np.random.Generator, cls: int, colour: str, setting: str) -> str:
    """One sentence naming the object, its colour and its setting, with varied wording."""
    _, name, template = CLASSES[cls]
    np_text = template.format(c=colour)
    if name in ANIMATE:
        verb = ANIMATE_VERBS[rng.integers(len(ANIMATE_VERBS))]
        np_text = f"{np_text} {verb}".strip()
    phrases = SETTINGS[setting]
    np_text = f"{np_text} {phrases[rng.integers(len(phrases))]}"
    opener = OPENERS[rng.integers(len(OPENERS))]
    with_article = _article(np_text)
    text = opener.format(A=with_article[0].upper() + with_article[1:], a=with_article)
    return text + "."


# The words that realise each attribute value in a caption (what a hit rate looks for).
ATTRIBUTE_WORDS: dict[str, dict[str, list[str]]] = {
    "colour": {c: [c] for c in COLOURS},
    "setting": {s: [s] for s in SETTINGS},
}


def describe(cls: int, values: Mapping[str, str]) -> str:
    """The caption of class ``cls`` with the given colour and setting, in the plainest wording."""
    _, _, template = CLASSES[cls]
    text = _article(f"{template.format(c=values['colour'])} {SETTINGS[values['setting']][0]}")
    return text[0].upper() + text[1:] + "."


def _pink_noise(rng: np.random.Generator, n_chans: int, n_samples: int, sfreq: float) -> np.ndarray:
    """A continuous record ``[n_chans, n_samples]`` with power ~ 1/f above 0.5 Hz, unit RMS."""
    freqs = np.fft.rfftfreq(n_samples, d=1 / sfreq)
    amp = np.where(freqs >= HIGHPASS_HZ, np.maximum(freqs, HIGHPASS_HZ) ** -0.5, 0.0)
    size = (n_chans, freqs.size)
    spec = rng.standard_normal(size, dtype=np.float32) + 1j * rng.standard_normal(
        size, dtype=np.float32
    )
    x = np.fft.irfft(spec * amp.astype(np.float32), n=n_samples)
    return x / x.std()


def _topography(
    unit: np.ndarray, anchors: dict[str, np.ndarray], names: list[str], signs: list[float]
) -> np.ndarray:
    """``[C]``: signed blobs at the named electrodes, on the template head."""
    centres = np.stack([anchors[n] for n in names])
    return _blobs(unit, centres, np.asarray(signs, dtype=np.float64))


def _induced_maps(
    rng: np.random.Generator,
    unit: np.ndarray,
    anchors: dict[str, np.ndarray],
    induced: dict[str, tuple[np.ndarray, int]],
    depth: float,
    n_trials: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-trial electrode maps ``[N, C]`` of the alpha ERD and of the gamma ERS."""
    out = []
    for centre_names in (["POz", "Oz"], ["O1", "Oz", "O2"]):
        centre = np.stack([anchors[a] for a in centre_names]).mean(0)
        centre /= np.linalg.norm(centre)

        def topographies(r: np.random.Generator, levels: int, centre=centre) -> np.ndarray:
            centres, signs = _factor_topographies(r, centre, levels)
            flat = _blobs(unit, centres, signs)
            flat /= np.sqrt((flat**2).mean(1, keepdims=True)) + 1e-12
            return flat - flat.mean(0, keepdims=True)

        out.append(
            synthetic_induced.attribute_maps(
                rng, topographies, induced, depth, n_trials, unit.shape[0]
            )
        )
    return out[0], out[1]


def _artifacts(
    rng: np.random.Generator,
    p: SyntheticParams,
    t: np.ndarray,
    unit: np.ndarray,
    anchors: dict[str, np.ndarray],
    n: int,
) -> np.ndarray:
    """``[N, C, T]``: the sum of the artifacts whose parameters are on (microvolts)."""
    art = synthetic_artifacts

    def topo(names: list[str], signs: list[float]) -> np.ndarray:
        return _topography(unit, anchors, names, signs)

    out = np.zeros((n, unit.shape[0], t.size))
    if p.blink_rate:
        out += art.blinks(rng, p.blink_rate, t, topo, n)
    if p.saccade_rate:
        out += art.saccades(rng, p.saccade_rate, t, topo, n)
    if p.muscle_rate:
        out += art.muscle(rng, p.muscle_rate, t, p.sfreq, topo, n)
    if p.drift_uv:
        out += art.drifts(rng, p.drift_uv, n, unit.shape[0], t.size, p.sfreq)
    if p.line_noise_uv:
        out += art.line_noise(rng, p.line_noise_uv, p.line_freq, n, unit.shape[0], t.size, p.sfreq)
    return out


@dataclass
class _Head:
    """The simulated electrodes: names, unit vectors on the template head, 10-20 anchors."""

    ch_names: list[str]
    unit: np.ndarray
    anchors: dict[str, np.ndarray]


@dataclass
class _Streams:
    """One independent random stream per part of the simulation."""

    world: np.random.Generator
    caption: np.random.Generator
    trial: np.random.Generator
    noise: np.random.Generator
    induced: np.random.Generator
    artifact: np.random.Generator

    @classmethod
    def of(cls, seed: int | None) -> _Streams:
        """The streams of world ``seed``."""
        # streams 5 and 6 (induced responses, artifacts) leave the first four as they were
        return cls(
            *(
                np.random.Generator(np.random.PCG64(s))
                for s in np.random.SeedSequence(seed).spawn(6)
            )
        )


@dataclass
class _Images:
    """Every image's class, colour and setting (indices), name and caption."""

    cls: np.ndarray
    colour: np.ndarray
    setting: np.ndarray
    names: list[str]
    captions: list[str]

    def attributes(self) -> dict[str, list[str]]:
        """Each image's colour and setting by name."""
        setting_names = list(SETTINGS)
        return {
            "colour": [COLOURS[c] for c in self.colour],
            "setting": [setting_names[s] for s in self.setting],
        }


@dataclass
class _Subjects:
    """Per subject: electrode directions on the rotated head ``[S, C, 3]``, overall gain,
    latency shift, per-channel gains ``[S, C]`` and alpha frequency."""

    unit: np.ndarray
    gain: np.ndarray
    shift: np.ndarray
    chan_gain: np.ndarray
    alpha_freq: np.ndarray


@dataclass
class _ERP:
    """Component topographies ``[S, n_comp, M, C]`` and each class's latency shifts and
    amplitude factors ``[K, n_comp]``."""

    topo: np.ndarray
    class_latency: np.ndarray
    class_amp: np.ndarray


@dataclass
class _Trials:
    """Each trial's subject (0-based), image and class."""

    subject: np.ndarray
    image: np.ndarray
    y: np.ndarray


def _head(n_chans: int) -> _Head:
    """The ``n_chans`` electrodes spread over the 10-20 montage."""
    all_names, all_unit, anchors = montage_positions()
    if n_chans > len(all_names) or n_chans < 2:
        raise ConfigError(
            f"dataset 'synthetic': n_chans={n_chans} must lie in [2, {len(all_names)}] "
            "(usable channels of the 10-20 montage)."
        )
    picks = select_channels(all_names, all_unit, n_chans)
    return _Head([all_names[i] for i in picks], all_unit[picks], anchors)


def _images(p: SyntheticParams, rng: _Streams) -> _Images:
    """The images, their ground-truth attributes and their captions."""
    K, M_per = p.n_classes, p.images_per_class
    M = K * M_per
    img_class = np.repeat(np.arange(K), M_per)
    # colour and setting drawn independently of the class and of each other: knowing the class
    # tells nothing about an unseen image's attributes (the class-mode guess is at chance)
    setting_names = list(SETTINGS)
    img_colour = rng.world.integers(len(COLOURS), size=M)
    img_setting = rng.world.integers(len(setting_names), size=M)
    image_names = [
        f"synthetic_{CLASSES[k][1].replace(' ', '_')}_{j:02d}"
        for k in range(K)
        for j in range(M_per)
    ]
    captions = [
        make_caption(
            rng.caption, int(img_class[m]), COLOURS[img_colour[m]], setting_names[img_setting[m]]
        )
        for m in range(M)
    ]
    return _Images(img_class, img_colour, img_setting, image_names, captions)


def _subjects(p: SyntheticParams, world: np.random.Generator, unit: np.ndarray) -> _Subjects:
    """Head rotations (topography shifts), gains, latency offsets and alpha of each subject."""
    S = p.n_subjects
    rot = np.stack([_random_rotation(world, math.radians(6)) for _ in range(S)])
    subj_unit = np.einsum("sij,cj->sci", rot, unit)  # [S, C, 3]
    subj_gain = np.exp(world.normal(0, 0.25, S))
    subj_shift = world.normal(0, 0.008, S)
    chan_gain = np.exp(world.normal(0, 0.1, (S, p.n_chans)))
    alpha_freq = world.uniform(9.0, 11.0, S)
    return _Subjects(subj_unit, subj_gain, subj_shift, chan_gain, alpha_freq)


def _modulation(
    world: np.random.Generator,
    unit: np.ndarray,
    subj_unit: np.ndarray,
    centre: np.ndarray,
    n_levels: int,
) -> np.ndarray:
    """``[S, L, C]``: one factor's topographies near ``centre``, unit RMS on the template
    head and averaging out over the factor's levels."""
    centres, signs = _factor_topographies(world, centre, n_levels)
    flat = _blobs(unit, centres, signs)
    scale = np.sqrt((flat**2).mean(1)) + 1e-12  # unit RMS on the template head
    per_subj = _blobs(subj_unit[:, None], centres, signs) / scale[:, None]
    per_subj -= per_subj.mean(1, keepdims=True)  # modulations average out over levels
    return per_subj


def _erp(
    p: SyntheticParams,
    world: np.random.Generator,
    head: _Head,
    subjects: _Subjects,
    images: _Images,
) -> _ERP:
    """Topographies per component (base + class + colour + setting + image) and the classes'
    latency and amplitude effects."""
    K, M, n_comp = p.n_classes, images.cls.size, len(COMPONENTS)
    n_levels = (K, len(COLOURS), len(SETTINGS), M)
    img_levels = (images.cls, images.colour, images.setting, np.arange(M))
    topo = np.zeros((p.n_subjects, n_comp, M, p.n_chans))
    # an attribute carried by induced power only has no evoked modulation (its draws still
    # happen, so the rest of the world is the one the evoked-only setting draws)
    evoked_on = (
        1.0,
        float(p.mechanism_colour != "induced"),
        float(p.mechanism_setting != "induced"),
        1.0,
    )
    unit, subj_unit = head.unit, subjects.unit
    for i, (*_, anchor_names, weights) in enumerate(COMPONENTS):
        anchor_dirs = np.stack([head.anchors[a] for a in anchor_names])
        base_centres = anchor_dirs[None]
        base_signs = np.ones((1, len(anchor_names)))  # polarity is in the amplitude
        centre = anchor_dirs.mean(0)
        centre /= np.linalg.norm(centre)
        base = _blobs(unit, base_centres, base_signs)
        norm = np.sqrt((base**2).mean())
        topo[:, i] += _blobs(subj_unit[:, None], base_centres, base_signs)[:, 0][:, None] / norm
        for w, on, levels, per_img in zip(weights, evoked_on, n_levels, img_levels, strict=True):
            per_subj = _modulation(world, unit, subj_unit, centre, levels)
            topo[:, i] += w * on * per_subj[:, per_img]
    class_latency = world.normal(0, 0.008, (K, n_comp))
    class_amp = np.exp(world.normal(0, 0.2, (K, n_comp)))
    return _ERP(topo, class_latency, class_amp)


def _trials(p: SyntheticParams, rng: np.random.Generator, img_class: np.ndarray) -> _Trials:
    """Each subject sees every image ``repetitions`` times, shuffled within each block."""
    M = img_class.size
    subj_idx, img_idx = [], []
    for s in range(p.n_subjects):
        for _ in range(p.repetitions):
            subj_idx.append(np.full(M, s))
            img_idx.append(rng.permutation(M))
    subject = np.concatenate(subj_idx)
    image = np.concatenate(img_idx)
    return _Trials(subject, image, img_class[image])


def _evoked(
    p: SyntheticParams,
    rng: np.random.Generator,
    t: np.ndarray,
    erp: _ERP,
    subjects: _Subjects,
    trials: _Trials,
) -> np.ndarray:
    """``[N, C, T]``: each trial's ERP, with jittered latencies and amplitudes."""
    N, n_comp = trials.subject.size, len(COMPONENTS)
    subject, y = trials.subject, trials.y
    lat0 = np.array([c[2] for c in COMPONENTS])
    width = np.array([c[3] for c in COMPONENTS])
    amp0 = np.array([c[4] * c[1] for c in COMPONENTS])
    latency = (
        lat0[None]
        + erp.class_latency[y]
        + subjects.shift[subject][:, None]
        + rng.normal(0, p.latency_jitter_ms / 1000, (N, 1))
        + rng.normal(0, 0.005, (N, n_comp))
    )
    amp = amp0[None] * erp.class_amp[y] * np.exp(rng.normal(0, 0.25, (N, n_comp)))
    amp *= subjects.gain[subject][:, None]
    waves = np.exp(-0.5 * ((t[None, None] - latency[..., None]) / width[None, :, None]) ** 2)
    return np.einsum("ni,nic,nit->nct", amp, erp.topo[subject, :, trials.image], waves)


def _pink_background(
    p: SyntheticParams, rng: np.random.Generator, unit: np.ndarray, n_trials: int
) -> np.ndarray:
    """``[N, C, T]``: spatially correlated 1/f noise of unit SD."""
    ang = np.arccos(np.clip(unit @ unit.T, -1, 1))
    chol = np.linalg.cholesky(np.exp(-((ang / NOISE_CORR_LENGTH) ** 2)) + 1e-3 * np.eye(p.n_chans))
    record = _pink_noise(rng, p.n_chans, n_trials * p.n_times, p.sfreq)  # trials back to back
    pink = np.einsum(
        "ij,njt->nit", chol, record.reshape(p.n_chans, n_trials, p.n_times).swapaxes(0, 1)
    )
    pink /= pink.std()
    return pink


def _alpha(
    rng: np.random.Generator,
    t: np.ndarray,
    anchors: dict[str, np.ndarray],
    subjects: _Subjects,
    subject: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The posterior alpha rhythm ``[N, C, T]`` and each subject's alpha topography
    ``[S, C]``."""
    N, S = subject.size, subjects.unit.shape[0]
    alpha_centre = np.stack([anchors["POz"], anchors["Oz"]]).mean(0, keepdims=True)
    alpha_topo = _blobs(subjects.unit, np.broadcast_to(alpha_centre, (S, 1, 3)), np.ones((S, 1)))
    freq = subjects.alpha_freq[subject] + rng.normal(0, 0.3, N)
    phase = rng.uniform(0, 2 * np.pi, N)
    env = 1 + 0.3 * np.sin(
        2 * np.pi * rng.uniform(0.5, 2, N)[:, None] * t + rng.uniform(0, 2 * np.pi, N)[:, None]
    )
    alpha = env * np.sin(2 * np.pi * freq[:, None] * t + phase[:, None])
    alpha *= np.exp(rng.normal(0, 0.4, N))[:, None]
    alpha = alpha_topo[subject][..., None] * alpha[:, None]
    alpha *= ALPHA_RATIO / alpha.std()
    return alpha, alpha_topo


def _background(
    p: SyntheticParams,
    rng: _Streams,
    t: np.ndarray,
    head: _Head,
    subjects: _Subjects,
    images: _Images,
    trials: _Trials,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """The background in microvolts (1/f noise, alpha with its induced ERD, sensor noise) and
    the induced ERD and ERS maps (None without induced attributes)."""
    N, subject = trials.subject.size, trials.subject
    pink = _pink_background(p, rng.noise, head.unit, N)
    alpha, alpha_topo = _alpha(rng.noise, t, head.anchors, subjects, subject)
    sensor = SENSOR_RATIO * rng.noise.standard_normal(pink.shape)
    maps = None
    if p.induced:
        trial_values = {"colour": (images.colour[trials.image], len(COLOURS)),
                        "setting": (images.setting[trials.image], len(SETTINGS))}  # fmt: skip
        induced = {a: trial_values[a] for a in p.induced}
        alpha_base = alpha_topo / alpha_topo.max(1, keepdims=True)
        maps = _induced_maps(rng.induced, head.unit, head.anchors, induced, p.induced_depth, N)
        alpha = synthetic_induced.alpha_erd(alpha, t, alpha_base[subject], maps[0], p.induced_erd)
    background = pink + alpha + sensor
    background *= BACKGROUND_UV / _rms(background)
    return background, maps


def _signal(
    p: SyntheticParams,
    rng: _Streams,
    t: np.ndarray,
    head: _Head,
    evoked: np.ndarray,
    background: np.ndarray,
    maps: tuple[np.ndarray, np.ndarray] | None,
) -> np.ndarray:
    """The scalp signal: the evoked response at ``snr``, the background, the induced gamma
    ERS and the artifacts."""
    signal = evoked * (p.snr * BACKGROUND_UV / _rms(evoked)) + background
    if maps is not None:
        gamma_base = _topography(head.unit, head.anchors, ["O1", "Oz", "O2"], [1.0, 1.0, 1.0])
        reference = synthetic_induced.band_rms(background, p.sfreq, synthetic_induced.GAMMA_BAND)
        signal += synthetic_induced.gamma_ers(
            rng.induced, t, gamma_base / gamma_base.max(), maps[1], p.induced_ers, reference
        )
    if p.artifacts:
        signal += _artifacts(rng.artifact, p, t, head.unit, head.anchors, evoked.shape[0])
    return signal


def _recorded(
    p: SyntheticParams, rng: np.random.Generator, signal: np.ndarray, chan_gain: np.ndarray
) -> tuple[np.ndarray, list[list[int]]]:
    """float32 ``X`` as the amplifier records ``signal`` (per-trial channel gains
    ``chan_gain [N, C]``, session gains, bad channels), and each session's bad channels."""
    X = signal * chan_gain[..., None]
    S, R, M = p.n_subjects, p.repetitions, p.n_classes * p.images_per_class
    session = np.repeat(np.arange(S * R), M)  # trials are laid out subject by block
    if p.session_gain_sd:
        X *= np.exp(rng.normal(0, p.session_gain_sd, S * R))[session][:, None, None]
    bad_per_session: list[list[int]] = []
    if p.bad_channel_prob:
        X, bad_per_session = synthetic_artifacts.bad_channels(rng, X, session, p.bad_channel_prob)
    return X.astype(np.float32), bad_per_session


def _image_splits(
    p: SyntheticParams, world: np.random.Generator, image: np.ndarray
) -> dict[str, np.ndarray]:
    """Image-disjoint train/val/test trials: per class, a seeded permutation of its images."""
    M_per = p.images_per_class
    img_split = np.empty(p.n_classes * M_per, dtype=np.int64)
    for k in range(p.n_classes):
        order = world.permutation(M_per) + k * M_per
        img_split[order[: p.test_images]] = 2
        img_split[order[p.test_images : p.test_images + p.val_images]] = 1
        img_split[order[p.test_images + p.val_images :]] = 0
    return {
        name: np.flatnonzero(img_split[image] == j)
        for j, name in enumerate(("train", "val", "test"))
    }


def _info(
    p: SyntheticParams, ch_names: list[str], subjects: _Subjects, bad: list[list[int]]
) -> dict[str, object]:
    """The dataset's info, with the simulated world's ground truth."""
    return {
        "units": "microvolt",
        "sfreq": p.sfreq,
        "snr": p.snr,
        "seed": p.seed,
        "split": f"image-disjoint per class ({p.test_images} test, {p.val_images} val images)",
        "wnids": [CLASSES[k][0] for k in range(p.n_classes)],
        "ground_truth": {
            "components": [
                {
                    "name": c[0],
                    "polarity": c[1],
                    "latency_s": c[2],
                    "width_s": c[3],
                    "anchors": list(c[5]),
                }
                for c in COMPONENTS
            ],
            "subject_gain": subjects.gain.tolist(),
            "alpha_freq_hz": subjects.alpha_freq.tolist(),
            "mechanisms": {"colour": p.mechanism_colour, "setting": p.mechanism_setting},
            "bad_channels": [[ch_names[c] for c in b] for b in bad],
        },
    }


def make_synthetic(p: SyntheticParams) -> EEGData:
    """Simulate the dataset described by :class:`SyntheticParams`."""
    _check(p)
    head = _head(p.n_chans)
    rng = _Streams.of(p.seed)
    images = _images(p, rng)
    subjects = _subjects(p, rng.world, head.unit)
    erp = _erp(p, rng.world, head, subjects, images)
    trials = _trials(p, rng.trial, images.cls)
    t = np.arange(p.n_times) / p.sfreq
    evoked = _evoked(p, rng.trial, t, erp, subjects, trials)
    background, maps = _background(p, rng, t, head, subjects, images, trials)
    signal = _signal(p, rng, t, head, evoked, background, maps)
    X, bad = _recorded(p, rng.artifact, signal, subjects.chan_gain[trials.subject])
    data = EEGData(
        X=X,
        y=trials.y,
        image=trials.image,
        subject=trials.subject + 1,  # subjects 1..S, as in CVPR40 and THINGS-EEG2
        splits=_image_splits(p, rng.world, trials.image),  # the world stream's last draws
        class_names=[CLASSES[k][1] for k in range(p.n_classes)],
        image_names=images.names,
        sfreq=float(p.sfreq),
        ch_names=head.ch_names,
        captions=images.captions,
        name="synthetic",
        info=_info(p, head.ch_names, subjects, bad),
        attributes=images.attributes(),
        attribute_words=ATTRIBUTE_WORDS,
        describe=describe,
    ).validate()
    data = subject_split(data, p.split, p.split_subject).validate()
    return apply_preprocessing(data, Preprocess.of(p)).validate()
