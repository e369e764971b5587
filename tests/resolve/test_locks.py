"""Locks written by uv, Poetry, PDM and Pipenv themselves are bundled exactly as locked.

Each tool locks one packaged app against the loopback index: an sdist dependency (gamma), an
extra (fast), a dev group, and a marker that differs between two targets (eta only below Python
3.12). ``bundle make .`` then bundles the app from the lock beside it, for both targets, and the
bundle installs offline with exactly the lock's selection; a stale lock is refused in one line,
and ``--resolve`` resolves the project anew.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from packaging.utils import parse_wheel_filename
from support.bundles import bundle, unpack
from support.fixtures import RunOffline
from support.index import LocalIndex
from support.packages import make_project

from wheelbundle.format import toml
from wheelbundle.format.layout import read_manifest

DEPENDENCIES = ["alpha", "gamma", "zeta", 'eta; python_version < "3.12"']
PYPROJECT = """
[project]
name = "lockapp"
version = "1.0"
requires-python = ">=3.9"
dependencies = {dependencies}

[project.optional-dependencies]
fast = ["delta[fast]"]

[dependency-groups]
dev = ["webapp-core"]
"""
HOST = {"alpha": "1.0", "beta": "2.0", "eta": "1.0", "gamma": "1.0", "lockapp": "1.0"}
HOST |= {"theta": "1.0", "zeta": "1.0"}
"""What the app installs on this machine (CPython 3.11, Linux: zeta needs theta)."""
FAST = {"delta": "1.0", "epsilon": "1.0"}
DEV = {"webapp-core": "1.0"}
CP312 = "cp312-manylinux_2_28_x86_64"


def _tools() -> Path:
    folder = os.environ.get("WHEELBUNDLE_LOCKTOOLS")
    if folder and (Path(folder) / "poetry").exists():
        return Path(folder)
    if os.environ.get("WHEELBUNDLE_REQUIRE_DEVPI"):  # make test: the tools must be there
        pytest.fail("WHEELBUNDLE_LOCKTOOLS names no virtualenv with poetry, pdm and pipenv")
    pytest.skip("the lock tools' virtualenv is not here (make .venv-locktools/.installed)")


def _app(folder: Path, index: LocalIndex, tool: str) -> Path:
    make_project(folder, "lockapp", "1.0", requires=DEPENDENCIES, extras={"fast": ["delta[fast]"]})
    listed = "[" + ", ".join(f"'{d}'" for d in DEPENDENCIES) + "]"
    text = (folder / "pyproject.toml").read_text() + PYPROJECT.format(dependencies=listed)
    if tool == "poetry":
        text += (
            f'\n[[tool.poetry.source]]\nname = "local"\nurl = "{index.url}"\npriority = "primary"\n'
        )
    if tool == "pdm":
        text += f'\n[[tool.pdm.source]]\nname = "pypi"\nurl = "{index.url}"\n'
    (folder / "pyproject.toml").write_text(text)
    if tool == "pipenv":
        (folder / "Pipfile").write_text(
            f'[[source]]\nurl = "{index.url}"\nverify_ssl = false\nname = "local"\n\n'
            '[packages]\nalpha = "*"\ngamma = "*"\nzeta = "*"\n'
            'eta = {version = "*", markers = "python_version < \'3.12\'"}\n\n'
            '[dev-packages]\nwebapp-core = "*"\n'
        )
    return folder


def _lock(tool: str, folder: Path, index: LocalIndex, home: Path) -> Path:
    """The tool itself writes its lock, reading only the loopback index."""
    bin_dir = _tools()
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "HOME": str(home),
        "PIP_CONFIG_FILE": "/dev/null",
        "PDM_CHECK_UPDATE": "false",
        "PIPENV_VENV_IN_PROJECT": "1",
        "PIPENV_YES": "1",
        "PIPENV_NOSPIN": "1",
        "PIPENV_IGNORE_VIRTUALENVS": "1",
        "UV_PYTHON": sys.executable,
        "UV_NO_CACHE": "1",
    }
    uv = str(Path(sys.executable).with_name("uv"))
    command = {
        "uv": [uv, "lock", "--index-url", index.url],
        "poetry": [str(bin_dir / "poetry"), "lock", "--no-interaction"],
        "pdm": [str(bin_dir / "pdm"), "lock", "-G", ":all"],
        "pipenv": [str(bin_dir / "pipenv"), "lock"],
    }[tool]
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    name = {"uv": "uv.lock", "poetry": "poetry.lock", "pdm": "pdm.lock", "pipenv": "Pipfile.lock"}
    return folder / name[tool]


def _installed(venv: Path, offline: RunOffline) -> dict[str, str]:
    frozen = offline([venv / "bin" / "python", "-m", "pip", "freeze", "--all"]).stdout
    pairs = (line.split("==") for line in frozen.split() if "==" in line)
    return {name.lower(): version for name, version in pairs if name != "pip"}


Tool = Callable[[str], tuple[Path, Path]]


@pytest.fixture
def locked(tmp_path: Path, index: LocalIndex) -> Tool:
    def lock(tool: str) -> tuple[Path, Path]:
        app = _app(tmp_path / "app", index, tool)
        return app, _lock(tool, app, index, tmp_path / "home")

    return lock


@pytest.mark.parametrize("tool", ["uv", "poetry", "pdm", "pipenv"])
def test_a_project_is_bundled_from_the_lock_beside_it_exactly_as_locked(
    tool: str,
    locked: Tool,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    offline: RunOffline,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, lock = locked(tool)
    monkeypatch.chdir(app)
    extra = [] if tool == "pipenv" else ["--extra", "fast"]  # a Pipfile has no extras
    extra += ["--group", "dev"]
    made = bundle(
        capsys,
        "make",
        ".",
        "-o",
        tmp_path / "dist",
        *extra,
        "--target",
        CP312,
        "--target",
        "cp311-manylinux_2_28_x86_64",
    )
    assert made.code == 0, made.err
    assert f"using {lock.name}: " in made.err
    expected = HOST | DEV | (FAST if tool != "pipenv" else {})
    by_target = {
        entry.python_version: {
            str(parse_wheel_filename(w)[0]): str(parse_wheel_filename(w)[1]) for w in entry.wheels
        }
        for entry in read_manifest(made.archive).targets
    }
    assert by_target["3.11"] == expected | {"pip": by_target["3.11"]["pip"]}
    del expected["eta"]  # python_version < "3.12": not on the other target
    assert by_target["3.12"] == expected | {"pip": by_target["3.12"]["pip"]}

    top = unpack(made.archive, tmp_path / "server")
    venv = tmp_path / "venv"
    assert offline([top / "install.sh", venv]).returncode == 0
    assert _installed(venv, offline) == HOST | DEV | (FAST if tool != "pipenv" else {})


@pytest.mark.parametrize("tool", ["uv", "poetry", "pdm", "pipenv"])
def test_a_stale_lock_is_refused_and_resolve_resolves_anew(
    tool: str,
    locked: Tool,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    index: LocalIndex,
) -> None:
    app, lock = locked(tool)
    monkeypatch.chdir(app)
    changed = app / ("Pipfile" if tool == "pipenv" else "pyproject.toml")
    text = changed.read_text()
    if tool == "pipenv":
        changed.write_text(text.replace('zeta = "*"\n', 'zeta = "*"\nepsilon = "*"\n'))
    else:
        changed.write_text(text.replace("'alpha', ", "'alpha', 'epsilon', "))
    refused = bundle(capsys, "make", ".", "-o", tmp_path / "dist")
    assert refused.code == 2
    (line,) = refused.err.strip().splitlines()
    relock = {"uv": "uv lock", "poetry": "poetry lock", "pdm": "pdm lock", "pipenv": "pipenv lock"}
    assert line.startswith(f"error: {lock.name}: ")
    assert f"so the lock is stale; run '{relock[tool]}' to lock it again" in line
    assert not (tmp_path / "dist").exists()
    if tool != "pipenv":  # a Pipfile is no project to resolve
        resolved = bundle(
            capsys, "make", ".", "-o", tmp_path / "dist", "--resolve", "--index-url", index.url
        )
        assert resolved.code == 0, resolved.err
        assert f"--resolve: not using {lock.name}; resolving with pip" in resolved.err


def test_an_unknown_group_names_the_ones_the_lock_has(
    locked: Tool,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    app, _ = locked("uv")
    monkeypatch.chdir(app)
    refused = bundle(capsys, "make", ".", "-o", tmp_path / "dist", "--group", "docs")
    assert refused.code == 2
    assert refused.err.strip().endswith("uv.lock has no dependency group 'docs' (it has: dev)")


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("package-lock.json", "{}", "a lock file of npm, not of a Python tool wheelbundle reads"),
        (
            "uv.lock",
            "version = 2\n",
            "uv lock format 2 is not one this version of wheelbundle reads (it reads 1); run 'uv lock'",
        ),
        (
            "poetry.lock",
            '[metadata]\nlock-version = "2.0"\n',
            "Poetry lock format 2.0 is not one this version of wheelbundle reads",
        ),
        (
            "pdm.lock",
            '[metadata]\nlock_version = "4.5.0"\nstrategy = []\n',
            "locked without the inherit_metadata strategy",
        ),
        ("Pipfile.lock", "[1]", "not a lock (its JSON is not an object)"),
        (
            "uv.lock",
            'version = 1\n[[package]]\nname = "app"\nsource = { editable = "." }\n'
            "dependencies = [{}]\n",
            "uv.lock: not a valid uv lock (KeyError: 'name'); lock it again ('uv lock')",
        ),
        (
            "Pipfile.lock",
            '{"_meta": {"pipfile-spec": 6}, "default": {"x": "==1.0"}}',
            "Pipfile.lock: not a valid pipenv lock (AttributeError: ",
        ),
    ],
)
def test_a_lock_of_another_kind_or_version_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, expected: str
) -> None:
    (tmp_path / name).write_text(text)
    refused = bundle(capsys, "make", tmp_path / name, "-o", tmp_path / "dist")
    assert refused.code == 2
    (line,) = refused.err.strip().splitlines()
    assert line.startswith("error: ") and expected in line, line


def test_two_locks_beside_a_project_are_named(
    locked: Tool,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    app, lock = locked("uv")
    shutil.copy(lock, app / "pylock.toml")
    monkeypatch.chdir(app)
    refused = bundle(capsys, "make", ".", "-o", tmp_path / "dist")
    assert refused.code == 2
    assert "pylock.toml and uv.lock are all beside the project; name the one" in refused.err


def test_a_pylock_with_the_project_as_a_directory_entry_is_bundled_with_the_app(
    locked: Tool,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    offline: RunOffline,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``uv export --format pylock.toml`` writes the project as ``directory`` with no version
    (PEP 751 forbids one there): its version is the project's own."""
    app, lock = locked("uv")
    uv = str(Path(sys.executable).with_name("uv"))
    export = [uv, "export", "--format", "pylock.toml", "--no-dev", "-q", "-o", "pylock.toml"]
    subprocess.run(export, cwd=app, check=True, env={**os.environ, "UV_NO_CACHE": "1"})
    lock.unlink()
    monkeypatch.chdir(app)
    made = bundle(capsys, "make", ".", "-o", tmp_path / "dist")
    assert made.code == 0, made.err
    assert made.archive.name.startswith("lockapp-1.0-")
    top = unpack(made.archive, tmp_path / "server")
    venv = tmp_path / "venv"
    assert offline([top / "install.sh", venv]).returncode == 0
    assert _installed(venv, offline) == HOST


