"""Split strategies (published, image-disjoint random, per subject, leave-one-subject-out) and
the leakage check (shared images or recording blocks between train and test)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from eegbench.contract.data import SPLITS, EEGData
from eegbench.contract.errors import ConfigError, DataError

if TYPE_CHECKING:
    from eegbench.config.schema import Limits

STRATEGIES: tuple[str, ...] = ("auto", "published", "random", "per_subject", "loso")


@dataclass(frozen=True)
class SplitParams:
    """Split-strategy fields shared by the dataset plugins (``dataset.split=loso`` etc.)."""

    split: str = field(
        default="auto",
        metadata={
            "help": "auto (published if the dataset has one, else random) | published | "
            "random (image-disjoint) | per_subject | loso (leave split_subject out)"
        },
    )
    split_seed: int = field(default=0, metadata={"help": "seed of the random image split"})
    val_fraction: float = field(default=0.1, metadata={"help": "share of images in val"})
    test_fraction: float = field(default=0.1, metadata={"help": "share of images in test"})
    split_subject: int = field(
        default=0, metadata={"help": "subject for per_subject / loso (0 = not set)"}
    )
    stratify: bool = field(
        default=True, metadata={"help": "random split: split each class's images separately"}
    )


def split_params_of(params: object) -> SplitParams:
    """The SplitParams fields of a dataset's params object."""
    return SplitParams(**{f.name: getattr(params, f.name) for f in dataclasses.fields(SplitParams)})


def trial_info(data: EEGData) -> dict[str, np.ndarray]:
    """Per-trial metadata arrays (length N) kept in ``data.info["trial_info"]``, e.g. ``block``."""
    return data.info.setdefault("trial_info", {})


def random_image_split(
    image: np.ndarray,
    y: np.ndarray | None = None,
    *,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
    stratify: bool = True,
) -> dict[str, np.ndarray]:
    """Seeded image-disjoint split: every trial of an image lands in the same split.

    With ``stratify`` (and labels ``y``) each class's images are split separately, so every
    class with at least three images appears in train, val and test.
    """
    image = np.asarray(image)
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ConfigError(
            f"val_fraction={val_fraction} and test_fraction={test_fraction} must be in [0, 1) "
            "and sum to less than 1."
        )
    rng = np.random.default_rng(seed)
    uniq = np.unique(image)
    if stratify and y is not None:
        img_class = {}
        for im, lab in zip(image.tolist(), np.asarray(y).tolist()):
            img_class.setdefault(im, lab)
        groups: dict[int, list[int]] = {}
        for im in uniq.tolist():
            groups.setdefault(img_class[im], []).append(im)
        group_list = [np.array(groups[k]) for k in sorted(groups)]
    else:
        group_list = [uniq]
    assign: dict[int, str] = {}
    for imgs in group_list:
        imgs = rng.permutation(imgs)
        n = len(imgs)
        n_test = int(round(n * test_fraction))
        n_val = int(round(n * val_fraction))
        if n >= 3:
            n_test = max(n_test, 1 if test_fraction > 0 else 0)
            n_val = max(n_val, 1 if val_fraction > 0 else 0)
        for im in imgs[:n_test]:
            assign[int(im)] = "test"
        for im in imgs[n_test : n_test + n_val]:
            assign[int(im)] = "val"
        for im in imgs[n_test + n_val :]:
            assign[int(im)] = "train"
    which = np.array([assign[int(i)] for i in image])
    out = {s: np.flatnonzero(which == s) for s in SPLITS}
    for s, idx in out.items():
        if idx.size == 0:
            raise DataError(
                f"random image split left {s!r} empty ({len(uniq)} images); "
                "lower the fractions or use more images."
            )
    return out


def subset(data: EEGData, idx: np.ndarray) -> EEGData:
    """The trials ``idx`` (in that order) with splits, per-trial info and images remapped."""
    idx = np.asarray(idx, dtype=np.int64)
    pos = np.full(data.n_trials, -1, dtype=np.int64)
    pos[idx] = np.arange(idx.size)
    splits = {}
    for name, s in data.splits.items():
        p = pos[np.asarray(s, dtype=np.int64)]
        splits[name] = p[p >= 0]
    info = dict(data.info)
    if "trial_info" in info:
        info["trial_info"] = {k: np.asarray(v)[idx] for k, v in info["trial_info"].items()}
    return dataclasses.replace(
        data,
        X=data.X[idx],
        y=data.y[idx],
        image=data.image[idx],
        subject=data.subject[idx],
        splits=splits,
        info=info,
    )


def _need_subject(data: EEGData, subject: int, strategy: str) -> None:
    subjects = sorted(set(data.subject.tolist()))
    if subject not in subjects:
        raise ConfigError(
            f"split={strategy} needs dataset.split_subject set to one of the dataset's subjects "
            f"{subjects}, got {subject}."
        )


def per_subject(data: EEGData, subject: int) -> EEGData:
    """Only the trials of one subject, keeping each trial's split."""
    _need_subject(data, subject, "per_subject")
    out = subset(data, np.flatnonzero(data.subject == subject))
    out.info["split_subject"] = subject
    return out


