"""Why nothing was found, said in one line, whatever the relay trimmed from the pages pip saw.

The relay hands pip PEP 691 pages without the files the target cannot use (see
``choose.for_target``), so pip can no longer say why it found nothing: the relay, which read
the whole page, says it. A file or page the index serves wrong is named for what it is.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from support.bundles import bundle, requirements
from support.fixtures import MakeIndex
from support.index import LocalIndex
from support.packages import make_wheel, pip_wheel

PY = f"{sys.version_info[0]}.{sys.version_info[1]}"
WITH_TARGET = (
    "with --target (a shorthand like cp312-manylinux_2_28_x86_64, or 'bundle probe' run on the "
    "server)"
)


def served(make_index: MakeIndex, *files: Path, **options: bool) -> LocalIndex:
    """An index of ``files`` and pip's wheel, which every bundle carries."""
    pip = pip_wheel()
    assert pip is not None
    return make_index(pip, *files, **options)


def error_of(capsys: pytest.CaptureFixture[str], tmp_path: Path, url: str, *lines: str) -> str:
    outcome = bundle(
        capsys, "make", requirements(tmp_path / "app", *lines), "-o", tmp_path / "dist",
        "--index-url", url, "--no-cache", "-q",
    )  # fmt: skip
    assert outcome.code == 1, outcome.err
    [error] = [ln for ln in outcome.err.splitlines() if ln.startswith("error: ")]
    assert not any((tmp_path / "dist").glob("*.tar.gz"))
    return error


@pytest.mark.parametrize("json_pages", [True, False], ids=["json", "html"])
def test_a_version_whose_requires_python_the_target_misses_is_named_with_both_pythons(
    capsys: pytest.CaptureFixture[str], make_index: MakeIndex, tmp_path: Path, json_pages: bool
) -> None:
    index = served(
        make_index,
        make_wheel(tmp_path, "newpy", "1.0", requires_python=">=3.99"),
        make_wheel(tmp_path, "newpy", "0.5", requires_python=">=3.98"),
        json=json_pages,
    )
    assert error_of(capsys, tmp_path, index.url, "newpy==1.0") == (
        f"error: no version of newpy==1.0 supports Python {PY}, the Python this bundle is for "
        "(versions found need another: 1.0 Requires-Python >=3.99); bundle for a Python they "
        f"support {WITH_TARGET}, or pin a version that supports it"
    )


@pytest.mark.parametrize("json_pages", [True, False], ids=["json", "html"])
def test_a_version_with_wheels_only_for_other_platforms_names_the_target_and_their_tags(
    capsys: pytest.CaptureFixture[str], make_index: MakeIndex, tmp_path: Path, json_pages: bool
) -> None:
    index = served(
        make_index,
        make_wheel(tmp_path, "numeric", "2.3.0", tag="cp399-cp399-manylinux_2_28_x86_64"),
        make_wheel(tmp_path, "numeric", "2.3.0", tag="cp398-cp398-win_amd64"),
        make_wheel(tmp_path, "numeric", "1.0", tag="py3-none-any"),
        json=json_pages,
    )
    outcome = bundle(
        capsys, "make", requirements(tmp_path / "app", "numeric==2.3.0"), "-o", tmp_path / "d",
        "--index-url", index.url, "--no-cache", "-q", "--target", "cp312-manylinux_2_28_x86_64",
    )  # fmt: skip
    [error] = [ln for ln in outcome.err.splitlines() if ln.startswith("error: ")]
    assert outcome.code == 1
    assert error == (
        "error: numeric 2.3.0 has no file for cp312-manylinux_2_28_x86_64, the target: its "
        "wheels are for cp398-cp398-win_amd64 and cp399-cp399-manylinux_2_28_x86_64, and it has "
        "no sdist; bundle for a target it has wheels for with --target, pin a version that has "
        "one for this target, or build a wheel and give it with --find-links"
    )


def test_a_version_that_exists_nowhere_still_blames_the_name_and_version(
    capsys: pytest.CaptureFixture[str], make_index: MakeIndex, tmp_path: Path
) -> None:
    index = served(make_index, make_wheel(tmp_path, "real", "1.0"), json=True)
    assert error_of(capsys, tmp_path, index.url, "real==9.9") == (
        "error: no version of real==9.9 found on the index; check the name and version, or point "
        "--index-url/--find-links at where it is published"
    )


