"""Per-pair BLEU, ROUGE and METEOR with the reference libraries' exact values, fast.

Thought2Text scores every (caption, reference) pair with NLTK's ``corpus_bleu`` (smoothing
method 4), the ``rouge`` package's ``get_scores`` and NLTK's ``single_meteor_score``. Each of
them is a function of a few counts of the pair (n-gram matches and lengths; n-gram set sizes
and overlaps, union-LCS size; METEOR's matches, chunks and lengths). Here the per-sentence work
(splitting, n-grams, tokenisation, stems, WordNet synonyms) is done once per distinct sentence
or word, the counts of a pair come from those tables, and each distinct tuple of counts is
turned into a score once, by the library's own arithmetic. ``tests/test_pairwise.py`` compares
every score with the libraries called directly.

Those re-derivations read the libraries' internals (``Fraction(_normalize=False)``,
``rouge``'s ``f_r_p_rouge_n``, NLTK's match order), verified on ``VERIFIED_VERSIONS``. On any
other installed version ``pair_scorer`` first compares ``PairScorer`` once per process with
``LibraryScorer`` (the libraries' public calls) on ``SELF_CHECK_PAIRS``; when they differ it
says so in one line and scores with ``LibraryScorer``.

Per-sentence tables live in bounded caches (``REFERENCE_CACHE`` references, ``CANDIDATE_CACHE``
generated captions), so their memory stays flat however many distinct captions a file holds.
``word_tokenize`` is NLTK's own, except for plain sentences (words of letters, digits and inner
hyphens, one space apart, commas after words, an optional final period, no contraction NLTK
splits): there NLTK's regular expressions only set the commas and the final period apart,
which ``_WordTokenizer`` does directly after checking, once per process, that it agrees with
NLTK on sentences of that form. Every other text (an LLM's captions: several sentences, quotes,
apostrophes, line breaks) goes through NLTK's own Punkt and Treebank tokenizers, their regular
expressions compiled by ``re`` instead of NLTK's guard (``nltk.redos``: the ``regex`` engine
under a timeout, several times slower on such text), again after a check on ``OTHER_PROBES``.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import itertools
import math
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

BLEU_WEIGHTS = [(0.25, 0.25, 0.25, 0.25), (1.0, 0.0, 0.0, 0.0)]  # BLEU-4 and BLEU-1 in one pass
# distinct sentences whose tables are kept (the least recently used are dropped): references
# recur (one per image), generated captions mostly do not
REFERENCE_CACHE = 1 << 14
CANDIDATE_CACHE = 1 << 11


VERIFIED_VERSIONS: dict[str, tuple[str, ...]] = {"nltk": ("3.10.4",), "rouge": ("1.0.1",)}
"""The library versions on which ``PairScorer`` was checked against the libraries
(``tests/test_pairwise.py``: every score equal, on 400 pairs)."""

# the self-check's fixed sample: every stage of each library (BLEU clipping and smoothing,
# ROUGE sentences and LCS ties, METEOR's exact, stem and WordNet stages and its chunks)
SELF_CHECK_PAIRS = (
    ("A big Dog runs!", "a large dog is running."),
    ("an automobile sits on the table", "a car sat on a table"),
    ("dog dog dog dog", "the dog"),
    ("b a a", "a b a"),
    ("a dog. a cat.", "a cat. a dog."),
    ("well-known can't it's", "it is well known"),
    ("the small red car is near the big tables", "a little red car sits near large tables."),
    ("No response.", "a small red car on a table"),
    ("cats and dogs", "dogs and cats"),
)


def installed_versions() -> dict[str, str]:
    """The installed versions of the libraries in ``VERIFIED_VERSIONS``."""
    from importlib.metadata import version

    return {name: version(name) for name in VERIFIED_VERSIONS}


def pair_scorer(synonyms: Callable[[str], frozenset[str]]) -> PairScorer | LibraryScorer:
    """``PairScorer`` where it gives the libraries' values (verified versions, or the
    self-check passed); else ``LibraryScorer``, announced in one line."""
    return PairScorer(synonyms) if fast_scores_verified() else LibraryScorer()


@functools.cache
def fast_scores_verified() -> bool:
    """True on ``VERIFIED_VERSIONS``; on other versions, whether ``PairScorer`` equals the
    libraries' public calls on ``SELF_CHECK_PAIRS`` (warns once when it does not)."""
    versions = installed_versions()
    if all(versions[name] in VERIFIED_VERSIONS[name] for name in VERIFIED_VERSIONS):
        return True
    from eegbench_plugins.metrics.nltk_data import wordnet_reader, wordnet_synonyms

    from eegbench.api import warn

    reader = wordnet_reader()
    fast = PairScorer(lambda word: wordnet_synonyms(reader, word))
    same = _same_scores(fast, LibraryScorer())
    if not same:
        found = ", ".join(f"{k} {v}" for k, v in versions.items())
        verified = ", ".join(f"{k} {' or '.join(v)}" for k, v in VERIFIED_VERSIONS.items())
        warn(
            f"metrics.pairwise: {found} (verified: {verified}) give other scores than its fast "
            "path on its self-check; BLEU, ROUGE and METEOR are scored by the libraries' own "
            "calls (same values, slower)"
        )
    return same


