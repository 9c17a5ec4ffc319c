"""The data container every dataset plugin returns, with validation and identity hashes."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eegbench.contract.errors import DataError
from eegbench.io import folder_problem

SPLITS = ("train", "val", "test")


@dataclass
class EEGData:
    """EEG trials with labels, image identity, subjects, named splits and per-image captions.

    ``X``: float32 ``[N, C, T]``. ``y``: class index ``[N]`` into ``class_names``.
    ``image``: index ``[N]`` into ``image_names`` (and ``captions``/``image_paths``).
    ``subject``: subject id ``[N]``. ``splits``: split name -> trial indices (``train``, ``val``,
    ``test`` at least). ``info``: free metadata (units, ground truth of a simulation, ...).

    References: ``captions`` is one caption per image, the one stage 2 trains on. A dataset
    with several captions per image (COCO style) gives ``references``: every reference caption
    of each image (a non-empty list per image, normally starting with its ``captions`` entry);
    the caption metrics that declare ``multi_reference`` score against all of them, as their
    libraries define it. None: each image's one caption is its only reference.

    Statistics: ``cluster`` ``[N]`` names the unit of independent observation of each trial
    (trials that share a reference caption are not independent); ``None`` means the image, and
    ``cluster_unit`` says in words what the unit is (recorded in results.json).

    Ground truth (optional): ``attributes`` maps an attribute name to one value per image
    (``{"colour": ["red", ...]}``); ``attribute_words`` maps each attribute's values to the words
    or phrases that realise it in a caption (``{"colour": {"red": ["red"], ...}}``); ``describe``
    ``(class index, {attribute: value}) -> caption`` writes the dataset's caption of an object
    with given attribute values (it makes the oracle rows possible).
    """

    X: np.ndarray
    y: np.ndarray
    image: np.ndarray
    subject: np.ndarray
    splits: dict[str, np.ndarray]
    class_names: list[str]
    image_names: list[str]
    sfreq: float
    ch_names: list[str]
    captions: list[str] | None = None
    references: list[list[str]] | None = None
    image_paths: list[str | None] | None = None
    name: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    cluster: np.ndarray | None = None
    cluster_unit: str = "image"
    attributes: dict[str, list[str]] | None = None
    attribute_words: dict[str, dict[str, list[str]]] | None = None
    describe: Callable[[int, Mapping[str, str]], str] | None = None

    @property
    def n_trials(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_chans(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_times(self) -> int:
        return int(self.X.shape[2])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def clusters(self) -> np.ndarray:
        """The statistical unit of each trial ``[N]`` (the image unless ``cluster`` is set)."""
        return self.image if self.cluster is None else self.cluster

    def trial_attributes(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        """``{attribute: value of each trial in idx}`` (empty without ground truth)."""
        images = self.image[np.asarray(idx)]
        return {k: np.asarray(v, dtype=object)[images] for k, v in (self.attributes or {}).items()}

    def validate(self) -> EEGData:
        """Check shapes, dtypes, ranges and finiteness; raise DataError naming the problem."""
        where = f"dataset {self.name!r}" if self.name else "dataset"
        if not isinstance(self.X, np.ndarray) or self.X.ndim != 3:
            shape = getattr(self.X, "shape", None)
            raise DataError(f"{where}: X must be an array [trials, channels, times], got {shape}.")
        n, c, _ = self.X.shape
        if n == 0:
            raise DataError(f"{where}: no trials.")
        if self.X.dtype != np.float32:
            self.X = self.X.astype(np.float32)
        bad = sum(
            int((~np.isfinite(self.X[i : i + 256])).any(axis=(1, 2)).sum())
            for i in range(0, n, 256)
        )
        if bad:
            raise DataError(f"{where}: {bad} trial(s) contain NaN or infinite values.")
        for arr_name in ("y", "image", "subject"):
            arr = np.asarray(getattr(self, arr_name))
            if arr.shape != (n,):
                raise DataError(f"{where}: {arr_name} must have shape ({n},), got {arr.shape}.")
            setattr(self, arr_name, arr.astype(np.int64))
        if len(self.ch_names) != c:
            raise DataError(f"{where}: {len(self.ch_names)} channel names for {c} channels.")
        if self.y.min() < 0 or self.y.max() >= self.n_classes:
            raise DataError(f"{where}: labels must lie in [0, {self.n_classes}).")
        if self.image.min() < 0 or self.image.max() >= len(self.image_names):
            raise DataError(f"{where}: image indices must lie in [0, {len(self.image_names)}).")
        for per_image in ("captions", "image_paths"):
            vals = getattr(self, per_image)
            if vals is not None and len(vals) != len(self.image_names):
                raise DataError(
                    f"{where}: {len(vals)} {per_image} for {len(self.image_names)} images."
                )
        self._validate_references(where)
        for split in SPLITS:
            if split not in self.splits:
                raise DataError(f"{where}: split {split!r} is missing.")
        for split, idx in self.splits.items():
            idx = np.asarray(idx, dtype=np.int64)
            if idx.size == 0:
                raise DataError(f"{where}: split {split!r} is empty.")
            if idx.min() < 0 or idx.max() >= n:
                raise DataError(f"{where}: split {split!r} has indices outside [0, {n}).")
            self.splits[split] = idx
        if self.sfreq <= 0:
            raise DataError(f"{where}: sampling frequency must be positive, got {self.sfreq}.")
        if self.cluster is not None:
            cluster = np.asarray(self.cluster)
            if cluster.shape != (n,):
                raise DataError(f"{where}: cluster must have shape ({n},), got {cluster.shape}.")
            self.cluster = cluster
        if not self.cluster_unit:
            raise DataError(f"{where}: cluster_unit must name the statistical unit.")
        self._validate_attributes(where)
        return self

    def _validate_references(self, where: str) -> None:
        if self.references is None:
            return
        if self.captions is None:
            raise DataError(f"{where}: references need captions (the caption trained on).")
        if len(self.references) != len(self.image_names):
            raise DataError(
                f"{where}: {len(self.references)} reference lists for "
                f"{len(self.image_names)} images."
            )
        for i, refs in enumerate(self.references):
            if isinstance(refs, str) or not refs or not all(isinstance(r, str) for r in refs):
                raise DataError(
                    f"{where}: references[{i}] must be a non-empty list of captions, got "
                    f"{refs!r:.60}."
                )
        self.references = [list(refs) for refs in self.references]

    def image_references(self) -> list[list[str]] | None:
        """Every reference caption of each image (``references``, else ``[caption]``); None
        without captions."""
        if self.references is not None:
            return self.references
        return None if self.captions is None else [[c] for c in self.captions]

    def _validate_attributes(self, where: str) -> None:
        attrs, words = self.attributes, self.attribute_words
        if attrs is None:
            if words is not None or self.describe is not None:
                raise DataError(f"{where}: attribute_words and describe need attributes.")
            return
        if words is None or set(words) != set(attrs):
            raise DataError(
                f"{where}: attribute_words must list the words of every attribute "
                f"({', '.join(sorted(attrs))})."
            )
        for name, values in attrs.items():
            if len(values) != len(self.image_names):
                raise DataError(
                    f"{where}: attribute {name!r} has {len(values)} values for "
                    f"{len(self.image_names)} images."
                )
            unknown = sorted(set(values) - set(words[name]))
            if unknown:
                raise DataError(
                    f"{where}: attribute {name!r} value(s) {unknown[:3]} have no entry in "
                    "attribute_words."
                )
            for value, realised in words[name].items():
                if not realised or not all(isinstance(w, str) and w.strip() for w in realised):
                    raise DataError(
                        f"{where}: attribute_words[{name!r}][{value!r}] must be non-empty words."
                    )

    def split_overlap(self, a: str = "train", b: str = "test") -> set[int]:
        """Image indices seen in both splits (should be empty for an image-disjoint split)."""
        return set(self.image[self.splits[a]].tolist()) & set(self.image[self.splits[b]].tolist())

    def to_mne(self, split: str | None = None) -> Any:
        """The trials (all, or those of ``split``) as an ``mne.EpochsArray``.

        Channels are EEG channels with this data's names and, where the names are in MNE's
        standard 10-05 montage, its positions. Each trial is an event whose code is its
        class's (the source's own code when it had one per class, as ``mne_epochs`` records,
        else class index + 1; ``event_id`` maps class names to codes). ``metadata`` holds each
        trial's image, class, subject, split, caption, image path and attributes. Data are in
        volts when ``info["units"]`` says what they were in (z-scored data as they are), and
        start at ``info["tmin"]`` (default 0).
        """
        from eegbench.contract.export import to_epochs

        return to_epochs(self, split)

    def torch_dataset(self, split: str | None = None) -> Any:
        """A ``torch.utils.data.Dataset`` of the trials (all, or those of ``split``), each
        item ``(x [C, T] float32 tensor, class index)``."""
        from eegbench.contract.torch_data import TrialDataset

        return TrialDataset(self, split)

    def fingerprint(self) -> dict[str, str]:
        """Content hashes identifying the data and each split (for the run record)."""

        def h(*arrays: np.ndarray) -> str:
            d = hashlib.sha256()
            for a in arrays:
                d.update(np.ascontiguousarray(a).data)  # no copy of a contiguous X
            return d.hexdigest()[:16]

        out = {"data": h(self.X, self.y, self.image, self.subject)}
        out.update({f"split_{k}": h(v) for k, v in sorted(self.splits.items())})
        return out


CAPTION_MARKERS = ("<s>", "</s>")
"""Sentence markers Thought2Text's caption files carry (``<s> A dog ... </s>``)."""


