"""Any MNE epochs file (``-epo.fif``) or BIDS recordings (via mne-bids) as an eegbench dataset,
with an optional stimulus table mapping trials or event codes to images and captions.

``bids`` reads every recording that matches the subjects, sessions, task and runs asked for
(``mne_bids.find_matching_paths``), filters each continuous recording (``l_freq``, ``h_freq``,
``notch``) before cutting epochs around its annotations, and concatenates them, each epoch
keeping its subject."""

from __future__ import annotations

import csv
import dataclasses
import re
import warnings
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
    filter_continuous,
    finalize,
    folder_problem,
)

KEYS = ("trial", "event")


@dataclass
class _EpochsFields:
    event_map: str = field(
        default="",
        metadata={
            "help": "classes as 'name:code,name:code' (a name may repeat); "
            "empty = the file's event_id"
        },
    )
    stimuli_csv: str = field(
        default="",
        metadata={
            "help": "CSV with column trial (epoch index) or event (code), image, and "
            "optional caption (caption_2, caption_3, ...: further references), split; empty = "
            "epochs.metadata if it has 'image'"
        },
    )
    picks: str = field(default="eeg", metadata={"help": "MNE channel picks (eeg, data, ...)"})
    units: str = field(default="uV", metadata={"help": "units for get_data; empty = SI (V)"})
    subject: Annotated[int, Ge(0)] = field(
        default=1, metadata={"help": "subject id of this recording"}
    )


@dataclass
class _PathField:
    path: str = field(default="", metadata={"help": "MNE epochs file (*-epo.fif), required"})


Labels = str | int | list[str | int]


@dataclass
class _BIDSFields:
    bids_root: str = field(default="", metadata={"help": "BIDS dataset root, required"})
    bids_subject: Labels = field(
        default="",
        metadata={
            "help": "BIDS subject label(s): 01, [01, 02] or all (a number matches sub-01); required"
        },
    )
    task: str = field(default="", metadata={"help": "BIDS task label (empty: any)"})
    session: Labels = field(
        default="", metadata={"help": "BIDS session label(s) (empty: every session)"}
    )
    run: Labels = field(default="", metadata={"help": "BIDS run label(s) (empty: every run)"})
    datatype: str = field(default="eeg", metadata={"help": "BIDS datatype"})
    tmin: float = field(default=-0.2, metadata={"help": "epoch start in s from each event"})
    tmax: float = field(default=0.8, metadata={"help": "epoch end in s from each event"})


@dataclass(frozen=True)
class MNEEpochsParams(DatasetParams, _EpochsFields, _PathField):
    """Parameters of ``mne_epochs``: its own fields, then preprocessing and split."""


@dataclass(frozen=True)
class BIDSParams(DatasetParams, _EpochsFields, _BIDSFields):
    """Parameters of ``bids``: its own fields, then preprocessing and split."""


EpochsParams = MNEEpochsParams | BIDSParams


def parse_event_map(spec: str) -> list[tuple[str, int]]:
    """'cat:1,dog:2' -> [('cat', 1), ('dog', 2)]."""
    out = []
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            continue
        name, sep, code = item.rpartition(":")
        try:
            if not sep or not name.strip():
                raise ValueError
            out.append((name.strip(), int(code)))
        except ValueError:
            raise ConfigError(
                f"event_map item {item!r}: write classes as 'name:code,name:code'."
            ) from None
    if not out:
        raise ConfigError(f"event_map={spec!r} names no class; use 'name:code,name:code'.")
    return out


def _kinds(columns: list[str]) -> list[str]:
    """Captions and images as a stimulus table's columns name them."""
    return [kind for kind, col in (("captions", "caption"), ("images", "image")) if col in columns]


def _table_provides(stimuli_csv: str) -> list[str] | None:
    """What the stimulus table's header names (None: not readable; the loader says why)."""
    if file_problem(Path(stimuli_csv).expanduser()):
        return None
    try:
        with open(Path(stimuli_csv).expanduser(), newline="", encoding="utf-8") as f:
            return _kinds(next(csv.reader(f), []))
    except (OSError, UnicodeDecodeError, csv.Error):
        return None


def epochs_provides(params: Any) -> list[str] | None:
    """What an epochs file's trials may carry: from its stimulus table, else its metadata."""
    if params.stimuli_csv:
        return _table_provides(params.stimuli_csv)
    path = Path(params.path).expanduser()
    if not params.path or file_problem(path):
        return None
    import mne

    try:
        meta = mne.read_epochs(path, preload=False, verbose="error").metadata
    except Exception:  # not readable: the loader says why
        return None
    if meta is None or "image" not in meta.columns:
        return []
    return _kinds(list(meta.columns))


