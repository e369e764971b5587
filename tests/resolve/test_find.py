"""A complete hash-pinned lock: each file found on the index page by its hash, without pip."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.bundles import bundle, requirements, unpack
from support.fixtures import MakeIndex
from support.packages import sha256_hex, wheel_filename

from wheelbundle.format.manifest import Manifest
from wheelbundle.inputs.pinned_hashes import given_hashes
from wheelbundle.inputs.reqfile import read_requirements
from wheelbundle.resolve.choose import best_wheel
from wheelbundle.resolve.find import PYPI, files_on_page, locked_lines, plain_indexes
from wheelbundle.target import parse_target

A, B = "a" * 64, "b" * 64


def test_a_file_is_found_on_the_page_by_its_hash() -> None:
    page = (
        f'<a href="../../files/x-1.0-py3-none-any.whl#sha256={A}">x</a>'
        f'<a href="https://cdn.example/x-1.0.tar.gz#sha256={B}" data-requires-python="&gt;=3">x</a>'
        '<a href="x-0.9-py3-none-any.whl#sha256=' + "c" * 64 + '">x</a>'
    )
    target = parse_target("cp312-manylinux_2_28_x86_64")
    found = files_on_page(page, "https://idx.example/simple/x/", frozenset({A, B}), target)
    assert found == {
        "https://idx.example/files/x-1.0-py3-none-any.whl": A,
        "https://cdn.example/x-1.0.tar.gz": B,
    }


def test_a_file_whose_requires_python_the_target_does_not_meet_is_passed_over_as_pip_does() -> None:
    page = (
        f'<a href="x-2.0-py3-none-any.whl#sha256={A}" data-requires-python="&gt;=3.13">x</a>'
        f'<a href="x-2.0.tar.gz#sha256={B}" data-requires-python="not a specifier">x</a>'
    )
    target = parse_target("cp312-manylinux_2_28_x86_64")
    found = files_on_page(page, "https://idx.example/simple/x/", frozenset({A, B}), target)
    assert found == {"https://idx.example/simple/x/x-2.0.tar.gz": B}


def test_the_targets_best_wheel_is_taken_and_an_sdist_is_left_to_pip() -> None:
    target = parse_target("cp312-manylinux_2_28_x86_64")
    files = {
        "https://f/x-1.0-py3-none-any.whl": A,
        "https://f/x-1.0-cp312-cp312-manylinux_2_17_x86_64.whl": B,
        "https://f/x-1.0-cp312-cp312-win_amd64.whl": "c" * 64,
        "https://f/x-1.0.tar.gz": "d" * 64,
    }
    assert best_wheel(files, target) == ("https://f/x-1.0-cp312-cp312-manylinux_2_17_x86_64.whl", B)
    assert best_wheel({"https://f/x-1.0.tar.gz": A}, target) is None


def _given(tmp_path: Path, *lines: str) -> object:
    return given_hashes(read_requirements([requirements(tmp_path, *lines)]))


def test_lines_apply_by_marker_and_only_exact_pins_qualify(tmp_path: Path) -> None:
    windows = parse_target("cp311-win_amd64")
    given = _given(
        tmp_path,
        f"x[fast]==1.0 --hash=sha256:{A}",
        f'w==2 ; sys_platform == "win32" --hash=sha256:{B}',
    )
    lines = locked_lines(given, parse_target("cp311-manylinux_2_28_x86_64").markers)  # type: ignore[arg-type]
    assert [(ln.name, ln.version, ln.extras) for ln in lines or ()] == [("x", "1.0", ("fast",))]
    assert [ln.name for ln in locked_lines(given, windows.markers) or ()] == ["x", "w"]  # type: ignore[arg-type]
    ranged = _given(tmp_path / "r", f"x>=1.0 --hash=sha256:{A}")
    assert locked_lines(ranged, windows.markers) is None  # type: ignore[arg-type]
    twice = _given(
        tmp_path / "t",
        f"x==1 ; python_version < '3.12' --hash=sha256:{A}",
        f"x==2 ; python_version >= '3.12' --hash=sha256:{B}",
    )
    assert locked_lines(twice, windows.markers) is None  # type: ignore[arg-type]


def test_indexes_follow_pips_layers_and_anything_else_leaves_it_to_pip(tmp_path: Path) -> None:
    plain = requirements(tmp_path, f"x==1 --hash=sha256:{A}")
    config = "global.index-url='https://mirror.example/simple'\n:env:.cert='/etc/ca.pem'\n"
    env = {"PIP_EXTRA_INDEX_URL": "https://extra.example/simple", "PIP_CERT": "/etc/ca.pem"}
    assert plain_indexes(None, [], False, read_requirements([plain]), env, lambda: config) == [
        "https://mirror.example/simple",
        "https://extra.example/simple",
    ]
    assert plain_indexes(
        "https://cli.example/simple", [], False, read_requirements([plain]), env, lambda: config
    ) == [
        "https://cli.example/simple",
        "https://extra.example/simple",
    ]
    assert plain_indexes(
        None, [], False, read_requirements([plain]), {"PIP_CONFIG_FILE": os.devnull}, lambda: ""
    ) == [PYPI]
    assert (
        plain_indexes(None, [], True, read_requirements([plain]), {}, lambda: "") is None
    )  # --find-links given
    assert (
        plain_indexes(
            None, [], False, read_requirements([plain]), {}, lambda: "global.find-links='/w'"
        )
        is None
    )
    assert (
        plain_indexes(None, [], False, read_requirements([plain]), {"PIP_PRE": "1"}, lambda: "")
        is None
    )
    with_option = requirements(
        tmp_path / "o", "--index-url https://other.example/simple", f"x==1 --hash=sha256:{A}"
    )
    assert plain_indexes(None, [], False, read_requirements([with_option]), {}, lambda: "") is None


def test_a_complete_lock_of_wheels_is_bundled_without_pip_reading_it(
    tmp_path: Path, packages_dir: Path, make_index: MakeIndex, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [wheel_filename("alpha", "1.0"), wheel_filename("beta", "1.0")]
    index = make_index(*(packages_dir / f for f in files), *packages_dir.glob("pip-*.whl"))
    lock = requirements(
        tmp_path / "app",
        *(f"{f.split('-')[0]}==1.0 --hash=sha256:{sha256_hex(packages_dir / f)}" for f in files),
    )
    made = bundle(capsys, "make", lock, "-o", tmp_path / "dist", "--index-url", index.url)
    assert made.code == 0, made.err
    manifest = Manifest.from_yaml(
        (unpack(made.archive, tmp_path / "x") / "manifest.yaml").read_text()
    )
    assert {p.name: p.version for p in manifest.packages if p.name != "pip"} == {
        "alpha": "1.0",
        "beta": "1.0",
    }
    assert next(p for p in manifest.packages if p.name == "alpha").requires == ("beta>=1.0",)
    # pip read metadata only for its own wheel: alpha and beta were found by their hashes
    assert not [p for p in index.requests if p.endswith(".metadata") and "pip-" not in p]


def test_a_page_without_hashes_leaves_the_lock_to_pip(
    tmp_path: Path, packages_dir: Path, make_index: MakeIndex, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [wheel_filename("alpha", "1.0"), wheel_filename("beta", "1.0")]
    index = make_index(
        *(packages_dir / f for f in files), *packages_dir.glob("pip-*.whl"), hashes=False
    )
    lock = requirements(
        tmp_path / "app", f"alpha==1.0 --hash=sha256:{sha256_hex(packages_dir / files[0])}"
    )
    refused = bundle(capsys, "make", lock, "-o", tmp_path / "dist", "--index-url", index.url)
    assert refused.code == 1  # pip found alpha (--no-deps); the lock lacks beta
    assert "alpha 1.0 needs beta>=1.0, which is not pinned" in refused.err
    assert any(p.startswith("/files/alpha-1.0") for p in index.requests)  # fetched by pip