def clean_caption(text: str) -> str:
    """A caption file's caption as Thought2Text reads it: the FIRST line, ``<s>``/``</s>``
    removed (datautils.py, inference.py), whitespace collapsed and stripped."""
    lines = text.splitlines()
    first = lines[0] if lines else ""
    for marker in CAPTION_MARKERS:
        first = first.replace(marker, "")
    return " ".join(first.split())


def _caption_file(folder: Path, name: str) -> Path | None:
    """``<folder>/<stem>_caption.txt``, else Thought2Text's ``<folder>/<wnid>/<stem>_caption.txt``
    (the folder of its images: the class prefix of the image name)."""
    stem = Path(name).stem
    for path in (
        folder / f"{stem}_caption.txt",
        folder / stem.split("_")[0] / f"{stem}_caption.txt",
    ):
        if path.is_file():
            return path
    return None


def read_caption_files(caption_dir: str | Path, image_names: list[str], dataset: str) -> list[str]:
    """One caption per image from ``<caption_dir>/[<wnid>/]<image stem>_caption.txt``
    (Thought2Text's layout): each file's first line with the ``<s>``/``</s>`` markers removed
    and whitespace normalised (:func:`clean_caption`), for training and references alike.

    Every image needs its file; the error names how many are missing and one example, and an
    empty caption names its file.
    """
    folder = Path(caption_dir).expanduser()
    problem = folder_problem(folder)
    if problem:
        raise DataError(f"{dataset}: caption_dir {str(folder)!r} {problem}.")
    out, missing = [], []
    for name in image_names:
        path = _caption_file(folder, name)
        if path is None:
            missing.append(f"{Path(name).stem}_caption.txt")
            continue
        caption = clean_caption(path.read_text(encoding="utf-8"))
        if not caption:
            raise DataError(f"{dataset}: caption file {str(path)!r} has an empty first line.")
        out.append(caption)
    if missing:
        raise DataError(
            f"{dataset}: {len(missing)} of {len(image_names)} captions missing in {str(folder)!r} "
            f"(e.g. {missing[0]}); every image needs <image>_caption.txt (or <wnid>/<image>"
            "_caption.txt)."
        )
    return out