def bids_provides(params: Any) -> list[str] | None:
    """What BIDS recordings' trials may carry: only what a stimulus table adds."""
    return _table_provides(params.stimuli_csv) if params.stimuli_csv else []


def _stimulus_table(p: EpochsParams, epochs: Any) -> tuple[Any, Path | None]:
    import pandas as pd

    if p.stimuli_csv:
        path = Path(p.stimuli_csv).expanduser()
        problem = file_problem(path)
        if problem:
            raise DataError(f"mne_epochs: stimuli_csv {str(path)!r} {problem}.")
        try:
            table = pd.read_csv(path)
        except Exception as e:
            raise DataError(f"mne_epochs: {str(path)!r} is not a readable CSV ({e}).") from e
        where = str(path)
        base: Path | None = path.parent
    elif epochs.metadata is not None and "image" in epochs.metadata.columns:
        table = epochs.metadata.reset_index(drop=True).copy()
        table["trial"] = np.arange(len(table))
        where, base = "epochs.metadata", None
    else:
        return None, None
    if "image" not in table.columns or not any(k in table.columns for k in KEYS):
        raise DataError(
            f"mne_epochs: {where} needs an 'image' column and a 'trial' or 'event' column "
            f"(has {list(table.columns)})."
        )
    if table.empty:
        raise DataError(f"mne_epochs: {where} has no rows.")
    return table, base


def from_epochs(
    epochs: Any,
    p: EpochsParams,
    *,
    name: str,
    source: str,
    subjects: np.ndarray | None = None,
    info: dict[str, Any] | None = None,
) -> EEGData:
    """EEGData from a loaded ``mne.Epochs`` with the classes, stimuli and splits of ``p``;
    ``subjects``: each epoch's subject (default ``p.subject``), ``info``: added to the info."""
    codes = epochs.events[:, 2].astype(np.int64)
    pairs, class_names, code_class = _class_map(epochs.event_id, codes, p, name, source)
    keep = np.flatnonzero(np.isin(codes, list(code_class)))
    if keep.size == 0:
        raise DataError(f"{name}: no epoch of {source!r} has an event code of the class map.")
    y = np.array([code_class[c] for c in codes[keep]])
    X, ch_names = _epoch_data(epochs, p, keep, name)
    stim = _stimuli(p, epochs, codes, keep, name)
    data = EEGData(
        X=X,
        y=y,
        image=stim.image,
        subject=np.full(keep.size, p.subject) if subjects is None else subjects[keep],
        splits=stim.splits,
        class_names=class_names,
        image_names=stim.image_names,
        sfreq=float(epochs.info["sfreq"]),
        ch_names=ch_names,
        captions=stim.captions,
        references=stim.references,
        image_paths=stim.image_paths,
        name=name,
        info={
            "tmin": float(epochs.tmin),
            "source": source,
            "units": p.units or "SI",
            "event_codes": {n: [c for m, c in pairs if m == n] for n in class_names},
            "dropped_unmapped": int(len(codes) - keep.size),
            "zero_shot_test": False,
            "images": "stimulus table" if stim.from_table else "one per trial (no table)",
            **(info or {}),
        },
    )
    return finalize(data, p, has_published=stim.published)


def _class_map(
    event_id: dict[str, int], codes: np.ndarray, p: EpochsParams, name: str, source: str
) -> tuple[list[tuple[str, int]], list[str], dict[int, int]]:
    """The (class name, event code) pairs of ``event_map`` (else of the file's codes present),
    the class names and each code's class."""
    if p.event_map:
        pairs = parse_event_map(p.event_map)
    else:
        present = set(codes.tolist())
        pairs = sorted(
            ((k, int(v)) for k, v in event_id.items() if int(v) in present),
            key=lambda kv: kv[1],
        )
    class_names = list(dict.fromkeys(n for n, _ in pairs))
    code_class = {}
    for n, c in pairs:
        if c in code_class and class_names[code_class[c]] != n:
            raise ConfigError(f"event_map gives code {c} two class names.")
        code_class[c] = class_names.index(n)
    absent = sorted(set(code_class) - set(codes.tolist()))
    if p.event_map and absent:
        raise DataError(
            f"{name}: event code(s) {absent} of event_map are not in {source!r} "
            f"(codes there: {sorted(set(codes.tolist()))})."
        )
    return pairs, class_names, code_class