def leave_one_subject_out(data: EEGData, subject: int) -> EEGData:
    """Train/val on the other subjects, test on ``subject``.

    Each trial keeps the image-disjoint assignment of the current splits: train and val are the
    other subjects' train/val trials, test is the held-out subject's test trials, so the test
    images are unseen as well as the test subject.
    """
    if len(set(data.subject.tolist())) < 2:
        raise ConfigError(
            f"split=loso needs at least two subjects, and dataset {data.name!r} has one; load "
            "more subjects or use split=auto."
        )
    _need_subject(data, subject, "loso")
    other = data.subject != subject
    splits = {}
    for name, idx in data.splits.items():
        keep = other[idx] if name != "test" else ~other[idx]
        splits[name] = np.asarray(idx)[keep]
    out = dataclasses.replace(data, splits=splits, info=dict(data.info))
    used = np.unique(np.concatenate([splits[s] for s in SPLITS]))
    out = subset(out, used)
    out.info["split_subject"] = subject
    return out


def apply_split(data: EEGData, params: SplitParams, *, has_published: bool) -> EEGData:
    """Apply the chosen strategy; records it in ``info["split"]``.

    ``data.splits`` holds the dataset's published split when ``has_published``. The base split
    is that one (``auto``/``published``) or a seeded image-disjoint random split (``random``,
    or ``auto`` without a published one); ``per_subject`` and ``loso`` then restrict the base.
    """
    strategy = params.split
    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown split {strategy!r}; valid: {', '.join(STRATEGIES)}.")
    if strategy == "published" and not has_published:
        raise ConfigError(
            f"split=published but dataset {data.name!r} has no published split here; "
            "give the split file or use split=random."
        )
    if strategy == "random" or not has_published:
        data.splits = random_image_split(
            data.image,
            data.y,
            val_fraction=params.val_fraction,
            test_fraction=params.test_fraction,
            seed=params.split_seed,
            stratify=params.stratify,
        )
        data.info["split"] = f"random image-disjoint (seed {params.split_seed})"
    else:
        data.info.setdefault("split", "published")
    return subject_split(data, strategy, params.split_subject)


SUBJECT_STRATEGIES = ("per_subject", "loso")


def subject_split(data: EEGData, strategy: str, subject: int) -> EEGData:
    """``data`` restricted by a subject strategy; any other strategy leaves it as it is.

    ``per_subject``: only ``subject``'s trials. ``loso``: train and val on the other subjects,
    test on ``subject`` (leave-one-subject-out). Both add to ``info["split"]`` and set
    ``info["subjects"]``: ``"within"``, ``"single"`` or ``"held_out"`` (results.json and the
    leaderboard show it).
    """
    data.info.setdefault("split", "as given")
    if strategy == "per_subject":
        data = per_subject(data, subject)
        data.info["split"] += f", subject {subject} only"
        data.info["subjects"] = "single"
    elif strategy == "loso":
        data = leave_one_subject_out(data, subject)
        data.info["split"] += f", leave-one-subject-out (test subject {subject})"
        data.info["subjects"] = "held_out"
    else:
        data.info["subjects"] = "within"
    return data


def rehearsal_splits(data: EEGData, limits: Limits) -> EEGData:
    """``data`` with a rehearsal's ``limits``: the first training and validation trials, and
    test trials of distinct images where there are enough."""
    splits = dict(data.splits)
    splits["train"] = splits["train"][: limits.train_trials]
    splits["val"] = splits["val"][: limits.val_trials]
    test = np.asarray(splits["test"])
    _, first = np.unique(data.image[test], return_index=True)
    pick = test[np.sort(first)][: limits.test_trials]
    if len(pick) < min(limits.test_trials, len(test)):
        pick = test[: limits.test_trials]
    splits["test"] = pick
    return dataclasses.replace(data, splits=splits)


def check_leakage(data: EEGData) -> list[str]:
    """Warnings for images or recording blocks shared between train/val and test.

    Block ids come from ``data.info["trial_info"]["block"]``; ``data.info["block_design"]``
    marks data recorded in class blocks (Li et al., TPAMI 2020).
    """
    out = []
    for a, b in (("train", "test"), ("train", "val"), ("val", "test")):
        if a not in data.splits or b not in data.splits:
            continue
        shared = data.split_overlap(a, b)
        if shared:
            out.append(
                f"{len(shared)} image(s) appear in both {a} and {b}: the split is not "
                "image-disjoint, so the score can reflect memorised images, not generalisation."
            )
    block = data.info.get("trial_info", {}).get("block")
    if block is not None and "train" in data.splits and "test" in data.splits:
        block = np.asarray(block)
        shared_blocks = set(block[data.splits["train"]].tolist()) & set(
            block[data.splits["test"]].tolist()
        )
        if shared_blocks:
            n_test = len(set(block[data.splits["test"]].tolist()))
            out.append(
                f"{len(shared_blocks)} of {n_test} recording block(s) in test also appear in "
                "train: a classifier can exploit slow drift within a block (block-design "
                "confound, Li et al. 2020); report filtered bands and shuffled-label/noise "
                "controls, or use split=loso."
            )
    elif data.info.get("block_design") and block is None:
        out.append(
            "the data were recorded in class blocks but carry no block ids: train/test trials "
            "may share recording blocks (block-design confound, Li et al. 2020)."
        )
    return out
