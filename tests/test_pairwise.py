"""The fast per-pair scorers give the libraries' values exactly; METEOR's synonym table."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from eegbench_plugins.metrics import nltk_data
from eegbench_plugins.metrics.nltk_data import MeteorSynonyms, meteor_synonyms, wordnet_reader
from eegbench_plugins.metrics.pairwise import PairScorer

WORDS = (
    "a the a the dog dogs Dog cat cats car automobile auto cars runs running ran run big large "
    "small little red on table tables sits sitting sat is are was near under of and , ! ? ; "
    ": ( ) ' \" - The A quick brown fox jumps over lazy can't it's U.S. well-known 3 2.5 ..."
).split()

EDGE_CASES = [
    ("", "a dog"),
    ("dog", "a dog"),
    ("a", "a"),
    ("dog dog dog dog", "the dog"),
    ("the the the the the the the", "the cat is on the mat"),
    ("a dog. a cat.", "a cat. a dog."),
    ("a dog. ", "a dog"),
    ("a dog .  . sits", "a dog sits ."),
    ("A big Dog runs!", "a large dog is running."),
    ("an automobile sits", "a car sat"),
    ("<s>a red car</s>", "a red car"),
    ("No response.", "a small red car on a table"),
    ("No response", "a dog"),
    ("!!!", "a dog"),
    ("well-known can't it's", "it is well known"),
    ("cats and dogs", "dogs and cats"),
    ("a b c d e f g h", "h g f e d c b a"),
    ("a b a b a b", "b a b a b a"),
    ("b a a", "a b a"),  # two LCS of one length with different words: rouge's tie-breaking
    ("a b. b a", "b a a. a b"),
]


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(0, 12))]
    if words and rng.random() < 0.5:
        words[-1] += rng.choice([".", "!", "?", ""])
    if len(words) > 3 and rng.random() < 0.2:
        words[rng.randrange(len(words))] += "."  # a second sentence for `rouge`
    return " ".join(words)


def _pairs() -> list[tuple[str, str]]:
    rng = random.Random(0)
    pairs = list(EDGE_CASES)
    for _ in range(100):  # three words: many equally long LCS, repeated n-grams and matches
        a, b = (" ".join(rng.choice("abc.") for _ in range(rng.randint(1, 9))) for _ in "ab")
        pairs.append((a, b))
    while len(pairs) < 400:
        ref = _sentence(rng)
        cand = ref if rng.random() < 0.1 else _sentence(rng)
        if rng.random() < 0.3:  # a near copy: shared n-grams, reordered words
            words = ref.split()
            rng.shuffle(words[: len(words) // 2])
            cand = " ".join(words + [rng.choice(WORDS)])
        pairs.append((cand, ref))
    return pairs


def _library(cand: str, ref: str) -> dict[str, float] | str:
    """The Thought2Text notebook's calls, straight to the libraries."""
    from nltk.tokenize import word_tokenize
    from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu, sentence_bleu
    from nltk.translate.meteor_score import single_meteor_score
    from rouge import Rouge

    smooth = SmoothingFunction().method4
    try:
        rs = Rouge().get_scores(cand, ref, avg=True)
    except ValueError as e:
        return str(e)
    meteor_cand = cand.replace("<s>", "").replace("</s>", "").strip()
    return {
        "bleu_4": sentence_bleu([ref.split()], cand.split(), smoothing_function=smooth),
        "bleu_1": corpus_bleu(
            [[ref.split()]], [cand.split()], weights=(1.0, 0, 0, 0), smoothing_function=smooth
        ),
        "rouge_1": rs["rouge-1"]["f"],
        "rouge_2": rs["rouge-2"]["f"],
        "rouge_l": rs["rouge-l"]["f"],
        "meteor": single_meteor_score(
            word_tokenize(ref), word_tokenize(meteor_cand), wordnet=wordnet_reader()
        ),
    }