def _epoch_data(
    epochs: Any, p: EpochsParams, keep: np.ndarray, name: str
) -> tuple[np.ndarray, list[str]]:
    """float32 data of the ``keep`` epochs in the ``picks`` and ``units`` asked for, and the
    picked channels' names."""
    try:
        picked = epochs.copy().pick(p.picks)
        X = picked.get_data(units=p.units or None)[keep].astype(np.float32)
    except ValueError as e:
        raise ConfigError(f"{name}: picks={p.picks!r} / units={p.units!r} failed: {e}") from e
    return X, list(picked.ch_names)


@dataclass
class _Stimuli:
    """Each kept epoch's image (an index into ``image_names``), the images' captions, further
    references and files, and the splits (``published``: from the table)."""

    image: np.ndarray
    image_names: list[str]
    splits: dict[str, np.ndarray]
    from_table: bool
    published: bool = False
    captions: list[str] | None = None
    references: list[list[str]] | None = None
    image_paths: list[str | None] | None = None


def _stimuli(
    p: EpochsParams, epochs: Any, codes: np.ndarray, keep: np.ndarray, name: str
) -> _Stimuli:
    """The kept epochs' stimuli from the stimulus table (or metadata); without one, each epoch
    is its own image."""
    table, base = _stimulus_table(p, epochs)
    splits = {k: np.arange(keep.size) for k in ("train", "val", "test")}
    if table is None:
        names = [f"trial_{i:05d}" for i in keep]
        return _Stimuli(np.arange(keep.size), names, splits, from_table=False)
    rows = _table_rows(table, codes, keep, name)
    img_vals = [str(v) for v in rows["image"]]
    image_names = list(dict.fromkeys(img_vals))
    img_pos = {n: i for i, n in enumerate(image_names)}
    captions: list[str] | None = None
    references: list[list[str]] | None = None
    if "caption" in rows.columns:
        captions = _per_image(rows["caption"].astype(str).tolist(), img_vals, image_names, name)
        references = _more_references(rows, captions, img_vals, image_names, name)
    published = "split" in rows.columns
    if published:
        splits = _table_splits(rows, name)
    return _Stimuli(
        image=np.array([img_pos[v] for v in img_vals]),
        image_names=image_names,
        splits=splits,
        from_table=True,
        published=published,
        captions=captions,
        references=references,
        image_paths=_resolve_images(image_names, base, name),
    )


def _table_splits(rows: Any, name: str) -> dict[str, np.ndarray]:
    """The kept epochs' splits as the table's ``split`` column gives them."""
    which = rows["split"].astype(str).str.strip().str.lower().to_numpy()
    bad = sorted(set(which.tolist()) - {"train", "val", "test"})
    if bad:
        raise DataError(f"{name}: split column has values {bad}; use train, val, test.")
    return {k: np.flatnonzero(which == k) for k in ("train", "val", "test")}


def _table_rows(table: Any, codes: np.ndarray, keep: np.ndarray, name: str) -> Any:
    """The stimulus table's row of each kept epoch, looked up by trial index or event code."""
    key = "trial" if "trial" in table.columns else "event"
    lookup = table.drop_duplicates(subset=[key]).set_index(key)
    wanted = keep if key == "trial" else codes[keep]
    missing = sorted(set(np.asarray(wanted).tolist()) - set(lookup.index.tolist()))
    if missing:
        raise DataError(
            f"{name}: the stimulus table has no row for {key}(s) {missing[:5]}"
            f"{' ...' if len(missing) > 5 else ''} ({len(missing)} missing)."
        )
    return lookup.loc[wanted]


def _per_image(values: list[str], img_vals: list[str], names: list[str], where: str) -> list[str]:
    seen: dict[str, str] = {}
    for img, cap in zip(img_vals, values):
        if seen.setdefault(img, cap) != cap:
            raise DataError(f"{where}: image {img!r} has two different captions in the table.")
    return [seen[n] for n in names]


def _more_references(
    rows: Any, captions: list[str], img_vals: list[str], names: list[str], where: str
) -> list[list[str]] | None:
    """Every reference of each image when the table has ``caption_2``, ``caption_3``, ...
    columns (empty cells: fewer references for that image); None without them."""
    more = sorted(
        (int(c.split("_")[1]), c) for c in rows.columns if re.fullmatch(r"caption_\d+", str(c))
    )
    if not more:
        return None
    columns = [
        _per_image(rows[c].fillna("").astype(str).tolist(), img_vals, names, where) for _, c in more
    ]
    return [[cap, *(col[i] for col in columns if col[i].strip())] for i, cap in enumerate(captions)]