def _same_scores(fast: PairScorer, library: LibraryScorer) -> bool:
    """Whether both scorers give the same values (or the same ``ValueError``) on
    ``SELF_CHECK_PAIRS``."""
    for cand, ref in SELF_CHECK_PAIRS:
        try:
            expected: object = library.score(cand, ref)
        except ValueError as e:
            expected = str(e)
        try:
            got: object = fast.score(cand, ref)
        except ValueError as e:
            got = str(e)
        except Exception:  # a library internal it reads has gone or changed
            return False
        if got != expected:
            return False
    return True


def score_several(
    scorer: PairScorer | LibraryScorer, candidate: str, references: Sequence[str]
) -> dict[str, float]:
    """``PairScorer.score``'s outputs against several references, as the libraries define it:
    BLEU by NLTK's ``corpus_bleu`` with all of them (clipped by each n-gram's most frequent
    reference), METEOR by NLTK's ``meteor_score`` (the best reference), ROUGE (whose ``rouge``
    package scores pairs only) the best reference of each output, as ``rouge-score``'s
    ``score_multi`` and COCO's ROUGE-L do."""
    from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu

    smooth = SmoothingFunction().method4
    refs = [[r.split() for r in references]]
    bleu_4, bleu_1 = (
        corpus_bleu(refs, [candidate.split()], weights=w, smoothing_function=smooth)
        for w in BLEU_WEIGHTS
    )
    rouge = [scorer.rouge(candidate, r) for r in references]
    meteor_cand = candidate.replace("<s>", "").replace("</s>", "").strip()
    return {
        "bleu_4": bleu_4,
        "bleu_1": bleu_1,
        "rouge_1": max(r[0] for r in rouge),
        "rouge_2": max(r[1] for r in rouge),
        "rouge_l": max(r[2] for r in rouge),
        "meteor": max(scorer.meteor(meteor_cand, r) for r in references),
    }


