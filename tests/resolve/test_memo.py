"""A rebuild of unchanged inputs reuses pip's resolution: no pip run, no request to the index."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from support.bundles import bundle, requirements
from support.index import LocalIndex
from support.packages import pip_wheel_name

from wheelbundle.inputs.reqfile import RequirementFiles, read_requirements
from wheelbundle.resolve.memo import MAX_AGE, resolution_key
from wheelbundle.target import host_target

PIP_WHEEL = pip_wheel_name()
"""The pip every bundle carries: the fixture index serves this Python's ensurepip's."""

FILES = (
    "alpha-1.0-py3-none-any.whl",
    "beta-2.0-py3-none-any.whl",
    "gamma-1.0.tar.gz",
    PIP_WHEEL,
)


@pytest.fixture
def served(make_index: Any, packages_dir: Path) -> LocalIndex:
    index: LocalIndex = make_index(*(packages_dir / f for f in FILES))
    return index


def make(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, index: LocalIndex, *extra: str
) -> Path:
    req = tmp_path / "app" / "requirements.txt"
    args = (
        "make",
        req,
        "-o",
        tmp_path / "dist",
        "--index-url",
        index.url,
        "--cache-dir",
        tmp_path / "cache",
    )
    outcome = bundle(capsys, *args, *extra)
    assert outcome.code == 0, outcome.err
    return outcome.archive


def test_a_second_make_asks_the_index_nothing_and_gives_the_same_bytes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, served: LocalIndex
) -> None:
    requirements(tmp_path / "app", "alpha", "gamma")
    first = make(capsys, tmp_path, served).read_bytes()
    served.reset_requests()
    assert make(capsys, tmp_path, served).read_bytes() == first
    assert sum(served.requests.values()) == 0


def test_refresh_changed_inputs_and_age_each_resolve_anew(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, served: LocalIndex
) -> None:
    requirements(tmp_path / "app", "alpha")
    make(capsys, tmp_path, served)
    served.reset_requests()
    make(capsys, tmp_path, served, "--refresh")
    assert served.requests["/simple/alpha/"] == 1
    served.reset_requests()
    requirements(tmp_path / "app", "alpha", "gamma")
    make(capsys, tmp_path, served)
    assert served.requests["/simple/gamma/"] == 1
    served.reset_requests()
    for memo in (tmp_path / "cache" / "resolutions").rglob("*.json"):
        old = time.time() - MAX_AGE - 60
        os.utime(memo, (old, old))
    make(capsys, tmp_path, served)
    assert served.requests["/simple/alpha/"] == 1


def test_the_key_covers_included_files_targets_and_pip_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = tmp_path / "base.txt"
    base.write_text("beta\n")
    top = requirements(tmp_path, "-r base.txt", "alpha")
    key = resolution_key(["-r", str(top)], read_requirements([top]), [], host_target())
    assert key is not None
    base.write_text("beta==1.0\n")
    changed = resolution_key(["-r", str(top)], read_requirements([top]), [], host_target())
    assert changed not in (None, key)
    assert (
        resolution_key(
            ["-r", str(top)], read_requirements([top]), ["--index-url", "http://x/"], host_target()
        )
        != changed
    )
    monkeypatch.setenv("PIP_PRE", "1")
    assert resolution_key(["-r", str(top)], read_requirements([top]), [], host_target()) != changed


def test_local_paths_and_editables_are_never_reused(tmp_path: Path) -> None:
    assert resolution_key([str(tmp_path)], RequirementFiles(), [], host_target()) is None
    for line in ("-e ./lib", "./lib", "pkg @ file:///src/pkg"):
        req = requirements(tmp_path / line.replace("/", "_").replace(" ", ""), line)
        assert resolution_key(["-r", str(req)], read_requirements([req]), [], host_target()) is None


def test_cache_info_counts_what_a_make_left_and_clean_empties_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, served: LocalIndex
) -> None:
    requirements(tmp_path / "app", "alpha", "gamma")
    make(capsys, tmp_path, served)
    info = bundle(capsys, "cache", "info", "--cache-dir", tmp_path / "cache")
    assert info.code == 0
    rows = {line.split()[0]: int(line.split()[1]) for line in info.out.splitlines()[1:]}
    assert rows == {"downloads": 4, "builds": 1, "repairs": 0, "resolutions": 1, "unfinished": 0}
    assert bundle(capsys, "cache", "clean", "--cache-dir", tmp_path / "cache").code == 0
    assert not (tmp_path / "cache").exists()
