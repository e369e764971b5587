"""The core journey: ``bundle make`` → one archive → ``install.sh`` on a server with no network."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.bundles import bundle, member_names, requirements, unpack
from support.index import LocalIndex
from support.packages import pip_wheel_name, pure_bundle_tag
from support.pythons import INSTALLABLE_VERSIONS, find_python

import wheelbundle
from wheelbundle.format.manifest import Manifest

PURE = pure_bundle_tag()
"""What a bundle of pure wheels for this Python is named after."""

pytestmark = pytest.mark.journey

APP = ("alpha", "gamma", "delta[fast]", "zeta", "webapp-core")
#: The pip every bundle carries: the one the fixture index serves, this Python's ensurepip's.
PIP_WHEEL = pip_wheel_name()
#: The server is this machine: the interpreter the tool runs under, outside its virtualenv.
SERVER_PYTHON = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, index: LocalIndex) -> Path:
    """One bundle of every kind of fixture package, made once for the module."""
    from wheelbundle.cli import main

    tmp = tmp_path_factory.mktemp("made")
    req = requirements(tmp / "shop", *APP)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIP_CONFIG_FILE", "/dev/null")
        args = ["make", str(req), "-o", str(tmp / "dist"), "--index-url", index.url, "-q"]
        code = main([*args, "--format", "tar.gz"])  # the one format, as the contract names it
    assert code == 0
    (archive,) = (tmp / "dist").glob("*.tar.gz")
    return archive


def test_an_unknown_format_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from wheelbundle.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["make", str(requirements(tmp_path / "shop", "alpha")), "--format", "zip"])
    assert exited.value.code == 2
    assert "--format: invalid choice: 'zip'" in capsys.readouterr().err


def test_the_archive_is_named_after_the_folder_the_date_and_the_target(made: Path) -> None:
    assert made.name.startswith("shop-")
    assert made.name.endswith(f"-{PURE}.tar.gz")


def test_the_archive_holds_exactly_the_contract_layout(made: Path) -> None:
    top = made.name.removesuffix(f"-{PURE}.tar.gz")
    wheels = [
        "alpha-1.0-py3-none-any.whl",
        "beta-2.0-py3-none-any.whl",
        "delta-1.0-py3-none-any.whl",
        "epsilon-1.0-py3-none-any.whl",
        "gamma-1.0-py3-none-any.whl",
        PIP_WHEEL,
        "theta-1.0-py3-none-any.whl",
        "webapp_core-1.0-py3-none-any.whl",
        "zeta-1.0-py3-none-any.whl",
    ]
    assert member_names(made) == sorted(
        [
            top,
            f"{top}/SHA256SUMS",
            f"{top}/install.sh",
            f"{top}/manifest.yaml",
            f"{top}/pylock.toml",
            f"{top}/requirements.lock",
            f"{top}/sbom.cdx.json",
            f"{top}/support",
            f"{top}/support/probe.py",
            f"{top}/support/steps.py",
            f"{top}/support/targets.json",
            f"{top}/wheels",
            *(f"{top}/wheels/{w}" for w in wheels),
        ]
    )


def test_the_manifest_says_what_where_from_and_which_hash(
    made: Path, tmp_path: Path, packages_dir: Path, index: LocalIndex
) -> None:
    top = unpack(made, tmp_path)
    manifest = Manifest.from_yaml((top / "manifest.yaml").read_text())
    assert manifest.tool_version == wheelbundle.__version__
    packages = {p.name: p for p in manifest.packages}
    assert packages["gamma"].origin == "built-from-sdist"
    assert packages["gamma"].source_url == index.file_url("gamma-1.0.tar.gz")
    assert packages["gamma"].source_sha256 == _sha256(packages_dir / "gamma-1.0.tar.gz")
    assert packages["alpha"].origin == "index-wheel"
    assert packages["alpha"].source_sha256 == packages["alpha"].sha256
    for p in manifest.packages:
        wheel = top / "wheels" / p.wheel
        assert (p.sha256, p.size) == (_sha256(wheel), wheel.stat().st_size)
    (target,) = manifest.targets
    assert (target.name, target.platform, target.lock) == (
        PURE,
        "any",
        "requirements.lock",
    )
    assert "eta" not in packages  # sys_platform == "win32" only
    assert manifest.inputs[0].path.endswith("requirements.txt")


def test_the_lock_pins_every_wheel_by_hash(made: Path, tmp_path: Path) -> None:
    top = unpack(made, tmp_path)
    pins = [
        ln for ln in (top / "requirements.lock").read_text().splitlines() if not ln.startswith("#")
    ]
    wheels = {p.name for p in (top / "wheels").iterdir()}
    assert len(pins) == len(wheels) == 9
    assert (
        "gamma==1.0 --hash=sha256:" + _sha256(top / "wheels" / "gamma-1.0-py3-none-any.whl") in pins
    )


def test_sha256sums_checks_with_coreutils(made: Path, tmp_path: Path) -> None:
    top = unpack(made, tmp_path)
    check = subprocess.run(
        ["sha256sum", "-c", "--strict", "SHA256SUMS"], cwd=top, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(": OK") == len([p for p in top.rglob("*") if p.is_file()]) - 1


def test_install_offline_import_and_run_again(made: Path, tmp_path: Path, offline: Any) -> None:
    top = unpack(made, tmp_path / "server")
    venv = tmp_path / "opt" / "shop" / "venv"
    first = offline([top / "install.sh", "--python", SERVER_PYTHON, venv])
    assert first.returncode == 0, first.stderr
    python = venv / "bin" / "python"
    imports = "import alpha, beta, gamma, delta, epsilon, zeta, theta, webapp_core; print(beta.__version__)"
    assert offline([python, "-c", imports]).stdout.strip() == "2.0"
    assert offline([venv / "bin" / "webapp-hello"]).stdout.strip() == "hello from webapp-core"
    check = offline([python, "-m", "pip", "check"])
    assert check.returncode == 0, check.stdout
    release = venv.resolve()
    again = offline([top / "install.sh", "--python", SERVER_PYTHON, venv])
    assert again.returncode == 0, again.stderr
    assert venv.resolve() != release
    assert offline([python, "-c", imports]).returncode == 0


def test_a_tampered_wheel_is_refused_by_install_sh(
    made: Path, tmp_path: Path, offline: Any
) -> None:
    top = unpack(made, tmp_path / "server")
    wheel = top / "wheels" / "beta-2.0-py3-none-any.whl"
    wheel.write_bytes(wheel.read_bytes() + b"\0")
    venv = tmp_path / "venv"
    refused = offline([top / "install.sh", "--python", SERVER_PYTHON, venv])
    assert refused.returncode != 0
    assert "wheels/beta-2.0-py3-none-any.whl" in refused.stderr
    assert not venv.exists() and not venv.is_symlink()


def test_a_server_python_that_does_not_fit_is_refused_before_anything_changes(
    made: Path, tmp_path: Path, offline: Any
) -> None:
    other = other_python()
    top = unpack(made, tmp_path / "server")
    venv = tmp_path / "venv"
    refused = offline([top / "install.sh", "--python", other, venv])
    assert refused.returncode != 0
    assert (
        f"this bundle needs CPython {sys.version_info[0]}.{sys.version_info[1]}" in refused.stderr
    )
    assert not venv.exists() and not venv.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["server"]


def test_the_same_inputs_give_the_same_archive_bytes(
    capsys: pytest.CaptureFixture[str],
    index: LocalIndex,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    req = requirements(tmp_path / "app", "alpha", "gamma")
    first = bundle(capsys, "make", req, "-o", tmp_path / "one", "--index-url", index.url)
    second = bundle(
        capsys, "make", req, "-o", tmp_path / "two", "--index-url", index.url, "--no-cache"
    )
    assert first.code == second.code == 0
    assert first.archive.name == f"app-2023.11.14-{PURE}.tar.gz"
    assert _sha256(first.archive) == _sha256(second.archive)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("nosuchpackage", "no version of nosuchpackage found"),
        ("conflict-a\nconflict-b", "conflicting requirements"),
        ("broken", "could not build broken"),
        ("alpha ==", "Invalid requirement"),
    ],
)
def test_user_mistakes_give_one_error_line_and_no_archive(
    capsys: pytest.CaptureFixture[str], index: LocalIndex, tmp_path: Path, line: str, message: str
) -> None:
    req = requirements(tmp_path / "app", line)
    outcome = bundle(capsys, "make", req, "-o", tmp_path / "dist", "--index-url", index.url)
    assert outcome.code != 0
    assert outcome.out == ""
    errors = [ln for ln in outcome.err.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1 and message in errors[0], outcome.err
    assert "Traceback" not in outcome.err
    assert not (tmp_path / "dist").exists() or list((tmp_path / "dist").iterdir()) == []


def test_a_failed_build_shows_the_end_of_its_log(
    capsys: pytest.CaptureFixture[str], index: LocalIndex, tmp_path: Path
) -> None:
    outcome = bundle(
        capsys,
        "make",
        requirements(tmp_path, "broken"),
        "--index-url",
        index.url,
        "-o",
        tmp_path / "d",
    )
    assert "  | " in outcome.err and "simulated compiler failure" in outcome.err


def test_a_missing_requirements_file_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    outcome = bundle(capsys, "make", tmp_path / "nope.txt")
    assert outcome.code == 2
    assert (
        outcome.err.strip()
        == f"error: {tmp_path / 'nope.txt'}: no such file or folder; give a requirements file, a pyproject.toml, a project folder or a lock (pylock.toml, uv.lock, poetry.lock, pdm.lock, Pipfile.lock)"
    )


def other_python() -> str:
    """A working interpreter of another minor version than this one."""
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    others = (find_python(version) for version in INSTALLABLE_VERSIONS if version != here)
    found = next(filter(None, others), None)
    if found is None:
        pytest.skip("needs a second Python 3 minor version that install.sh installs with")
    return found


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_full_disk_while_packing_is_one_error_line_and_leaves_nothing(
    capsys: pytest.CaptureFixture[str],
    index: LocalIndex,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import errno
    import gzip

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(gzip.GzipFile, "write", full)
    outcome = bundle(
        capsys,
        "make",
        requirements(tmp_path / "app", "beta"),
        "-o",
        tmp_path / "dist",
        "--index-url",
        index.url,
    )
    assert outcome.code == 1
    [line] = outcome.err.strip().splitlines()[-1:]
    assert line.startswith(f"error: No space left on device: {tmp_path / 'dist'}/app-")
    assert list((tmp_path / "dist").iterdir()) == []
