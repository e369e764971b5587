"""One copy of each fact, and the copy agrees with pip: each test pins what pip itself does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from support.bundles import bundle, requirements
from support.fixtures import MakeIndex
from support.packages import make_wheel

from wheelbundle.inputs.reqfile import asked_for, read_requirements, requirement_args
from wheelbundle.net.simple import PageFile
from wheelbundle.resolve.choose import for_target, likely_choice
from wheelbundle.target import parse_target

TARGET = parse_target("cp311-manylinux_2_28_x86_64")
INVALID = ">=3.x"
"""A Requires-Python no specifier parser accepts, as some old uploads carry."""


def _page_file(filename: str, requires_python: str | None = None) -> PageFile:
    return PageFile(
        filename=filename,
        url=f"https://files.example/{filename}",
        sha256="a" * 64,
        requires_python=requires_python,
        yanked=None,
    )


def test_pip_takes_a_file_whose_requires_python_is_invalid(
    tmp_path: Path, make_index: MakeIndex
) -> None:
    wheel = make_wheel(tmp_path / "files", "oddpy", "1.0", requires_python=INVALID)
    served = make_index(wheel)
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--isolated", "install", "--dry-run", "--ignore-installed",
         "--report", report, "--index-url", served.url, "oddpy"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [i["metadata"]["name"] for i in json.loads(report.read_text())["install"]] == ["oddpy"]
    # So every place that asks says the same: it fits.
    assert TARGET.meets_requires_python(INVALID)
    assert likely_choice([_page_file(wheel.name, INVALID)], _any(), TARGET) is not None
    page = {"meta": {"api-version": "1.0"}, "name": "oddpy", "files": [
        {"filename": wheel.name, "url": wheel.name, "hashes": {}, "requires-python": INVALID}
    ]}  # fmt: skip
    assert [f["filename"] for f in for_target(page, TARGET)["files"]] == [wheel.name]


def test_a_requires_python_the_target_does_not_meet_is_passed_over_everywhere() -> None:
    assert not TARGET.meets_requires_python(">=3.12")
    assert TARGET.meets_requires_python(">=3.11") and TARGET.meets_requires_python(None)
    assert likely_choice([_page_file("a-1.0-py3-none-any.whl", ">=3.12")], _any(), TARGET) is None


@pytest.mark.parametrize(
    ("filename", "rank"),
    [
        ("a-1.0-cp311-cp311-manylinux_2_28_x86_64.whl", 0),
        ("a-1.0-py3-none-any.whl", TARGET.tags.index("py3-none-any")),
        ("a-1.0-cp312-cp312-manylinux_2_28_x86_64.whl", None),
        ("not-a-wheel-name.whl", None),  # pip passes a file it cannot parse over
        ("a-1.0-py3-none-any-extra-dashes.whl", None),
    ],
)
def test_a_wheels_place_in_the_targets_preference_is_read_one_way(
    filename: str, rank: int | None
) -> None:
    assert TARGET.rank(filename) == rank
    assert TARGET.accepts(filename) is (rank is not None)
    page = {"meta": {"api-version": "1.0"}, "name": "a", "files": [
        {"filename": filename, "url": filename, "hashes": {}}
    ]}  # fmt: skip
    kept = [f["filename"] for f in for_target(page, TARGET)["files"]]
    assert kept == ([filename] if rank is not None else [])


def test_the_requirements_pip_is_asked_for_are_the_files_lines_not_their_names(
    tmp_path: Path,
) -> None:
    req = requirements(tmp_path, "alpha", "beta>=1 ; python_version >= '3'", "-c constraints.txt")
    (tmp_path / "constraints.txt").write_text("gamma<2\n")
    files = read_requirements([req])
    args = ["-r", str(req), "--only-binary", ":all:", "pip"]
    assert requirement_args(args) == ["pip"]
    assert asked_for(args, files) == ["alpha", "beta>=1 ; python_version >= '3'", "pip"]
    assert asked_for(["pip"], files) == ["pip"]  # pip's own resolution reads no file


def test_bundle_make_of_a_requirements_file_reads_its_requirements_pages_not_its_names(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, make_index: MakeIndex, packages_dir: Path
) -> None:
    served = make_index(*packages_dir.glob("alpha-*"), *packages_dir.glob("beta-*"),
                        *packages_dir.glob("pip-*"), metadata=False)  # fmt: skip
    req = requirements(tmp_path / "app", "alpha")
    made = bundle(capsys, "make", req, "-o", tmp_path / "dist", "--index-url", served.url, "-q")
    assert made.code == 0, made.err
    assert "/simple/requirements-txt/" not in served.requests
    assert served.requests["/simple/alpha/"] == 1


def _any() -> SpecifierSet:
    return SpecifierSet()
