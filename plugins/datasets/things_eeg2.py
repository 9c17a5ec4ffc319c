"""THINGS-EEG2 (Gifford et al. 2022): 10 subjects, 16,540 training images x 4 repeats and 200
zero-shot test images x 80 repeats, from the authors' preprocessed ``.npy`` files."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np

from eegbench.api import (
    ConfigError,
    DataError,
    DatasetParams,
    EEGData,
    Ge,
    file_problem,
    finalize,
    folder_problem,
    load_npy,
    read_caption_files,
    select_channels,
    trial_info,
)

TRAIN_FILE = "preprocessed_eeg_training.npy"
TEST_FILE = "preprocessed_eeg_test.npy"
META_FILE = "image_metadata.npy"
META_KEYS = ("train_img_concepts", "train_img_files", "test_img_concepts", "test_img_files")


@dataclass
class _ThingsFields:
    root: str = field(
        default="", metadata={"help": "folder holding sub-XX/preprocessed_eeg_{training,test}.npy"}
    )
    subjects: str | int = field(default="1", metadata={"help": "comma-separated ids, or 'all'"})
    average_repeats: bool = field(
        default=True, metadata={"help": "average the repeats of each image (else one trial each)"}
    )
    metadata_path: str = field(
        default="",
        metadata={"help": "image_metadata.npy; empty = <root> or <image_dir> if it is there"},
    )
    image_dir: str = field(
        default="", metadata={"help": "image_set folder with training_images/ and test_images/"}
    )
    caption_dir: str = field(
        default="", metadata={"help": "folder of <image stem>_caption.txt files (optional)"}
    )
    train_images_per_concept: Annotated[int, Ge(1)] = field(
        default=10,
        metadata={"help": "without metadata: consecutive training images per concept"},
    )


@dataclass(frozen=True)
class ThingsEEG2Params(DatasetParams, _ThingsFields):
    """Parameters of ``things_eeg2``: its own fields, then preprocessing and split."""


def _load_dict(path: Path, keys: tuple[str, ...], what: str) -> dict:
    problem = file_problem(path)
    if problem:
        raise DataError(f"things_eeg2: {what} {str(path)!r} {problem}.")
    obj = load_npy(path, f"things_eeg2: {what}")
    if isinstance(obj, np.ndarray) and obj.dtype == object and obj.shape == ():
        obj = obj.item()
    if not isinstance(obj, dict):
        raise DataError(
            f"things_eeg2: {str(path)!r} holds {type(obj).__name__} "
            f"{getattr(obj, 'shape', '')}, expected a dict with keys {', '.join(keys)}."
        )
    missing = [k for k in keys if k not in obj]
    if missing:
        raise DataError(f"things_eeg2: {str(path)!r} lacks key(s) {', '.join(missing)}.")
    return obj


def _read_eeg(path: Path) -> tuple[np.ndarray, list[str], np.ndarray]:
    d = _load_dict(path, ("preprocessed_eeg_data", "ch_names", "times"), "EEG file")
    x = np.asarray(d["preprocessed_eeg_data"])
    ch = [str(c) for c in d["ch_names"]]
    times = np.asarray(d["times"], dtype=np.float64)
    if x.ndim != 4 or x.shape[0] == 0 or x.shape[1] == 0:
        raise DataError(
            f"things_eeg2: {str(path)!r} preprocessed_eeg_data has shape {x.shape}, expected "
            "[images, repeats, channels, times] with at least one image and repeat."
        )
    if x.shape[2] != len(ch) or x.shape[3] != len(times):
        raise DataError(
            f"things_eeg2: {str(path)!r} data {x.shape} does not match {len(ch)} ch_names and "
            f"{len(times)} times."
        )
    if len(times) < 2:
        raise DataError(f"things_eeg2: {str(path)!r} has fewer than two time points.")
    return x, ch, times


def _subject_ids(root: Path, spec: str | int) -> list[int]:
    spec = str(spec)
    found = sorted(
        int(m.group(1)) for d in root.iterdir() if (m := re.fullmatch(r"sub-(\d+)", d.name))
    )
    if not found:
        raise DataError(f"things_eeg2: no sub-XX folders in {str(root)!r}.")
    if spec.strip().lower() == "all":
        return found
    try:
        ids = [int(s) for s in spec.split(",") if s.strip()]
    except ValueError:
        raise ConfigError(f"subjects={spec!r}: use comma-separated numbers or 'all'.") from None
    missing = [i for i in ids if i not in found]
    if not ids or missing:
        raise ConfigError(f"subjects={spec!r}: available subjects are {found}.")
    return ids


def _concept_name(concept: str) -> str:
    """'00001_aardvark' -> 'aardvark'; underscores become spaces."""
    return re.sub(r"^\d+_", "", concept).replace("_", " ")


def load_things_eeg2(p: ThingsEEG2Params) -> EEGData:
    """THINGS-EEG2 trials; val carved from training images, test = the 200 test images."""
    root = _root(p)
    eeg = _read_subjects(p, root, _subject_ids(root, p.subjects))
    meta = _metadata(p, root)
    image_concepts, image_names = _image_labels(p, meta, eeg.n_train, eeg.n_test)
    names, img_class = _classes(image_concepts)
    splits = _splits(p, img_class, eeg.image, eeg.n_train)
    image_paths = _image_paths(p, meta, eeg.n_train) if p.image_dir else None
    captions = (
        read_caption_files(p.caption_dir, image_names, "things_eeg2") if p.caption_dir else None
    )
    data = EEGData(
        X=eeg.X,
        y=img_class[eeg.image],
        image=eeg.image,
        subject=eeg.subject,
        splits=splits,
        class_names=names,
        image_names=image_names,
        sfreq=float(1.0 / np.median(np.diff(eeg.times))),
        ch_names=eeg.ch_names,
        captions=captions,
        image_paths=image_paths,
        name="things_eeg2",
        info=_info(p, root, eeg, image_concepts, meta is not None),
    )
    if not p.average_repeats:
        trial_info(data)["repeat"] = eeg.repeat
    return finalize(data, p, has_published=True)


def _root(p: ThingsEEG2Params) -> Path:
    """The dataset's root folder, checked with the split strategy."""
    if not p.root:
        raise ConfigError("things_eeg2 needs dataset.root=<folder with sub-01/ ...>.")
    if p.split == "random":
        raise ConfigError(
            "things_eeg2 has a fixed zero-shot test set of 200 images; use split=auto, "
            "per_subject or loso (val is carved with val_fraction and split_seed)."
        )
    root = Path(p.root).expanduser()
    problem = folder_problem(root)
    if problem:
        raise DataError(f"things_eeg2: root {str(root)!r} {problem}.")
    return root


