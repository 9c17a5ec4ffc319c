"""CVPR40 (Spampinato et al. 2017): 6 subjects viewing 40 ImageNet classes, 128-channel EEG at
1 kHz, from the published ``.pth`` files (``eeg_55_95_std.pth`` etc.) and split files."""

from __future__ import annotations

import hashlib
import json
import warnings
import zipfile
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
    Gt,
    Interval,
    Trials,
    file_problem,
    finalize,
    folder_problem,
    load_trials,
    read_caption_files,
    release_pages,
    trial_info,
    warn,
)

CLASSES_FILE = Path(__file__).with_name("cvpr40_classes.json")
IMAGE_EXTS = (".JPEG", ".jpeg", ".jpg", ".JPG", ".png")
SPLIT_INDEXING = ("auto", "full", "subject")
IMAGE_FILES = {"photo": "", "sketch": "_sketch"}
"""``image_file`` -> the suffix of the image's file name (Thought2Text's targets are sketches)."""


@dataclass
class _CVPR40Fields:
    path: str = field(
        default="",
        metadata={"help": "EEG .pth file (eeg_55_95_std.pth, eeg_5_95_std.pth, ...), required"},
    )
    splits_path: str = field(
        default="",
        metadata={"help": "block_splits_by_image_all.pth / _single.pth; empty = random split"},
    )
    split_index: Annotated[int, Ge(0)] = field(
        default=0, metadata={"help": "which split of the splits file"}
    )
    split_indexing: str = field(
        default="auto",
        metadata={
            "help": "what split indices point into: full (the whole dataset list), subject "
            "(the list of `subject`'s trials), auto (full if subject=0, else subject)"
        },
    )
    subject: Annotated[int, Interval(ge=0, le=6)] = field(
        default=0, metadata={"help": "0 = all subjects, else 1..6"}
    )
    time_low: Annotated[int, Ge(0)] = field(
        default=20, metadata={"help": "first sample of the window"}
    )
    time_high: Annotated[int, Ge(1)] = field(
        default=460, metadata={"help": "end sample of the window (excl.)"}
    )
    min_len: Annotated[int, Ge(0)] = field(
        default=450, metadata={"help": "drop trials shorter than this"}
    )
    max_len: Annotated[int, Ge(1)] = field(
        default=600, metadata={"help": "drop trials longer than this"}
    )
    sfreq: Annotated[float, Gt(0)] = field(
        default=1000.0, metadata={"help": "sampling rate of the file in Hz"}
    )
    image_dir: str = field(
        default="",
        metadata={
            "help": "image folder <wnid>/<image>.JPEG (ImageNet) or Thought2Text's data/images "
            "(optional)"
        },
    )
    image_file: str = field(
        default="photo",
        metadata={
            "help": "which file of an image the targets embed: photo (<image>.JPEG, the "
            "ChannelNet work) or sketch (<image>_sketch.JPEG, Thought2Text's CLIP targets)"
        },
    )
    caption_dir: str = field(
        default="",
        metadata={
            "help": "folder of <image>_caption.txt files, flat or in <wnid>/ folders "
            "(Thought2Text: its data/images); a caption is a file's first line without "
            "<s> </s> (optional)"
        },
    )


@dataclass(frozen=True)
class CVPR40Params(DatasetParams, _CVPR40Fields):
    """Parameters of ``cvpr40``: its own fields, then preprocessing and split."""


def class_table() -> dict[str, str]:
    """ImageNet WNID -> the short class name Thought2Text uses."""
    return json.loads(CLASSES_FILE.read_text())


