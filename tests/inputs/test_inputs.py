"""Inputs a team already has: projects with extras and dependency groups, several in-house
projects at once, and the one-line errors a wrong input gets."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.bundles import bundle, requirements, unpack
from support.fixtures import RunOffline
from support.index import LocalIndex
from support.packages import make_project
from support.stages import staged

from wheelbundle.format.manifest import Manifest

GROUPS = """
[dependency-groups]
prod = ["gamma"]
test = ["epsilon", {include-group = "prod"}]
"""


def service(folder: Path) -> Path:
    """An in-house project: alpha always, epsilon with [fast], groups prod and test."""
    make_project(folder, "svc", "3.1", requires=["alpha"], extras={"fast": ["epsilon"]})
    with (folder / "pyproject.toml").open("a") as pyproject:
        pyproject.write(GROUPS)
    return folder


def names_in(archive: Path, tmp_path: Path) -> dict[str, str]:
    top = unpack(archive, tmp_path / "unpacked")
    manifest = Manifest.from_yaml((top / "manifest.yaml").read_text())
    return {p.name: p.origin for p in manifest.packages}


def test_an_extra_adds_the_projects_optional_dependencies(
    tmp_path: Path, index: LocalIndex, capsys: pytest.CaptureFixture[str]
) -> None:
    project = service(tmp_path / "svc")
    plain = bundle(capsys, "make", project, "-o", tmp_path / "a", "--index-url", index.url)
    extra = bundle(
        capsys, "make", project, "--extra", "fast", "-o", tmp_path / "b", "--index-url", index.url
    )
    assert plain.code == extra.code == 0, plain.err + extra.err
    assert "epsilon" not in names_in(plain.archive, tmp_path / "1")
    assert names_in(extra.archive, tmp_path / "2")["epsilon"] == "index-wheel"


def test_a_group_adds_its_requirements_and_the_groups_it_includes(
    tmp_path: Path, index: LocalIndex, capsys: pytest.CaptureFixture[str]
) -> None:
    project = service(tmp_path / "svc")
    made = bundle(
        capsys, "make", project / "pyproject.toml", "--group", "test",
        "-o", tmp_path / "dist", "--index-url", index.url,
    )  # fmt: skip
    assert made.code == 0, made.err
    names = names_in(made.archive, tmp_path)
    assert names["svc"] == "local"
    assert names["epsilon"] == "index-wheel"
    assert names["gamma"] == "built-from-sdist"  # from the included group "prod"


def test_a_pyproject_with_only_groups_bundles_the_groups(
    tmp_path: Path, index: LocalIndex, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "pyproject.toml").write_text(GROUPS)
    made = bundle(
        capsys, "make", tmp_path / "tools", "--group", "prod",
        "-o", tmp_path / "dist", "--index-url", index.url,
    )  # fmt: skip
    assert made.code == 0, made.err
    assert set(names_in(made.archive, tmp_path)) == {"gamma", "beta", "pip"}

    refused = bundle(capsys, "make", tmp_path / "tools", "--index-url", index.url)
    assert refused.code == 2
    assert "no [project] table" in refused.err and "--group NAME" in refused.err


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--extra", "nope", "svc has no extra 'nope' (extras there: fast)"),
        ("--group", "nope", "no dependency group 'nope' in"),
    ],
)
def test_an_unknown_extra_or_group_is_one_clear_error(
    tmp_path: Path,
    index: LocalIndex,
    capsys: pytest.CaptureFixture[str],
    option: str,
    value: str,
    expected: str,
) -> None:
    project = service(tmp_path / "svc")
    refused = bundle(
        capsys, "make", project, option, value, "-o", tmp_path / "dist", "--index-url", index.url
    )
    assert refused.code == 2
    (line,) = refused.err.strip().splitlines()[-1:]
    assert line.startswith("error: ") and expected in line
    if option == "--group":
        assert "groups there: prod, test" in line
    assert not (tmp_path / "dist").exists() or not any((tmp_path / "dist").iterdir())


def test_an_extra_needs_a_project(
    tmp_path: Path, index: LocalIndex, capsys: pytest.CaptureFixture[str]
) -> None:
    req = requirements(tmp_path, "alpha")
    refused = bundle(capsys, "make", req, "--extra", "fast", "--index-url", index.url)
    assert refused.code == 2
    assert "in a requirements file write the extras in the line itself" in refused.err


def test_in_house_projects_that_depend_on_each_other_bundle_together_and_install_offline(
    tmp_path: Path, index: LocalIndex, capsys: pytest.CaptureFixture[str], offline: RunOffline
) -> None:
    libs = tmp_path / "repo" / "libs"
    make_project(libs / "acme-core", "acme-core", "1.2", requires=["beta<2"])
    make_project(libs / "acme-api", "acme-api", "0.4", requires=["acme-core>=1.2", "alpha"])
    made = bundle(
        capsys, "make", libs / "acme-api", libs / "acme-core", "--name", "acme",
        "-o", tmp_path / "dist", "--index-url", index.url,
    )  # fmt: skip
    assert made.code == 0, made.err
    names = names_in(made.archive, tmp_path)
    assert names["acme-api"] == names["acme-core"] == "local"
    assert names["alpha"] == names["beta"] == "index-wheel"

    top = unpack(made.archive, tmp_path / "server")
    venv = tmp_path / "server" / "venv"
    assert offline([top / "install.sh", venv]).returncode == 0
    imports = "import acme_api, acme_core, alpha, beta; print(beta.__version__)"
    assert offline([venv / "bin" / "python", "-c", imports]).stdout.strip() == "1.0"


@pytest.mark.parametrize(
    ("line", "problem"),
    [("foo==", "Invalid requirement: 'foo=='"), ("bar>=1 ;; x", "Invalid requirement: 'bar>=1'")],
)
def test_a_malformed_requirement_line_is_named_by_file_and_line(
    tmp_path: Path,
    index: LocalIndex,
    capsys: pytest.CaptureFixture[str],
    line: str,
    problem: str,
) -> None:
    req = requirements(tmp_path, "# our app", "alpha", line)
    refused = bundle(capsys, "make", req, "--index-url", index.url)
    assert refused.code == 1
    message = refused.err.strip().splitlines()[-1]
    assert message.startswith(f"error: {req} line 3: {problem}")
    assert "fix that line" in message


def test_inputs_read_a_requirements_file_once_into_pip_arguments_and_its_lines(
    tmp_path: Path, index: LocalIndex
) -> None:
    options, inputs, _ = staged(tmp_path, index)
    assert inputs.pip_args == ("-r", options.inputs[0])
    assert inputs.requirements.requirements() == ["alpha", "gamma"]
    assert [f.path for f in inputs.files] == [options.inputs[0]]
