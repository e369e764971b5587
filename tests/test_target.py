"""Bundles for the server you have: other platforms, other Pythons, their markers, several at once."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from packaging.tags import sys_tags
from packaging.utils import parse_wheel_filename
from support.bundles import Outcome, bundle, requirements, unpack
from support.index import LocalIndex
from support.packages import make_sdist, make_wheel, native_tag, pip_wheel

from wheelbundle.format.manifest import Manifest
from wheelbundle.pip.as_target import missing_internals, unsupported_pip
from wheelbundle.target import expand_platform, host_target, parse_target

PLATFORMS = {
    "cp312-manylinux_2_28_aarch64": "cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64",
    "cp312-musllinux_1_2_x86_64": "cp312-cp312-musllinux_1_1_x86_64",
    "cp313-macosx_11_0_arm64": "cp313-cp313-macosx_10_9_universal2",
    "cp311-win_amd64": "cp311-cp311-win_amd64",
}


@pytest.fixture(scope="module")
def foreign_index(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """An index whose packages have wheels for several machines and markers of every kind."""
    folder = tmp_path_factory.mktemp("foreign")
    for tag in [*PLATFORMS.values(), native_tag(), "cp39-abi3-manylinux_2_28_aarch64"]:
        make_wheel(folder, "fastlib", "1.0", tag=tag)
    make_wheel(folder, "purelib", "1.0", requires=['helper; sys_platform != "win32"'])
    make_wheel(
        folder,
        "app",
        "1.0",
        requires=[
            'colorama; sys_platform == "win32"',
            'uvloop; sys_platform != "win32"',
            'armonly; platform_machine == "aarch64"',
            'oldpy; python_version < "3.12"',
            'pypyonly; implementation_name == "pypy"',
            "purelib",
        ],
    )
    for name in ("colorama", "uvloop", "armonly", "oldpy", "pypyonly", "helper"):
        make_wheel(folder, name, "1.0")
    make_wheel(folder, "abilib", "1.0", tag="cp39-abi3-manylinux_2_28_aarch64")
    make_sdist(folder, "puresrc", "1.0")
    make_sdist(folder, "brokensrc", "1.0", fail_build=True, metadata_builds=True, tag=native_tag())
    make_sdist(folder, "twosrc", "1.0")
    make_sdist(folder, "twosrc", "2.0")
    make_sdist(folder, "nativesrc", "1.0", tag=native_tag())
    make_sdist(folder, "nativesrc2", "1.0", tag=native_tag())
    pip_wheel(folder)
    with LocalIndex(folder) as served:
        yield served


def names_in(archive: Path) -> dict[str, list[str]]:
    import tarfile

    with tarfile.open(archive) as tar:
        top = tar.getmembers()[0].name
        stream = tar.extractfile(f"{top}/manifest.yaml")
        assert stream is not None
        manifest = Manifest.from_yaml(stream.read().decode())
    return {p.name: [p.wheel] for p in manifest.packages}


def make_for(
    capsys: pytest.CaptureFixture[str],
    folder: Path,
    index: LocalIndex,
    reqs: Sequence[str],
    *targets: str,
) -> Outcome:
    """``bundle make`` of these requirements for these targets, succeeding or not."""
    options = [option for target in targets for option in ("--target", target)]
    req = requirements(folder / "svc", *reqs)
    out = ("-o", folder / "d", "--index-url", index.url, "--version", "1.0")
    return bundle(capsys, "make", req, *out, *options)


def made_for(
    capsys: pytest.CaptureFixture[str],
    folder: Path,
    index: LocalIndex,
    reqs: Sequence[str],
    *targets: str,
) -> Path:
    outcome = make_for(capsys, folder, index, reqs, *targets)
    assert outcome.code == 0, outcome.err
    return outcome.archive


def this_machine() -> str:
    """This machine as a shorthand, e.g. ``cp311-manylinux_2_36_x86_64``."""
    plat = next(str(t.platform) for t in sys_tags() if t.platform.startswith("manylinux_"))
    return f"{host_target().interpreter}-{plat}"


def test_shorthand_tags_are_what_that_servers_pip_accepts() -> None:
    target = parse_target("cp312-manylinux_2_28_aarch64")
    assert target.tags[0] == "cp312-cp312-manylinux_2_28_aarch64"
    for accepted in (
        "cp312-cp312-manylinux_2_17_aarch64",
        "cp312-cp312-manylinux2014_aarch64",
        "cp39-abi3-manylinux_2_28_aarch64",
        "py3-none-any",
        "cp312-none-any",
    ):
        assert accepted in target.tags
    for refused in (
        "cp312-cp312-manylinux_2_29_aarch64",
        "cp312-cp312-manylinux_2_28_x86_64",
        "cp311-cp311-manylinux_2_17_aarch64",
        "cp313-abi3-manylinux_2_28_aarch64",
    ):
        assert refused not in target.tags
    assert list(expand_platform("manylinux_2_12_x86_64"))[-4:] == [
        "manylinux_2_6_x86_64",
        "manylinux_2_5_x86_64",
        "manylinux1_x86_64",
        "linux_x86_64",
    ]
    assert list(expand_platform("musllinux_1_2_x86_64")) == [
        "musllinux_1_2_x86_64",
        "musllinux_1_1_x86_64",
        "musllinux_1_0_x86_64",
        "linux_x86_64",
    ]
    assert "macosx_10_9_universal2" in expand_platform("macosx_11_0_arm64")


def test_a_shorthand_for_this_machine_accepts_what_packaging_says_it_does() -> None:
    assert set(parse_target(this_machine()).tags) == {str(t) for t in sys_tags()}


@pytest.mark.parametrize("target", list(PLATFORMS))
def test_each_foreign_target_gets_its_own_wheel(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, foreign_index: LocalIndex, target: str
) -> None:
    outcome = make_for(capsys, tmp_path, foreign_index, ["fastlib"], target)
    assert outcome.code == 0, outcome.err
    wheels = names_in(outcome.archive)
    assert wheels["fastlib"] == [f"fastlib-1.0-{PLATFORMS[target]}.whl"]
    accepted = parse_target(target)
    for (wheel,) in wheels.values():
        assert accepted.accepts(wheel)
    assert outcome.archive.name.endswith(f"-{_needs(target)}.tar.gz")


def _needs(target: str) -> str:
    _, _, _, wheel_tags = parse_wheel_filename(f"x-1-{PLATFORMS[target]}.whl")
    best = parse_target(target).tags
    return f"{target.split('-')[0]}-{min((best.index(str(t)), t.platform) for t in wheel_tags)[1]}"


def test_windows_markers_pick_windows_packages(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, foreign_index: LocalIndex
) -> None:
    names = set(names_in(made_for(capsys, tmp_path, foreign_index, ["app"], "cp311-win_amd64")))
    assert names == {"app", "colorama", "oldpy", "purelib", "pip"}


def test_linux_aarch64_markers(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, foreign_index: LocalIndex
) -> None:
    names = set(
        names_in(made_for(capsys, tmp_path, foreign_index, ["app"], "cp312-manylinux_2_28_aarch64"))
    )
    # uvloop: not win32; armonly: aarch64; no oldpy on 3.12; helper comes from purelib's own metadata
    assert names == {"app", "uvloop", "armonly", "purelib", "helper", "pip"}


def test_pypy_markers(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, foreign_index: LocalIndex
) -> None:
    names = set(
        names_in(made_for(capsys, tmp_path, foreign_index, ["app"], "pp310-manylinux_2_28_x86_64"))
    )
    assert names == {"app", "uvloop", "oldpy", "pypyonly", "purelib", "helper", "pip"}


def test_a_server_description_from_probe_is_a_target(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, foreign_index: LocalIndex
) -> None:
    probe = bundle(capsys, "probe").out
    script = tmp_path / "probe.py"
    script.write_text(probe)
    described = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True
    ).stdout
    server = tmp_path / "server.json"
    server.write_text(described)
    target = parse_target(str(server))
    assert target.tags == host_target().tags
    assert dict(target.markers) == dict(host_target().markers)
    assert json.loads(described)["python_version"] == host_target().python_version
    names = names_in(made_for(capsys, tmp_path, foreign_index, ["fastlib"], str(server)))
    assert names["fastlib"] == [f"fastlib-1.0-{native_tag()}.whl"]


def test_a_pure_sdist_is_built_for_a_foreign_target(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, foreign_index: LocalIndex
) -> None:
    outcome = make_for(capsys, tmp_path, foreign_index, ["puresrc"], "cp311-win_amd64")
    assert outcome.code == 0, outcome.err
    assert names_in(outcome.archive)["puresrc"] == ["puresrc-1.0-py3-none-any.whl"]


def test_two_targets_resolving_two_versions_of_one_sdist_each_get_their_own_build(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, foreign_index: LocalIndex
) -> None:
    reqs = ['twosrc==1.0 ; python_version < "3.12"', 'twosrc==2.0 ; python_version >= "3.12"']
    archive = made_for(capsys, tmp_path, foreign_index, reqs, "cp311-win_amd64", "cp312-win_amd64")
    with tarfile.open(archive) as tar:
        stream = tar.extractfile(f"{tar.getmembers()[0].name}/manifest.yaml")
        assert stream is not None
        manifest = Manifest.from_yaml(stream.read().decode())
    chosen = {t.name: [w for w in t.wheels if w.startswith("twosrc")] for t in manifest.targets}
    assert chosen == {
        "cp311-win_amd64": ["twosrc-1.0-py3-none-any.whl"],
        "cp312-win_amd64": ["twosrc-2.0-py3-none-any.whl"],
    }


def test_native_sdists_for_a_foreign_target_are_all_named_with_the_remedies(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, foreign_index: LocalIndex
) -> None:
    foreign_index.reset_requests()
    reqs = ["nativesrc", "nativesrc2", "fastlib"]
    outcome = make_for(capsys, tmp_path, foreign_index, reqs, "cp312-manylinux_2_28_aarch64")
    assert outcome.code == 1
    (line,) = outcome.err.strip().splitlines()[-1:]
    assert "nativesrc 1.0" in line and "nativesrc2 1.0" in line
    assert "--find-links" in line and "bundle merge" in line
    assert not (tmp_path / "d").exists() or not list((tmp_path / "d").iterdir())
    assert (
        foreign_index.requests[
            f"/files/fastlib-1.0-{PLATFORMS['cp312-manylinux_2_28_aarch64']}.whl"
        ]
        == 0
    )


def test_an_sdist_that_fails_to_build_for_a_foreign_target_is_named_with_the_others(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, foreign_index: LocalIndex
) -> None:
    """Installing its build dependencies here would not help: the wheel would be this
    machine's. So it is one more package the target needs a wheel for, in the same error."""
    reqs = ["nativesrc", "brokensrc"]
    outcome = make_for(capsys, tmp_path, foreign_index, reqs, "cp312-manylinux_2_28_aarch64")
    assert outcome.code == 1
    (line,) = outcome.err.strip().splitlines()[-1:]
    assert line.startswith(
        "error: these packages have no wheel for the target, and a wheel built here"
    )
    assert "brokensrc 1.0 (its sdist did not build here, for cp312-manylinux_2_28_aarch64)" in line
    assert "nativesrc 1.0 (nativesrc-1.0-" in line
    assert "build dependencies" not in line