def test_a_yanked_version_pip_takes_is_a_warning_with_the_reason(
    capsys: pytest.CaptureFixture[str], make_index: MakeIndex, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path, "pulled", "1.0")
    index = served(make_index, wheel, json=True)
    page = json.loads(index._project_json("pulled") or b"")
    page["files"][0]["yanked"] = "broke the login page"
    index.serve_page("pulled", json.dumps(page).encode())
    outcome = bundle(
        capsys, "make", requirements(tmp_path / "app", "pulled==1.0"), "-o", tmp_path / "dist",
        "--index-url", index.url, "--no-cache",
    )  # fmt: skip
    assert outcome.code == 0, outcome.err
    assert (
        "warning: pulled 1.0 is yanked from the index (broke the login page); pip takes a yanked "
        "version only when pinned with ==, so check that it is the one you mean"
    ) in outcome.err.splitlines()


@pytest.mark.parametrize("json_pages", [True, False], ids=["json", "html"])
def test_a_metadata_file_that_does_not_match_its_hash_is_named_not_the_wheel(
    capsys: pytest.CaptureFixture[str], make_index: MakeIndex, tmp_path: Path, json_pages: bool
) -> None:
    wheel = make_wheel(tmp_path, "six", "1.16.0", tag="py2.py3-none-any")
    index = served(make_index, wheel, json=json_pages)
    index.tamper_metadata(wheel.name)
    error = error_of(capsys, tmp_path, index.url, "six==1.16.0")
    assert error.startswith(
        "error: six 1.16.0: six-1.16.0-py2.py3-none-any.whl.metadata, the index's PEP 658 "
        "metadata for the wheel, does not match the hash the index gives it (expected sha256:"
    )
    assert error.endswith(
        "); the wheel itself is not in question, but the index serves wrong metadata for it: "
        "tell the index's operator"
    )


def test_a_transfer_cut_short_is_retried_and_the_bundle_is_made(
    capsys: pytest.CaptureFixture[str], make_index: MakeIndex, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path, "halfway", "1.0", modules={"halfway.py": "x = 1\n" * 20000})
    index = served(make_index, wheel, json=True, metadata=False)
    index.cut_short(wheel.name, times=2)
    outcome = bundle(
        capsys, "make", requirements(tmp_path / "app", "halfway"), "-o", tmp_path / "dist",
        "--index-url", index.url, "--no-cache", "-q",
    )  # fmt: skip
    assert outcome.code == 0, outcome.err
    assert index.requests[f"/files/{wheel.name}"] == 3  # twice cut short, then whole


def test_a_transfer_always_cut_short_says_so_and_not_that_the_file_was_replaced(
    capsys: pytest.CaptureFixture[str], make_index: MakeIndex, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path, "halfway", "1.0", modules={"halfway.py": "x = 1\n" * 20000})
    index = served(make_index, wheel, json=True, metadata=False)
    index.cut_short(wheel.name, times=100)
    error = error_of(capsys, tmp_path, index.url, "halfway")
    size = wheel.stat().st_size
    assert error == (
        f"error: could not download {wheel.name} from {index.file_url(wheel.name)}: the "
        f"transfer was cut short ({size // 2} of {size} bytes arrived, 3 tries); the network or "
        "the index is failing: try again"
    )


@pytest.mark.parametrize(
    ("body", "wrong"),
    [
        (b'{"meta": {"api-version": "1.0"}, "name": "bad", "files": [', "it is not JSON"),
        (b'{"meta": {"api-version": "1.0"}, "name": "bad"}', 'it has no "files" list'),
        (b'{"meta": {}, "name": "bad", "files": [{"url": "/x"}]}', "file 1 has no filename"),
    ],
    ids=["truncated", "no-files", "no-filename"],
)
def test_a_malformed_json_page_names_the_page_the_index_and_what_is_wrong(
    capsys: pytest.CaptureFixture[str],
    make_index: MakeIndex,
    tmp_path: Path,
    body: bytes,
    wrong: str,
) -> None:
    index = served(make_index, make_wheel(tmp_path, "bad", "1.0"), json=True)
    index.serve_page("bad", body)
    error = error_of(capsys, tmp_path, index.url, "bad")
    assert error.startswith(f"error: the index {index.url} sent a page for bad that pip cannot "
                            f"read ({index.url}bad/): {wrong}")  # fmt: skip
    assert error.endswith("; the index is broken, or --index-url is not a package index")
