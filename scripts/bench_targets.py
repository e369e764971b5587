"""Many targets in one run: ``bundle make`` for 1, 2, 4 and 8 targets (CPython 3.10-3.13 on
manylinux_2_28 x86_64 and aarch64) against the loop an operator writes today, one
``pip download --only-binary :all: --platform … --python-version …`` per target, side by side
in one run on the web stack, every cache cold. Prints each time, the ratio for 8 targets, and
how the time grows from 1 to 8. It needs the public index and is not part of the test suite.

    python scripts/bench_targets.py [--stack webstack]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import ROOT, public_env, run

TARGETS = [f"cp3{m}-manylinux_2_28_{a}" for m in (10, 11, 12, 13) for a in ("x86_64", "aarch64")]


def bundle_make(req: Path, targets: Sequence[str], work: Path) -> float:
    work.mkdir(parents=True)
    env = public_env(work / "cache")
    args = [a for t in targets for a in ("--target", t)]
    cmd: list[str | Path] = [
        sys.executable,
        "-m",
        "wheelbundle",
        "make",
        req,
        "-o",
        work / "out",
        "-q",
        *args,
    ]
    measure = run(cmd, env, work / "bundle.log")
    print(
        f"  bundle make, {len(targets)} target(s): {measure.seconds:6.1f} s  -> {measure.stdout.strip().splitlines()[-1]}"
    )
    return measure.seconds


def pip_loop(req: Path, targets: Sequence[str], work: Path) -> float:
    work.mkdir(parents=True)
    env = public_env(work / "cache")
    total = 0.0
    for target in targets:
        python, platform = target.split("-", 1)
        version = f"{python[2]}.{python[3:]}"
        cmd: list[str | Path] = [
            sys.executable, "-m", "pip", "download", "--quiet", "--only-binary", ":all:",
            *(a for p in _platforms(platform) for a in ("--platform", p)),
            "--python-version", version, "--implementation", "cp", "-d", work / target, "-r", req,
        ]  # fmt: skip
        total += run(cmd, env, work / "pip.log").seconds
    print(f"  pip download loop, {len(targets)} target(s): {total:6.1f} s")
    return total


def _platforms(platform: str) -> list[str]:
    """pip takes ``--platform manylinux_2_28_x86_64`` literally (no manylinux_2_17 wheel
    fits it), so the loop names every older manylinux too, as an operator learns to."""
    arch = platform.removeprefix("manylinux_2_28_")
    return [f"manylinux_2_{n}_{arch}" for n in range(28, 16, -1)] + [f"manylinux2014_{arch}"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stack", default="webstack")
    args = parser.parse_args(argv)
    req = ROOT / "examples" / args.stack / "requirements.txt"
    with tempfile.TemporaryDirectory(prefix="bench-targets-") as tmp:
        work = Path(tmp)
        print(f"== {args.stack}: {len(TARGETS)} targets, every cache cold")
        loop = pip_loop(req, TARGETS, work / "pip")
        made = {n: bundle_make(req, TARGETS[:n], work / f"bundle{n}") for n in (1, 2, 4, 8)}
    print(
        f"8 targets: bundle make {made[8]:.1f} s, pip download loop {loop:.1f} s: "
        f"{loop / made[8]:.2f}x"
    )
    print("growth from 1 target: " + ", ".join(f"{n}: {made[n] / made[1]:.2f}x" for n in made))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