class LibraryScorer:
    """``PairScorer``'s values from the libraries' public calls, one pair at a time (the
    fallback when its re-derivations cannot be trusted on the installed versions)."""

    def __init__(self) -> None:
        from eegbench_plugins.metrics.nltk_data import wordnet_reader
        from nltk.tokenize import word_tokenize
        from nltk.translate.bleu_score import SmoothingFunction
        from rouge import Rouge

        self._wordnet = wordnet_reader()
        self._word_tokenize = word_tokenize
        self._smooth = SmoothingFunction().method4
        self._rouge = Rouge()

    def score(self, candidate: str, reference: str) -> dict[str, float]:
        """``PairScorer.score`` by the libraries' calls."""
        return pair_scores(self, candidate, reference)

    def bleu(self, candidate: str, reference: str) -> tuple[float, float]:
        """(BLEU-4, BLEU-1) of NLTK's ``corpus_bleu``, smoothing method 4."""
        from nltk.translate.bleu_score import corpus_bleu

        refs, hyps = [[reference.split()]], [candidate.split()]
        bleu_4, bleu_1 = (
            corpus_bleu(refs, hyps, weights=w, smoothing_function=self._smooth)
            for w in BLEU_WEIGHTS
        )
        return bleu_4, bleu_1

    def rouge(self, candidate: str, reference: str) -> tuple[float, float, float]:
        """ROUGE-1/2/L F of ``Rouge().get_scores(candidate, reference, avg=True)``."""
        scores = self._rouge.get_scores(candidate, reference, avg=True)
        return scores["rouge-1"]["f"], scores["rouge-2"]["f"], scores["rouge-l"]["f"]

    def meteor(
        self,
        candidate: str,
        reference: str,
        alpha: float = 0.9,
        beta: float = 3.0,
        gamma: float = 0.5,
    ) -> float:
        """NLTK's ``single_meteor_score`` of ``word_tokenize`` tokens."""
        from nltk.translate.meteor_score import single_meteor_score

        tokenize = self._word_tokenize
        return single_meteor_score(
            tokenize(reference),
            tokenize(candidate),
            alpha=alpha,
            beta=beta,
            gamma=gamma,
            wordnet=self._wordnet,
        )


class PairScorer:
    """Thought2Text's per-pair BLEU-4/1, ROUGE-1/2/L F and METEOR, as the libraries give them.

    ``synonyms(word)`` is METEOR's WordNet look-up: the lemma names (without ``_``) of the
    word's synsets, plus the word itself.
    """

    def __init__(self, synonyms: Callable[[str], frozenset[str]]) -> None:
        from nltk.stem.porter import PorterStemmer

        self._word_tokenize = _word_tokenizer()
        self._stem = functools.lru_cache(maxsize=REFERENCE_CACHE)(PorterStemmer().stem)
        self._synonyms = functools.lru_cache(maxsize=REFERENCE_CACHE)(synonyms)
        self._cand = _Tables(CANDIDATE_CACHE, self._meteor_words)
        self._ref = _Tables(REFERENCE_CACHE, self._meteor_words)
        self._bleu_values: dict[tuple[int, ...], tuple[float, float]] = {}
        self._rouge_values: dict[tuple[int, int, int], float] = {}
        self._meteor_values: dict[tuple[Any, ...], float] = {}

    def score(self, candidate: str, reference: str) -> dict[str, float]:
        """``bleu_4, bleu_1, rouge_1, rouge_2, rouge_l, meteor`` of one pair.

        Raises ``ValueError`` (the ``rouge`` package's message) when a side has no sentence.
        """
        return pair_scores(self, candidate, reference)

    # --- BLEU: nltk corpus_bleu([[ref.split()]], [cand.split()], method4) ---------------------

    def bleu(self, candidate: str, reference: str) -> tuple[float, float]:
        """(BLEU-4, BLEU-1) of NLTK's ``corpus_bleu`` on whitespace tokens, smoothing method 4."""
        c_len, c_grams = self._cand.bleu(candidate)
        r_len, r_grams = self._ref.bleu(reference)
        matches = [0, 0, 0, 0]
        for n, (cand, ref) in enumerate(zip(c_grams, r_grams)):
            if len(ref) < len(cand):
                cand, ref = ref, cand  # the clipped count is symmetric: walk the smaller table
            total = 0
            for gram, count in cand.items():
                other = ref.get(gram)
                if other:
                    total += count if count < other else other
            matches[n] = total
        key = (c_len, r_len, *matches)
        value = self._bleu_values.get(key)
        if value is None:
            value = self._bleu_values[key] = _bleu_from_counts(c_len, r_len, matches)
        return value

    # --- ROUGE: the rouge package, Rouge().get_scores(cand, ref, avg=True)[...]["f"] ----------

    def rouge(self, candidate: str, reference: str) -> tuple[float, float, float]:
        """ROUGE-1, ROUGE-2 and summary-level ROUGE-L F of the ``rouge`` package."""
        hyp, ref = self._cand.rouge(candidate), self._ref.rouge(reference)
        if hyp is None:
            raise ValueError("Hypothesis is empty.")
        if ref is None:
            raise ValueError("Reference is empty.")
        h_sents, h_uni, h_bi = hyp
        r_sents, r_uni, r_bi = ref
        union: set[str] = set()
        for r_words in r_sents:
            for h_words in h_sents:
                union.update(_lcs_words(r_words, h_words))
        return (
            self._rouge_f(len(h_uni), len(r_uni), len(h_uni & r_uni)),
            self._rouge_f(len(h_bi), len(r_bi), len(h_bi & r_bi)),
            self._rouge_f(len(h_uni), len(r_uni), len(union)),
        )

    def _rouge_f(self, hyp_count: int, ref_count: int, overlap: int) -> float:
        key = (hyp_count, ref_count, overlap)
        value = self._rouge_values.get(key)
        if value is None:
            from rouge.rouge_score import f_r_p_rouge_n

            value = self._rouge_values[key] = f_r_p_rouge_n(hyp_count, ref_count, overlap)["f"]
        return value

    # --- METEOR: nltk single_meteor_score(word_tokenize(ref), word_tokenize(cand)) ------------

    def meteor(
        self,
        candidate: str,
        reference: str,
        alpha: float = 0.9,
        beta: float = 3.0,
        gamma: float = 0.5,
    ) -> float:
        """NLTK's ``single_meteor_score`` of ``word_tokenize`` tokens (Porter stems, WordNet)."""
        hyp, ref = self._cand.meteor(candidate), self._ref.meteor(reference)
        matches, chunks = _meteor_alignment(hyp, ref, self._synonyms)
        key = (matches, chunks, len(hyp[0]), len(ref[0]), alpha, beta, gamma)
        value = self._meteor_values.get(key)
        if value is None:
            value = self._meteor_values[key] = _meteor_from_counts(*key)
        return value

    def _meteor_words(self, text: str) -> MeteorWords:
        """Lowercased ``word_tokenize`` tokens of ``text``, their Porter stems and each word's
        positions."""
        words = tuple(w.lower() for w in self._word_tokenize(text))
        positions: dict[str, list[int]] = {}
        for i, w in enumerate(words):
            positions.setdefault(w, []).append(i)
        return words, tuple(self._stem(w) for w in words), positions