def test_the_manifest_names_the_lock_and_diff_shows_what_a_new_revision_changed(
    locked: Tool,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    index: LocalIndex,
) -> None:
    app, lock = locked("uv")
    monkeypatch.chdir(app)
    first = bundle(capsys, "make", ".", "-o", tmp_path / "one")
    assert first.code == 0, first.err
    (entry,) = (i for i in read_manifest(first.archive).inputs if i.lock)
    revision = toml.loads(lock.read_text())["revision"]
    assert (entry.path, entry.lock) == ("uv.lock", f"uv 1 (revision {revision})")
    assert entry.sha256 == hashlib.sha256(lock.read_bytes()).hexdigest()
    shown = bundle(capsys, "inspect", first.archive)
    assert f"from the lock uv.lock (uv 1 (revision {revision})), sha256 {entry.sha256}" in shown.out
    pyproject = app / "pyproject.toml"  # the team pins beta back, and locks again
    pyproject.write_text(pyproject.read_text().replace("'alpha', ", "'alpha', 'beta<2', "))
    _lock("uv", app, index, tmp_path / "home")
    second = bundle(capsys, "make", ".", "-o", tmp_path / "two", "--version", "1.1")
    assert second.code == 0, second.err
    changed = bundle(capsys, "diff", first.archive, second.archive)
    assert "beta" in changed.out and "downgraded" in changed.out, changed.out


