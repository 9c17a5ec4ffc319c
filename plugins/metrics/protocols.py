"""Protocols: named bundles of clean-up, tokenisation, metrics and aggregation.

A protocol is a ``Metric`` registered as ``protocol:<name>``, so the evaluation can list it like
any metric and ``eegbench score --protocol <name>`` can score a prediction file with it.

Object accuracy (``accuracy``) needs the expected and predicted object of each trial, passed as
``expected_objects`` / ``predicted_objects`` (lists of names, as in a prediction CSV) or derived
from ``y_true`` + ``logits`` (+ ``class_names``); without them the output is left out.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from eegbench_plugins.metrics._common import (
    check_nonempty_refs,
    check_pairs,
    need_java,
    reference_sets,
)
from eegbench_plugins.metrics.text import check_ptb_tokenizer, ptb_tokenize

from eegbench.api import CAPTIONS, DataError, Metric

# Thought2Text's clean-up: characters kept, sentence boundary, and the empty-caption answers.
UNWANTED_CHARS = re.compile(r"[^a-zA-Z0-9.,!?;:'\"()\[\]{}\-\s]")
SENTENCE_BOUNDARY = re.compile(r"(?<=[.!?]) +")
NO_RESPONSE = "No response."
NO_RESPONSE_SHORT = "No response"

# how error messages name the protocols (their registered names are in METRICS)
T2T = "Thought2Text protocol"
COCO = "COCO protocol"


def first_unique_sentence(text: str) -> str:
    """Drop unwanted characters, split into sentences, dedupe them, keep the first."""
    cleaned = UNWANTED_CHARS.sub("", text)
    seen: set[str] = set()
    unique: list[str] = []
    for line in SENTENCE_BOUNDARY.split(cleaned):
        line = re.sub(r"\s+", " ", line).strip()
        if line not in seen:
            seen.add(line)
            unique.append(line)
    return " ".join(unique[:1])


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def clean_caption(caption: Any) -> str:
    """One generated caption as Thought2Text scores it.

    Missing or blank -> ``"No response."``; otherwise the first unique sentence, which becomes
    ``"No response."`` if empty and ``"No response"`` if it is a single character.
    """
    caption = _text(caption)
    if not caption.strip():
        return NO_RESPONSE
    cleaned = first_unique_sentence(caption)
    if not cleaned.strip():
        return NO_RESPONSE
    if len(cleaned) <= 1:
        return NO_RESPONSE_SHORT
    return cleaned


def object_hits(ctx: dict[str, Any]) -> np.ndarray | None:
    """Per-trial 1.0/0.0 for expected object == predicted object, or None if not derivable."""
    exp, pred = ctx.get("expected_objects"), ctx.get("predicted_objects")
    if exp is not None and pred is not None:
        exp, pred = [_text(e) for e in exp], [_text(p) for p in pred]
        if len(exp) != len(pred):
            raise DataError(f"{len(exp)} expected objects but {len(pred)} predicted objects.")
        return np.array([e == p for e, p in zip(exp, pred)], dtype=float)
    y, logits = ctx.get("y_true"), ctx.get("logits")
    if y is None or logits is None:
        return None
    y = np.asarray(y).reshape(-1)
    pred_idx = np.asarray(logits).argmax(axis=1)
    names = ctx.get("class_names")
    if names is not None:
        return np.array([names[a] == names[b] for a, b in zip(y, pred_idx)], dtype=float)
    return (pred_idx == y).astype(float)


class Thought2TextProtocol(Metric):
    """Thought2Text's notebook metrics: per-pair NLTK BLEU (method4), ``rouge`` F, NLTK METEOR."""

    outputs = {
        "bleu_1": True,
        "bleu_4": True,
        "rouge_1": True,
        "rouge_2": True,
        "rouge_l": True,
        "meteor": True,
        "accuracy": True,
    }
    requires = (CAPTIONS,)
    multi_reference = True

    def __init__(self) -> None:
        from eegbench_plugins.metrics.nltk_data import ensure_nltk_data

        ensure_nltk_data()

    def per_item(
        self, predictions: Sequence[Any], references: Sequence[Any], **ctx: Any
    ) -> dict[str, np.ndarray]:
        candidates = [clean_caption(p) for p in predictions]
        refs = [tuple(_text(r) for r in rs) for rs in reference_sets(references)]
        check_pairs(candidates, [list(rs) for rs in refs], T2T)
        check_nonempty_refs([list(rs) for rs in refs], T2T)
        index: dict[tuple[str, tuple[str, ...]], int] = {}  # each distinct pair scored once
        rows = np.fromiter(
            (index.setdefault(pair, len(index)) for pair in zip(candidates, refs)),
            dtype=np.intp,
            count=len(candidates),
        )
        values = _score_pairs(list(index), T2T)
        del index
        result = {k: values[rows, j] for j, k in enumerate(PAIR_METRICS)}
        hits = object_hits(ctx)
        if hits is not None:
            if hits.shape[0] != len(candidates):
                raise DataError(f"{T2T}: {hits.shape[0]} objects for {len(candidates)} captions.")
            result["accuracy"] = hits
        return result

    def compute(
        self, predictions: list[str], references: list[str], **ctx: Any
    ) -> dict[str, float]:
        return {
            k: float(v.mean()) for k, v in self.per_item(predictions, references, **ctx).items()
        }