# a sentence for METEOR: words, their stems, {word: its positions, ascending}
MeteorWords = tuple[tuple[str, ...], tuple[str, ...], dict[str, list[int]]]


class _Tables:
    """The per-sentence tables of one side of the pairs, each an LRU cache of ``size``."""

    def __init__(self, size: int, meteor_words: Callable[[str], MeteorWords]) -> None:
        cache = functools.lru_cache(maxsize=size)
        self.bleu = cache(_bleu_sentence)
        self.rouge = cache(_rouge_sentence)
        self.meteor = cache(meteor_words)


def _bleu_sentence(text: str) -> tuple[int, tuple[dict[tuple[str, ...], int], ...]]:
    """Token count of ``text.split()`` and the counts of its 1-, 2-, 3- and 4-grams."""
    t = text.split()
    grams = []
    for n_grams in (zip(t), zip(t, t[1:]), zip(t, t[1:], t[2:]), zip(t, t[1:], t[2:], t[3:])):
        counts: dict[tuple[str, ...], int] = {}
        for gram in n_grams:
            counts[gram] = counts.get(gram, 0) + 1
        grams.append(counts)
    return len(t), tuple(grams)


def _bleu_from_counts(c_len: int, r_len: int, matches: Sequence[int]) -> tuple[float, float]:
    """(BLEU-4, BLEU-1) by NLTK's ``corpus_bleu`` arithmetic for one pair's counts."""
    from nltk.translate.bleu_score import Fraction, SmoothingFunction, brevity_penalty

    if matches[0] == 0:
        return 0, 0  # corpus_bleu's answer without a matching unigram (an int, as there)
    totals = [max(1, c_len - n + 1) for n in range(1, 5)]
    p_n = [Fraction(m, t, _normalize=False) for m, t in zip(matches, totals)]
    p_n = SmoothingFunction().method4(p_n, references=None, hypothesis=None, hyp_len=c_len)
    bp = brevity_penalty(r_len, c_len)
    return tuple(  # type: ignore[return-value]
        bp * math.exp(math.fsum(w_i * math.log(p_i) for w_i, p_i in zip(weight, p_n) if p_i > 0))
        for weight in BLEU_WEIGHTS
    )


