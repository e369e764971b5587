"""Both kinds of index side by side: pip reading the index itself against pip through the relay.

The stack's files are downloaded once from the public index (into ``.cache/bench-relay/STACK``)
and served from 127.0.0.1 by the tests' local index, once with PEP 658 metadata and once
without. Against each, a cold ``bundle make`` of the stack runs through wheelbundle's relay
(the default) and with pip reading the index itself (``--find-links`` of an empty folder is a
setting that turns the relay off), alternating which goes first. Printed per kind of index: median
seconds, the whole files the index served (downloads and megabytes), and the ratios.

    python scripts/bench_relay.py [--runs N] [--stack webstack|datastack]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.index import LocalIndex  # noqa: E402 (the tests' index, found through the path above)

NOTHING = tempfile.mkdtemp(prefix="bench-relay-empty-")
MODES = {"pip reads the index": ["--find-links", NOTHING], "through the relay": []}


def environment(cache: Path) -> dict[str, str]:
    """No pip configuration of the machine's; every cache under ``cache``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") or k == "PIP_CERT"}
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_CACHE_DIR=str(cache / "pip"),
        XDG_CACHE_HOME=str(cache / "xdg"),
    )
    return env


def stack_files(stack: str) -> Path:
    """The stack's wheels and pip's, downloaded from the public index the first time."""
    folder = ROOT / ".cache" / "bench-relay" / stack
    if not (folder / ".complete").exists():
        shutil.rmtree(folder, ignore_errors=True)
        req = ROOT / "examples" / stack / "requirements.txt"
        with tempfile.TemporaryDirectory() as cache:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "-q", "-r", req, "pip", "-d", folder],
                env=environment(Path(cache)),
                check=True,
            )
        (folder / ".complete").touch()
    return folder


def make(index: LocalIndex, stack: str, extra: list[str], env: Mapping[str, str]) -> float:
    """Seconds for one cold ``bundle make`` of the stack from ``index``."""
    out = Path(env["XDG_CACHE_HOME"]).parent / "dist"
    command = [
        *(sys.executable, "-m", "wheelbundle", "make", f"examples/{stack}/requirements.txt"),
        *("-o", str(out), "--index-url", index.url, "-q", *extra),
    ]
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=dict(env), check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def served(index: LocalIndex, folder: Path) -> tuple[int, float]:
    """Whole files the index served since its counts were reset: how many, how many MB."""
    files = {
        path: count
        for path, count in index.requests.items()
        if path.startswith("/files/") and not path.endswith(".metadata")
    }
    size = sum((folder / p.removeprefix("/files/")).stat().st_size * n for p, n in files.items())
    return sum(files.values()), size / 1e6


def bench(stack: str, runs: int, metadata: bool) -> None:
    folder = stack_files(stack)
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    traffic: dict[str, tuple[int, float]] = {}
    with LocalIndex(folder, metadata=metadata) as index:
        for run in range(runs):
            for mode in list(MODES)[:: 1 if run % 2 == 0 else -1]:
                with tempfile.TemporaryDirectory(prefix="bench-relay-") as tmp:
                    index.reset_requests()
                    times[mode].append(make(index, stack, MODES[mode], environment(Path(tmp))))
                    traffic[mode] = served(index, folder)
    kind = "with PEP 658 metadata" if metadata else "without metadata"
    print(f"\n== {stack}, local index {kind}, {runs} run(s)")
    for mode, values in times.items():
        count, megabytes = traffic[mode]
        runs_text = " ".join(f"{v:.2f}" for v in values)
        print(
            f"   {mode:<22} {statistics.median(values):6.2f}s   {count:3d} files, "
            f"{megabytes:6.1f} MB   runs {runs_text}"
        )
    relay, pip = (statistics.median(times[m]) for m in ("through the relay", "pip reads the index"))
    print(f"   relay / pip reading the index itself: {relay / pip:.2f} (time), ", end="")
    print(f"{traffic['through the relay'][1] / traffic['pip reads the index'][1]:.2f} (bytes)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3, help="alternating runs per kind of index")
    parser.add_argument("--stack", choices=["webstack", "datastack"], default="webstack")
    args = parser.parse_args()
    for metadata in (True, False):
        bench(args.stack, args.runs, metadata)
    return 0


if __name__ == "__main__":
    sys.exit(main())
