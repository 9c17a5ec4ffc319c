"""Progress and log messages: rich bars on a terminal, plain lines in logs, JSON for pipelines.

Three styles, chosen by the CLI (``--quiet``, ``--log-format``) and by whether stderr is a
terminal:

- terminal: rich progress bars, as a person watching expects;
- plain (stderr is a file, a pipe, CI): one line per long phase at a steady interval
  (``EEGBENCH_PROGRESS_INTERVAL`` seconds, default 15) with phase, step/total, rate and ETA,
  even while a single step takes longer than the interval;
- json (``--log-format json``): one JSON object per event on stderr (``start``, ``progress``,
  ``end``, ``log``).

``--quiet`` silences progress and log messages (errors are still printed).

Messages (``log``, ``warn``) are records of the standard ``logging.getLogger("eegbench")``
(INFO and WARNING), so a program's own handler receives them (``logging.basicConfig``, a file
handler, ...). eegbench's console output is one handler on that logger, ``CONSOLE``, which
prints them as above; ``logging.getLogger("eegbench").removeHandler(CONSOLE)`` leaves the
output to the program's handlers alone.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

console = Console(stderr=True)
LogFormat = Literal["text", "json"]
DEFAULT_INTERVAL = 15.0
_quiet = False
_format: LogFormat = "text"

logger = logging.getLogger("eegbench")
"""eegbench's messages: INFO (``log``) and WARNING (``warn``) records, rich markup removed."""


class ConsoleHandler(logging.Handler):
    """eegbench's own output of its log records: rich on a terminal, plain lines in logs, one
    JSON object per record with ``--log-format json``; INFO records are dropped by ``--quiet``."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.WARNING and _quiet:
            return
        markup = getattr(record, "markup", None)
        try:
            if _format == "json":
                kind = "log" if record.levelno < logging.WARNING else "warning"
                _emit_json({"event": kind, "message": record.getMessage()})
            elif record.levelno >= logging.WARNING:
                console.print(
                    f"[yellow]warning:[/yellow] {markup or escape(record.getMessage())}",
                    soft_wrap=True,
                    highlight=False,
                )
            else:
                console.print(markup if markup is not None else escape(record.getMessage()))
        except Exception:  # a closed stream must not break the run
            self.handleError(record)


CONSOLE = ConsoleHandler()
if not any(isinstance(h, ConsoleHandler) for h in logger.handlers):
    logger.addHandler(CONSOLE)
if logger.level == logging.NOTSET:
    logger.setLevel(logging.INFO)


def set_quiet(quiet: bool) -> None:
    global _quiet
    _quiet = quiet


def set_log_format(fmt: LogFormat) -> None:
    """``text`` (bars on a terminal, plain lines otherwise) or ``json`` (one object per event)."""
    global _format
    if fmt not in ("text", "json"):
        raise ValueError(f"log format {fmt!r}: use text or json")
    _format = fmt


def log_format() -> LogFormat:
    return _format


def interval() -> float:
    """Seconds between plain/JSON progress lines (``EEGBENCH_PROGRESS_INTERVAL``)."""
    from eegbench.errors import ConfigError

    raw = os.environ.get("EEGBENCH_PROGRESS_INTERVAL", "")
    if not raw:
        return DEFAULT_INTERVAL
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise ConfigError(
            f"EEGBENCH_PROGRESS_INTERVAL={raw!r}: expected a positive number of seconds."
        )
    return value


def silence_library_progress() -> None:
    """transformers/huggingface_hub draw their own tqdm bars while loading; ours suffice."""
    from eegbench._compat import ensure_torchvision_importable

    ensure_torchvision_importable()
    import huggingface_hub.utils
    from transformers.utils import logging as hf_logging

    huggingface_hub.utils.disable_progress_bars()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def is_quiet() -> bool:
    return _quiet


def _emit_json(event: dict[str, Any]) -> None:
    sys.stderr.write(json.dumps({"time": round(time.time(), 3), **event}) + "\n")
    sys.stderr.flush()


def log(message: str) -> None:
    """A message for the user (rich markup allowed): an INFO record of the ``eegbench`` logger;
    printed by ``CONSOLE`` (a ``log`` event in JSON mode, nothing with ``--quiet``)."""
    logger.info(Text.from_markup(message).plain, extra={"markup": message})


def warn(message: str) -> None:
    """A WARNING record of the ``eegbench`` logger; ``CONSOLE`` prints ``warning: message`` as
    one unwrapped line on stderr, also with ``--quiet``."""
    logger.warning(Text.from_markup(message).plain, extra={"markup": message})


def _fmt_fields(fields: dict[str, object]) -> str:
    return "  ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items()
    )


def _fmt_seconds(s: float) -> str:
    s = int(round(s))
    return (
        f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


class _Ticker:
    """Counts steps and reports them (plain line or JSON event) every ``every`` seconds."""

    def __init__(self, description: str, total: int | None, every: float, as_json: bool) -> None:
        self.description, self.total, self.every, self.as_json = description, total, every, as_json
        self.done = 0
        self.fields: dict[str, object] = {}
        self.start = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> _Ticker:
        if self.as_json:
            _emit_json({"event": "start", "phase": self.description, "total": self.total})
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.report("end")

    def advance(self, n: int = 1, **fields: object) -> None:
        with self._lock:
            self.done += n
            self.fields.update(fields)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self.report("progress")

    def report(self, event: str) -> None:
        with self._lock:
            done, fields = self.done, dict(self.fields)
        elapsed = time.monotonic() - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done) / rate if self.total is not None and rate > 0 else None
        if self.as_json:
            _emit_json(
                {
                    "event": event,
                    "phase": self.description,
                    "step": done,
                    "total": self.total,
                    "elapsed_s": round(elapsed, 2),
                    "rate_per_s": round(rate, 4),
                    "eta_s": None if eta is None else round(eta, 1),
                    **fields,
                }
            )
            return
        of = f"{done}/{self.total}" if self.total is not None else f"{done}"
        parts = [f"{self.description}: {of}"]
        if self.total:
            parts.append(f"({100 * done / self.total:.0f}%)")
        parts.append(f"{rate:.3g}/s elapsed {_fmt_seconds(elapsed)}")
        if event == "end":
            parts.append("done")
        elif eta is not None:
            parts.append(f"ETA {_fmt_seconds(eta)}")
        if fields:
            parts.append(_fmt_fields(fields))
        console.print(Text(" ".join(parts)), soft_wrap=True)


@contextmanager
def task(description: str, total: int | None = None) -> Iterator[Callable[..., None]]:
    """A progress display; yields ``advance(n=1, **fields)``; ``fields`` are shown beside it."""
    if _quiet:
        yield lambda n=1, **kw: None
        return
    if _format == "json" or not console.is_terminal:
        with _Ticker(description, total, interval(), _format == "json") as ticker:
            yield ticker.advance
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
        console=console,
        transient=False,
    ) as prog:
        tid = prog.add_task(description, total=total, info="")

        def advance(n: int = 1, **fields: object) -> None:
            prog.update(tid, advance=n, info=_fmt_fields(fields))

        yield advance
