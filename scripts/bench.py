"""Side-by-side benchmark: the pip recipe and pex against wheelbundle, on real stacks in examples/.

Build side, cold and warm caches:   ``pip wheel -r REQ -w DIR`` + ``tar czf``  vs  ``bundle make``
                                    vs  ``pex -r REQ -o app.pex`` (pex from the toolchain lock)
Server side, offline:               ``python -m venv`` + ``pip install --no-index --find-links``
                                    vs  ``install.sh`` (pip)  vs  ``install.sh`` (uv)

Runs alternate (pip first on even runs, bundle first on odd ones; the three install arms take
turns going first) in one process, so all sides see the same network, disk and load. The uv arm
installs a second bundle of the same inputs, made with ``--installer uv`` after the warm run.
Everything comes from the public index: the machine's pip configuration is hidden
(``PIP_CONFIG_FILE=/dev/null``, no ``PIP_*`` but ``PIP_CERT``). It needs the public index and is
not part of the test suite. Standard library only.

    python scripts/bench.py [--runs N] [--stack webstack|datastack|all] [--quick]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STACKS = ("webstack", "airflow", "datastack")
DEFAULT_STACKS = ("webstack", "airflow")
"""The web stack (44 wheels) and Airflow 3.1.5 with three extras (150 wheels)."""
KEPT_PIP_VARIABLES = ("PIP_CERT", "PIP_DEFAULT_TIMEOUT")

# Runs `bundle` in this process's interpreter and reports the peak RSS of that one process
# (not of the pip subprocesses it starts) in kB, through the file named by BENCH_RSS_FILE.
BUNDLE_WITH_RSS = """\
import os, resource, sys
from wheelbundle.cli import main
try:
    code = main(sys.argv[1:])
finally:
    with open(os.environ["BENCH_RSS_FILE"], "w") as out:
        out.write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
sys.exit(code)
"""


@dataclass(frozen=True)
class Measure:
    seconds: float
    tree_rss_kb: int
    """Peak RSS of the largest process in the command's tree (wait4), in kB."""
    stdout: str


@dataclass
class Results:
    times: dict[str, list[float]] = field(default_factory=dict)
    peaks_kb: dict[str, list[int]] = field(default_factory=dict)
    facts: dict[str, str] = field(default_factory=dict)

    def add(self, step: str, seconds: float) -> None:
        self.times.setdefault(step, []).append(seconds)

    def peak(self, what: str, kb: int) -> None:
        self.peaks_kb.setdefault(what, []).append(kb)

    def median(self, step: str) -> float:
        return statistics.median(self.times[step])


class BenchError(Exception):
    pass


def public_env(cache_root: Path) -> dict[str, str]:
    """A normal user's environment: the public index only, every cache under `cache_root`."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("PIP_") or k in KEPT_PIP_VARIABLES
    }
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        PIP_CACHE_DIR=str(cache_root / "pip"),
        XDG_CACHE_HOME=str(cache_root / "xdg"),
    )
    env.pop("SOURCE_DATE_EPOCH", None)
    env.pop("VIRTUAL_ENV", None)
    return env


def run(cmd: Sequence[str | os.PathLike[str]], env: Mapping[str, str], log: Path) -> Measure:
    """Run `cmd`, stdout kept, stderr to `log`; time it and read its tree's peak RSS (wait4)."""
    args = [os.fspath(c) for c in cmd]
    with tempfile.TemporaryFile() as out, log.open("ab") as err:
        err.write(("\n$ " + " ".join(args) + "\n").encode())
        err.flush()
        start = time.perf_counter()
        proc = subprocess.Popen(args, stdout=out, stderr=err, env=dict(env))
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        stdout = out.read().decode(errors="replace")
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-15:]
        raise BenchError(f"{args[0]} exited {proc.returncode}:\n" + "\n".join(tail))
    return Measure(seconds, int(usage.ru_maxrss), stdout)