def _load_torch(path: str, what: str, mmap: bool = False) -> Any:
    """The object in a torch file; with ``mmap`` (zip-format files only) its tensors stay in the
    file, memory-mapped, until they are read."""
    import torch

    p = Path(path).expanduser()
    problem = file_problem(p)
    if problem:
        raise DataError(f"cvpr40: {what} {str(p)!r} {problem}; set it to the real file.")
    try:
        return torch.load(p, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as e:  # any reader failure is a corrupt-file error
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(f"cvpr40: {what} {str(p)!r} is not a readable torch file ({msg}).") from e


def _check_dataset(obj: Any, path: str) -> tuple[list[dict], list[str], list[str]]:
    where = f"cvpr40: {path!r}"
    if not isinstance(obj, dict):
        raise DataError(
            f"{where} holds a {type(obj).__name__}, expected a dict with keys "
            "'dataset', 'labels', 'images'."
        )
    missing = [k for k in ("dataset", "labels", "images") if k not in obj]
    if missing:
        raise DataError(f"{where} lacks key(s) {', '.join(missing)} (has {sorted(obj)}).")
    dataset, labels, images = obj["dataset"], list(obj["labels"]), list(obj["images"])
    if not isinstance(dataset, (list, tuple)) or not dataset:
        raise DataError(f"{where}: 'dataset' is empty or not a list of trials.")
    n_chans = None
    for i, tr in enumerate(dataset):
        if not isinstance(tr, dict) or any(k not in tr for k in ("eeg", "image", "label")):
            raise DataError(
                f"{where}: trial {i} is not a dict with 'eeg', 'image', 'label' (and 'subject')."
            )
        eeg = tr["eeg"]
        if getattr(eeg, "ndim", None) != 2:
            raise DataError(
                f"{where}: trial {i} eeg has shape {tuple(getattr(eeg, 'shape', ()))}, "
                "expected [channels, samples]."
            )
        if n_chans is None:
            n_chans = int(eeg.shape[0])
        elif int(eeg.shape[0]) != n_chans:
            raise DataError(
                f"{where}: trial {i} has {eeg.shape[0]} channels, trial 0 has {n_chans}."
            )
        if not 0 <= int(tr["label"]) < len(labels):
            raise DataError(f"{where}: trial {i} label {int(tr['label'])} is outside 'labels'.")
        if not 0 <= int(tr["image"]) < len(images):
            raise DataError(f"{where}: trial {i} image {int(tr['image'])} is outside 'images'.")
    return list(dataset), labels, images


def _read_splits(path: str, index: int) -> dict[str, list[int]]:
    obj = _load_torch(path, "splits file")
    where = f"cvpr40: splits file {path!r}"
    if not isinstance(obj, dict) or "splits" not in obj:
        raise DataError(f"{where} is not a dict with key 'splits'.")
    splits = obj["splits"]
    if not isinstance(splits, (list, tuple)) or not splits:
        raise DataError(f"{where}: 'splits' is empty or not a list.")
    if not 0 <= index < len(splits):
        raise ConfigError(f"split_index={index} but {where} has {len(splits)} split(s).")
    s = splits[index]
    if not isinstance(s, dict) or any(k not in s for k in ("train", "val", "test")):
        raise DataError(f"{where}: split {index} lacks 'train', 'val', 'test' index lists.")
    return {k: [int(i) for i in s[k]] for k in ("train", "val", "test")}


def _find_image(image_dir: Path, name: str, suffix: str = "") -> str | None:
    wnid = name.split("_")[0]
    for folder in (image_dir / wnid, image_dir):
        for ext in IMAGE_EXTS:
            p = folder / f"{name}{suffix}{ext}"
            if p.is_file():
                return str(p)
    return None


def _image_paths(p: CVPR40Params, image_names: list[str], used: set[int]) -> list[str | None]:
    """The ``image_file`` of every image; one the trials use but the folder lacks is an error
    naming the file (the targets need every one)."""
    folder = Path(p.image_dir).expanduser()
    problem = folder_problem(folder)
    if problem:
        raise DataError(f"cvpr40: image_dir {str(folder)!r} {problem}.")
    suffix = IMAGE_FILES[p.image_file]
    paths = [_find_image(folder, n, suffix) for n in image_names]
    missing = sorted(i for i in used if paths[i] is None)
    if missing:
        name = image_names[missing[0]]
        more = (
            f" ({len(missing) - 1} more the trials use are missing too)" if len(missing) > 1 else ""
        )
        raise DataError(
            f"cvpr40: image file {name.split('_')[0]}/{name}{suffix}.JPEG (image_file="
            f"{p.image_file}) not found under {str(folder)!r}{more}."
        )
    return paths


def load_cvpr40(p: CVPR40Params) -> EEGData:
    """CVPR40 trials in the window [time_low, time_high), with published or random splits."""
    _check_params(p)
    mapped = _mappable(p.path)
    dataset, wnids, images = _read_dataset(p, mapped)
    sel = _select(p, dataset)
    has_published = bool(p.splits_path) and p.split != "random"
    full_split = _published_splits(p, sel, len(dataset)) if has_published else None
    chosen = _chosen(p, sel, full_split)
    trials = _read_window(p, dataset, chosen, mapped)
    data = _assemble(p, dataset, wnids, images, sel, chosen, full_split, trials)
    return finalize(data, p, has_published=has_published, trials=trials)


def _check_params(p: CVPR40Params) -> None:
    """One-line ConfigErrors for a missing path and invalid choices or window."""
    if not p.path:
        raise ConfigError("cvpr40 needs dataset.path=<eeg .pth file> (e.g. eeg_55_95_std.pth).")
    if p.image_file not in IMAGE_FILES:
        raise ConfigError(f"image_file={p.image_file!r}; valid: {', '.join(IMAGE_FILES)}.")
    if p.split_indexing not in SPLIT_INDEXING:
        raise ConfigError(
            f"split_indexing={p.split_indexing!r}; valid: {', '.join(SPLIT_INDEXING)}."
        )
    if not 0 <= p.time_low < p.time_high:
        raise ConfigError(f"time window [{p.time_low}, {p.time_high}) is empty.")


def _read_dataset(p: CVPR40Params, mapped: bool) -> tuple[list[dict], list[str], list[str]]:
    """The EEG file's trials, class WNIDs and image names, checked."""
    dataset, wnids, images = _check_dataset(_load_torch(p.path, "EEG file", mapped), p.path)
    if not mapped:
        warn(
            f"cvpr40: {p.path!r} is in torch's legacy (non-zip) format, so it is loaded whole "
            "(peak memory about 2x the file); load it and torch.save it once in the current "
            "format to memory-map it."
        )
    return dataset, wnids, images


@dataclass
class _Selection:
    """Each trial's subject and which trials pass the length filter (``keep_len``), the subject
    filter (``keep_subj``) and both while long enough for the window (``keep``)."""

    subjects: np.ndarray
    keep_len: np.ndarray
    keep_subj: np.ndarray
    keep: np.ndarray


def _select(p: CVPR40Params, dataset: list[dict]) -> _Selection:
    """The trials that pass the length and subject filters and reach ``time_high``."""
    lengths = np.array([int(tr["eeg"].shape[1]) for tr in dataset])
    subjects = np.array([int(tr.get("subject", 1)) for tr in dataset])
    keep_len = (lengths >= p.min_len) & (lengths <= p.max_len)
    if p.subject:
        if p.subject not in set(subjects.tolist()):
            raise ConfigError(
                f"subject={p.subject} not in the file (subjects {sorted(set(subjects.tolist()))})."
            )
        keep_subj = subjects == p.subject
    else:
        keep_subj = np.ones(len(dataset), dtype=bool)
    short = keep_len & keep_subj & (lengths < p.time_high)
    if short.any():
        warnings.warn(
            f"cvpr40: dropped {int(short.sum())} trial(s) that pass the length filter but end "
            f"before time_high={p.time_high}.",
            stacklevel=3,
        )
    return _Selection(subjects, keep_len, keep_subj, keep_len & keep_subj & ~short)


def _published_splits(p: CVPR40Params, sel: _Selection, n_trials: int) -> dict[str, np.ndarray]:
    """The splits file's train/val/test as indices into the EEG file's ``n_trials`` trials,
    without the filtered-out ones."""
    raw = _read_splits(p.splits_path, p.split_index)
    indexing = p.split_indexing
    if indexing == "auto":
        indexing = "subject" if p.subject else "full"
    if indexing == "subject" and not p.subject:
        raise ConfigError("split_indexing=subject needs subject=1..6.")
    base = np.flatnonzero(sel.keep_subj) if indexing == "subject" else np.arange(n_trials)
    full_split = {}
    for name, idx in raw.items():
        idx_arr = np.asarray(idx, dtype=np.int64)
        if idx_arr.size and (idx_arr.min() < 0 or idx_arr.max() >= base.size):
            raise DataError(
                f"cvpr40: split {name!r} of {p.splits_path!r} indexes trial {idx_arr.max()} "
                f"but the {'subject' if indexing == 'subject' else 'full'} list has "
                f"{base.size} trials; the splits file does not match the EEG file "
                "(for the _all file with a subject, use split_indexing=full)."
            )
        full = base[idx_arr]
        full_split[name] = full[sel.keep[full]]
    return full_split


def _chosen(
    p: CVPR40Params, sel: _Selection, full_split: dict[str, np.ndarray] | None
) -> np.ndarray:
    """Indices of the trials loaded: those of the published splits, else all kept ones."""
    if full_split is not None:
        chosen = np.unique(np.concatenate(list(full_split.values())))
    else:
        chosen = np.flatnonzero(sel.keep)
    if chosen.size == 0:
        raise DataError(
            f"cvpr40: no trial of {p.path!r} passes the filters (length {p.min_len}..{p.max_len}, "
            f"subject {p.subject or 'all'})."
        )
    return chosen


def _read_window(p: CVPR40Params, dataset: list[dict], chosen: np.ndarray, mapped: bool) -> Trials:
    """The ``chosen`` trials' window, preprocessed (or from the trial cache); each trial's EEG
    is dropped from ``dataset`` once handed over."""

    def read(sl: slice) -> np.ndarray:
        part = chosen[sl]
        x = np.stack([dataset[i]["eeg"][:, p.time_low : p.time_high].float().numpy() for i in part])
        for i in part:  # handed over: drop the file's pages (mapped) or the tensor (loaded whole)
            if mapped:
                storage = dataset[i]["eeg"].untyped_storage()
                release_pages(storage.data_ptr(), storage.nbytes())
            dataset[i]["eeg"] = None
        return x

    n_chans = int(dataset[int(chosen[0])]["eeg"].shape[0])
    ch_names = [f"EEG{i + 1:03d}" for i in range(n_chans)]
    return load_trials(
        read,
        (chosen.size, n_chans, p.time_high - p.time_low),
        p,
        sfreq=p.sfreq,
        ch_names=ch_names,
        name="cvpr40",
        tmin=p.time_low / p.sfreq,
        sources=[p.path],
        selection={
            "trials": hashlib.sha256(chosen.astype(np.int64).tobytes()).hexdigest(),
            "window": [p.time_low, p.time_high],
        },
    )


def _assemble(
    p: CVPR40Params,
    dataset: list[dict],
    wnids: list[str],
    images: list[str],
    sel: _Selection,
    chosen: np.ndarray,
    full_split: dict[str, np.ndarray] | None,
    trials: Trials,
) -> EEGData:
    """EEGData of the ``chosen`` trials, with their splits, images, captions and blocks."""
    y = np.array([int(dataset[i]["label"]) for i in chosen])
    image = np.array([int(dataset[i]["image"]) for i in chosen])
    subject = sel.subjects[chosen]
    if full_split is not None:
        pos = np.full(len(dataset), -1)
        pos[chosen] = np.arange(chosen.size)
        splits = {k: pos[v] for k, v in full_split.items()}
    else:
        splits = {k: np.arange(chosen.size) for k in ("train", "val", "test")}
    table = class_table()
    image_names = [str(n) for n in images]
    image_paths = _image_paths(p, image_names, set(image.tolist())) if p.image_dir else None
    captions = read_caption_files(p.caption_dir, image_names, "cvpr40") if p.caption_dir else None
    data = EEGData(
        X=trials.X,
        y=y,
        image=image,
        subject=subject,
        splits=splits,
        class_names=[table.get(str(w), str(w)) for w in wnids],
        image_names=image_names,
        sfreq=trials.sfreq,
        ch_names=trials.ch_names,
        captions=captions,
        image_paths=image_paths,
        name="cvpr40",
        info=_info(p, wnids, sel, full_split is not None),
    )
    # One block per (subject, class): the design showed each class's 50 images in one run.
    trial_info(data)["block"] = subject * len(wnids) + y
    return data


def _info(p: CVPR40Params, wnids: list[str], sel: _Selection, published: bool) -> dict[str, Any]:
    """The dataset's info: classes, window, design, source and filtering."""
    info: dict[str, Any] = {
        "wnids": [str(w) for w in wnids],
        "tmin": p.time_low / p.sfreq,
        "block_design": True,
        "zero_shot_test": False,
        "source": str(p.path),
        "split_file": str(p.splits_path) if published else None,
        "dropped_length_filter": int((sel.keep_subj & ~sel.keep_len).sum()),
    }
    if published:
        info["split"] = f"published ({Path(p.splits_path).name} #{p.split_index})"
    return info


def _mappable(path: str) -> bool:
    """Whether the EEG file can be memory-mapped: torch's zip format (a missing file is
    reported by the load)."""
    file = Path(path).expanduser()
    return not file.is_file() or zipfile.is_zipfile(file)