def _rouge_sentence(
    text: str,
) -> tuple[list[list[str]], set[str], set[tuple[str, str]]] | None:
    """The ``rouge`` package's view of ``text``: its sentences' words, word set, bigram set.

    None when ``text`` has no sentence (``rouge`` raises on it).
    """
    sentences = [" ".join(s.split()) for s in text.split(".") if len(s) > 0]
    if not sentences:
        return None
    per_sentence = [s.split(" ") for s in sentences]
    words = list(itertools.chain(*per_sentence))
    return per_sentence, set(words), set(zip(words, words[1:]))


def _lcs_words(x: list[str], y: list[str]) -> list[str]:
    """The words of ``x`` on the longest common subsequence that ``rouge``'s ``_recon_lcs``
    reconstructs (same table, same tie-breaking)."""
    in_y = set(y)
    if in_y.isdisjoint(x):
        return []
    table = [[0] * (len(y) + 1)]
    for xi in x:
        prev = table[-1]
        if xi not in in_y:  # the row of a word absent from y equals the row above
            table.append(prev)
            continue
        row = [0]
        last = 0
        for yj, diag, up in zip(y, prev, prev[1:]):
            last = diag + 1 if xi == yj else (up if up > last else last)
            row.append(last)
        table.append(row)
    out = []
    i, j = len(x), len(y)
    while i > 0 and j > 0:
        if x[i - 1] == y[j - 1]:
            out.append(x[i - 1])
            i, j = i - 1, j - 1
        elif table[i - 1][j] > table[i][j - 1]:
            i -= 1
        else:
            j -= 1
    return out


def _match(
    hyp: list[tuple[int, str]], ref: list[tuple[int, str]], found: list[tuple[int, int]]
) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """NLTK's ``_match_enums``: exact matches, last hypothesis word first, each taking the last
    free reference position; appends to ``found`` and returns the unmatched words."""
    positions: dict[str, list[int]] = {}
    for j, (_, word) in enumerate(ref):
        positions.setdefault(word, []).append(j)
    hyp_left, ref_used = [], set()
    for i in range(len(hyp) - 1, -1, -1):
        free = positions.get(hyp[i][1])
        if free:
            j = free.pop()
            ref_used.add(j)
            found.append((hyp[i][0], ref[j][0]))
        else:
            hyp_left.append(hyp[i])
    hyp_left.reverse()
    return hyp_left, [pair for j, pair in enumerate(ref) if j not in ref_used]


def _meteor_alignment(
    hyp: MeteorWords, ref: MeteorWords, synonyms: Callable[[str], frozenset[str]]
) -> tuple[int, int]:
    """(matches, chunks) of NLTK's METEOR alignment: exact, then stem, then WordNet synonym
    matches (the synonym stage sees the stems, as NLTK's does)."""
    h_words, h_stems, h_positions = hyp
    r_words, r_stems, r_positions = ref
    found: list[tuple[int, int]] = []
    # exact stage (``_match`` on the words): the k-th last occurrence of a word in the hypothesis
    # takes the k-th last in the reference
    h_used: set[int] = set()
    r_used: set[int] = set()
    for word, h_at in h_positions.items():
        r_at = r_positions.get(word)
        if r_at:
            for i, j in zip(reversed(h_at), reversed(r_at)):
                found.append((i, j))
                h_used.add(i)
                r_used.add(j)
    h_left = [(i, w) for i, w in enumerate(h_words) if i not in h_used]
    r_left = [(j, w) for j, w in enumerate(r_words) if j not in r_used]
    if h_left and r_left:
        h_left = [(i, h_stems[i]) for i, _ in h_left]
        r_left = [(j, r_stems[j]) for j, _ in r_left]
        h_left, r_left = _match(h_left, r_left, found)
    if h_left and r_left:
        positions: dict[str, list[int]] = {}
        for j, (_, word) in enumerate(r_left):
            positions.setdefault(word, []).append(j)
        for i in range(len(h_left) - 1, -1, -1):
            best_j, best_word = -1, None
            for syn in synonyms(h_left[i][1]):
                free = positions.get(syn)
                if free and free[-1] > best_j:
                    best_j, best_word = free[-1], syn
            if best_word is not None:
                positions[best_word].pop()
                found.append((h_left[i][0], r_left[best_j][0]))
    if not found:
        return 0, 1
    found.sort()
    chunks = 1
    for (h0, r0), (h1, r1) in zip(found, found[1:]):
        if not (h1 == h0 + 1 and r1 == r0 + 1):
            chunks += 1
    return len(found), chunks


