"""pip's failures become our errors, naming the package and keeping pip's words."""

from __future__ import annotations

import pytest
from index import LocalIndex

from wheelbundle.errors import BuildFailed, IndexUnreachable, PipFailed, ResolutionFailed
from wheelbundle.pip import classify_failure, run_pip


def dry_run(index_url: str, *requirements: str) -> None:
    run_pip(["install", "--dry-run", "--ignore-installed", "--index-url", index_url, *requirements])


def test_an_unknown_package_is_a_resolution_failure_naming_it(index: LocalIndex) -> None:
    with pytest.raises(ResolutionFailed, match="no version of nosuchpackage found") as caught:
        dry_run(index.url, "nosuchpackage")
    assert caught.value.returncode != 0
    assert "nosuchpackage" in caught.value.output


def test_conflicting_pins_name_both_sides(index: LocalIndex) -> None:
    with pytest.raises(ResolutionFailed, match="conflicting requirements") as caught:
        dry_run(index.url, "conflict-a", "conflict-b")
    assert "conflict-a" in str(caught.value)
    assert "conflict-b" in str(caught.value)


def test_a_failing_sdist_build_is_a_build_failure_with_the_log(index: LocalIndex) -> None:
    with pytest.raises(BuildFailed, match="broken") as caught:
        dry_run(index.url, "broken")
    assert "simulated compiler failure" in caught.value.output


def test_an_unreachable_index_says_so() -> None:
    with pytest.raises(IndexUnreachable, match="cannot reach the package index"):
        run_pip(
            ["install", "--dry-run", "--retries", "1", "--timeout", "2",
             "--index-url", "http://127.0.0.1:9/simple/", "anything"]
        )  # fmt: skip


def test_an_unrecognised_failure_keeps_pips_last_error_line() -> None:
    error = classify_failure(["pip"], 2, "noise\nERROR: something new happened\n")
    assert type(error) is PipFailed
    assert str(error) == "pip failed (exit 2): something new happened"
    assert error.tail.endswith("ERROR: something new happened")
