"""``example-shapes``: a tiny simulated EEG dataset with captions and per-image attributes.

Each image shows a shape (the class) in a colour (an attribute). A trial is the image's
evoked response, a class topography plus a colour topography with a fixed time course, in
Gaussian noise. ``info["ground_truth"]["attributes"]`` holds each image's colour, as the
built-in ``synthetic`` dataset stores its ground truth, so a caption's colour can be checked.
"""

from __future__ import annotations

import numpy as np

from eegbench.api import ConfigError, EEGData

SHAPES = ("circle", "square", "triangle", "star")
COLOURS = ("red", "green", "blue")


def make_shapes(
    *,
    n_classes: int,
    images_per_class: int,
    repetitions: int,
    n_chans: int,
    n_times: int,
    snr: float,
    seed: int,
) -> EEGData:
    """Trials ``[N, n_chans, n_times]``; the last image of each class is test, the one before
    it validation, the rest training (image-disjoint splits)."""
    if not 2 <= n_classes <= len(SHAPES):
        raise ConfigError(f"dataset.n_classes={n_classes} must lie in 2..{len(SHAPES)}.")
    if images_per_class < 3:
        raise ConfigError(f"dataset.images_per_class={images_per_class} must be >= 3.")
    if repetitions < 1 or n_chans < 2 or n_times < 8 or snr <= 0:
        raise ConfigError("dataset: repetitions >= 1, n_chans >= 2, n_times >= 8, snr > 0.")
    rng = np.random.default_rng(seed)
    n_images = n_classes * images_per_class
    img_class = np.repeat(np.arange(n_classes), images_per_class)
    img_colour = rng.integers(len(COLOURS), size=n_images)
    class_topo = rng.standard_normal((n_classes, n_chans))
    colour_topo = 0.5 * rng.standard_normal((len(COLOURS), n_chans))
    t = np.linspace(0, 1, n_times)
    wave = np.exp(-0.5 * ((t - 0.3) / 0.08) ** 2)

    image = np.tile(np.arange(n_images), repetitions)
    topo = class_topo[img_class[image]] + colour_topo[img_colour[image]]
    signal = snr * topo[:, :, None] * wave[None, None, :]
    X = (signal + rng.standard_normal(signal.shape)).astype(np.float32)

    position = np.tile(np.arange(images_per_class), n_classes)  # image's index in its class
    role = np.where(position == images_per_class - 1, 2, np.where(position == 0, 1, 0))
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
        class_names=list(SHAPES[:n_classes]),
        image_names=[f"{SHAPES[k]}_{i:02d}" for i, k in enumerate(img_class)],
        sfreq=float(n_times),
        ch_names=[f"E{i + 1}" for i in range(n_chans)],
        captions=[f"a {c} {SHAPES[k]}." for c, k in zip(colours, img_class)],
        info={
            "units": "arbitrary",
            "ground_truth": {
                "attributes": {"colour": colours},
                "vocab": {"colour": list(COLOURS)},
            },
        },
    ).validate()