def _meteor_from_counts(
    matches_count: int,
    chunks: int,
    translation_length: int,
    reference_length: int,
    alpha: float,
    beta: float,
    gamma: float,
) -> float:
    """NLTK ``single_meteor_score``'s arithmetic, step for step."""
    try:
        precision = float(matches_count) / translation_length
        recall = float(matches_count) / reference_length
        fmean = (precision * recall) / (alpha * precision + (1 - alpha) * recall)
        chunk_count = float(chunks)
        frag_frac = chunk_count / matches_count
    except ZeroDivisionError:
        return 0.0
    penalty = gamma * frag_frac**beta
    return (1 - penalty) * fmean


@contextlib.contextmanager
def without_cyclic_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while pairs are scored.

    Scoring makes no reference cycles (what it drops is freed by reference counting), but it
    allocates millions of small dicts and tuples while the sentence tables hold many thousands:
    every full collection walks all of them, which took over half of the time at 20,000 pairs.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# --- word_tokenize of plain sentences --------------------------------------------------------

_WORD = r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*"
PLAIN_SENTENCE = re.compile(rf"{_WORD}(?:,? {_WORD})*\.?")
# sentences of that form on which NLTK is asked once per process (the check of _WordTokenizer)
PLAIN_PROBES = (
    "a",
    "A dog.",
    "The image shows a small, brown dog sitting on a bench in 2015.",
    "In this photo, a black-and-white cat sits on a wooden table, near 3 cups",
    "e-mail x-ray 10-20 well-known A1 b2c",
    "Can not, gim me, gon na, got ta, lem me, wan na.",
    "X, Y, Z.",
    "a.",
)


# texts of an LLM's captions on which NLTK is asked once per process (the check of the
# re-compiled tokenizers, ``_WordTokenizer.other``)
OTHER_PROBES = (
    'A white coffee mug with the words "I\'m just here for the coffee" written on it.',
    "A tall tower.\n\nHere are some sentences: It isn't new. Dr. Smith's (1999) photo... ok?",
    " A showroom displaying a red grand piano -- and a black baby grand piano. ",
    "The camera's LCD screen, at 3,36 p.m.; e.g. U.S.A. 'quoted' `tick` «guillemets» [x] {y}!",
    "Cannot gonna wanna gotta lemme gimme 'tis 'twas: don't, won't, y'all, I'd've.",
)


class _WordTokenizer:
    """NLTK's ``word_tokenize``, computed directly for plain sentences (``PLAIN_SENTENCE``).

    On such a sentence Punkt finds one sentence, and of the Treebank tokenizer's rules only two
    apply: ``([:,])([^\\d])`` sets a comma that a space follows apart, and the final-period rule
    sets the last period apart; ``text.split()`` then gives the words. Contractions (``cannot``,
    ``gonna``, ...) are the tokenizer's own patterns: a sentence they match goes to NLTK, as
    does every other sentence: NLTK's own tokenizers on ``re``-compiled patterns
    (``_stdlib_word_tokenize``). Unless NLTK gives the same tokens on ``PLAIN_PROBES`` (and
    on ``OTHER_PROBES``), NLTK itself tokenizes those texts (another NLTK version, other rules).
    """

    def __init__(self) -> None:
        from nltk.tokenize import NLTKWordTokenizer, word_tokenize

        self.nltk = word_tokenize
        other = _stdlib_word_tokenize()
        agrees = other is not None and all(other(t) == word_tokenize(t) for t in OTHER_PROBES)
        self.other = other if agrees else word_tokenize
        patterns = [
            c.pattern for c in (*NLTKWordTokenizer.CONTRACTIONS2, *NLTKWordTokenizer.CONTRACTIONS3)
        ]
        if not all(p.startswith("(?i)") for p in patterns):
            self.plain = False
            return
        self.contraction = re.compile("(?i)" + "|".join(f"(?:{p[4:]})" for p in patterns))
        self.plain = all(self._plain(t) == word_tokenize(t) for t in PLAIN_PROBES)

    def __call__(self, text: str) -> list[str]:
        if self.plain and PLAIN_SENTENCE.fullmatch(text):
            words = self._plain(text)
            # the contractions see the text as the earlier rules left it
            if not self.contraction.search(f" {' '.join(words)} "):
                return words
        return self.other(text)

    @staticmethod
    def _plain(text: str) -> list[str]:
        end = text.endswith(".")
        words = (text[:-1] if end else text).replace(",", " ,").split(" ")
        if end:
            words.append(".")
        return words