def network_cut() -> list[str]:
    """`unshare -n` where this machine allows it (the install side then really is offline)."""
    for prefix in (["unshare", "-n"], ["unshare", "-rn"]):
        if shutil.which(prefix[0]) is None:
            continue
        probe = subprocess.run([*prefix, "true"], capture_output=True, check=False)
        if probe.returncode == 0:
            return prefix
    return []


def base_python() -> str:
    """The interpreter the tool runs on, outside any venv: bundles are made for it."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidate = Path(sys.base_prefix) / "bin" / version
    return str(candidate) if candidate.exists() else shutil.which(version) or sys.executable


@contextmanager
def scratch(parent: Path, name: str) -> Iterator[Path]:
    path = parent / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class Bench:
    def __init__(self, stack: str, work: Path, cut: list[str]) -> None:
        self.stack = stack
        self.req = ROOT / "examples" / stack / "requirements.txt"
        if not self.req.is_file():
            raise BenchError(f"{self.req} is missing")
        self.work = work / stack
        self.work.mkdir(parents=True)
        self.log = self.work / "log.txt"
        self.cut = cut
        self.python = base_python()
        self.results = Results()

    # -- build side ---------------------------------------------------------------------------

    def pip_recipe(self, cache: Path, label: str) -> Path:
        """`pip wheel -r` into a fresh folder, then `tar czf` of it. Returns the wheelhouse."""
        env = public_env(cache)
        house = self.work / f"house-{label}"
        shutil.rmtree(house, ignore_errors=True)
        wheel = run(
            [sys.executable, "-m", "pip", "wheel", "-q", "-r", self.req, "-w", house],
            env,
            self.log,
        )
        tgz = self.work / f"house-{label}.tar.gz"
        tar = run(["tar", "czf", tgz, "-C", house.parent, house.name], env, self.log)
        self.results.add(f"pip wheel -r ({label})", wheel.seconds)
        self.results.add(f"tar czf ({label})", tar.seconds)
        self.results.add(f"pip wheel -r + tar czf ({label})", wheel.seconds + tar.seconds)
        self.results.peak(f"pip wheel -r ({label}), largest process", wheel.tree_rss_kb)
        self.results.facts["wheelhouse"] = (
            f"{len(list(house.glob('*.whl')))} wheels, {folder_size(house) / 1e6:.1f} MB"
        )
        self.results.facts["pip wheel tar.gz"] = f"{tgz.stat().st_size / 1e6:.1f} MB"
        tgz.unlink()
        return house

    def pex_build(self, cache: Path, label: str) -> None:
        """``pex -r REQ -o app.pex``: pex's own single offline artefact, resolved by its pip."""
        env = public_env(cache)
        env["PEX_ROOT"] = str(cache / "pex")
        out = self.work / f"app-{label}.pex"
        built = run([sys.executable, "-m", "pex", "-r", self.req, "-o", out], env, self.log)
        self.results.add(f"pex -r ({label})", built.seconds)
        self.results.peak(f"pex -r ({label}), largest process", built.tree_rss_kb)
        self.results.facts["pex file"] = f"{out.stat().st_size / 1e6:.1f} MB"
        out.unlink()

    def bundle_make(
        self, cache: Path, label: str, req: Path | None = None, installer: str = "pip"
    ) -> Path:
        env = public_env(cache)
        rss_file = self.work / "rss"
        env["BENCH_RSS_FILE"] = str(rss_file)
        outdir = self.work / f"dist-{label}-{installer}"
        shutil.rmtree(outdir, ignore_errors=True)
        made = run(
            [
                sys.executable,
                "-c",
                BUNDLE_WITH_RSS,
                "make",
                "--quiet",
                req or self.req,
                "-o",
                outdir,
                "--cache-dir",
                cache / "wheelbundle",
                "--installer",
                installer,
            ],
            env,
            self.log,
        )
        archive = Path(made.stdout.strip().splitlines()[-1])
        step = (
            f"bundle make ({label})"
            if installer == "pip"
            else f"bundle make --installer {installer} ({label})"
        )
        self.results.add(step, made.seconds)
        self.results.peak(f"{step}, bundle process", int(rss_file.read_text()))
        self.results.peak(f"{step}, largest process", made.tree_rss_kb)
        if req is None:  # the stack's own bundle, not one made from its locks
            self.results.facts[f"bundle archive ({installer})"] = (
                f"{archive.name}, {archive.stat().st_size / 1e6:.1f} MB"
            )
        return archive

    def locked_make(self, archive: Path) -> None:
        """``bundle make`` of the bundle's own complete locks, each with a cold cache: the
        hash-pinned requirements.lock (pip finds each file, no resolution) and pylock.toml
        (no pip run at all but for pip's own wheel)."""
        locks = self.work / "locks"
        locks.mkdir(exist_ok=True)
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                wanted = member.name.endswith(("/requirements.lock", "/pylock.toml"))
                if wanted and (data := tar.extractfile(member)) is not None:
                    (locks / Path(member.name).name).write_bytes(data.read())
        for name, label in (("requirements.lock", "hash-pinned lock"), ("pylock.toml", "pylock")):
            with scratch(self.work, "cache-lock") as cache:
                self.bundle_make(cache, label, locks / name)

    # -- server side --------------------------------------------------------------------------

    def plain_install(self, house: Path) -> None:
        with scratch(self.work, "server-plain") as server:
            env = public_env(server / "cache")
            venv = server / "venv"
            made = run([*self.cut, self.python, "-m", "venv", venv], env, self.log)
            installed = run(
                [
                    *self.cut,
                    venv / "bin" / "python",
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "--no-index",
                    "--find-links",
                    house,
                    "-r",
                    self.req,
                ],
                env,
                self.log,
            )
            self.results.add("python -m venv", made.seconds)
            self.results.add("pip install --no-index", installed.seconds)
            self.results.add("venv + pip install --no-index", made.seconds + installed.seconds)

    def install_sh(self, archive: Path, installer: str) -> None:
        with scratch(self.work, "server-bundle") as server:
            env = public_env(server / "cache")
            with tarfile.open(archive) as tar:
                tar.extractall(server / "unpacked", filter="data")
            (top,) = (server / "unpacked").iterdir()
            installed = run(
                [*self.cut, top / "install.sh", "--python", self.python, server / "venv"],
                env,
                self.log,
            )
            run(
                [*self.cut, server / "venv" / "bin" / "python", "-m", "pip", "check"], env, self.log
            )
            # A uv that could not run would fall back to pip: that run must not count as uv's.
            [record] = (server / "venv" / "lib").glob("python*/site-packages/pip-*.dist-info")
            used = (record / "INSTALLER").read_text().strip()
            if used != installer:
                raise BenchError(f"install.sh installed with {used}, not {installer}")
            self.results.add(f"install.sh ({installer})", installed.seconds)

    # -- one alternating run ------------------------------------------------------------------

    def once(self, index: int) -> None:
        order = ["pip", "bundle", "pex"]
        order = order[index % 3 :] + order[: index % 3]  # each side takes its turn first
        with (
            scratch(self.work, "cache-pip") as pip_cache,
            scratch(self.work, "cache-b") as b_cache,
            scratch(self.work, "cache-pex") as pex_cache,
        ):
            for label in ("cold", "warm"):
                for side in order:
                    say(f"  {self.stack} run {index + 1}: {side} ({label})")
                    if side == "pip":
                        house = self.pip_recipe(pip_cache, label)
                    elif side == "pex":
                        self.pex_build(pex_cache, label)
                    else:
                        archive = self.bundle_make(b_cache, label)
            say(f"  {self.stack} run {index + 1}: bundle make of complete locks (cold)")
            self.locked_make(archive)
            say(f"  {self.stack} run {index + 1}: bundle --installer uv (warm)")
            uv_archive = self.bundle_make(b_cache, "warm", installer="uv")
            arms = ["plain", "pip", "uv"]
            for arm in arms[index % 3 :] + arms[: index % 3]:
                say(f"  {self.stack} run {index + 1}: install ({arm})")
                if arm == "plain":
                    self.plain_install(house)
                else:
                    self.install_sh(archive if arm == "pip" else uv_archive, arm)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


