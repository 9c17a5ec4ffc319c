"""Polite pre-emption: SIGTERM (a cluster scheduler) or SIGINT (Ctrl-C) stops a run resumably.

Inside ``stop_politely()`` the first SIGTERM or SIGINT raises :class:`Interrupted` in the main
thread at once: the training step in progress is dropped, and the last complete checkpoint
(saved after every epoch) is what ``eegbench run --resume`` continues from, to the same numbers.
A signal that arrives while a checkpoint is being saved (``deferred()``) waits until the save is
complete. After the first signal both signals have their default action again, so a second one
ends the process at once, even inside a long native call; the run folder it leaves holds the last
complete checkpoint and is resumable like any folder of a killed run.

The command line turns :class:`Interrupted` into one line naming the command that resumes
(``line()``) and exit code 128 + the signal number (143 for SIGTERM, 130 for SIGINT).
"""

from __future__ import annotations

import shlex
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Interrupted(KeyboardInterrupt):
    """A run or suite stopped by ``signum``; ``resume`` is the argv that continues it (None:
    there is nothing to continue, e.g. no epoch had finished); ``finished`` the run folder when
    the run was complete already (stopped while it was being reported)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.resume: list[str] | None = None
        self.finished: str | None = None

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def line(self) -> str:
        """What the user reads: how the work stopped and the command that continues it."""
        name = signal.Signals(self.signum).name
        if self.finished is not None:
            return f"interrupted by {name} after the run was written to {self.finished}."
        if self.resume is None:
            return (
                f"interrupted by {name} before the first checkpoint (one is saved after every "
                "epoch): nothing to resume; start the run again."
            )
        return f"interrupted by {name}; resume with: {shlex.join(self.resume)}"


class _State:
    def __init__(self) -> None:
        self.active = False
        self.deferring = 0
        self.pending: int | None = None


_state = _State()


def _handler(signum: int, frame: FrameType | None) -> None:
    for s in SIGNALS:  # from now on a signal ends the process at once
        if signal.getsignal(s) is _handler:
            signal.signal(s, signal.SIG_DFL)
    if _state.deferring:
        _state.pending = signum
        return
    raise Interrupted(signum)


@contextmanager
def stop_politely() -> Iterator[None]:
    """Within this block SIGTERM and SIGINT raise :class:`Interrupted` (see the module). A signal
    the process ignores (``nohup``, a background job) stays ignored; outside the main thread,
    where Python cannot handle signals, nothing changes."""
    if _state.active or threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {s: signal.getsignal(s) for s in SIGNALS}
    before = {s: h for s, h in before.items() if h is not signal.SIG_IGN}
    for s in before:
        signal.signal(s, _handler)
    _state.active, _state.pending = True, None
    try:
        yield
    finally:
        _state.active = False
        for s, handler in before.items():
            signal.signal(s, handler)


@contextmanager
def deferred() -> Iterator[None]:
    """A block that a first signal does not cut short: :class:`Interrupted` is raised when it
    ends (a checkpoint being written is completed, so the epoch it holds is not lost)."""
    _state.deferring += 1
    try:
        yield
    finally:
        _state.deferring -= 1
    if not _state.deferring and _state.pending is not None:
        signum, _state.pending = _state.pending, None
        raise Interrupted(signum)
