"""``make test-pythons``: the tests that matter on every Python, under every Python.

- The journey (``-m journey``: make, archive, offline install) with the tool itself running
  under each Python it supports (3.10 to 3.13), each in a virtualenv of its own made from the
  locked toolchain (``.venv-py3.X``, made again when the lock or pyproject.toml changes).
- The server side (``-m servers``: install.sh and the probe) under every server Python from 3.6,
  once, with the tool under this interpreter.
- The oldest pip the tool supports (``pip>=X`` in pyproject.toml; the lock has the newest): the
  journey, the foreign-target resolutions, whose launcher patches pip's internals, and the
  reading of pip's messages (``OLDEST_PIP_TESTS``), in ``.venv-pip-oldest``.

A Python this machine lacks is reported as skipped, with its reason; it never counts as passed.
The last line is a count (``test-pythons: N passed, N failed, N skipped``); the exit code is 1
when any run failed.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.pythons import TOOL_VERSIONS, find_python, missing  # noqa: E402

PYTEST = ("-m", "pytest", "-p", "no:cacheprovider", "-q")
#: What depends on pip's own words and internals: its messages, the launcher, the journey.
OLDEST_PIP_TESTS = ("tests/journeys/test_make.py", "tests/test_target.py", "tests/pip/test_pip.py")


@dataclass(frozen=True)
class Outcome:
    """One run: which Python, which tests, and how it ended."""

    python: str
    tests: str
    status: str
    """``passed``, ``failed`` or ``skipped``."""
    seconds: float = 0.0
    why: str = ""


def tool_venv(version: str, python: str, lock: Path, name: str = "") -> Path:
    """``.venv-pyX.Y`` (or ``.venv-NAME``): the locked toolchain and the tool (editable) under
    ``python``."""
    venv = ROOT / (f".venv-{name}" if name else f".venv-py{version}")
    stamp = venv / ".installed"
    wanted = hashlib.sha256(lock.read_bytes() + (ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    for command in (
        [python, "-m", "venv", str(venv)],
        [*pip, "--require-hashes", "-r", str(lock)],
        [*pip, "--no-deps", "--no-build-isolation", "-e", str(ROOT)],
    ):
        subprocess.run(command, check=True, cwd=ROOT)
    stamp.write_text(wanted)
    return venv


def run_tests(python: str, marker: str, label: str, *paths: str) -> Outcome:
    print(f"\n== {label}: pytest -m {marker} {' '.join(paths)} with {python}", flush=True)
    started = time.monotonic()
    done = subprocess.run([python, *PYTEST, "-m", marker, *paths], cwd=ROOT, check=False)
    status = "passed" if done.returncode == 0 else "failed"
    return Outcome(label, marker, status, time.monotonic() - started)


def oldest_pip() -> str:
    """The lowest pip pyproject.toml allows: ``pip>=24.1`` gives 24.1."""
    text = (ROOT / "pyproject.toml").read_text()
    found = re.search(r'"pip>=([0-9.]+)"', text)
    if found is None:
        raise SystemExit("pyproject.toml declares no lowest pip (pip>=X)")
    return found[1]


def with_oldest_pip(lock: Path) -> Outcome:
    version = oldest_pip()
    venv = tool_venv(".".join(map(str, sys.version_info[:2])), sys.executable, lock, "pip-oldest")
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "--quiet", f"pip=={version}"], check=True)
    return run_tests(python, "not network", f"pip {version}", *OLDEST_PIP_TESTS)


def journeys(lock: Path) -> list[Outcome]:
    outcomes = []
    for version in TOOL_VERSIONS:
        python = find_python(version)
        if python is None:
            outcomes.append(Outcome(f"tool {version}", "journey", "skipped", why=missing(version)))
            continue
        venv = tool_venv(version, python, lock)
        outcomes.append(run_tests(str(venv / "bin" / "python"), "journey", f"tool {version}"))
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", type=Path, default=ROOT / "tests" / "toolchain.lock")
    args = parser.parse_args(argv)
    outcomes = journeys(args.lock.resolve())
    outcomes.append(run_tests(sys.executable, "servers", "servers 3.6-3.13"))
    outcomes.append(with_oldest_pip(args.lock.resolve()))
    print("\n== test-pythons")
    for outcome in outcomes:
        detail = outcome.why or f"{outcome.seconds:.0f} s"
        print(f"  {outcome.python:<18} {outcome.tests:<8} {outcome.status:<8} {detail}")
    counts = {s: sum(o.status == s for o in outcomes) for s in ("passed", "failed", "skipped")}
    print(
        f"test-pythons: {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['skipped']} skipped"
    )
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
