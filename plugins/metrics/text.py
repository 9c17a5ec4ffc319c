"""Caption metrics, each computed by the library made for it.

All outputs are fractions in [0, 1] except CIDEr (CIDEr-D as pycocoevalcap returns it, 0..10).

Besides ``compute``, metrics whose value is a mean over caption pairs implement ``per_item``
(per-pair scores), and BLEU (a corpus statistic) implements ``sentence_stats`` + ``from_stats``
(per-sentence n-gram counts that sum to the corpus counts), the optional capabilities that
``eegbench.api.Metric`` declares; bootstrap CIs and paired tests use them without
re-tokenising. Parameters (with their defaults and value checks) are declared once, by the
params dataclasses in ``eegbench_plugins.metrics``; these classes take no params instance, so the
registry passes each field as a keyword argument.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from eegbench_plugins.metrics import PTBTokenizer
from eegbench_plugins.metrics._common import (
    bertscore_offline,
    check_nonempty_refs,
    check_pairs,
    need_java,
    reference_sets,
)

from eegbench.api import (
    CAPTIONS,
    ConfigError,
    Metric,
    MissingWeightsError,
    ModelFiles,
    file_problem,
    hub,
    warn,
)


class Bleu(Metric):
    """Corpus BLEU-1..4 (cumulative, brevity penalty) from sacrebleu's public API, as fractions.

    Per-caption n-gram statistics come from ``BLEU.corpus_score`` of each caption alone (they
    sum to the corpus statistics), and the score from ``BLEU.compute_bleu``, once per maximum
    order; ``signature()`` is sacrebleu's signature of the settings.
    """

    outputs = {"bleu_1": True, "bleu_2": True, "bleu_3": True, "bleu_4": True}
    requires = (CAPTIONS,)
    multi_reference = True

    def __init__(self, *, tokenize: str, lowercase: bool, smooth_method: str) -> None:
        from sacrebleu.metrics import BLEU

        self._bleu = BLEU(
            tokenize=tokenize,
            lowercase=lowercase,
            smooth_method=smooth_method,
            max_ngram_order=4,
        )

    def signature(self) -> str | None:
        """sacrebleu's signature (``nrefs:1|case:mixed|eff:no|tok:13a|...``), once it scored."""
        try:
            return str(self._bleu.get_signature())
        except ValueError:  # sacrebleu knows the number of references only after scoring
            return None

    def sentence_stats(self, predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
        """Per-caption sufficient statistics ``[n, 10]``.

        Columns: hypothesis length, reference length, n-gram matches 1..4, n-gram totals 1..4.
        """
        check_pairs(predictions, references, "bleu")
        rows = []
        for hyp, refs in zip(predictions, reference_sets(references)):
            s = self._bleu.corpus_score([hyp], [[ref] for ref in refs])  # a stream per reference
            rows.append([s.sys_len, s.ref_len, *s.counts, *s.totals])
        return np.asarray(rows, dtype=np.int64).reshape(-1, 10)

    def from_stats(self, total: np.ndarray) -> dict[str, float]:
        """BLEU-1..4 (fractions) from summed sufficient statistics (``BLEU.compute_bleu``)."""
        t = [int(x) for x in total]
        out = {}
        for n in range(1, 5):
            # BLEU-n is sacrebleu's BLEU with max_ngram_order=n: the statistics of orders 1..n
            # (fresh lists: compute_bleu adds add-k smoothing to them in place)
            score = self._bleu.compute_bleu(
                t[2 : 2 + n],
                t[6 : 6 + n],
                t[0],
                t[1],
                smooth_method=self._bleu.smooth_method,
                smooth_value=self._bleu.smooth_value,
                effective_order=False,
                max_ngram_order=n,
            )
            out[f"bleu_{n}"] = score.score / 100.0
        return out

    def compute(
        self, predictions: list[str], references: list[str], **ctx: Any
    ) -> dict[str, float]:
        return self.from_stats(self.sentence_stats(predictions, references).sum(axis=0))


class Rouge(Metric):
    """ROUGE-1/2/L F-measure per pair (Google ``rouge-score``), mean over pairs."""

    outputs = {"rouge_1": True, "rouge_2": True, "rouge_l": True}
    requires = (CAPTIONS,)
    multi_reference = True  # rouge-score's score_multi: the best reference of each output

    def __init__(self, *, use_stemmer: bool) -> None:
        from rouge_score import rouge_scorer

        self._scorer = rouge_scorer.RougeScorer(
            ["rouge1", "rouge2", "rougeL"], use_stemmer=use_stemmer
        )

    def per_item(
        self, predictions: list[str], references: list[str], **ctx: Any
    ) -> dict[str, np.ndarray]:
        check_pairs(predictions, references, "rouge")
        rows = [
            self._scorer.score(refs[0], hyp)
            if len(refs) == 1
            else self._scorer.score_multi(refs, hyp)
            for hyp, refs in zip(predictions, reference_sets(references))
        ]
        return {
            out: np.array([r[key].fmeasure for r in rows])
            for out, key in (("rouge_1", "rouge1"), ("rouge_2", "rouge2"), ("rouge_l", "rougeL"))
        }

    def compute(
        self, predictions: list[str], references: list[str], **ctx: Any
    ) -> dict[str, float]:
        return {k: float(v.mean()) for k, v in self.per_item(predictions, references).items()}


class Meteor(Metric):
    """NLTK METEOR per pair (``word_tokenize``, lowercased, WordNet 3.0 synonyms), mean; with
    several references NLTK's ``meteor_score``: the best of them.

    Scored by ``metrics.pairwise`` (NLTK's values from per-sentence tables; WordNet synonyms
    from the on-disk table of ``nltk_data.meteor_synonyms``).
    """

    outputs = {"meteor": True}
    requires = (CAPTIONS,)
    multi_reference = True  # NLTK's meteor_score: the best of the references

    def __init__(self, *, alpha: float, beta: float, gamma: float) -> None:
        from eegbench_plugins.metrics.nltk_data import ensure_nltk_data

        ensure_nltk_data()
        self.alpha, self.beta, self.gamma = alpha, beta, gamma
        self._scorer: Any = None
        self._synonyms: Any = None

    def per_item(
        self, predictions: list[str], references: list[str], **ctx: Any
    ) -> dict[str, np.ndarray]:
        from eegbench_plugins.metrics.nltk_data import meteor_synonyms
        from eegbench_plugins.metrics.pairwise import pair_scorer, without_cyclic_gc

        check_pairs(predictions, references, "meteor")
        if self._scorer is None:  # one per metric: its tables serve every condition
            self._synonyms = meteor_synonyms()
            self._scorer = pair_scorer(self._synonyms)
        meteor = self._scorer.meteor
        params = (self.alpha, self.beta, self.gamma)
        with without_cyclic_gc():
            scores = [
                max(meteor(hyp, ref, *params) for ref in refs)
                for hyp, refs in zip(predictions, reference_sets(references))
            ]
        self._synonyms.save()
        return {"meteor": np.array(scores, dtype=float)}

    def compute(
        self, predictions: list[str], references: list[str], **ctx: Any
    ) -> dict[str, float]:
        return {"meteor": float(self.per_item(predictions, references)["meteor"].mean())}


PTB_TOKENIZERS: tuple[str, ...] = typing.get_args(PTBTokenizer)


def check_ptb_tokenizer(tokenizer: str, metric: str, used: bool = True) -> None:
    """``tokenizer`` is ``"python"`` or ``"java"``; if Java will be ``used``, it is on PATH."""
    if tokenizer not in PTB_TOKENIZERS:
        raise ConfigError(
            f"{metric}.tokenizer={tokenizer!r}; valid: 'python' (default, no Java) or 'java' "
            "(pycocoevalcap's Stanford PTBTokenizer, for exact COCO parity)."
        )
    if tokenizer == "java" and used:
        need_java(f"{metric} (tokenizer=java)")


def ptb_tokenize(texts: Sequence[str], tokenizer: str = "python") -> list[str]:
    """COCO caption tokenisation: PTB tokens, lowercased, punctuation dropped.

    ``tokenizer="python"`` (default) reproduces pycocoevalcap's ``PTBTokenizer`` in pure
    Python (``eegbench_plugins.metrics.ptb``); ``"java"`` runs pycocoevalcap's Stanford
    PTBTokenizer itself and needs ``java`` on PATH.
    """
    check_ptb_tokenizer(tokenizer, "PTB tokenisation")
    if tokenizer == "python":
        from eegbench_plugins.metrics.ptb import ptb_tokenize_py

        return ptb_tokenize_py(texts)
    return _ptb_tokenize_java(texts)


def _ptb_tokenize_java(texts: Sequence[str]) -> list[str]:
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    with _quiet_stderr():  # the Java tokenizer reports its speed on the inherited stderr
        out = PTBTokenizer().tokenize({i: [{"caption": t}] for i, t in enumerate(texts)})
    return [out[i][0] for i in range(len(texts))]


@contextlib.contextmanager
def _quiet_stderr():
    """Send file descriptor 2 (what subprocesses inherit) to /dev/null for the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class Cider(Metric):
    """CIDEr-D (pycocoevalcap ``Cider``; IDF from the evaluated references), 0..10 scale.

    ``tokenize="ptb"`` (default) tokenises as COCO does, with the pure-Python PTB tokenizer
    unless ``tokenizer="java"``; ``tokenize="lower"`` lowercases and splits on whitespace.
    """

    outputs = {"cider": True}
    requires = (CAPTIONS,)
    multi_reference = True

    def __init__(self, *, tokenize: str, tokenizer: str) -> None:
        check_ptb_tokenizer(tokenizer, "cider", used=tokenize == "ptb")
        self.tokenize = tokenize
        self.tokenizer = tokenizer
        self._tokens: dict[str, str] = {}  # text -> tokens, for every condition scored

    def _tok(self, texts: Sequence[str]) -> list[str]:
        """Tokens of ``texts``; texts not tokenised before go to the tokenizer in one call (one
        Java process with ``tokenizer=java``; none when every text was seen)."""
        if self.tokenize != "ptb":
            return [" ".join(t.lower().split()) for t in texts]
        new = list(dict.fromkeys(t for t in texts if t not in self._tokens))
        if new:
            self._tokens.update(zip(new, ptb_tokenize(new, self.tokenizer)))
        return [self._tokens[t] for t in texts]

    def per_item(
        self, predictions: list[str], references: list[str], **ctx: Any
    ) -> dict[str, np.ndarray]:
        from pycocoevalcap.cider.cider import Cider as CocoCider

        check_pairs(predictions, references, "cider")
        check_nonempty_refs(references, "cider")
        sets = reference_sets(references)
        tokens = self._tok([*predictions, *(r for refs in sets for r in refs)])
        res = {i: [h] for i, h in enumerate(tokens[: len(predictions)])}
        flat = iter(tokens[len(predictions) :])
        gts = {i: [next(flat) for _ in refs] for i, refs in enumerate(sets)}
        _, scores = CocoCider().compute_score(gts, res)
        return {"cider": np.asarray(scores, dtype=float)}

    def compute(
        self, predictions: list[str], references: list[str], **ctx: Any
    ) -> dict[str, float]:
        return {"cider": float(self.per_item(predictions, references)["cider"].mean())}


class BertScore(Metric):
    """BERTScore precision / recall / F1 (``bert-score``) with a local model; mean over pairs."""

    outputs = {"bertscore_p": True, "bertscore_r": True, "bertscore_f1": True}
    requires = (CAPTIONS,)
    multi_reference = True  # bert-score: each prediction's best reference by F1

    def __init__(
        self,
        *,
        model_path: str,
        num_layers: int | None,
        batch_size: int,
        idf: bool,
        baseline_path: str,
        device: str,
        revision: str = "",
        random_weights: bool = False,
    ) -> None:
        if random_weights:
            self._build_random(model_path, batch_size, device)
            return
        path = Path(model_path).expanduser()
        if not path.exists() and hub.is_repo_id(model_path):
            path = hub.model_snapshot(
                model_path, revision or None, bertscore_offline(model_path) + "."
            )
        if not (path / "config.json").is_file():
            raise MissingWeightsError(
                f"metrics.bertscore.model_path={model_path!r} is not a Hugging Face model "
                "directory (no config.json); point it at a directory saved with save_pretrained."
            )
        if num_layers is None:
            config = json.loads((path / "config.json").read_text())
            num_layers = int(config.get("num_hidden_layers", 0)) or None
            if num_layers is None:
                raise ConfigError(
                    f"bertscore: set metrics.bertscore.num_layers for the model in {path}."
                )
        problem = file_problem(Path(baseline_path).expanduser()) if baseline_path else None
        if problem:
            raise ConfigError(f"metrics.bertscore.baseline_path={baseline_path!r} {problem}.")
        from eegbench.api import ensure_torchvision_importable

        ensure_torchvision_importable()
        from bert_score import BERTScorer

        self.idf = idf
        files = hub.files_matching(
            path, (*hub.MODEL_FILES, *hub.PYTORCH_FILES, *hub.TOKENIZER_FILES)
        )
        self._sources = (
            ModelFiles("bertscore", model_path, path, hub.snapshot_commit(path), files),
        )
        self._scorer = BERTScorer(
            model_type=str(path),
            num_layers=num_layers,
            batch_size=batch_size,
            idf=idf,
            device=device,
            lang="en",
            rescale_with_baseline=bool(baseline_path),
            baseline_path=baseline_path or None,
            use_fast_tokenizer=True,
        )
        _special_tokens_for_empty(self._scorer)

    def _build_random(self, model_path: str, batch_size: int, device: str) -> None:
        """A scorer over ``model_path``'s architecture with random weights (``--random-weights``),
        loaded through bert-score's own loader from a temporary folder."""
        import tempfile

        from eegbench.api import ensure_torchvision_importable

        ensure_torchvision_importable()
        from bert_score import BERTScorer

        self.idf = False
        self._sources: tuple[ModelFiles, ...] = ()  # random weights: no files to name
        with tempfile.TemporaryDirectory() as folder:
            line = save_random_encoder(model_path, Path(folder))
            warn(f"bertscore: {line}")
            self._scorer = BERTScorer(
                model_type=folder, num_layers=REHEARSAL_LAYERS, batch_size=batch_size,
                device=device, lang="en", use_fast_tokenizer=True,
            )  # fmt: skip
        _special_tokens_for_empty(self._scorer)

    def sources(self) -> tuple[ModelFiles, ...]:
        return self._sources

    def per_item(
        self, predictions: list[str], references: list[str], **ctx: Any
    ) -> dict[str, np.ndarray]:
        check_pairs(predictions, references, "bertscore")
        sets = reference_sets(references)
        if self.idf:
            self._scorer.compute_idf([r for refs in sets for r in refs])
        several = any(len(refs) > 1 for refs in sets)
        p, r, f = self._scorer.score(
            list(predictions), sets if several else [refs[0] for refs in sets]
        )
        return {
            "bertscore_p": p.numpy().astype(float),
            "bertscore_r": r.numpy().astype(float),
            "bertscore_f1": f.numpy().astype(float),
        }

    def compute(
        self, predictions: list[str], references: list[str], **ctx: Any
    ) -> dict[str, float]:
        return {k: float(v.mean()) for k, v in self.per_item(predictions, references).items()}


REHEARSAL_LAYERS = 2
"""Layers of a random-weights BERTScore model."""


def _random_config(model_path: str) -> tuple[Any, str]:
    """The folder's config.json, else the defaults of the transformers config class the name
    spells (``roberta-large`` -> RobertaConfig); and where it came from."""
    from transformers import CONFIG_MAPPING, AutoConfig

    try:
        return AutoConfig.from_pretrained(model_path, local_files_only=True), "its config.json"
    except (OSError, ValueError):
        flat = model_path.lower().replace("-", "").replace("_", "").rsplit("/", 1)[-1]
        found = [t for t in CONFIG_MAPPING if t.replace("-", "").replace("_", "") in flat]
        if not found:
            raise MissingWeightsError(
                f"--random-weights cannot tell the architecture of bertscore model "
                f"{model_path!r}: give a folder holding its config.json."
            ) from None
        config = CONFIG_MAPPING[max(found, key=len)]()
        return config, f"{type(config).__name__}'s defaults"


def save_random_encoder(model_path: str, folder: Path, seed: int = 0) -> str:
    """Save ``model_path``'s architecture with random weights (seeded), cut to
    ``REHEARSAL_LAYERS`` layers, and a byte-level BPE tokenizer with RoBERTa's special tokens
    into ``folder``; returns one line saying what was built."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import AutoModel, PreTrainedTokenizerFast

    config, where = _random_config(model_path)
    config.num_hidden_layers = min(REHEARSAL_LAYERS, config.num_hidden_layers)
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {t: i for i, t in enumerate([*specials, *sorted(alphabet)])}
    tk = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tk.decoder = decoders.ByteLevel()
    tk.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
        unk_token="<unk>", mask_token="<mask>", cls_token="<s>", sep_token="</s>",
        model_max_length=min(512, getattr(config, "max_position_embeddings", 512) - 2),
    )  # fmt: skip
    config.vocab_size = max(config.vocab_size, len(tok))
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = AutoModel.from_config(config)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return (
        f"{type(model).__name__} with RANDOM weights from {where}, "
        f"{config.num_hidden_layers} layers, a byte-level tokenizer"
    )


def _special_tokens_for_empty(scorer: Any) -> None:
    """bert-score encodes an empty sentence with ``build_inputs_with_special_tokens([])``, which
    transformers 5's tokenizers no longer have: give the scorer's tokenizer the classic one
    (``[CLS] ids [SEP]``), so that an empty caption scores as bert-score defines it."""
    tok = scorer._tokenizer
    if not hasattr(tok, "build_inputs_with_special_tokens"):
        cls_id, sep_id = tok.cls_token_id, tok.sep_token_id
        tok.build_inputs_with_special_tokens = lambda ids, ids2=None: [
            cls_id, *ids, sep_id, *([] if ids2 is None else [sep_id, *ids2, sep_id])
        ]  # fmt: skip
