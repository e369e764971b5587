"""One JSON summary of a bundle: `inspect --json`, `make --report` and `make --dry-run --report`.

The dry run resolves as make does and stops there: it prints each target's files with their
sizes, and writes nothing but the report asked for.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from support.bundles import bundle, requirements
from support.index import LocalIndex

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "summary.schema.json").read_text())


def valid(document: dict[str, Any]) -> dict[str, Any]:
    jsonschema.validate(document, SCHEMA, format_checker=jsonschema.FormatChecker())
    return document


def test_a_dry_run_lists_what_would_be_bundled_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], index: LocalIndex, tmp_path: Path
) -> None:
    req = requirements(tmp_path / "shop", "alpha", "gamma")
    out, report = tmp_path / "dist", tmp_path / "ci" / "plan.json"
    dry = bundle(
        capsys, "make", req, "-o", out, "--index-url", index.url, "--dry-run", "--report", report
    )
    assert dry.code == 0, dry.err
    assert not out.exists()  # no archive, no folder
    assert "nothing was written (--dry-run)" in dry.err.splitlines()
    lines = dry.out.splitlines()
    assert lines[0].startswith("shop ") and " would hold, for cp3" in lines[0]
    assert lines[1].split() == ["PACKAGE", "VERSION", "ORIGIN", "FILE", "SIZE"]
    table = {ln.split()[0]: ln.split() for ln in lines[2:-1]}
    assert set(table) == {"alpha", "beta", "gamma", "pip"}
    assert table["gamma"][1:4] == ["1.0", "built-from-sdist", "gamma-1.0.tar.gz"]
    assert table["gamma"][4:] == ["to", "build"]
    assert table["alpha"][1:4] == ["1.0", "index-wheel", "alpha-1.0-py3-none-any.whl"]
    assert lines[-1].startswith("  4 packages, ")
    assert lines[-1].endswith(" (1 more whose size is known once built or fetched)")

    planned = valid(json.loads(report.read_text()))
    assert planned["dry_run"] is True and planned["archive"] is None
    sizes = {p["file"]: p["size"] for p in planned["packages"]}
    assert sizes["gamma-1.0.tar.gz"] is None and planned["unsized"] == 1
    for name, size in sizes.items():
        if size is not None:
            assert size == (index.root / name).stat().st_size

    made = bundle(capsys, "make", req, "-o", out, "--index-url", index.url, "--report", report)
    assert made.code == 0, made.err
    archive = Path(made.out.strip())
    summary = valid(json.loads(report.read_text()))
    assert summary == valid(json.loads(bundle(capsys, "inspect", "--json", archive).out))
    assert summary["dry_run"] is False and summary["archive_size"] == archive.stat().st_size
    assert [p["name"] for p in summary["packages"]] == [p["name"] for p in planned["packages"]]
    assert [p["file"] for p in summary["packages"]] == [p["file"] for p in planned["packages"]]
    assert [t["name"] for t in summary["targets"]] == [t["name"] for t in planned["targets"]]
    built = next(p for p in summary["packages"] if p["name"] == "gamma")
    assert built["wheel"] == "gamma-1.0-py3-none-any.whl" and built["size"] > 0
    assert summary["unsized"] == 0
    assert summary["total_size"] == sum(p["size"] for p in summary["packages"])


def test_a_report_to_stdout_is_the_only_thing_there(
    capsys: pytest.CaptureFixture[str], index: LocalIndex, tmp_path: Path
) -> None:
    req = requirements(tmp_path / "shop", "alpha")
    dry = bundle(capsys, "make", req, "--index-url", index.url, "--dry-run", "--report", "-")
    assert dry.code == 0, dry.err
    document = valid(json.loads(dry.out))
    assert [p["name"] for p in document["packages"]] == ["alpha", "beta", "pip"]