def _resolve_images(names: list[str], base: Path | None, where: str) -> list[str | None] | None:
    """Paths of the images that exist (relative ones resolved from the CSV's folder); None when
    the image column holds identifiers rather than files."""
    paths: list[str | None] = []
    for n in names:
        p = Path(n).expanduser()
        if not p.is_absolute() and base is not None:
            p = base / p
        paths.append(str(p) if p.is_file() else None)
    n_found = sum(x is not None for x in paths)
    if n_found == 0:
        return None
    if n_found < len(paths):
        warnings.warn(
            f"{where}: {len(paths) - n_found} of {len(paths)} image files not found.", stacklevel=4
        )
    return paths


def load_mne_epochs(p: MNEEpochsParams) -> EEGData:
    """Trials of an MNE epochs file as EEGData."""
    import mne

    if not p.path:
        raise ConfigError("mne_epochs needs dataset.path=<file-epo.fif>.")
    path = Path(p.path).expanduser()
    problem = file_problem(path)
    if problem:
        raise DataError(f"mne_epochs: {str(path)!r} {problem}.")
    try:
        epochs = mne.read_epochs(path, preload=True, verbose="error")
    except Exception as e:  # any reader failure is a corrupt-file error
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(
            f"mne_epochs: {str(path)!r} is not a readable MNE epochs file ({msg})."
        ) from e
    if len(epochs) == 0:
        raise DataError(f"mne_epochs: {str(path)!r} holds no epochs.")
    return from_epochs(epochs, p, name="mne_epochs", source=str(path))


RAW_EXTENSIONS = [".vhdr", ".edf", ".bdf", ".set", ".fif", ".cnt", ".mff"]


def load_bids(p: BIDSParams) -> EEGData:
    """Epochs cut around the annotated events of the matching BIDS recordings (needs mne-bids),
    each recording filtered before it is epoched."""
    mne_bids = _import_mne_bids()
    import mne

    root = _bids_root(p)
    paths = _recordings(mne_bids, root, p)
    raws, steps = _read_filtered(mne_bids, paths, p)
    event_id = _event_ids(raws, paths)
    parts, subject_of, ids = _epoch_recordings(raws, event_id, p, paths)
    epochs = parts[0] if len(parts) == 1 else mne.concatenate_epochs(parts, verbose="error")
    per_epoch = dataclasses.replace(p, l_freq=None, h_freq=None, notch=None)  # done above
    return from_epochs(
        epochs,
        per_epoch,
        name="bids",
        source=str(paths[0].fpath) if len(paths) == 1 else f"{len(paths)} recordings in {root}",
        subjects=np.asarray(subject_of),
        info={
            "recordings": [bp.basename for bp, _ in raws],
            "bids_subjects": ids,
            "preprocessing": steps,
        },
    )


def _import_mne_bids() -> Any:
    """The mne_bids module, or a ConfigError saying how to install it."""
    try:
        import mne_bids
    except ImportError:
        raise ConfigError(
            "dataset bids needs the mne-bids package: pip install -c constraints.txt "
            "'eegbench[bids]' (pip install mne-bids)"
        ) from None
    return mne_bids


def _bids_root(p: BIDSParams) -> Path:
    """The BIDS root, checked with the subject label(s) asked for."""
    if not p.bids_root or p.bids_subject in ("", []):
        raise ConfigError(
            "bids needs dataset.bids_root=<folder> and dataset.bids_subject=<label>, "
            "[<label>, ...] or all."
        )
    root = Path(p.bids_root).expanduser()
    problem = folder_problem(root)
    if problem:
        raise DataError(f"bids: bids_root {p.bids_root!r} {problem}.")
    return root


def _recordings(mne_bids: Any, root: Path, p: BIDSParams) -> list[Any]:
    """The BIDS paths of the recordings matching the subjects, sessions, task and runs asked
    for, in path order."""
    subjects = _bids_subjects(root, p.bids_subject)
    paths = sorted(
        mne_bids.find_matching_paths(
            root,
            subjects=subjects,
            sessions=_labels(p.session),
            tasks=p.task or None,
            runs=_labels(p.run),
            datatypes=p.datatype,
            suffixes=p.datatype,
            extensions=RAW_EXTENSIONS,
        ),
        key=lambda bp: str(bp.fpath),
    )
    if not paths:
        raise DataError(
            f"bids: no {p.datatype} recording in {p.bids_root!r} matches subject(s) "
            f"{subjects or 'all'}, task {p.task or 'any'}, session(s) {p.session or 'any'}, "
            f"run(s) {p.run or 'any'}."
        )
    return paths