def test_a_uv_workspace_member_is_built_from_its_folder(
    tmp_path: Path,
    index: LocalIndex,
    capsys: pytest.CaptureFixture[str],
    offline: RunOffline,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = tmp_path / "app"
    make_project(app, "lockapp", "1.0", requires=["alpha", "corelib"])
    (app / "pyproject.toml").write_text(
        (app / "pyproject.toml").read_text()
        + '\n[project]\nname = "lockapp"\nversion = "1.0"\ndependencies = ["alpha", "corelib"]\n'
        + '\n[tool.uv.workspace]\nmembers = ["packages/*"]\n'
        + "\n[tool.uv.sources]\ncorelib = { workspace = true }\n"
    )
    member = make_project(app / "packages" / "corelib", "corelib", "2.0", requires=["beta==1.0"])
    (member / "pyproject.toml").write_text(
        (member / "pyproject.toml").read_text()
        + '\n[project]\nname = "corelib"\nversion = "2.0"\ndependencies = ["beta==1.0"]\n'
    )
    _lock("uv", app, index, tmp_path / "home")
    monkeypatch.chdir(app)
    made = bundle(capsys, "make", ".", "-o", tmp_path / "dist")
    assert made.code == 0, made.err
    top = unpack(made.archive, tmp_path / "server")
    venv = tmp_path / "venv"
    assert offline([top / "install.sh", venv]).returncode == 0
    expected = {"alpha": "1.0", "beta": "1.0", "corelib": "2.0", "lockapp": "1.0"}
    assert _installed(venv, offline) == expected
