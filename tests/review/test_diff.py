"""``bundle diff OLD NEW``: exactly the expected rows, as text and JSON, and exit codes to gate on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support.bundles import bundle, make_archive
from support.index import LocalIndex
from support.packages import make_wheel

from wheelbundle.format.layout import read_manifest
from wheelbundle.format.manifest import Manifest


def _index_folder(tmp: Path, packages_dir: Path, epsilon: Path) -> Path:
    folder = tmp / "index"
    folder.mkdir(parents=True)
    for name in ("alpha-1.0", "beta-1.0", "beta-2.0", "delta-1.0", "eta-1.0"):
        shutil.copy(packages_dir / f"{name}-py3-none-any.whl", folder)
    shutil.copy(next(packages_dir.glob("pip-*.whl")), folder)
    shutil.copy(epsilon, folder)
    return folder


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, packages_dir: Path) -> tuple[Path, Path]:
    """OLD: alpha, beta 1.0 pinned, epsilon, eta. NEW: alpha (beta 2.0), delta, and an epsilon
    1.0 rebuilt with other bytes that now declares MIT."""
    tmp = tmp_path_factory.mktemp("diff")
    rebuilt = make_wheel(tmp / "rebuilt", "epsilon", "1.0", license_expression="MIT")
    archives = []
    for label, epsilon, lines in (
        (
            "old",
            packages_dir / "epsilon-1.0-py3-none-any.whl",
            ("alpha", "beta==1.0", "epsilon", "eta"),
        ),
        ("new", rebuilt, ("alpha", "delta", "epsilon")),
    ):
        with LocalIndex(_index_folder(tmp / label, packages_dir, epsilon)) as served:
            archives.append(make_archive(tmp / label, served.url, *lines))
    return archives[0], archives[1]


def test_the_fixture_bundles_differ_as_intended(pair: tuple[Path, Path]) -> None:
    old, new = (read_manifest(p) for p in pair)
    assert _versions(old) == {"alpha": "1.0", "beta": "1.0", "epsilon": "1.0", "eta": "1.0"}
    assert _versions(new) == {"alpha": "1.0", "beta": "2.0", "delta": "1.0", "epsilon": "1.0"}


def _versions(manifest: Manifest) -> dict[str, str]:
    return {p.name: p.version for p in manifest.packages if p.name != "pip"}


def test_diff_text_gives_exactly_the_expected_rows(
    pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = pair
    eps_old, eps_new = (_sha(p, "epsilon")[:12] for p in pair)
    outcome = bundle(capsys, "diff", old, new)
    assert outcome.code == 1, outcome.err
    assert [line.split() for line in outcome.out.splitlines()] == [
        ["upgraded", "beta", "1.0", "->", "2.0"],
        ["added", "delta", "1.0"],
        ["rebuilt", "epsilon", "1.0", "sha256", eps_old, "->", eps_new],
        ["license", "epsilon", "1.0", "unknown", "->", "MIT"],
        ["removed", "eta", "1.0"],
    ]
    assert outcome.err == ""


def test_diff_the_other_way_round_downgrades(
    pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = pair
    outcome = bundle(capsys, "diff", new, old)
    assert outcome.code == 1
    assert [line.split()[:2] for line in outcome.out.splitlines()] == [
        ["downgraded", "beta"],
        ["removed", "delta"],
        ["rebuilt", "epsilon"],
        ["license", "epsilon"],
        ["added", "eta"],
    ]
    assert "2.0 -> 1.0" in outcome.out and "MIT -> unknown" in outcome.out


def test_diff_json_lists_the_same_changes(
    pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = pair
    outcome = bundle(capsys, "diff", "--json", old, new)
    assert outcome.code == 1
    data = json.loads(outcome.out)
    assert (data["old"], data["new"]) == (str(old), str(new))
    assert data["changes"] == [
        {"package": "beta", "change": "upgraded", "old": "1.0", "new": "2.0", "version": "2.0"},
        {"package": "delta", "change": "added", "old": None, "new": "1.0", "version": "1.0"},
        {
            "package": "epsilon",
            "change": "rebuilt",
            "old": _sha(old, "epsilon"),
            "new": _sha(new, "epsilon"),
            "version": "1.0",
        },
        {"package": "epsilon", "change": "license", "old": None, "new": "MIT", "version": "1.0"},
        {"package": "eta", "change": "removed", "old": "1.0", "new": None, "version": "1.0"},
    ]


def _sha(archive: Path, name: str) -> str:
    return next(p.sha256 for p in read_manifest(archive).packages if p.name == name)


@pytest.mark.parametrize("json_flag", [(), ("--json",)])
def test_no_differences_exit_0(
    pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str], json_flag: tuple[str, ...]
) -> None:
    outcome = bundle(capsys, "diff", *json_flag, pair[0], pair[0])
    assert outcome.code == 0
    if json_flag:
        assert json.loads(outcome.out)["changes"] == []
    else:
        assert outcome.out == ""


def test_an_unreadable_bundle_is_an_error_not_a_difference(
    pair: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not an archive")
    outcome = bundle(capsys, "diff", pair[0], junk)
    assert outcome.code >= 2
    assert outcome.err.startswith("error: ") and len(outcome.err.strip().splitlines()) == 1
    missing = bundle(capsys, "diff", pair[0], tmp_path / "missing.tar.gz")
    assert missing.code >= 2


def test_diff_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        bundle(capsys, "diff", "--help")
    help_text = " ".join(capsys.readouterr().out.split())
    assert "0 no differences, 1 differences found, 2 or more an error" in help_text