def _read_filtered(
    mne_bids: Any, paths: list[Any], p: BIDSParams
) -> tuple[list[tuple[Any, Any]], list[str]]:
    """Each recording with its BIDS path, read and filtered, and the filters' descriptions."""
    raws, steps = [], []
    for bp in paths:
        try:
            raw = mne_bids.read_raw_bids(bp, verbose="error")
        except Exception as e:
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise DataError(f"bids: cannot read {bp.basename!r} in {p.bids_root!r} ({msg}).") from e
        steps = filter_continuous(raw, p)
        raws.append((bp, raw))
    return raws, steps


def _event_ids(raws: list[tuple[Any, Any]], paths: list[Any]) -> dict[str, int]:
    """One event code per annotation description, the same in every recording."""
    descriptions = sorted({str(d) for _, raw in raws for d in raw.annotations.description})
    if not descriptions:
        raise DataError(f"bids: {paths[0].basename!r} has no annotated events.")
    return {d: i + 1 for i, d in enumerate(descriptions)}


def _epoch_recordings(
    raws: list[tuple[Any, Any]], event_id: dict[str, int], p: BIDSParams, paths: list[Any]
) -> tuple[list[Any], list[int], dict[str, int]]:
    """The epochs of every recording that has some, each epoch's subject id, and the ids of
    the BIDS subject labels."""
    import mne

    parts, subject_of, ids = [], [], _subject_ids([bp.subject for bp, _ in raws])
    for bp, raw in raws:
        events, _ = mne.events_from_annotations(raw, event_id=event_id, verbose="error")
        if len(events) == 0:
            continue
        present = {k: v for k, v in event_id.items() if v in set(events[:, 2].tolist())}
        epochs = mne.Epochs(
            raw,
            events,
            present,
            tmin=p.tmin,
            tmax=p.tmax,
            baseline=None,
            preload=True,
            verbose="error",
        )
        if len(epochs) and parts and epochs.ch_names != parts[0].ch_names:
            raise DataError(
                f"bids: {bp.basename!r} has channels {epochs.ch_names[:4]}..., "
                f"{paths[0].basename!r} {parts[0].ch_names[:4]}...; pick the same channels "
                "(dataset.channels=...) or load them separately."
            )
        if len(epochs):
            epochs.event_id = {k: v for k, v in event_id.items()}
            parts.append(epochs)
            subject_of += [ids[bp.subject]] * len(epochs)
    if not parts:
        raise DataError(f"bids: no epoch of {p.tmin}..{p.tmax} s fits inside the recordings.")
    return parts, subject_of, ids


def _labels(value: Labels) -> list[str] | None:
    """Session or run label(s) as text; None (any) when empty."""
    if value in ("", []):
        return None
    items = value if isinstance(value, list) else [value]
    return [str(v) for v in items]


def _subject_ids(labels: list[str]) -> dict[str, int]:
    """Each BIDS subject label's id in the data: the number itself when the labels are
    numbers, else 1, 2, ... in label order."""
    unique = sorted(set(labels))
    if all(lab.isdigit() for lab in unique):
        return {lab: int(lab) for lab in unique}
    return {lab: i + 1 for i, lab in enumerate(unique)}


def _bids_subjects(root: Path, value: Labels) -> list[str] | None:
    """The subject labels asked for; None for all."""
    if isinstance(value, str) and value.lower() == "all":
        return None
    items = value if isinstance(value, list) else [value]
    return [_bids_label(root, v) for v in items]


def _bids_label(root: Path, subject: str | int) -> str:
    """The subject label; a number (``01`` arrives as 1 from the command line) matches the one
    ``sub-<label>`` folder whose label is that number."""
    if isinstance(subject, str):
        return subject
    labels = [d.name[4:] for d in root.glob("sub-*") if d.name[4:].isdigit()]
    match = [lab for lab in labels if int(lab) == subject]
    if len(match) != 1:
        raise ConfigError(
            f"bids_subject={subject}: no single sub-<label> folder in {str(root)!r} has that "
            f"number (labels: {sorted(labels)}); give the label as text."
        )
    return match[0]
