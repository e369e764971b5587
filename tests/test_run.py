"""The one runner of outside programs: a deadline for each, all ended at once on an interrupt,
what they said kept whole."""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest

from wheelbundle.run import TimedOut, run, stop_all

SLEEPER = [sys.executable, "-c", "import time; print('started', flush=True); time.sleep(600)"]


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_what_a_program_said_is_kept_and_its_streams_apart_unless_streamed() -> None:
    script = "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"
    done = run([sys.executable, "-c", script], timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")
    lines: list[str] = []
    streamed = run([sys.executable, "-u", "-c", script], timeout=60, on_line=lines.append)
    assert lines == ["out\n", "err\n"] and streamed.stdout == "out\nerr\n"
    fed = run([sys.executable, "-c", "import sys; print(sys.stdin.read()[::-1])"],
              timeout=60, input=b"abc")  # fmt: skip
    assert fed.stdout == "cba\n"


def test_a_program_past_its_deadline_is_ended_and_named() -> None:
    started = time.monotonic()
    with pytest.raises(TimedOut, match=r"^python[\d.]* gave no answer in 1 s and was ended$"):
        run(SLEEPER, timeout=1)
    assert time.monotonic() - started < 30


def test_stop_all_ends_the_programs_other_threads_wait_on() -> None:
    """As an interrupted command does: the threads' programs end now, not in ten minutes."""
    ended: list[int] = []

    def wait() -> None:
        ended.append(run(SLEEPER, timeout=600).returncode)

    threads = [threading.Thread(target=wait) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    started = time.monotonic()
    stop_all()
    for thread in threads:
        thread.join(timeout=30)
    assert time.monotonic() - started < 30
    assert len(ended) == 2 and all(code != 0 for code in ended)


def test_an_interrupt_in_the_caller_ends_the_program_at_once() -> None:
    pids: list[int] = []

    def interrupted(line: str) -> None:
        pids.extend(int(p) for p in line.split() if p.isdigit())
        raise KeyboardInterrupt

    script = "import os, time; print('pid', os.getpid(), flush=True); time.sleep(600)"
    with pytest.raises(KeyboardInterrupt):
        run([sys.executable, "-c", script], timeout=600, on_line=interrupted)
    assert pids and _gone(pids[0])
