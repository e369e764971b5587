"""Building wheels from sdists, local projects and VCS checkouts, once, on the build machine.

The server has no compiler, so the archive never carries an sdist. Builds run here, with this
interpreter or another Python of the target's version (``under``), so each is cached under what
was built (the sdist's hash, or the VCS commit) and what built it (that Python and this
platform, the build options): a second ``bundle make`` never rebuilds. Whether a built wheel
suits the target is the caller's question.
"""

from __future__ import annotations

import sys
import sysconfig
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import parse_wheel_filename

from wheelbundle.cache import Cache, content_key, sha256_file
from wheelbundle.errors import BuildFailed, PipFailed
from wheelbundle.format.pins import Pin
from wheelbundle.format.wheelcheck import kept_wheel
from wheelbundle.pip.runner import Runner, Under, run_pip
from wheelbundle.run import stop_all


@dataclass(frozen=True)
class BuildJob:
    """A pin to build and what to hand ``pip wheel``: a downloaded sdist, a folder or a VCS URL;
    and the Python to build it with (None: this one)."""

    pin: Pin
    source: str
    under: Under | None = None
    python: str = ""
    """The interpreter tag of ``under`` (``cp39``); empty for this one."""

    @property
    def key(self) -> BuildKey:
        return (self.pin.name, self.pin.version, self.python)


BuildKey = tuple[str, str, str]
"""A build by name, version and the interpreter tag that built it (empty: this one)."""


@dataclass(frozen=True)
class Built:
    """What a round of builds gave, by :data:`BuildKey`."""

    wheels: Mapping[BuildKey, Path]
    failed: Mapping[BuildKey, BuildFailed]


def built_of(wheels: Mapping[BuildKey, Path], pin: Pin) -> list[Path]:
    """The wheels built of a pin's name and version, by whichever Pythons built it."""
    return [w for (n, v, _), w in wheels.items() if (n, v) == (pin.name, pin.version)]


def build_key(pin: Pin, pip_options: Sequence[str], python: str = "") -> str | None:
    """Cache key of a build; None for a local folder, whose content may change at any time."""
    if pin.kind == "dir":
        return None
    origin = pin.sha256 if pin.kind == "sdist" else f"{pin.url}@{pin.vcs_commit}"
    builder = f"{python or sys.implementation.cache_tag}-{sysconfig.get_platform()}"
    return content_key(str(origin), builder, *pip_options)


def build_all(
    jobs: Sequence[BuildJob],
    cache: Cache,
    pip_options: Sequence[str] = (),
    *,
    parallel: int = 2,
    verbose: bool = False,
    run: Runner = run_pip,
    done: Callable[[Pin], None] | None = None,
) -> Built:
    """Build every job (in parallel), each to the end whether others fail or not, so that the
    caller can name every package that did not build, not just the first.

    Two targets may resolve two versions of one sdist: each is its own build.
    """

    def one(job: BuildJob) -> Path | BuildFailed:
        try:
            return _build_cached(job, cache, pip_options, verbose, run)
        except BuildFailed as exc:
            return exc
        finally:
            if done:
                done(job.pin)

    pool = ThreadPoolExecutor(max_workers=max(1, parallel))
    try:
        results = list(pool.map(one, jobs))
    except BaseException:  # Ctrl-C, SIGTERM: every build ends now, not when it is done
        stop_all()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    keys = [job.key for job in jobs]
    return Built(
        wheels={k: r for k, r in zip(keys, results, strict=True) if isinstance(r, Path)},
        failed={k: r for k, r in zip(keys, results, strict=True) if isinstance(r, BuildFailed)},
    )


def _build_cached(
    job: BuildJob,
    cache: Cache,
    pip_options: Sequence[str],
    verbose: bool,
    run: Runner,
) -> Path:
    key = build_key(job.pin, pip_options, job.python)
    label = f"{job.pin.name}=={job.pin.version} (built, in the cache)"
    if key is not None and (found := kept_wheel(cache.build_dir(key), label)):
        return found
    (cache.root / "builds").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache.root / "builds", prefix=".building-") as tmp:
        out = Path(tmp) / "out"
        try:
            args = ["wheel", "--no-deps", "--wheel-dir", str(out), *pip_options, job.source]
            run(args, verbose, under=job.under)
        except PipFailed as exc:
            by = f" with Python {job.under.version} ({job.under.python})" if job.under else ""
            raise exc.reworded(
                BuildFailed,
                f"could not build a wheel for {job.pin.name}=={job.pin.version} from its "
                f"{job.pin.kind}{by}; the server has no compiler, so fix the build here (install "
                "its build dependencies) or provide a wheel with --find-links",
            ) from exc
        wheel = _the_wheel(out, job.pin)
        if key is None:
            return _keep_uncached(wheel, cache)
        final = cache.build_dir(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        with suppress(OSError):  # another run finished the same build first: use theirs
            out.replace(final)
        return final / wheel.name


def _the_wheel(out: Path, pin: Pin) -> Path:
    wheels = sorted(out.glob("*.whl"))
    if len(wheels) != 1:
        raise BuildFailed(
            f"building {pin.name} gave {len(wheels)} wheels instead of one",
            command=(),
            returncode=0,
            output="",
        )
    name, _, _, _ = parse_wheel_filename(wheels[0].name)
    if name != pin.name:
        raise BuildFailed(
            f"building {pin.name} gave a wheel named {name}",
            command=(),
            returncode=0,
            output="",
        )
    return wheels[0]


def _keep_uncached(wheel: Path, cache: Cache) -> Path:
    """A local project's wheel: content-addressed like a download, never looked up by source."""
    digest = sha256_file(wheel)
    return cache.file(digest, wheel.name) or cache.add_file(wheel, digest)
