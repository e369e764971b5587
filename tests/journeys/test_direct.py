"""VCS, URL and path requirements: built into wheels here, recorded with their commit or hash."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.bundles import Outcome, bundle, requirements, unpack
from support.index import LocalIndex
from support.packages import make_project, sha256_hex

from wheelbundle.format.manifest import Manifest


def git_repo(folder: Path, name: str, version: str, tag: str, **options: Any) -> str:
    """A local git repository holding a tiny project, tagged; returns the tagged commit id."""
    make_project(folder, name, version, **options)

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
        return done.stdout.strip()

    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", f"{name} {version}")
    git("tag", tag)
    commit = git("rev-parse", "HEAD")
    make_project(folder, name, "2.0.dev0", **options)  # work after the tag must not be bundled
    git("commit", "-q", "-a", "-m", "after the tag")
    return commit


@dataclass(frozen=True)
class Made:
    outcome: Outcome
    repo: Path
    commit: str
    project: Path


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, index: LocalIndex) -> Made:
    tmp = tmp_path_factory.mktemp("direct")
    repo = tmp / "repo"
    commit = git_repo(repo, "vcspkg", "1.0", "v1.0", requires=["beta"])
    make_project(tmp / "project" / "libs" / "pathpkg", "pathpkg", "1.0")
    make_project(tmp / "project" / "libs" / "edpkg", "edpkg", "1.0")
    req = requirements(
        tmp / "project",
        f"vcspkg @ git+{repo.as_uri()}@v1.0",
        f"gamma @ {index.file_url('gamma-1.0.tar.gz')}",
        "./libs/pathpkg",
        "-e ./libs/edpkg",
    )
    capsys = _Capture()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp / "project")  # pip reads relative paths from the working folder
        from wheelbundle.cli import main

        outcome = capsys.run(
            main, ["make", str(req), "-o", str(tmp / "dist"), "--index-url", index.url]
        )
    assert outcome.code == 0, outcome.err
    return Made(outcome, repo, commit, tmp / "project")


class _Capture:
    """capsys is function-scoped; a module fixture captures stdout and stderr itself."""

    def run(self, main: Any, argv: list[str]) -> Outcome:
        import contextlib
        import io

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
        return Outcome(code, out.getvalue(), err.getvalue())


def test_the_manifest_records_the_commit_the_hash_or_the_folder(
    made: Made, tmp_path: Path, packages_dir: Path, index: LocalIndex
) -> None:
    top = unpack(made.outcome.archive, tmp_path)
    packages = {p.name: p for p in Manifest.from_yaml((top / "manifest.yaml").read_text()).packages}
    assert sorted(packages) == ["beta", "edpkg", "gamma", "pathpkg", "pip", "vcspkg"]
    vcs = packages["vcspkg"]
    assert (vcs.origin, vcs.version) == ("built-from-vcs", "1.0")
    assert vcs.source_url == f"git+{made.repo.as_uri()}@{made.commit}"
    url = packages["gamma"]
    assert (url.origin, url.source_url) == ("built-from-sdist", index.file_url("gamma-1.0.tar.gz"))
    assert url.source_sha256 == sha256_hex(packages_dir / "gamma-1.0.tar.gz")
    for name in ("pathpkg", "edpkg"):
        assert packages[name].origin == "local"
        assert packages[name].source_url == (made.project / "libs" / name).as_uri()
    for p in packages.values():
        assert p.sha256 == sha256_hex(top / "wheels" / p.wheel)


def test_an_editable_line_becomes_a_regular_install_with_a_warning(made: Made) -> None:
    warnings = [ln for ln in made.outcome.err.splitlines() if ln.startswith("warning: ")]
    assert warnings == [
        f"warning: edpkg: '-e {made.project / 'libs' / 'edpkg'}' is bundled as a regular "
        "install, not an editable one: the server gets a wheel built from the folder now, "
        "not a link to it"
    ]


def test_the_server_installs_offline_without_the_sources(
    made: Made, tmp_path: Path, offline: Any
) -> None:
    top = unpack(made.outcome.archive, tmp_path / "server")
    venv = tmp_path / "venv"
    installed = offline([top / "install.sh", venv])
    assert installed.returncode == 0, installed.stderr
    probe = "import vcspkg, gamma, pathpkg, edpkg, beta; print(vcspkg.__version__, edpkg.__file__)"
    ran = offline([venv / "bin" / "python", "-c", probe], cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    version, location = ran.stdout.split()
    assert version == "1.0"  # the tag, not the work after it
    assert location.startswith(str(venv))  # a copy in the venv, not the source folder


def test_a_missing_git_tag_is_one_error_line(
    capsys: pytest.CaptureFixture[str], index: LocalIndex, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    git_repo(repo, "vcspkg", "1.0", "v1.0")
    req = requirements(tmp_path / "app", f"vcspkg @ git+{repo.as_uri()}@v9.9")
    outcome = bundle(capsys, "make", req, "-o", tmp_path / "dist", "--index-url", index.url)
    assert outcome.code == 1
    errors = [ln for ln in outcome.err.splitlines() if ln.startswith("error: ")]
    assert errors == [
        "error: vcspkg: 'git checkout -q v9.9' failed (pathspec 'v9.9' did not match any "
        "file(s) known to git); check the repository URL and the tag, branch or commit after '@'"
    ], outcome.err
    assert not (tmp_path / "dist").exists()
