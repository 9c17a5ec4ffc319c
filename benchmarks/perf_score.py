"""``eegbench score --protocol thought2text`` vs the protocol's own per-pair loop (issues 22, 31).

The baseline is the Thought2Text notebook's loop (``score_speed.notebook_loop``: NLTK
``corpus_bleu`` for BLEU-4 and BLEU-1, ``rouge``'s ``get_scores``, NLTK ``single_meteor_score``
on ``word_tokenize`` tokens, one pair at a time); the candidate is ``score_file``, what
``eegbench score`` runs. Both score the same prediction CSV, in this process after one untimed
round each (imports, WordNet and the METEOR synonym table loaded: the work per pair is what is
compared), and must agree to 5e-4 on every metric.

The captions are real ones: Thought2Text's released predictions (``eval/predictions.zip`` of
github.com/abhijitmishra/Thought2Text, MIT licence; ``data/thought2text_predictions.csv.gz``
holds five of its files: Mistral-7B, Llama-3-8B and Qwen2.5-7B on all subjects, Mistral-7B's
EEG-only run and its subject 1, 8,111 rows), long and repetitive LLM output with several
sentences, quotes and line breaks. ``real_pairs`` repeats them with each generated caption
paired with another row's reference, so that every (caption, reference) pair is distinct:
24,333 rows (``--quick``: 2,000).
"""

from __future__ import annotations

import csv
import gzip
import io
import tempfile
from pathlib import Path

from benchmarks._harness import compare
from benchmarks.score_speed import max_difference, notebook_loop

TARGET = 5.0
TOLERANCE = 5e-4
RELEASED = Path(__file__).with_name("data") / "thought2text_predictions.csv.gz"


def real_pairs(path: Path, rows: int, copies: int = 3) -> int:
    """Write up to ``rows`` rows of the released predictions to ``path``: the rows as released,
    then ``copies - 1`` more rounds pairing each generated caption with the reference of the row
    ``7 * k`` further on (distinct pairs of real captions); returns the rows written."""
    with gzip.open(RELEASED, "rt", encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header, released = next(reader), list(reader)
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(header)
    n = len(released)
    written = 0
    for k in range(copies):
        for i, row in enumerate(released):
            if written == rows:
                break
            reference = released[(i + 7 * k) % n][4]
            w.writerow([written, *row[1:4], reference, row[5]])
            written += 1
    path.write_text(out.getvalue(), encoding="utf-8")
    return written


def measure(quick: bool) -> list[dict]:
    from eegbench.evaluation.scoring import score_file
    from eegbench.progress import is_quiet, set_quiet

    rows, repeats = (2_000, 3) if quick else (30_000, 2)
    quiet = is_quiet()
    set_quiet(True)  # no progress bar inside the timing
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "predictions.csv"
            rows = real_pairs(path, rows)
            loop, ours = notebook_loop(path), score_file(path, "thought2text")
            diff = max_difference(loop, ours)
            if diff > TOLERANCE:
                raise RuntimeError(f"score and the notebook's loop differ by {diff:.2g}")
            record = compare(
                "score",
                f"thought2text protocol, Thought2Text's released captions, {rows:,} pairs",
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
