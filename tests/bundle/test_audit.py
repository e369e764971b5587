"""``bundle audit``: a bundle's packages against a copy of the OSV database, offline.

The advisories are small OSV files made for the fixture index's packages, in the shapes the
real database has: ECOSYSTEM ranges with ``introduced``/``fixed`` and ``last_affected``, a
``versions`` list, aliases, a withdrawn advisory, another ecosystem's package of the same name,
and one copied in shape from a real GitHub advisory (requests' CVE-2024-35195).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from support.bundles import bundle, make_archive
from support.cyclonedx import validate
from support.index import LocalIndex

PLANTED: dict[str, dict[str, Any]] = {
    "PYSEC-2026-1": {
        "id": "PYSEC-2026-1",
        "aliases": ["CVE-2026-0001"],
        "summary": "beta trusts its input",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "Beta"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.1"}]}]}],
        "database_specific": {"severity": "HIGH"},
    },
    "GHSA-9wx4-h78v-vm56": {  # the shape of requests' advisory, for gamma
        "id": "GHSA-9wx4-h78v-vm56",
        "aliases": ["CVE-2024-35195"],
        "summary": "gamma Session object does not verify requests after making first request",
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:H/I:H/A:N"}],
        "affected": [{"package": {"ecosystem": "PyPI", "name": "gamma", "purl": "pkg:pypi/gamma"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0.5"}, {"last_affected": "1.0"}]}],
                      "database_specific": {"severity": "MODERATE"}}],
    },
    "PYSEC-2026-2": {  # withdrawn: never reported
        "id": "PYSEC-2026-2", "withdrawn": "2026-03-01T00:00:00Z", "summary": "a mistake",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "alpha"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}],
    },
    "PYSEC-2026-3": {  # alpha 0.9 only: 1.0 is fine
        "id": "PYSEC-2026-3", "summary": "old alpha",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "alpha"}, "versions": ["0.9"]}],
    },
    "PYSEC-2026-4": {  # fixed before the version bundled
        "id": "PYSEC-2026-4", "summary": "older beta",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "beta"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.5"}]}]}],
    },
    "GHSA-npm-beta": {  # another ecosystem's package of the same name
        "id": "GHSA-npm-beta", "summary": "npm's beta",
        "affected": [{"package": {"ecosystem": "npm", "name": "beta"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}],
    },
}  # fmt: skip


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, index: LocalIndex) -> Path:
    return make_archive(tmp_path_factory.mktemp("audit"), index.url, "alpha", "gamma")


def _folder(tmp_path: Path, advisories: dict[str, dict[str, Any]]) -> Path:
    folder = tmp_path / "osv"
    folder.mkdir()
    for name, record in advisories.items():
        (folder / f"{name}.json").write_text(json.dumps(record))
    return folder


def _zip(tmp_path: Path, advisories: dict[str, dict[str, Any]]) -> Path:
    path = tmp_path / "all.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, record in advisories.items():
            zf.writestr(f"{name}.json", json.dumps(record))
    return path


@pytest.mark.parametrize("form", [_folder, _zip], ids=["folder", "zip"])
def test_the_planted_advisories_are_found_and_the_withdrawn_one_is_not(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], form: Any
) -> None:
    found = bundle(capsys, "audit", archive, "--osv", form(tmp_path, PLANTED))
    assert found.code == 1, found.err
    lines = found.out.strip().splitlines()
    assert lines == [
        f"{archive.name}: beta 2.0: PYSEC-2026-1 (CVE-2026-0001), fixed in 2.1 [HIGH]: beta trusts its input",
        f"{archive.name}: gamma 1.0: GHSA-9wx4-h78v-vm56 (CVE-2024-35195), no fixed version "
        "[MODERATE]: gamma Session object does not verify requests after making first request",
    ]
    assert found.err.strip() == "2 known vulnerabilities in 2 packages"


def test_a_clean_bundle_exits_0_and_json_is_for_scripts(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean = {k: v for k, v in PLANTED.items() if k not in ("PYSEC-2026-1", "GHSA-9wx4-h78v-vm56")}
    assert bundle(capsys, "audit", archive, "--osv", _folder(tmp_path, clean)).code == 0
    found = bundle(capsys, "audit", archive, "--osv", _zip(tmp_path, PLANTED), "--json", "-q")
    assert found.code == 1
    assert [(f["package"], f["id"], f["fixed"]) for f in json.loads(found.out)] == [
        ("beta", "PYSEC-2026-1", ["2.1"]),
        ("gamma", "GHSA-9wx4-h78v-vm56", []),
    ]


def test_the_sbom_out_carries_the_vulnerabilities_and_stays_valid_cyclonedx(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sbom.json"
    assert (
        bundle(capsys, "audit", archive, "--osv", _zip(tmp_path, PLANTED), "--sbom-out", out).code
        == 1
    )
    document = json.loads(out.read_text())
    validate(document)
    vulns = {v["id"]: v for v in document["vulnerabilities"]}
    assert set(vulns) == {"PYSEC-2026-1", "GHSA-9wx4-h78v-vm56"}
    assert vulns["PYSEC-2026-1"]["ratings"] == [{"severity": "high", "source": {"name": "OSV"}}]
    assert vulns["GHSA-9wx4-h78v-vm56"]["ratings"][0]["severity"] == "medium"
    refs = {c["bom-ref"] for c in document["components"]}
    assert all(a["ref"] in refs for v in vulns.values() for a in v["affects"])


def test_a_missing_or_broken_database_is_a_usage_error(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = bundle(capsys, "audit", archive, "--osv", tmp_path / "nope.zip")
    assert missing.code == 2 and "no such file or folder" in missing.err
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK not a zip")
    refused = bundle(capsys, "audit", archive, "--osv", broken)
    assert refused.code == 2 and "not an OSV zip or folder" in refused.err