def test_pair_scores_identical_to_the_libraries(tmp_path):
    from eegbench_plugins.metrics.nltk_data import ensure_nltk_data

    ensure_nltk_data()
    synonyms = MeteorSynonyms(tmp_path / "synonyms.json", "k")
    scorer = PairScorer(synonyms)
    pairs = _pairs()
    assert len(set(pairs)) > 350
    for cand, ref in pairs:
        expected = _library(cand, ref)
        if isinstance(expected, str):  # `rouge` refuses a side without a sentence
            with pytest.raises(ValueError, match=expected):
                scorer.score(cand, ref)
            continue
        got = scorer.score(cand, ref)
        assert got == expected, (cand, ref)  # exact, not approximate
        assert [type(got[k]) for k in got] == [type(expected[k]) for k in got]
    # a second scorer reading the saved synonym table agrees
    synonyms.save()
    again = PairScorer(MeteorSynonyms(tmp_path / "synonyms.json", "k"))
    cand, ref = EDGE_CASES[8]
    assert again.score(cand, ref) == _library(cand, ref)


def test_meteor_parameters_identical_to_nltk():
    from nltk.tokenize import word_tokenize
    from nltk.translate.meteor_score import single_meteor_score

    scorer = PairScorer(meteor_synonyms())
    for alpha, beta, gamma in ((0.9, 3.0, 0.5), (0.5, 1.0, 0.0), (1.0, 2.0, 1.0), (0.0, 3.0, 0.5)):
        for cand, ref in EDGE_CASES:
            expected = single_meteor_score(
                word_tokenize(ref),
                word_tokenize(cand),
                alpha=alpha,
                beta=beta,
                gamma=gamma,
                wordnet=wordnet_reader(),
            )
            assert scorer.meteor(cand, ref, alpha, beta, gamma) == expected


def test_synonym_table_serves_known_words_without_wordnet(tmp_path, monkeypatch):
    path = tmp_path / "meteor" / "synonyms.json"
    table = MeteorSynonyms(path, "k1")
    car = table("car")
    assert {"car", "automobile", "auto", "machine"} <= car
    assert not any("_" in w for w in car)
    table.save()
    doc = json.loads(path.read_text())
    assert doc["key"] == "k1" and doc["synonyms"]["car"] == sorted(car)

    def no_wordnet():
        raise AssertionError("WordNet loaded for a word in the table")

    monkeypatch.setattr(nltk_data, "wordnet_reader", no_wordnet)
    assert MeteorSynonyms(path, "k1")("car") == car
    # another WordNet or NLTK (another key) does not reuse the table
    with pytest.raises(AssertionError, match="WordNet loaded"):
        MeteorSynonyms(path, "k2")("car")


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],  # truncated
        lambda text: text.replace('"automobile"', '"automobiles"'),  # checksum no longer matches
        lambda text: "\x00garbage",
    ],
)
def test_corrupt_synonym_table_is_reported_and_rebuilt(tmp_path, capsys, damage):
    path = tmp_path / "synonyms.json"
    table = MeteorSynonyms(path, "k")
    car = table("car")
    table.save()
    path.write_text(damage(path.read_text()))
    rebuilt = MeteorSynonyms(path, "k")
    err = capsys.readouterr().err
    assert "corrupt" in err and str(path) in err.replace("\n", "")
    assert not path.exists()
    assert rebuilt("car") == car
    rebuilt.save()
    assert MeteorSynonyms(path, "k")("car") == car
    assert "corrupt" not in capsys.readouterr().err


def _plain_or_tricky(rng: random.Random) -> str:
    """A plain sentence (``PLAIN_SENTENCE``), often with a contraction NLTK splits, or a string
    of the characters around that form's edges."""
    if rng.random() < 0.5:
        vocab = ["a", "Dog", "cat", "2015", "x-ray", "well-known", "A1", "cannot", "Gonna",
                 "wanna", "gotta", "lemme", "gimme", "can", "not", "na", "more", "is"]  # fmt: skip
        words = [rng.choice(vocab) + ("," if rng.random() < 0.2 else "") for _ in range(8)]
        text = " ".join(words[: rng.randint(1, 8)]).rstrip(",")
        return text + ("." if rng.random() < 0.6 else "")
    alphabet = [*"aZ09-,. '\"!?:;()", "--", "..", "can", "not", "'t", "is", "n't", "  "]
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))


def test_word_tokenizer_is_nltk_s_on_plain_and_other_sentences():
    from eegbench_plugins.metrics.nltk_data import ensure_nltk_data
    from eegbench_plugins.metrics.pairwise import PLAIN_SENTENCE, _WordTokenizer
    from nltk.tokenize import word_tokenize

    ensure_nltk_data()
    tok = _WordTokenizer()
    assert tok.plain  # this NLTK passes the probes: the direct path is in use
    rng = random.Random(3)
    texts = [_plain_or_tricky(rng) for _ in range(20_000)]
    assert sum(bool(PLAIN_SENTENCE.fullmatch(t)) for t in texts) > 9_000
    for text in texts:
        assert tok(text) == word_tokenize(text), text