def test_an_sdist_that_fails_to_build_for_this_machine_says_to_fix_the_build_here(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, foreign_index: LocalIndex
) -> None:
    outcome = make_for(capsys, tmp_path, foreign_index, ["nativesrc", "brokensrc"])
    assert outcome.code == 1
    [error] = [line for line in outcome.err.splitlines() if line.startswith("error: ")]
    assert error.startswith("error: could not build a wheel for brokensrc==1.0 from its sdist")
    assert "simulated compiler failure" in outcome.err  # the end of the build's own log


def test_an_unknown_shorthand_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for wrong, message in (
        ("cp312-sparc", "unknown platform 'sparc'"),
        ("python3", "expected a JSON file"),
    ):
        outcome = bundle(
            capsys,
            "make",
            requirements(tmp_path, "x"),
            "--target",
            wrong,
            "--index-url",
            "http://127.0.0.1:9/",
        )
        assert outcome.code == 2
        assert outcome.err.startswith(f"error: --target {wrong}: {message}")


@pytest.fixture
def multi(capsys: pytest.CaptureFixture[str], tmp_path: Path, foreign_index: LocalIndex) -> Path:
    targets = ("cp312-manylinux_2_28_aarch64", this_machine())
    return made_for(capsys, tmp_path, foreign_index, ["fastlib", "purelib"], *targets)


