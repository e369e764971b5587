"""pip's failures become our errors, naming the package and keeping pip's words."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from support.bundles import bundle, requirements
from support.index import LocalIndex
from support.packages import make_wheel

from wheelbundle.errors import BuildFailed, IndexUnreachable, PipFailed, ResolutionFailed
from wheelbundle.pip.runner import classify_failure, run_pip


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


PY = f"{sys.version_info[0]}.{sys.version_info[1]}"


def test_a_version_for_another_python_names_both_pythons_and_target(
    make_index: Any, tmp_path: Path
) -> None:
    """pip says "from versions: none"; the reason is the Requires-Python it ignored them for."""
    index: LocalIndex = make_index(
        make_wheel(tmp_path, "newpy", "1.0", requires_python=">=3.99"),
        make_wheel(tmp_path, "newpy", "0.5", requires_python=">=3.98"),
    )
    with pytest.raises(ResolutionFailed) as caught:
        dry_run(index.url, "newpy==1.0")
    assert str(caught.value) == (
        f"no version of newpy==1.0 supports Python {PY}, the Python this bundle is for "
        "(versions found need another: 0.5 Requires-Python >=3.98; 1.0 Requires-Python >=3.99); "
        "bundle for a Python they support with --target (a shorthand like "
        "cp312-manylinux_2_28_x86_64, or 'bundle probe' run on the server), or pin a version "
        "that supports it"
    )


@pytest.mark.parametrize("verbose", [[], ["--verbose"]])
def test_a_conflict_names_what_each_side_needs_with_and_without_verbose(
    capsys: pytest.CaptureFixture[str], index: LocalIndex, tmp_path: Path, verbose: list[str]
) -> None:
    req = requirements(tmp_path / "app", "conflict-a", "conflict-b")
    outcome = bundle(
        capsys, "make", req, "-o", tmp_path / "dist", "--index-url", index.url, "--no-cache",
        *verbose,
    )  # fmt: skip
    assert outcome.code == 1
    [error] = [ln for ln in outcome.err.splitlines() if ln.startswith("error: ")]
    assert error == (
        f"error: conflicting requirements: -r {req} (line 1) and -r {req} (line 2); because "
        "conflict-a 1.0 depends on beta<2; conflict-b 1.0 depends on beta>=2; relax one of the "
        "pins so they can agree"
    )


def test_verbose_shows_pips_output_and_keeps_the_cause(
    capfd: pytest.CaptureFixture[str], index: LocalIndex, tmp_path: Path
) -> None:
    outcome = bundle(
        capfd, "make", requirements(tmp_path / "app", "nosuchpackage"),
        "-o", tmp_path / "dist", "--index-url", index.url, "--no-cache", "--verbose",
    )  # fmt: skip
    assert outcome.code == 1
    assert "ERROR: No matching distribution found for nosuchpackage" in outcome.err
    [error] = [ln for ln in outcome.err.splitlines() if ln.startswith("error: ")]
    assert error.startswith("error: no version of nosuchpackage found on the index; ")


def test_a_python_mismatch_pip_finds_in_metadata_names_both_and_target() -> None:
    """Where a page gives no data-requires-python, pip learns it from the file's metadata."""
    error = classify_failure(
        ["pip"], 1, "ERROR: Package 'django' requires a different Python: 3.9.2 not in '>=3.10'\n"
    )
    assert type(error) is ResolutionFailed
    assert str(error) == (
        "django needs Python >=3.10, and this bundle is for Python 3.9.2; bundle for a Python it "
        "supports with --target (a shorthand like cp312-manylinux_2_28_x86_64, or 'bundle probe' "
        "run on the server), or pin a version of django that supports 3.9.2"
    )


#: How pip words a failed metadata build: 24 names no package there, 26 names the file.
_PIP_24_METADATA = """\
Collecting alpha
  Using cached alpha-1.0-py3-none-any.whl.metadata
Collecting broken==1.0
  Downloading broken-1.0.tar.gz (1.2 kB)
  Preparing metadata (pyproject.toml) did not run successfully.
  error: subprocess-exited-with-error
      RuntimeError: error: simulated compiler failure: gcc not found
      [end of output]
error: metadata-generation-failed

\u00d7 Encountered error while generating package metadata.
\u2570\u2500> See above for output.
"""
_PIP_26_METADATA = """\
error: metadata-generation-failed

\u00d7 Encountered error while generating package metadata.
\u2570\u2500> from file:///tmp/tmp9cmaik_q/broken-1.0.tar.gz
"""


@pytest.mark.parametrize("output", [_PIP_24_METADATA, _PIP_26_METADATA])
def test_a_failed_metadata_build_names_the_package_on_every_supported_pip(output: str) -> None:
    error = classify_failure(["pip", "install"], 1, output)
    assert isinstance(error, BuildFailed)
    assert str(error).startswith("could not build broken from source;")
