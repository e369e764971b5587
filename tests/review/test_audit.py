"""``bundle audit``: a bundle's packages against a copy of the OSV database, offline.

The advisories are small OSV files made for the fixture index's packages, in the shapes the
real database has: ECOSYSTEM ranges with ``introduced``/``fixed`` and ``last_affected``, a
``versions`` list, aliases, a withdrawn advisory, another ecosystem's package of the same name,
and one copied in shape from a real GitHub advisory (requests' CVE-2024-35195).

Then real records (``osv_data/``, copied unchanged from the PyPA's and GitHub's advisory
databases; its README says from where): PYSEC records and their GHSA twins for requests
2.25.0, urllib3 1.26.4 and Django 3.2, CVSS v3 and v4 vectors, two withdrawn records, a
``last_affected`` range and another ecosystem's package of a PyPI name.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from support.bundles import bundle, make_archive, read_member, rewrite
from support.cyclonedx import validate
from support.index import LocalIndex
from support.packages import make_wheel, pip_wheel
from support.schemas import validate_openvex, validate_schema

from wheelbundle.cache import sha256_file
from wheelbundle.format.archive import BundleArchive
from wheelbundle.format.layout import SBOM

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
    source = form(tmp_path, PLANTED)
    found = bundle(capsys, "audit", archive, "--osv", source)
    assert found.code == 1, found.err
    lines = found.out.strip().splitlines()
    assert lines == [  # the most severe first; the CVE first among a finding's ids
        f"{archive.name}: beta 2.0: high: CVE-2026-0001, PYSEC-2026-1; fixed in 2.1: beta trusts its input",
        f"{archive.name}: gamma 1.0: medium 5.6: CVE-2024-35195, GHSA-9wx4-h78v-vm56; no fixed "
        "version: gamma Session object does not verify requests after making first request",
    ]
    digest = f", sha256 {sha256_file(source)}" if source.is_file() else ""
    assert found.err.strip() == (  # the npm advisory is not PyPI's; the withdrawn one counts
        "2 known vulnerabilities (1 high, 1 medium) in 2 packages; checked against 5 PyPI "
        f"advisories, newest undated{digest}"
    )


def test_a_clean_bundle_exits_0_and_json_is_for_scripts(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean = {k: v for k, v in PLANTED.items() if k not in ("PYSEC-2026-1", "GHSA-9wx4-h78v-vm56")}
    assert bundle(capsys, "audit", archive, "--osv", _folder(tmp_path, clean)).code == 0
    found = bundle(capsys, "audit", archive, "--osv", _zip(tmp_path, PLANTED), "--json", "-q")
    assert found.code == 1
    document = json.loads(found.out)
    validate_schema(document, "audit.schema.json")
    assert document["counts"] == {"high": 1, "medium": 1}
    assert document["snapshot"]["advisories"] == 5
    assert [(f["package"], f["ids"], f["fixed"]) for f in document["findings"]] == [
        ("beta", ["CVE-2026-0001", "PYSEC-2026-1"], "2.1"),
        ("gamma", ["CVE-2024-35195", "GHSA-9wx4-h78v-vm56"], None),
    ]
    assert document["findings"][1]["severity"] == {
        "rating": "medium",
        "score": 5.6,
        "vector": "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:H/I:H/A:N",
    }


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
    assert set(vulns) == {"CVE-2026-0001", "CVE-2024-35195"}
    assert vulns["CVE-2026-0001"]["ratings"] == [{"severity": "high", "source": {"name": "OSV"}}]
    assert vulns["CVE-2024-35195"]["ratings"][0]["severity"] == "medium"
    assert vulns["CVE-2024-35195"]["ratings"][0]["score"] == 5.6
    assert [r["id"] for r in vulns["CVE-2026-0001"]["references"]] == ["PYSEC-2026-1"]
    refs = {c["bom-ref"] for c in document["components"]}
    assert all(a["ref"] in refs for v in vulns.values() for a in v["affects"])
    properties = {p["name"]: p["value"] for p in document["metadata"]["properties"]}
    assert properties["wheelbundle:osv:advisories"] == "5"


def test_a_missing_or_broken_database_is_a_usage_error(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = bundle(capsys, "audit", archive, "--osv", tmp_path / "nope.zip")
    assert missing.code == 2 and "no such file or folder" in missing.err
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK not a zip")
    refused = bundle(capsys, "audit", archive, "--osv", broken)
    assert refused.code == 2 and "not an OSV zip or folder" in refused.err


def _empty_zip(tmp_path: Path) -> Path:
    path = tmp_path / "empty.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("README.txt", "no advisories here")
    return path


def _empty_folder(tmp_path: Path) -> Path:
    (tmp_path / "empty").mkdir()
    return tmp_path / "empty"


def _npm_only(tmp_path: Path) -> Path:
    return _zip(tmp_path, {"GHSA-npm-beta": PLANTED["GHSA-npm-beta"]})


@pytest.mark.parametrize(
    ("source", "said"),
    [
        (_empty_zip, "holds no OSV advisory (no .json, .yaml or .yml file in it)"),
        (_empty_folder, "holds no OSV advisory (no .json, .yaml or .yml file in it)"),
        (
            _npm_only,
            "holds 1 JSON or YAML records, and no PyPI advisory among them (they are about npm)",
        ),
    ],
    ids=["empty-zip", "empty-folder", "another-ecosystem"],
)
def test_a_source_without_pypi_advisories_is_refused_by_every_command(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], source: Any, said: str
) -> None:
    """Read as a clean database, it once let a vulnerable bundle through every gate."""
    osv = source(tmp_path)
    policy = tmp_path / "policy.yaml"
    policy.write_text("vulnerabilities:\n  deny: high\n")
    expected = (
        f"error: --osv {osv}: {said}; give osv.dev's PyPI/all.zip, or a folder of OSV JSON or "
        "YAML files"
    )
    for command in (
        ("audit", archive, "--osv", osv),
        ("report", archive, "-o", tmp_path / "report.html", "--osv", osv),
    ):
        refused = bundle(capsys, *command)
        assert refused.code == 2, refused.err
        assert refused.err.strip() == expected
    assert not (tmp_path / "report.html").exists()


def test_make_with_a_policy_refuses_an_empty_source_and_records_a_real_one(
    index: LocalIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("vulnerabilities:\n  deny: critical\n")
    req = tmp_path / "app" / "requirements.txt"
    req.parent.mkdir()
    req.write_text("alpha\ngamma\n")
    common = ("make", req, "--index-url", index.url, "--policy", policy, "-o", tmp_path / "dist")
    refused = bundle(capsys, *common, "--osv", _empty_folder(tmp_path))
    assert refused.code == 2
    assert "holds no OSV advisory" in refused.err.splitlines()[-1]
    assert not (tmp_path / "dist").exists() or not list((tmp_path / "dist").iterdir())
    osv = _zip(tmp_path, PLANTED)
    made = bundle(capsys, *common, "--osv", osv)  # high and medium: below critical
    assert made.code == 0, made.err
    inspected = json.loads(bundle(capsys, "inspect", "--json", made.out.splitlines()[-1]).out)
    assert inspected["audit"] == {
        "source": "all.zip", "advisories": 5, "newest": None, "sha256": sha256_file(osv),
    }  # fmt: skip
    with BundleArchive(Path(made.out.splitlines()[-1])) as archive:
        carried = json.loads(archive.read(SBOM))
    validate(carried)
    assert {p["name"]: p["value"] for p in carried["metadata"]["properties"]} == {
        "wheelbundle:osv:source": "all.zip",
        "wheelbundle:osv:advisories": "5",
        "wheelbundle:osv:sha256": sha256_file(osv),
    }


def test_a_stale_snapshot_is_refused_with_osv_max_age(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dated = {k: {**v, "modified": "2020-02-03T04:05:06Z"} for k, v in PLANTED.items()}
    osv = _folder(tmp_path, dated)
    refused = bundle(capsys, "audit", archive, "--osv", osv, "--osv-max-age", "30")
    assert refused.code == 2
    assert refused.err.strip().startswith(
        f"error: --osv {osv}: the newest advisory was last changed "
    )
    assert refused.err.strip().endswith(
        "days ago, more than --osv-max-age 30; mirror a newer copy of the database"
    )
    fresh = bundle(capsys, "audit", archive, "--osv", osv, "--osv-max-age", "100000")
    assert fresh.code == 1
    assert "newest 2020-02-03T04:05:06Z" in fresh.err


def test_the_vex_out_states_what_the_policy_ignores_and_why_as_openvex(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An ignore entry is a not_affected statement (its justification, or its reason as the
    impact); every other finding is affected, with the fix as the action."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "vulnerabilities:\n  deny: all\n  ignore:\n"
        "    - {id: CVE-2024-35195, reason: no Session is reused, expires: 2999-12-31,\n"
        "       justification: vulnerable_code_not_in_execute_path}\n"
    )
    out, sbom_out = tmp_path / "vex.json", tmp_path / "sbom.json"
    judged = bundle(
        capsys, "audit", archive, "--osv", _zip(tmp_path, PLANTED), "--policy", policy,
        "--vex-out", out, "--sbom-out", sbom_out,
    )  # fmt: skip
    assert judged.code == 4  # beta's is denied
    document = json.loads(out.read_text())
    validate_openvex(document)
    statements = {s["vulnerability"]["name"]: s for s in document["statements"]}
    assert statements["CVE-2024-35195"] == {
        "vulnerability": {
            "name": "CVE-2024-35195",
            "description": "gamma Session object does not verify requests after making first "
            "request",
            "aliases": ["GHSA-9wx4-h78v-vm56"],
        },
        "products": [{"@id": "pkg:pypi/gamma@1.0", "identifiers": {"purl": "pkg:pypi/gamma@1.0"}}],
        "status": "not_affected",
        "justification": "vulnerable_code_not_in_execute_path",
        "status_notes": "no Session is reused; accepted until 2999-12-31",
    }
    assert statements["CVE-2026-0001"]["status"] == "affected"
    assert statements["CVE-2026-0001"]["action_statement"] == "upgrade beta to 2.1"
    sbom = json.loads(sbom_out.read_text())
    validate(sbom)
    analysis = {v["id"]: v.get("analysis") for v in sbom["vulnerabilities"]}
    assert analysis == {
        "CVE-2026-0001": None,
        "CVE-2024-35195": {
            "state": "not_affected",
            "justification": "code_not_reachable",
            "detail": "no Session is reused (accepted until 2999-12-31)",
        },
    }
    again = tmp_path / "again.json"
    bundle(capsys, "audit", archive, "--osv", _zip(tmp_path, PLANTED), "--policy", policy,
           "--vex-out", again)  # fmt: skip
    assert again.read_bytes() == out.read_bytes()  # the same inputs, the same document


# --- real advisories -------------------------------------------------------------------------

REAL = Path(__file__).parent / "osv_data"
#: The old pins a reviewer is shown, and what the real records say of each: every CVE once, with
#: its ids, the highest score any twin gives and the fix for that version (sorted as printed).
EXPECTED = [
    ("django", "3.2", "critical 9.8", "CVE-2022-28346, GHSA-2gwj-7jmv-h26r, PYSEC-2022-190", "3.2.13"),
    ("django", "3.2", "critical 9.8", "CVE-2022-34265, GHSA-p64x-8rxx-wf6q, PYSEC-2022-213", "3.2.14"),
    ("django", "3.2", "critical 9.8", "CVE-2023-31047, GHSA-r3xc-prgr-mg9p, PYSEC-2023-61", "3.2.19"),
    ("django", "3.2", "high 7.5", "CVE-2021-31542, GHSA-rxjp-mfm9-w4wr, PYSEC-2021-7", "3.2.1"),
    ("django", "3.2", "high 7.5", "CVE-2022-23833, GHSA-6cw3-g6wv-c2xv, PYSEC-2022-20", "3.2.12"),
    ("urllib3", "1.26.4", "high 8.1", "CVE-2023-43804, GHSA-v845-jxx5-vc9f, PYSEC-2023-192", "1.26.17"),
    ("urllib3", "1.26.4", "high 7.5", "CVE-2021-33503, GHSA-q2q7-5pp4-w6pg, PYSEC-2021-108", "1.26.5"),
    ("aiohttp", "3.10.1", "medium 6.3", "CVE-2024-42367, GHSA-jwhx-xcg6-8xhj", "3.10.2"),
    ("django", "3.2", "medium 4.9", "CVE-2021-33203, GHSA-68w8-qjq3-2gfm, PYSEC-2021-98", "3.2.4"),
    ("py", "1.11.0", "medium 5.3", "CVE-2022-42969, GHSA-w596-4wvx-j9j6, PYSEC-2022-42969", None),
    ("requests", "2.25.0", "medium 6.1", "CVE-2023-32681, GHSA-j8r2-6x86-q33q, PYSEC-2023-74", "2.31.0"),
    ("requests", "2.25.0", "medium 5.6", "CVE-2024-35195, GHSA-9wx4-h78v-vm56", "2.32.0"),
    ("urllib3", "1.26.4", "medium 4.4", "CVE-2024-37891, GHSA-34jh-p97f-mpxf", "1.26.19"),
    ("urllib3", "1.26.4", "medium 4.2", "CVE-2023-45803, GHSA-g4mx-q9vg-27p4, PYSEC-2023-212", "1.26.18"),
]  # fmt: skip


@pytest.fixture(scope="module")
def old_pins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle of the old pins (wheels of those names and versions, made here), and redis
    3.0.0, which only a withdrawn advisory and npm's redis would name."""
    folder = tmp_path_factory.mktemp("old-pins")
    for name, version in (("requests", "2.25.0"), ("urllib3", "1.26.4"), ("Django", "3.2"),
                          ("aiohttp", "3.10.1"), ("py", "1.11.0"), ("redis", "3.0.0")):  # fmt: skip
        make_wheel(folder, name, version)
    pip_wheel(folder)
    with LocalIndex(folder) as served:
        return make_archive(
            tmp_path_factory.mktemp("old"), served.url, "requests==2.25.0", "urllib3==1.26.4",
            "Django==3.2", "aiohttp==3.10.1", "py==1.11.0", "redis==3.0.0",
        )  # fmt: skip