def test_several_targets_share_one_wheelhouse_with_one_lock_each(
    multi: Path, tmp_path: Path
) -> None:
    top = unpack(multi, tmp_path / "x")
    manifest = Manifest.from_yaml((top / "manifest.yaml").read_text())
    assert manifest.targets[0].name == "cp312-manylinux_2_28_aarch64"
    assert len(manifest.targets) == 2
    locks = sorted(p.name for p in top.glob("requirements*.lock"))
    assert locks == sorted(t.lock for t in manifest.targets)
    wheels = sorted(p.name for p in (top / "wheels").iterdir())
    assert len(wheels) == len(set(wheels))
    assert sum(w.startswith("purelib-") for w in wheels) == 1  # stored once for both
    assert sum(w.startswith("fastlib-") for w in wheels) == 2


def test_install_sh_picks_this_machines_target_offline(
    multi: Path, tmp_path: Path, offline: Any
) -> None:
    top = unpack(multi, tmp_path / "server")
    venv = tmp_path / "venv"
    done = offline([top / "install.sh", venv])
    assert done.returncode == 0, done.stderr
    assert (
        offline([venv / "bin" / "python", "-c", "import fastlib, purelib, helper"]).returncode == 0
    )
    assert offline([venv / "bin" / "python", "-m", "pip", "check"]).returncode == 0