RATIOS = (
    # (what, numerator, denominator, target from issue 6 or None)
    (
        "cold bundle make / (pip wheel -r + tar czf)",
        "bundle make (cold)",
        "pip wheel -r + tar czf (cold)",
        0.8,
    ),
    ("warm bundle make / warm pip wheel -r", "bundle make (warm)", "pip wheel -r (warm)", 0.15),
    ("cold bundle make / cold pex -r", "bundle make (cold)", "pex -r (cold)", None),
    ("warm bundle make / warm pex -r", "bundle make (warm)", "pex -r (warm)", None),
    (
        "hash-pinned lock, cold bundle make / cold pip wheel -r",
        "bundle make (hash-pinned lock)",
        "pip wheel -r (cold)",
        0.5,
    ),
    (
        "pylock.toml, cold bundle make / cold pip wheel -r",
        "bundle make (pylock)",
        "pip wheel -r (cold)",
        0.5,
    ),
    (
        "install.sh (pip) / (venv + pip install --no-index)",
        "install.sh (pip)",
        "venv + pip install --no-index",
        0.9,
    ),
    (
        "install.sh (uv) / (venv + pip install --no-index)",
        "install.sh (uv)",
        "venv + pip install --no-index",
        0.2,
    ),
    ("install.sh (uv) / install.sh (pip)", "install.sh (uv)", "install.sh (pip)", None),
)


