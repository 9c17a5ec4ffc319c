"""``eegbench score --protocol thought2text`` vs the protocol's own per-pair loop (issue 22).

The baseline is the Thought2Text notebook's loop (``score_speed.notebook_loop``: NLTK
``corpus_bleu`` for BLEU-4 and BLEU-1, ``rouge``'s ``get_scores``, NLTK ``single_meteor_score``
on ``word_tokenize`` tokens, one pair at a time); the candidate is ``score_file``, what
``eegbench score`` runs. Both score the same prediction CSV of distinct (caption, reference)
pairs (``score_speed.write_csv(unique=True)``: 20,000 rows, ``--quick`` 2,000), in this process
after one untimed round each (imports, WordNet and the METEOR synonym table loaded: the work
per pair is what is compared), and must agree to 5e-4 on every metric.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks._harness import compare
from benchmarks.score_speed import max_difference, notebook_loop, write_csv

TARGET = 5.0
TOLERANCE = 5e-4


def measure(quick: bool) -> list[dict]:
    from eegbench.evaluation.scoring import score_file
    from eegbench.progress import is_quiet, set_quiet

    rows, repeats = (2_000, 3) if quick else (20_000, 2)
    quiet = is_quiet()
    set_quiet(True)  # no progress bar inside the timing
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "predictions.csv"
            write_csv(path, rows, repeats=10, unique=True)
            loop, ours = notebook_loop(path), score_file(path, "thought2text")
            diff = max_difference(loop, ours)
            if diff > TOLERANCE:
                raise RuntimeError(f"score and the notebook's loop differ by {diff:.2g}")
            record = compare(
                "score",
                f"thought2text protocol, {rows:,} distinct pairs",
                ("the notebook's per-pair loop", lambda: notebook_loop(path)),
                ("eegbench score", lambda: score_file(path, "thought2text")),
                repeats=repeats,
                target=TARGET,
                params={"rows": rows, "max_metric_difference": diff},
                note=f"same numbers (largest difference {diff:.1g}); one process",
            )
    finally:
        set_quiet(quiet)
    return [record]