def test_word_tokenizer_leaves_everything_to_an_nltk_that_disagrees(monkeypatch):
    import nltk.tokenize
    from eegbench_plugins.metrics.nltk_data import ensure_nltk_data
    from eegbench_plugins.metrics.pairwise import _WordTokenizer

    ensure_nltk_data()
    other = lambda text: ["<", *text.split(), ">"]  # noqa: E731
    monkeypatch.setattr(nltk.tokenize, "word_tokenize", other)
    tok = _WordTokenizer()
    assert not tok.plain and tok("A dog, a cat.") == ["<", "A", "dog,", "a", "cat.", ">"]


@pytest.fixture
def unverified_versions(monkeypatch):
    """Installed library versions other than the ones ``pairwise`` was verified on."""
    from eegbench_plugins.metrics import pairwise

    monkeypatch.setattr(pairwise, "VERIFIED_VERSIONS", {"nltk": ("0.0",), "rouge": ("0.0",)})
    warned: list[str] = []
    monkeypatch.setattr("eegbench.api.warn", warned.append)
    pairwise.fast_scores_verified.cache_clear()
    yield warned
    pairwise.fast_scores_verified.cache_clear()


def test_verified_versions_are_the_installed_ones():
    from eegbench_plugins.metrics import pairwise

    installed = pairwise.installed_versions()
    assert all(installed[k] in v for k, v in pairwise.VERIFIED_VERSIONS.items()), installed


def test_other_versions_that_pass_the_self_check_keep_the_fast_path(unverified_versions):
    from eegbench_plugins.metrics.pairwise import pair_scorer

    assert isinstance(pair_scorer(meteor_synonyms()), PairScorer)
    assert unverified_versions == []


@pytest.mark.parametrize("change", ["value", "gone"])
def test_a_changed_internal_falls_back_to_the_libraries(unverified_versions, monkeypatch, change):
    from eegbench_plugins.metrics import pairwise

    pairs = _pairs()[:150]
    fast = PairScorer(meteor_synonyms())
    expected = []
    for cand, ref in pairs:
        try:
            expected.append(fast.score(cand, ref))
        except ValueError as e:
            expected.append(str(e))
    if change == "value":  # the library's arithmetic moved on: the re-derivation is off
        monkeypatch.setattr(pairwise, "_meteor_from_counts", lambda *counts: 0.5)
    else:  # a private name it reads is gone (the library itself still works)

        def gone(self, *counts):
            raise ImportError("cannot import name 'f_r_p_rouge_n' from 'rouge.rouge_score'")

        monkeypatch.setattr(pairwise.PairScorer, "_rouge_f", gone)
    scorer = pairwise.pair_scorer(meteor_synonyms())
    assert isinstance(scorer, pairwise.LibraryScorer)
    (line,) = unverified_versions
    assert "nltk 3" in line and "libraries' own calls" in line and "\n" not in line
    got = []
    for cand, ref in pairs:
        try:
            got.append(scorer.score(cand, ref))
        except ValueError as e:
            got.append(str(e))
    assert got == expected  # exact
    assert pairwise.pair_scorer(meteor_synonyms()) is not scorer and len(unverified_versions) == 1


def test_word_tokenizer_is_nltk_s_on_released_llm_captions():
    """Real captions (Thought2Text's released predictions: several sentences, quotes, line
    breaks) take the re-compiled NLTK tokenizers, which give NLTK's tokens."""
    import csv
    import gzip

    from eegbench_plugins.metrics.nltk_data import ensure_nltk_data
    from eegbench_plugins.metrics.pairwise import PLAIN_SENTENCE, _WordTokenizer
    from nltk.tokenize import word_tokenize

    ensure_nltk_data()
    path = Path(__file__).parents[1] / "benchmarks" / "data" / "thought2text_predictions.csv.gz"
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    texts = sorted({r[k] for r in rows[::4] for k in ("Generated Caption", "Expected Caption")})
    tok = _WordTokenizer()
    assert tok.other is not tok.nltk  # this NLTK passes the probes: the re-compiled path is used
    assert sum(not PLAIN_SENTENCE.fullmatch(t) for t in texts) > 1_000
    for text in texts:
        assert tok(text) == word_tokenize(text), text