def test_no_fitting_target_is_refused_with_the_list(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, foreign_index: LocalIndex, offline: Any
) -> None:
    targets = ("cp312-manylinux_2_28_aarch64", "cp311-win_amd64")
    outcome = make_for(capsys, tmp_path, foreign_index, ["fastlib"], *targets)
    assert outcome.code == 0, outcome.err
    top = unpack(outcome.archive, tmp_path / "server")
    refused = offline([top / "install.sh", "--check"])
    assert refused.returncode != 0
    assert (
        "needs one of: CPython 3.12 on manylinux_2_17_aarch64, CPython 3.11 on win_amd64"
        in refused.stderr
    )


def test_merge_combines_bundles_built_on_different_machines(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, foreign_index: LocalIndex, offline: Any
) -> None:
    arm = made_for(
        capsys,
        tmp_path / "arm-runner",
        foreign_index,
        ["fastlib", "purelib"],
        "cp312-manylinux_2_28_aarch64",
    )
    x86 = made_for(
        capsys, tmp_path / "x86-runner", foreign_index, ["fastlib", "purelib"], this_machine()
    )
    merged = bundle(capsys, "merge", arm, x86, "-o", tmp_path / "merged")
    assert merged.code == 0, merged.err
    assert bundle(capsys, "verify", merged.archive).code == 0
    top = unpack(merged.archive, tmp_path / "server")
    manifest = Manifest.from_yaml((top / "manifest.yaml").read_text())
    assert [t.lock for t in manifest.targets] == [
        f"requirements-{t.name}.lock" for t in manifest.targets
    ]
    assert len(manifest.targets) == 2
    assert offline([top / "install.sh", tmp_path / "venv"]).returncode == 0
    assert (
        offline([tmp_path / "venv" / "bin" / "python", "-c", "import fastlib, purelib"]).returncode
        == 0
    )