_RE_FLAGS = re.IGNORECASE | re.MULTILINE | re.DOTALL | re.UNICODE | re.VERBOSE | re.ASCII
_PAIR_RULES = ("STARTING_QUOTES", "ENDING_QUOTES", "PUNCTUATION", "CONVERT_PARENTHESES")
_ONE_RULES = ("PARENS_BRACKETS", "DOUBLE_DASHES")


def _stdlib(pattern: Any) -> re.Pattern[str]:
    """One of NLTK's compiled patterns compiled again by ``re`` (same text, same flags)."""
    return re.compile(pattern.pattern, pattern.flags & _RE_FLAGS)


def _stdlib_word_tokenize() -> Callable[[str], list[str]] | None:
    """NLTK's ``word_tokenize`` (English Punkt sentences, then ``NLTKWordTokenizer``), its
    instances' regular expressions compiled by ``re``; None where one does not compile (``re``
    before Python 3.11 has no possessive quantifiers) or NLTK's classes differ."""
    from nltk.tokenize import NLTKWordTokenizer
    from nltk.tokenize.punkt import PunktLanguageVars, PunktTokenizer

    try:

        class LanguageVars(PunktLanguageVars):
            re_boundary_realignment = _stdlib(PunktLanguageVars.re_boundary_realignment)

        lang = LanguageVars()
        lang._re_period_context = _stdlib(lang.period_context_re())
        lang._re_word_tokenizer = _stdlib(lang._word_tokenizer_re())
        words = NLTKWordTokenizer()
        for name in _PAIR_RULES:
            setattr(words, name, [(_stdlib(p), r) for p, r in getattr(words, name)])
        for name in _ONE_RULES:
            pattern, repl = getattr(words, name)
            setattr(words, name, (_stdlib(pattern), repl))
        for name in ("CONTRACTIONS2", "CONTRACTIONS3"):
            setattr(words, name, [_stdlib(p) for p in getattr(words, name)])
    except (re.error, AttributeError, TypeError, ValueError):
        return None
    sentences = PunktTokenizer("english")
    sentences._lang_vars = lang
    return lambda text: [w for s in sentences.tokenize(text) for w in words.tokenize(s)]


@functools.cache
def _word_tokenizer() -> _WordTokenizer:
    return _WordTokenizer()


def pair_scores(scorer: Any, candidate: str, reference: str) -> dict[str, float]:
    """``bleu_4, bleu_1, rouge_1, rouge_2, rouge_l, meteor`` of one pair from ``scorer``'s
    ``bleu``, ``rouge`` and ``meteor`` (the fast re-derivation or the libraries' calls)."""
    bleu_4, bleu_1 = scorer.bleu(candidate, reference)
    rouge_1, rouge_2, rouge_l = scorer.rouge(candidate, reference)
    meteor_cand = candidate.replace("<s>", "").replace("</s>", "").strip()
    return {
        "bleu_4": bleu_4,
        "bleu_1": bleu_1,
        "rouge_1": rouge_1,
        "rouge_2": rouge_2,
        "rouge_l": rouge_l,
        "meteor": scorer.meteor(meteor_cand, reference),
    }