@dataclass
class _Layout:
    """The channels and times of the first file read, and the channels selected."""

    ch_names: list[str]
    times: np.ndarray
    sel: list[int]


@dataclass
class _EEG:
    """All subjects' trials ``X [N, C, T]`` with each trial's image (test images after the
    ``n_train`` training ones), subject and repeat (-1: averaged), and the selected channels."""

    X: np.ndarray
    image: np.ndarray
    subject: np.ndarray
    repeat: np.ndarray
    ch_names: list[str]
    times: np.ndarray
    n_train: int
    n_test: int


def _read_subjects(p: ThingsEEG2Params, root: Path, subjects: list[int]) -> _EEG:
    """Every subject's training and test trials, checked to agree in images, channels and
    times."""
    xs, subj, img, rep = [], [], [], []
    layout: _Layout | None = None
    n_train = n_test = 0
    for s in subjects:
        (tr, te), layout = _subject_arrays(root, s, subjects[0], layout, p.channels)
        if not xs:
            n_train, n_test = tr.shape[0], te.shape[0]
        elif (tr.shape[0], te.shape[0]) != (n_train, n_test):
            raise DataError(
                f"things_eeg2: sub-{s:02d} has {tr.shape[0]}/{te.shape[0]} train/test images, "
                f"sub-{subjects[0]:02d} has {n_train}/{n_test}."
            )
        for offset, x in ((0, tr), (n_train, te)):
            x_s, img_s, rep_s = _trials(x, offset, p.average_repeats)
            xs.append(x_s)
            img.append(img_s)
            rep.append(rep_s)
            subj.append(np.full(len(img_s), s))
    assert layout is not None
    return _EEG(
        X=np.concatenate(xs),
        image=np.concatenate(img),
        subject=np.concatenate(subj),
        repeat=np.concatenate(rep),
        ch_names=[layout.ch_names[i] for i in layout.sel],
        times=layout.times,
        n_train=n_train,
        n_test=n_test,
    )