def test_merge_refuses_bundles_of_different_requirements(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, foreign_index: LocalIndex
) -> None:
    a = made_for(capsys, tmp_path / "a", foreign_index, ["fastlib"], "cp312-manylinux_2_28_aarch64")
    b = made_for(capsys, tmp_path / "b", foreign_index, ["fastlib", "purelib"], this_machine())
    refused = bundle(capsys, "merge", a, b, "-o", tmp_path / "merged")
    assert refused.code == 2
    assert "made from different requirements" in refused.err
    assert not (tmp_path / "merged").exists()


def test_merge_refuses_two_different_files_of_one_name(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, make_index: Any, foreign_index: LocalIndex
) -> None:
    files = sorted(foreign_index.root.glob("*"))
    one: LocalIndex = make_index(*files)
    changed = make_wheel(
        tmp_path / "other",
        "purelib",
        "1.0",
        modules={"purelib/__init__.py": "X = 2\n"},
        requires=['helper; sys_platform != "win32"'],
    )
    two: LocalIndex = make_index(*[f for f in files if not f.name.startswith("purelib")], changed)
    a = made_for(capsys, tmp_path / "a", one, ["purelib"], "cp312-manylinux_2_28_aarch64")
    b = made_for(capsys, tmp_path / "b", two, ["purelib"], this_machine())
    refused = bundle(capsys, "merge", a, b, "-o", tmp_path / "merged")
    assert refused.code == 2
    assert "purelib-1.0-py3-none-any.whl differs from the file of the same name" in refused.err


def test_the_bundle_needs_the_most_demanding_of_each_wheels_least_demanding_platform() -> None:
    target = parse_target("cp311-manylinux_2_36_x86_64")
    wheels = [
        "pillow-1-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
        "cryptography-1-cp311-abi3-manylinux_2_34_x86_64.whl",
        "charset-1-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl",
        "six-1-py2.py3-none-any.whl",
    ]
    assert target.platform_needed(wheels) == "manylinux_2_34_x86_64"
    assert target.platform_needed(wheels[:1]) == "manylinux_2_27_x86_64"
    assert target.platform_needed(wheels[3:]) == "any"
    assert target.bundle_tag(wheels) == "cp311-manylinux_2_34_x86_64"


def test_a_bundle_of_pure_wheels_is_named_after_the_python_it_was_resolved_for() -> None:
    """Pure wheels fit any platform, but not any Python: markers and Requires-Python were
    evaluated for this one, and install.sh refuses another, so the name says which."""
    wheels = ["six-1-py2.py3-none-any.whl", "attrs-1-py3-none-any.whl"]
    assert parse_target("cp311-manylinux_2_28_x86_64").bundle_tag(wheels) == "cp311-none-any"
    assert parse_target("cp313-win_amd64").bundle_tag(wheels) == "cp313-none-any"


def test_a_pip_outside_the_declared_range_is_named_before_any_patching() -> None:
    assert unsupported_pip("24.0") == ">=24.1"
    assert unsupported_pip("24.1") is None
    assert unsupported_pip(version("pip")) is None  # the pip these tests run


def test_this_pip_has_every_internal_a_foreign_resolution_patches() -> None:
    """Run by make test-latest against the newest pip too: a move shows there first."""
    assert missing_internals() == []


def test_pip_internals_that_moved_stop_a_foreign_resolution_loudly() -> None:
    code = (
        "import sys; from pip._internal.resolution.resolvelib import factory; "
        "del factory.get_supported; from wheelbundle.pip.as_target import main; "
        "sys.exit(main(sys.argv[1:]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "unused.json", "install", "alpha"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 3
    assert done.stderr.startswith("ERROR: wheelbundle cannot make pip ")
    assert "pip no longer has pip._internal.resolution.resolvelib.factory.get_supported;" in (
        done.stderr
    )
