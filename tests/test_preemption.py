"""The signal handling of ``eegbench.train.preemption`` in this process (SIGINT only: where the
handler were missing, Python's own would raise KeyboardInterrupt rather than end pytest)."""

from __future__ import annotations

import os
import signal

import pytest

from eegbench.train.preemption import Interrupted, deferred, stop_politely


@pytest.fixture(autouse=True)
def _sigint_as_at_a_terminal():
    """SIGINT as a terminal's foreground process has it (Python's KeyboardInterrupt handler),
    also when pytest was started from a background job or under nohup, which ignore it (and
    stop_politely rightly leaves an ignored signal ignored)."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def _signal_self(signum: int = signal.SIGINT) -> None:
    os.kill(os.getpid(), signum)
    for _ in range(1000):  # the handler runs between two bytecodes of this thread
        pass


def test_first_signal_raises_interrupted_and_handlers_are_restored():
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as e, stop_politely():
        assert signal.getsignal(signal.SIGINT) is not before[0]
        _signal_self()
        pytest.fail("the signal did not stop the block")
    assert e.value.signum == signal.SIGINT and e.value.exit_code == 130
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_a_checkpoint_being_written_completes_before_the_stop():
    done = []
    with pytest.raises(Interrupted), stop_politely():
        with deferred():
            _signal_self()
            # a second signal now would end the process: its default action is back
            assert signal.getsignal(signal.SIGINT) is signal.SIG_DFL
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
            done.append("saved")
        pytest.fail("the deferred signal was not raised when the block ended")
    assert done == ["saved"]


def test_an_ignored_signal_stays_ignored():
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with stop_politely():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            _signal_self()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, old)


def test_the_line_says_what_to_do():
    e = Interrupted(signal.SIGTERM)
    assert e.exit_code == 143
    assert e.line().startswith("interrupted by SIGTERM before the first checkpoint")
    e.resume = ["eegbench", "run", "--resume", "runs/.partial-a b.1.x"]
    assert e.line() == (
        "interrupted by SIGTERM; resume with: eegbench run --resume 'runs/.partial-a b.1.x'"
    )
    e.finished = "runs/a"
    assert e.line() == "interrupted by SIGTERM after the run was written to runs/a."
    assert isinstance(e, KeyboardInterrupt)  # code that handles Ctrl-C handles it too