def _subject_arrays(
    root: Path, s: int, first: int, layout: _Layout | None, channels: str
) -> tuple[list[np.ndarray], _Layout]:
    """Subject ``s``'s training and test arrays, channels selected, and the layout they share
    with the first file read (``layout``; None before it)."""
    parts = []
    for fname in (TRAIN_FILE, TEST_FILE):
        x, ch, t = _read_eeg(root / f"sub-{s:02d}" / fname)
        if layout is None:
            layout = _Layout(ch, t, select_channels(ch, channels))
        elif (
            ch != layout.ch_names or len(t) != len(layout.times) or not np.allclose(t, layout.times)
        ):
            raise DataError(
                f"things_eeg2: sub-{s:02d}/{fname} has other channels or times than "
                f"sub-{first:02d}/{TRAIN_FILE}."
            )
        parts.append(x[:, :, layout.sel])
    return parts, layout


def _trials(x: np.ndarray, offset: int, average: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Trials, images (from ``offset``) and repeats of ``x [images, repeats, C, T]``: one
    trial per image (repeats averaged) or per repeat."""
    if average:
        return (
            x.mean(axis=1, dtype=np.float64).astype(np.float32),
            offset + np.arange(x.shape[0]),
            np.full(x.shape[0], -1),
        )
    n_i, n_r = x.shape[:2]
    return (
        x.reshape(n_i * n_r, *x.shape[2:]).astype(np.float32),
        offset + np.repeat(np.arange(n_i), n_r),
        np.tile(np.arange(n_r), n_i),
    )


def _image_labels(
    p: ThingsEEG2Params, meta: dict | None, n_train: int, n_test: int
) -> tuple[list[str], list[str]]:
    """Each image's concept and name: from the metadata, else numbered in image order."""
    if meta is not None:
        train_c = [str(c) for c in meta["train_img_concepts"]]
        test_c = [str(c) for c in meta["test_img_concepts"]]
        if (len(train_c), len(test_c)) != (n_train, n_test):
            raise DataError(
                f"things_eeg2: metadata lists {len(train_c)}/{len(test_c)} train/test images, "
                f"the EEG files hold {n_train}/{n_test}."
            )
        files = [str(f) for f in meta["train_img_files"]] + [str(f) for f in meta["test_img_files"]]
        return train_c + test_c, files
    k = p.train_images_per_concept
    if k < 1 or n_train % k:
        raise DataError(
            f"things_eeg2: without image_metadata.npy the {n_train} training images must "
            f"come in groups of train_images_per_concept={k}; give metadata_path."
        )
    image_concepts = [f"train_concept_{i // k:04d}" for i in range(n_train)]
    image_concepts += [f"test_concept_{i:03d}" for i in range(n_test)]
    image_names = [f"train_{i:05d}" for i in range(n_train)]
    image_names += [f"test_{i:03d}" for i in range(n_test)]
    return image_concepts, image_names


def _classes(image_concepts: list[str]) -> tuple[list[str], np.ndarray]:
    """The class names (concepts in order of appearance) and each image's class."""
    concepts = list(dict.fromkeys(image_concepts))
    names = [_concept_name(c) for c in concepts]
    if len(set(names)) < len(names):
        names = [c.replace("_", " ") for c in concepts]
    concept_idx = {c: i for i, c in enumerate(concepts)}
    return names, np.array([concept_idx[c] for c in image_concepts])


def _splits(
    p: ThingsEEG2Params, img_class: np.ndarray, image: np.ndarray, n_train: int
) -> dict[str, np.ndarray]:
    """Test: the test images' trials; val: a seeded ``val_fraction`` of the training images."""
    is_test = image >= n_train
    train_imgs = np.arange(n_train)
    rng = np.random.default_rng(p.split_seed)
    if not 0 < p.val_fraction < 1:
        raise ConfigError(f"val_fraction={p.val_fraction} must lie in (0, 1) for things_eeg2.")
    if p.stratify:
        val_imgs = _stratified_val(img_class[:n_train], p.val_fraction, rng)
    else:
        n_val = int(round(n_train * p.val_fraction))
        val_imgs = rng.permutation(train_imgs)[:n_val]
    is_val = np.isin(image, val_imgs)
    return {
        "train": np.flatnonzero(~is_test & ~is_val),
        "val": np.flatnonzero(is_val),
        "test": np.flatnonzero(is_test),
    }


def _info(
    p: ThingsEEG2Params, root: Path, eeg: _EEG, image_concepts: list[str], has_meta: bool
) -> dict[str, Any]:
    """The dataset's info: timing, image counts, labels' origin, design and source."""
    return {
        "tmin": float(eeg.times[0]),
        "zero_shot_test": True,
        "n_train_images": eeg.n_train,
        "n_test_images": eeg.n_test,
        "n_train_classes": len(dict.fromkeys(image_concepts[: eeg.n_train])),
        "concept_labels": "metadata" if has_meta else "image order (no metadata)",
        "average_repeats": p.average_repeats,
        "block_design": False,
        "split": f"published 200-image test; val {p.val_fraction:g} of training images "
        f"(seed {p.split_seed})",
        "source": str(root),
    }


def _stratified_val(img_class: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """round(n * fraction) training images for val, each concept giving floor(n_c * fraction)
    plus one more for the concepts with the largest remainders (ties broken at random)."""
    classes = np.unique(img_class)
    sizes = np.array([(img_class == c).sum() for c in classes])
    exact = sizes * fraction
    counts = np.floor(exact).astype(int)
    extra = int(round(len(img_class) * fraction)) - counts.sum()
    if extra > 0:
        order = rng.permutation(len(classes))
        order = order[np.argsort(-(exact - counts)[order], kind="stable")]
        counts[order[:extra]] += 1
    picked = [rng.permutation(np.flatnonzero(img_class == c))[:k] for c, k in zip(classes, counts)]
    return np.concatenate(picked).astype(np.int64)


def _metadata(p: ThingsEEG2Params, root: Path) -> dict | None:
    if p.metadata_path:
        return _load_dict(Path(p.metadata_path).expanduser(), META_KEYS, "metadata file")
    for folder in (root, Path(p.image_dir).expanduser() if p.image_dir else None):
        if folder is not None and (folder / META_FILE).is_file():
            return _load_dict(folder / META_FILE, META_KEYS, "metadata file")
    return None


def _image_paths(p: ThingsEEG2Params, meta: dict | None, n_train: int) -> list[str | None]:
    folder = Path(p.image_dir).expanduser()
    problem = folder_problem(folder)
    if problem:
        raise DataError(f"things_eeg2: image_dir {str(folder)!r} {problem}.")
    if meta is None:
        raise DataError(
            "things_eeg2: image_dir needs image_metadata.npy (concept folders and file names); "
            "set metadata_path."
        )
    out: list[str | None] = []
    for sub, concepts, files in (
        ("training_images", meta["train_img_concepts"], meta["train_img_files"]),
        ("test_images", meta["test_img_concepts"], meta["test_img_files"]),
    ):
        for c, f in zip(concepts, files):
            path = folder / sub / str(c) / str(f)
            out.append(str(path) if path.is_file() else None)
    if all(x is None for x in out):
        raise DataError(
            f"things_eeg2: no image found under {str(folder)!r} "
            "(expected training_images/<concept>/<file> and test_images/<concept>/<file>)."
        )
    return out
