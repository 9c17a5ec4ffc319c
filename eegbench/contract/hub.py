"""Models from the Hugging Face hub, fetched and cached as the ecosystem does.

A hub model that is not in the standard Hugging Face cache (``HF_HOME``, ``HF_HUB_CACHE``) is
fetched into it with huggingface_hub's own download code and progress bars, from
``HF_ENDPOINT``. ``HF_HUB_OFFLINE=1`` (or ``TRANSFORMERS_OFFLINE=1``) forbids every request:
what is not cached is reported in one line naming how to provide it. A model already cached at
the requested revision is used without a request. What a run read is described by
:class:`ModelFiles`; the runner records it (revision, SHA-256 per file) in ``results.json``.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from eegbench.contract.errors import MissingWeightsError

PROBE_TIMEOUT = 3.0
"""Seconds the preflight waits for the hub before reporting it unreachable."""
_TRUE = {"1", "ON", "YES", "TRUE"}


MODEL_FILES = (
    "config.json",
    "generation_config.json",
    "model*.safetensors",
    "model.safetensors.index.json",
)
"""Files of a transformers model's hub repository that decide its outputs (with the tokenizer):
the weights transformers reads, not other copies a repository may hold (e.g. Mistral's
``consolidated.safetensors``)."""
PYTORCH_FILES = ("pytorch_model*.bin", "pytorch_model.bin.index.json")
"""Weights fetched only when a repository has no safetensors."""
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "vocab.txt",
    "merges.txt",
    "tokenizer.model",
    "*.tiktoken",
    "chat_template.jinja",
    "chat_template.json",
)
"""Files of a tokenizer (any of them may be absent)."""


def offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE`` forbids requests to the hub."""
    return any(
        os.environ.get(k, "").strip().upper() in _TRUE
        for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def endpoint() -> str:
    """The hub's address (``HF_ENDPOINT``, default https://huggingface.co)."""
    from huggingface_hub import constants

    return constants.ENDPOINT


@dataclass(frozen=True)
class ModelFiles:
    """The files of one model a run read: results.json's ``models.<role>``.

    ``name`` is what the config named (hub id, folder or spec), ``path`` the folder (or file)
    read, ``revision`` the hub commit the files belong to (None when they carry none) and
    ``files`` the files whose SHA-256 identifies the model."""

    role: str
    name: str
    path: Path
    revision: str | None
    files: tuple[Path, ...]


def files_matching(folder: Path, patterns: Sequence[str]) -> tuple[Path, ...]:
    """The files directly in ``folder`` (and its subfolders) whose relative path matches one of
    ``patterns``, sorted."""
    if not folder.is_dir():
        return ()
    found = [
        p
        for p in folder.rglob("*")
        if p.is_file()
        and any(fnmatch.fnmatch(p.relative_to(folder).as_posix(), g) for g in patterns)
    ]
    return tuple(sorted(found))


def snapshot_commit(path: str | os.PathLike) -> str | None:
    """The hub commit of a file or folder inside a Hugging Face cache snapshot, else None."""
    p = Path(path).absolute()
    for child, parent in zip((p, *p.parents), p.parents):
        if parent.name == "snapshots" and parent.parent.name.startswith("models--"):
            return child.name
    return None


def is_repo_id(name: str) -> bool:
    """Whether ``name`` is a valid hub repository id (``org/name`` or a legacy ``name``)."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


def cached_snapshot(
    repo: str, revision: str | None, patterns: Sequence[str], cache_dir: str | None = None
) -> Path | None:
    """The cached snapshot folder of ``repo`` at ``revision`` (a branch, tag or commit), looked
    up without a request; None when it is not cached (or cached incompletely)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    try:
        folder = snapshot_download(
            repo,
            revision=revision,
            allow_patterns=list(patterns),
            cache_dir=cache_dir,
            local_files_only=True,
        )
    except (LocalEntryNotFoundError, HFValidationError, OSError):
        return None
    return Path(folder)


@contextlib.contextmanager
def fetching(repo: str, revision: str | None) -> Iterator[None]:
    """Around a download from the hub: a log line, huggingface_hub's progress bars (unless
    ``--quiet`` or ``--log-format json``), and its failures as one MissingWeightsError line;
    refused when ``offline()``."""
    from huggingface_hub import utils
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    from eegbench.progress import is_quiet, log, log_format

    at = f" at revision {revision}" if revision else ""
    if offline():
        raise MissingWeightsError(
            f"{repo!r}{at} is not in the Hugging Face cache (HF_HUB_OFFLINE=1)."
        )
    log(f"fetching {repo}{at} from {endpoint()} into the Hugging Face cache")
    silenced = utils.are_progress_bars_disabled()
    if not is_quiet() and log_format() == "text":
        utils.enable_progress_bars()
    try:
        yield
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as e:
        reason = " ".join(str(e).split())[:200]
        raise MissingWeightsError(
            f"cannot fetch {repo!r}{at} from {endpoint()}: {type(e).__name__}: {reason}."
        ) from None
    finally:
        if silenced:
            utils.disable_progress_bars()


def fetch_snapshot(
    repo: str, revision: str | None, patterns: Sequence[str], cache_dir: str | None = None
) -> Path:
    """Fetch ``repo``'s files matching ``patterns`` at ``revision`` into the Hugging Face cache
    and return the snapshot folder (see :func:`fetching`)."""
    from huggingface_hub import snapshot_download

    with fetching(repo, revision):
        folder = snapshot_download(
            repo,
            revision=revision,
            allow_patterns=list(patterns),
            cache_dir=cache_dir,
            etag_timeout=PROBE_TIMEOUT,
        )
    return Path(folder)


def _has_weights(folder: Path) -> bool:
    return bool(files_matching(folder, ("model*.safetensors", "pytorch_model*.bin")))


def cached_model(name: str, revision: str | None) -> Path | None:
    """The snapshot of transformers model ``name`` at ``revision`` in the Hugging Face cache,
    with its weights, found without a request; None when it is not there."""
    patterns = (*MODEL_FILES, *TOKENIZER_FILES)
    for wanted in (patterns, (*patterns, *PYTORCH_FILES)):
        found = cached_snapshot(name, revision, wanted)
        if found is not None and _has_weights(found):
            return found
    return None


def model_snapshot(name: str, revision: str | None, howto: str, download: bool = True) -> Path:
    """The local snapshot of transformers model ``name`` (config, weights, tokenizer) at
    ``revision``: from the cache without a request when it is there, else fetched into it;
    MissingWeightsError(``howto``) when it may not be fetched (``download`` false, offline)."""
    found = cached_model(name, revision)
    if found is not None:
        return found
    if not download or offline():
        raise MissingWeightsError(howto)
    patterns = (*MODEL_FILES, *TOKENIZER_FILES)
    folder = fetch_snapshot(name, revision, patterns)
    if not _has_weights(folder):  # an older repository: PyTorch weights only
        folder = fetch_snapshot(name, revision, (*patterns, *PYTORCH_FILES))
    if not _has_weights(folder):
        raise MissingWeightsError(f"hub model {name!r} has no safetensors or pytorch_model*.bin.")
    return folder


def probe(repo: str, revision: str | None = None, timeout: float = PROBE_TIMEOUT) -> str | None:
    """Why ``repo`` at ``revision`` cannot be fetched now (one phrase), or None when the hub
    answers that it has it. One request, bounded by ``timeout`` seconds, no retries."""
    from urllib.parse import quote

    from huggingface_hub.utils import build_hf_headers, get_session

    url = f"{endpoint()}/api/models/{repo}/revision/{quote(revision or 'main', safe='')}"
    answer: dict[str, object] = {}

    def ask() -> None:
        try:
            answer["status"] = get_session().get(url, headers=build_hf_headers(), timeout=timeout)
        except Exception as e:  # any transport failure means: no answer
            answer["error"] = e

    worker = threading.Thread(target=ask, daemon=True)
    worker.start()
    worker.join(timeout + 1.0)
    if "status" not in answer:
        error = answer.get("error")
        why = f"{type(error).__name__}" if error is not None else "no answer"
        return f"the hub at {endpoint()} did not answer within {timeout:g} s ({why})"
    code = getattr(answer["status"], "status_code", 0)
    if code == 200:
        return None
    if code in (401, 403):
        return f"the hub at {endpoint()} refuses {repo!r} (gated or private: `hf auth login`)"
    if code == 404:
        return f"the hub at {endpoint()} has no model {repo!r} at revision {revision or 'main'}"
    return f"the hub at {endpoint()} answered HTTP {code} for {repo!r}"
