"""Progress bars (rich) that ``--quiet`` silences."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

console = Console(stderr=True)
_quiet = False


def set_quiet(quiet: bool) -> None:
    global _quiet
    _quiet = quiet


def silence_library_progress() -> None:
    """transformers/huggingface_hub draw their own tqdm bars while loading; ours suffice."""
    import huggingface_hub.utils
    from transformers.utils import logging as hf_logging

    huggingface_hub.utils.disable_progress_bars()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def is_quiet() -> bool:
    return _quiet


def log(message: str) -> None:
    if not _quiet:
        console.print(message)


def warn(message: str) -> None:
    """``warning: message`` as one unwrapped line on stderr, shown even with ``--quiet``."""
    console.print(f"[yellow]warning:[/yellow] {message}", soft_wrap=True, highlight=False)


@contextmanager
def task(description: str, total: int | None = None) -> Iterator:
    """A progress bar; yields ``advance(n=1, **fields)``; ``fields`` update the description."""
    if _quiet:
        yield lambda n=1, **kw: None
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
            info = "  ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items()
            )
            prog.update(tid, advance=n, info=info)

        yield advance
