"""``example-shapes``: a tiny simulated EEG dataset with captions and per-image attributes.

Each image shows a shape (the class) in a colour (an attribute). A trial is the image's
evoked response, a class topography plus a colour topography with a fixed time course, in
Gaussian noise. ``info["ground_truth"]["attributes"]`` holds each image's colour, as the
built-in ``synthetic`` dataset stores its ground truth, so a caption's colour can be checked.
"""

from __future__ import annotations

import numpy as np

from eegbench.api import ConfigError, EEGData
from eegbench_example.plugin import ShapesParams

SHAPES = ("circle", "square", "triangle", "star")
COLOURS = ("red", "green", "blue")


def make_shapes(p: ShapesParams) -> EEGData:
    """Trials ``[N, n_chans, n_times]``; the last image of each class is test, the one before
    it validation, the rest training (image-disjoint splits)."""
    if not 2 <= p.n_classes <= len(SHAPES):
        raise ConfigError(f"dataset.n_classes={p.n_classes} must lie in 2..{len(SHAPES)}.")
    if p.images_per_class < 3:
        raise ConfigError(f"dataset.images_per_class={p.images_per_class} must be >= 3.")
    if p.repetitions < 1 or p.n_chans < 2 or p.n_times < 8 or p.snr <= 0:
        raise ConfigError("dataset: repetitions >= 1, n_chans >= 2, n_times >= 8, snr > 0.")
    rng = np.random.default_rng(p.seed)
    n_images = p.n_classes * p.images_per_class
    img_class = np.repeat(np.arange(p.n_classes), p.images_per_class)
    img_colour = rng.integers(len(COLOURS), size=n_images)
    class_topo = rng.standard_normal((p.n_classes, p.n_chans))
    colour_topo = 0.5 * rng.standard_normal((len(COLOURS), p.n_chans))
    t = np.linspace(0, 1, p.n_times)
    wave = np.exp(-0.5 * ((t - 0.3) / 0.08) ** 2)

    image = np.tile(np.arange(n_images), p.repetitions)
    topo = class_topo[img_class[image]] + colour_topo[img_colour[image]]
    signal = p.snr * topo[:, :, None] * wave[None, None, :]
    X = (signal + rng.standard_normal(signal.shape)).astype(np.float32)

    position = np.tile(np.arange(p.images_per_class), p.n_classes)  # image's index in its class
    role = np.where(position == p.images_per_class - 1, 2, np.where(position == 0, 1, 0))
    splits = {
        name: np.flatnonzero(role[image] == j) for j, name in enumerate(("train", "val", "test"))
    }
    colours = [COLOURS[c] for c in img_colour]
    return EEGData(
        X=X,
        y=img_class[image],
        image=image,
        subject=np.zeros(image.size, dtype=np.int64),
        splits=splits,
        class_names=list(SHAPES[: p.n_classes]),
        image_names=[f"{SHAPES[k]}_{i:02d}" for i, k in enumerate(img_class)],
        sfreq=float(p.n_times),
        ch_names=[f"E{i + 1}" for i in range(p.n_chans)],
        captions=[f"a {c} {SHAPES[k]}." for c, k in zip(colours, img_class)],
        info={
            "units": "arbitrary",
            "ground_truth": {
                "attributes": {"colour": colours},
                "vocab": {"colour": list(COLOURS)},
            },
        },
    ).validate()
