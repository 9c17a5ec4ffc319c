"""Prediction files in Thought2Text's CSV layout.

Columns: an unnamed index, ``Ground Truth Image``, ``Expected object``, ``Predicted object``,
``Expected Caption``, ``Generated Caption`` (as written by pandas ``DataFrame.to_csv``). Further
references of a trial (datasets with several captions per image) are in ``Expected Caption 2``,
``Expected Caption 3``, ... after them; an empty cell is no reference (rows may have fewer).

A run directory holds ``predictions.csv`` (the full pipeline) and, for every control,
``predictions_<control>.csv`` in the same layout and trial order (``predictions_file``).
"""

from __future__ import annotations

import csv
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eegbench.contract.errors import DataError
from eegbench.io import atomic_write, file_problem

COLUMNS: dict[str, str] = {
    "image": "Ground Truth Image",
    "expected_object": "Expected object",
    "predicted_object": "Predicted object",
    "reference": "Expected Caption",
    "generated": "Generated Caption",
}


MORE_REFERENCES = re.compile(r"Expected Caption (\d+)")
"""The columns of further references: ``Expected Caption 2``, ``Expected Caption 3``, ..."""


@dataclass
class Predictions:
    """One row per test trial: image, expected/predicted object, reference/generated caption;
    ``more_references``: each row's further references (empty: one reference per row)."""

    image: list[str] = field(default_factory=list)
    expected_object: list[str] = field(default_factory=list)
    predicted_object: list[str] = field(default_factory=list)
    reference: list[str] = field(default_factory=list)
    generated: list[str] = field(default_factory=list)
    more_references: list[list[str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        lengths = {name: len(getattr(self, name)) for name in COLUMNS}
        if self.more_references:
            lengths["more_references"] = len(self.more_references)
        if len(set(lengths.values())) > 1:
            raise DataError(f"Predictions columns differ in length: {lengths}.")

    def __len__(self) -> int:
        return len(self.generated)

    @property
    def references(self) -> list[str] | list[list[str]]:
        """Each row's reference, or every reference of each row when some have several."""
        if not any(self.more_references):
            return self.reference
        return [[ref, *more] for ref, more in zip(self.reference, self.more_references)]


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def read_predictions(path: str | os.PathLike[str]) -> Predictions:
    """Read a Thought2Text prediction CSV; DataError if missing, empty, corrupt or incomplete."""
    import pandas as pd

    path = Path(path)
    problem = file_problem(path)
    if problem:
        raise DataError(f"prediction file {str(path)!r} {problem}.")
    if path.stat().st_size == 0:
        raise DataError(f"prediction file {str(path)!r} is empty; expected a CSV with a header.")
    try:
        df = pd.read_csv(path, keep_default_na=False, dtype=str)
    except UnicodeDecodeError:
        raise DataError(f"prediction file {str(path)!r} is not UTF-8 text; is it a CSV?") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(f"prediction file {str(path)!r} is not a valid CSV: {first}") from None
    missing = [c for c in COLUMNS.values() if c not in df.columns]
    if missing:
        raise DataError(
            f"prediction file {str(path)!r} lacks column(s) {', '.join(repr(c) for c in missing)}; "
            f"expected: {', '.join(repr(c) for c in COLUMNS.values())}."
        )
    if len(df) == 0:
        raise DataError(f"prediction file {str(path)!r} has a header but no rows.")
    columns = {k: [_cell(v) for v in df[col].tolist()] for k, col in COLUMNS.items()}
    more = sorted(
        (int(m.group(1)), c) for c in df.columns if (m := MORE_REFERENCES.fullmatch(str(c)))
    )
    rows = zip(*(df[c].tolist() for _, c in more)) if more else ()
    columns["more_references"] = [[t for t in map(_cell, row) if t.strip()] for row in rows]
    return Predictions(**columns)


def write_predictions(preds: Predictions, path: str | os.PathLike[str]) -> Path:
    """Write ``preds`` in Thought2Text's layout, atomically (temporary file, then rename)."""
    import pandas as pd

    df = pd.DataFrame({col: list(getattr(preds, k)) for k, col in COLUMNS.items()})
    width = max((len(more) for more in preds.more_references), default=0)
    for j in range(width):
        column = [more[j] if j < len(more) else "" for more in preds.more_references]
        df[f"{COLUMNS['reference']} {j + 2}"] = column
    return atomic_write(path, df.to_csv())