def _real_zip(tmp_path: Path) -> Path:
    """The JSON records as osv.dev's PyPI/all.zip carries them."""
    path = tmp_path / "all.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for record in sorted((REAL / "json").glob("*.json")):
            zf.write(record, record.name)
    return path


def _sorted(findings: list[dict[str, Any]]) -> list[tuple[str, str, str, str, str | None]]:
    return [
        (
            f["package"],
            f["version"],
            f"{f['severity']['rating']} {f['severity']['score']}",
            ", ".join(f["ids"]),
            f["fixed"],
        )
        for f in findings
    ]


def test_real_records_give_each_cve_once_with_its_score_and_the_fix_for_the_version(
    old_pins: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """28 records (13 PYSEC, 15 GHSA): 10 PYSEC/GHSA twins joined, two withdrawn and npm's
    redis left out, a CVSS v4 vector scored above its v3 twin, the twins' differing vectors
    for CVE-2023-43804 settled by the higher (8.1), and ``last_affected`` 1.11.0 included."""
    found = bundle(capsys, "audit", old_pins, "--osv", _real_zip(tmp_path), "--json")
    assert found.code == 1, found.err
    document = json.loads(found.out)
    validate_schema(document, "audit.schema.json")
    assert document["snapshot"]["advisories"] == 27  # every record but npm's
    assert document["snapshot"]["newest"] == "2024-08-12T16:02:22Z"
    assert document["counts"] == {"critical": 3, "high": 4, "medium": 7}
    got = _sorted(document["findings"])
    assert sorted(got, key=lambda f: (f[0], f[3])) == sorted(
        [(n, v, s, i, fix) for n, v, s, i, fix in EXPECTED], key=lambda f: (f[0], f[3])
    )
    ranks = ["critical", "high", "medium"]
    order = [ranks.index(f["severity"]["rating"]) for f in document["findings"]]
    assert order == sorted(order)  # the most severe first
    assert {f["package"] for f in document["findings"]} == {
        "requests", "urllib3", "django", "aiohttp", "py",
    }  # fmt: skip


def test_the_pypa_yaml_layout_is_read_as_osv_json_is(
    old_pins: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The PyPA's own repository (YAML, PYSEC only, seldom a severity): the same advisories
    are found; those no record rates are unknown, which the policy denies unless told."""
    yaml_only = bundle(capsys, "audit", old_pins, "--osv", REAL / "yaml", "--json", "-q")
    as_json = bundle(capsys, "audit", old_pins, "--osv", REAL / "json", "--json", "-q")

    def pysec(out: str) -> list[tuple[str, str]]:
        findings = json.loads(out)["findings"]
        return sorted(
            (f["package"], i) for f in findings for i in f["ids"] if i.startswith("PYSEC")
        )

    assert pysec(yaml_only.out) == pysec(as_json.out)
    assert len(json.loads(yaml_only.out)["findings"]) == 11  # requests 1, urllib3 3, Django 6, py 1
    ratings = [f["severity"]["rating"] for f in json.loads(yaml_only.out)["findings"]]
    assert ratings.count("unknown") == 9  # only urllib3's two PYSEC records carry a vector
    assert json.loads(yaml_only.out)["snapshot"]["advisories"] == 13
    policy = tmp_path / "policy.yaml"
    policy.write_text("vulnerabilities:\n  deny: critical\n")
    judged = bundle(capsys, "audit", old_pins, "--osv", REAL / "yaml", "--policy", policy)
    assert judged.code == 4
    assert judged.err.count("(unknown) is a known vulnerability the policy denies") == 9
    assert "(high 8.1)" not in judged.err  # rated below critical: allowed


# --- what a hostile or careless source, bundle or policy cannot do (found by review) ---------


def _advisory(
    id_: str, package: str, aliases: list[str], fixed: str, **more: Any
) -> dict[str, Any]:
    return {
        "id": id_, "aliases": aliases, "summary": f"{id_} summary",
        "affected": [{"package": {"ecosystem": "PyPI", "name": package},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]}],
        **more,
    }  # fmt: skip


def test_an_alias_chain_never_lets_an_ignore_cover_another_vulnerability(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """GHSA-aaaa (low) and GHSA-cccc (critical) joined through a PYSEC record naming both: an
    ignore of GHSA-aaaa does not let the critical one through, and the fix is one that fixes
    every record joined."""
    chain = {
        "GHSA-aaaa": _advisory("GHSA-aaaa", "beta", ["CVE-1"], "2.1",
                               database_specific={"severity": "LOW"}),
        "PYSEC-2030-1": _advisory("PYSEC-2030-1", "beta", ["GHSA-aaaa", "CVE-2"], "2.5"),
        "GHSA-cccc": _advisory("GHSA-cccc", "beta", ["CVE-2"], "3.5",
                               database_specific={"severity": "CRITICAL"}),
    }  # fmt: skip
    osv = _folder(tmp_path, chain)
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "vulnerabilities:\n  deny: low\n  ignore:\n"
        "    - {id: GHSA-aaaa, reason: not reachable, expires: 2999-01-01}\n"
    )
    judged = bundle(capsys, "audit", archive, "--osv", osv, "--policy", policy, "--json")
    assert judged.code == 4, judged.err
    (finding,) = json.loads(judged.out)["findings"]
    assert finding["fixed"] == "3.5" and finding["severity"]["rating"] == "critical"
    assert finding["ignored"] is None
    covered = policy.read_text() + "    - {id: CVE-2, reason: not reachable, expires: 2999-01-01}\n"
    policy.write_text(covered)
    assert bundle(capsys, "audit", archive, "--osv", osv, "--policy", policy).code == 1


def test_a_bundle_changed_after_it_was_made_is_not_audited(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A manifest edited to hide a package (beta 2.0 made 9.9) is caught as verify catches it."""
    manifest = read_member(archive, "manifest.yaml")
    assert b"version: '2.0'" in manifest
    edited = manifest.replace(b"version: '2.0'", b"version: '9.9'")
    tampered = rewrite(archive, tmp_path / archive.name, {"manifest.yaml": edited})
    refused = bundle(capsys, "audit", tampered, "--osv", _zip(tmp_path, PLANTED))
    assert refused.code == 3, refused.err
    assert one_line_error(refused.err).startswith("error: manifest.yaml")


@pytest.mark.parametrize("form", [_folder, _zip], ids=["folder", "zip"])
def test_an_advisory_larger_than_any_real_one_is_refused_not_skipped(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], form: Any
) -> None:
    padded = {**PLANTED["PYSEC-2026-1"], "details": "x" * (5 << 20)}
    refused = bundle(
        capsys, "audit", archive, "--osv", form(tmp_path, {**PLANTED, "PYSEC-2026-1": padded})
    )
    assert refused.code == 2, refused.err
    assert "PYSEC-2026-1.json is 524" in refused.err and "more than any advisory" in refused.err


def test_an_unreadable_fixed_version_never_ends_a_range_and_a_future_date_is_no_freshness(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = _advisory("PYSEC-2030-2", "beta", [], "<b>9</b>", modified="2999-01-01T00:00:00Z")
    dated = {**PLANTED["PYSEC-2026-4"], "modified": "2020-01-01T00:00:00Z"}
    osv = _folder(tmp_path, {"PYSEC-2030-2": odd, "PYSEC-2026-4": dated})
    found = bundle(capsys, "audit", archive, "--osv", osv, "--json", "-q")
    assert found.code == 1
    document = json.loads(found.out)
    assert [f["id"] for f in document["findings"]] == ["PYSEC-2030-2"]
    assert document["snapshot"]["newest"] == "2020-01-01T00:00:00Z"
    stale = bundle(capsys, "audit", archive, "--osv", osv, "--osv-max-age", "30")
    assert stale.code == 2 and "days ago, more than --osv-max-age 30" in stale.err


def test_one_package_version_is_one_finding_however_many_wheels_or_times_given(
    tmp_path: Path, make_index: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two targets carry two wheels of binpkg 1.0: one finding naming both; the same bundle
    given twice is audited once."""
    folder = tmp_path / "packages"
    for tag in ("cp311-cp311-manylinux_2_28_x86_64", "cp312-cp312-manylinux_2_28_x86_64"):
        make_wheel(folder, "binpkg", "1.0", tag=tag)
    pip_wheel(folder)
    served = make_index(*folder.iterdir())
    two = make_archive(
        tmp_path / "two", served.url, "binpkg",
        args=("--target", "cp311-manylinux_2_28_x86_64", "--target", "cp312-manylinux_2_28_x86_64"),
    )  # fmt: skip
    osv = _folder(tmp_path, {"PYSEC-2030-3": _advisory("PYSEC-2030-3", "binpkg", [], "1.1")})
    found = bundle(capsys, "audit", two, two, "--osv", osv, "--json")
    assert found.code == 1, found.err
    (finding,) = json.loads(found.out)["findings"]
    assert len(finding["wheels"]) == 2
    assert "1 known vulnerabilities (1 unknown) in 1 packages" in found.err


def test_no_vex_document_is_written_for_no_finding(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """OpenVEX allows no document without statements: none is written, and that is said."""
    clean = {k: v for k, v in PLANTED.items() if k not in ("PYSEC-2026-1", "GHSA-9wx4-h78v-vm56")}
    out = tmp_path / "vex.json"
    done = bundle(capsys, "audit", archive, "--osv", _folder(tmp_path, clean), "--vex-out", out)
    assert done.code == 0 and not out.exists()
    assert f"--vex-out: no finding, so no VEX statement; {out} was not written" in done.err


def test_every_bundle_s_violations_are_named_before_the_verdict(
    archive: Path, index: LocalIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = make_archive(tmp_path / "other", index.url, "beta==2.0", args=("--name", "other"))
    policy = tmp_path / "policy.yaml"
    policy.write_text("vulnerabilities:\n  deny: high\n")
    judged = bundle(capsys, "audit", archive, other, "--osv", _zip(tmp_path, PLANTED),
                    "--policy", policy)  # fmt: skip
    assert judged.code == 4
    said = [line for line in judged.err.splitlines() if line.startswith("policy: ")]
    assert [line.split(": ")[1] for line in said] == [archive.name, other.name]


def test_an_advisory_cannot_forge_lines_of_the_audit_or_html_in_the_markdown_report(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    forged = {**PLANTED["PYSEC-2026-1"], "aliases": ["CVE-1\nerror: forged"],
              "summary": "ok \x1b[31m red <img src=x onerror=alert(1)>"}  # fmt: skip
    osv = _folder(tmp_path, {"PYSEC-2026-1": forged})
    found = bundle(capsys, "audit", archive, "--osv", osv)
    assert len(found.out.splitlines()) == 1
    assert "CVE-1\\nerror: forged" in found.out and "ok \\x1b[31m red" in found.out
    md = tmp_path / "report.md"
    assert bundle(capsys, "report", archive, "-o", md, "--format", "md", "--osv", osv).code == 0
    text = md.read_text()
    assert "<img" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "\nerror: forged" not in text


def one_line_error(err: str) -> str:
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    return line