PROGRESS_FROM = 2000  # pairs; smaller inputs are scored in seconds, without a bar


def _no_advance(n: int = 1, **fields: Any) -> None:
    """The ``advance`` of a progress bar that is not shown."""


PAIR_METRICS = ("bleu_1", "bleu_4", "rouge_1", "rouge_2", "rouge_l", "meteor")


def _score_pairs(pairs: list[tuple[str, tuple[str, ...]]], name: str) -> np.ndarray:
    """Thought2Text's per-pair ``PAIR_METRICS`` (``[n_pairs, 6]``), behind a progress bar.

    The values are those of NLTK's ``corpus_bleu`` (method 4), the ``rouge`` package and NLTK's
    ``single_meteor_score``, computed from per-sentence tables (``metrics.pairwise``); a
    candidate with several references is scored by ``pairwise.score_several``.
    """
    from eegbench_plugins.metrics.nltk_data import meteor_synonyms
    from eegbench_plugins.metrics.pairwise import pair_scorer, score_several, without_cyclic_gc

    from eegbench.api import task

    synonyms = meteor_synonyms()
    scorer = pair_scorer(synonyms)
    results = np.empty((len(pairs), len(PAIR_METRICS)))
    bar = task(f"{name}: scoring {len(pairs)} distinct pairs", total=len(pairs))
    shown = bar if len(pairs) >= PROGRESS_FROM else contextlib.nullcontext(_no_advance)
    with shown as advance, without_cyclic_gc():
        for i, (cand, refs) in enumerate(pairs):
            try:
                scores = (
                    scorer.score(cand, refs[0])
                    if len(refs) == 1
                    else score_several(scorer, cand, refs)
                )
            except ValueError as e:
                raise DataError(f"{name}: pair {i} cannot be scored by ROUGE: {e}") from None
            results[i] = [scores[k] for k in PAIR_METRICS]
            if i % 4096 == 4095:
                advance(4096)
        advance(len(pairs) % 4096)
    synonyms.save()
    return results


class CocoProtocol(Metric):
    """COCO caption evaluation: PTB tokenisation, corpus BLEU-1..4, METEOR 1.5, ROUGE-L, CIDEr-D.

    Tokenises in Python by default (``tokenizer="java"`` runs pycocoevalcap's Java
    PTBTokenizer); METEOR 1.5 is pycocoevalcap's Java jar either way.
    """

    outputs = {
        "bleu_1": True,
        "bleu_2": True,
        "bleu_3": True,
        "bleu_4": True,
        "meteor": True,
        "rouge_l": True,
        "cider": True,
        "accuracy": True,
    }
    requires = (CAPTIONS,)
    multi_reference = True

    def __init__(self, *, tokenizer: str) -> None:
        check_ptb_tokenizer(tokenizer, COCO)
        need_java(f"{COCO} (METEOR 1.5)")  # pycocoevalcap's METEOR is a Java jar
        self.tokenizer = tokenizer

    def compute(
        self, predictions: list[str], references: list[str], **ctx: Any
    ) -> dict[str, float]:
        from pycocoevalcap.bleu.bleu import Bleu
        from pycocoevalcap.cider.cider import Cider
        from pycocoevalcap.meteor.meteor import Meteor
        from pycocoevalcap.rouge.rouge import Rouge

        preds = [_text(p) for p in predictions]
        sets = [[_text(r) for r in refs] for refs in reference_sets(references)]
        check_pairs(preds, sets, COCO)
        check_nonempty_refs(sets, COCO)
        flat = [r for refs in sets for r in refs]
        tokens = ptb_tokenize([*preds, *flat], self.tokenizer)  # one Java run with java
        res = {i: [h] for i, h in enumerate(tokens[: len(preds)])}
        ref_tok = iter(tokens[len(preds) :])
        gts = {i: [next(ref_tok) for _ in refs] for i, refs in enumerate(sets)}
        bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
        out = {f"bleu_{n + 1}": float(b) for n, b in enumerate(bleu)}
        meteor = Meteor()
        try:
            out["meteor"] = float(meteor.compute_score(gts, res)[0])
        finally:
            meteor.meteor_p.stdin.close()
            meteor.meteor_p.kill()
            meteor.meteor_p.wait()
        out["rouge_l"] = float(Rouge().compute_score(gts, res)[0])
        out["cider"] = float(Cider().compute_score(gts, res)[0])
        hits = object_hits(ctx)
        if hits is not None:
            out["accuracy"] = float(hits.mean())
        return out