def report(bench: Bench) -> None:
    r = bench.results
    print(f"\n== {bench.stack}  ({bench.req.relative_to(ROOT)})")
    for key, value in r.facts.items():
        print(f"   {key}: {value}")
    print(f"   {'step':<44} {'median':>8}   runs")
    for step, values in r.times.items():
        runs = " ".join(f"{v:.2f}" for v in values)
        print(f"   {step:<44} {statistics.median(values):>7.2f}s   {runs}")
    print("   ratios (median / median):")
    for what, num, den, target in RATIOS:
        if num in r.times and den in r.times:
            ratio = r.median(num) / r.median(den)
            verdict = (
                ""
                if target is None
                else f"(target <= {target}: {'met' if ratio <= target else 'NOT met'})"
            )
            print(f"   {what:<52} {ratio:>6.2f}  {verdict}")
    print("   peak memory (max over runs):")
    for what, kbs in r.peaks_kb.items():
        print(f"   {what:<52} {max(kbs) / 1024:>6.0f} MB")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--runs", type=int, help="alternating runs per stack (default 3; 1 with --quick)"
    )
    parser.add_argument(
        "--stack",
        choices=[*STACKS, "all"],
        help="default: webstack and airflow (webstack with --quick); all adds datastack",
    )
    parser.add_argument("--quick", action="store_true", help="one run of the web stack only")
    parser.add_argument("--keep", action="store_true", help="keep the work folder and its log")
    args = parser.parse_args(argv)
    runs: int = args.runs or (1 if args.quick else 3)
    chosen: str | None = args.stack or ("webstack" if args.quick else None)
    stacks = DEFAULT_STACKS if chosen is None else STACKS if chosen == "all" else (chosen,)
    if runs < 1:
        parser.error("--runs must be at least 1")

    cut = network_cut()
    work = Path(tempfile.mkdtemp(prefix="wheelbundle-bench-"))
    say(f"bench: {runs} run(s) of {', '.join(stacks)} in {work}")
    say(
        f"bench: install side {'offline (' + ' '.join(cut) + ')' if cut else 'with the network on'}"
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        for stack in stacks:
            bench = Bench(stack, work, cut)
            for i in range(runs):
                bench.once(i)
            report(bench)
    except BenchError as error:
        print(f"error: {error}\n(log and work files kept in {work})", file=sys.stderr)
        return 1
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"\ncpu time of all children: {cpu:.1f} s; python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
