"""``--policy``: a site's rules stop ``bundle make`` before the archive is written, one line per
violation, and make ``bundle audit`` exit 4."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from support.bundles import Outcome, bundle, make_archive, requirements
from support.fixtures import MakeIndex
from support.index import LocalIndex
from support.packages import make_sdist, make_wheel, pip_wheel

from wheelbundle.inputs.policy import load_policy
from wheelbundle.review.policy import license_allowed

ADVISORY = {
    "id": "PYSEC-2026-1",
    "aliases": ["CVE-2026-0001"],
    "summary": "beta trusts its input",
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "beta"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.1"}]}],
        }
    ],
    "database_specific": {"severity": "HIGH"},
}


@pytest.fixture
def licensed_index(tmp_path: Path, make_index: MakeIndex) -> LocalIndex:
    folder = tmp_path / "licensed"
    make_wheel(folder, "app", "1.0", requires=["copyleft", "beta"], license_expression="MIT")
    make_wheel(folder, "copyleft", "1.0", license_expression="AGPL-3.0-or-later")
    make_wheel(folder, "beta", "2.0", license_expression="Apache-2.0")
    make_sdist(folder, "gamma", "1.0")
    pip_wheel(folder)
    return make_index(*folder.iterdir())


def _policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return path


def _make(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, index: LocalIndex, *args: str | Path
) -> Outcome:
    req = requirements(tmp_path / "app", "app", "gamma")
    return bundle(capsys, "make", req, "-o", tmp_path / "dist", "--index-url", index.url, *args)


def test_a_denied_license_stops_make_with_one_line_per_package_and_writes_nothing(
    licensed_index: LocalIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = _policy(tmp_path, "licenses:\n  deny: [AGPL-3.0-or-later, unknown]\n")
    refused = _make(capsys, tmp_path, licensed_index, "--policy", policy)
    assert refused.code == 4
    lines = refused.err.strip().splitlines()
    assert lines[-3:] == [
        "policy: copyleft 1.0: its license AGPL-3.0-or-later is not allowed",
        "policy: gamma 1.0: its license unknown is not allowed",
        f"error: the policy {policy} refuses this bundle; nothing was written: 2 violations (above)",
    ]
    assert not (tmp_path / "dist").exists() or not list((tmp_path / "dist").iterdir())


def test_an_allow_list_and_denied_origins_and_a_size_bound(
    licensed_index: LocalIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = _policy(
        tmp_path,
        "licenses:\n  allow: [MIT, Apache-2.0, unknown]\norigins:\n  deny: [built-from-sdist]\n"
        "max_size: 1 kB\n",
    )
    refused = _make(capsys, tmp_path, licensed_index, "--policy", policy)
    assert refused.code == 4
    said = [
        line.removeprefix("policy: ")
        for line in refused.err.splitlines()
        if line.startswith("policy: ")
    ]
    assert said[0] == "copyleft 1.0: its license AGPL-3.0-or-later is not allowed"
    assert said[1] == "gamma 1.0: it is built-from-sdist, which the policy denies"
    assert said[2].startswith("the bundle is ") and said[2].endswith("more than max_size (1000)")
    fine = _policy(tmp_path, "licenses:\n  allow: [MIT, Apache-2.0, AGPL-3.0-or-later, unknown]\n")
    assert _make(capsys, tmp_path, licensed_index, "--policy", fine).code == 0


def test_known_vulnerabilities_are_denied_unless_ignored_until_a_date_not_yet_past(
    licensed_index: LocalIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    osv = tmp_path / "osv"
    osv.mkdir()
    (osv / "PYSEC-2026-1.json").write_text(json.dumps(ADVISORY))
    deny = _policy(tmp_path, "vulnerabilities:\n  deny: high\n")
    refused = _make(capsys, tmp_path, licensed_index, "--policy", deny, "--osv", osv)
    assert refused.code == 4
    assert (
        "policy: beta 2.0: CVE-2026-0001, PYSEC-2026-1 (high) is a known vulnerability the "
        "policy denies; fixed in 2.1" in refused.err
    )
    tomorrow = datetime.date.today() + datetime.timedelta(days=1)
    for expires, code in ((tomorrow, 0), (datetime.date(2020, 1, 1), 4)):
        ignored = _policy(
            tmp_path,
            "vulnerabilities:\n  deny: all\n  ignore:\n"
            f"    - {{id: CVE-2026-0001, reason: not reachable, expires: {expires}}}\n",
        )
        assert (
            _make(capsys, tmp_path, licensed_index, "--policy", ignored, "--osv", osv).code == code
        )
    low = _policy(tmp_path, "vulnerabilities:\n  deny: critical\n")  # HIGH is below critical
    assert _make(capsys, tmp_path, licensed_index, "--policy", low, "--osv", osv).code == 0
    without = _make(capsys, tmp_path, licensed_index, "--policy", deny)
    assert without.code == 2 and "give the OSV database to check against with --osv" in without.err


def test_audit_with_a_policy_exits_4_naming_each_violation(
    index: LocalIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = make_archive(tmp_path / "one", index.url, "alpha")
    osv = tmp_path / "osv"
    osv.mkdir()
    (osv / "PYSEC-2026-1.json").write_text(json.dumps(ADVISORY))
    policy = _policy(tmp_path, "vulnerabilities:\n  deny: medium\n")
    refused = bundle(capsys, "audit", archive, "--osv", osv, "--policy", policy)
    assert refused.code == 4
    assert (
        "policy: beta 2.0: CVE-2026-0001, PYSEC-2026-1 (high) is a known vulnerability the "
        "policy denies; fixed in 2.1" in refused.err
    )
    assert f"refuses {archive.name}: 1 violation (above)" in refused.err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("licenses:\n  deny: [Not-A-License]\n", "licenses: 'Not-A-License' is not an SPDX id"),
        (
            "vulnerabilities:\n  deny: severe\n",
            "deny must be all or one of low, medium, high, critical",
        ),
        (
            "vulnerabilities:\n  ignore:\n    - {id: X}\n",
            "each ignore entry needs id, reason and expires",
        ),
        ("origins:\n  deny: [downloaded]\n", "origins: 'downloaded' is none of"),
        ("max_size: lots\n", "max_size 'lots': give bytes, or a size such as 500 MB"),
        ("colours: red\n", "unknown key 'colours'"),
        (
            "vulnerabilities:\n  deny: high\n  unknown: maybe\n",
            "unknown must be deny or allow, not 'maybe'",
        ),
        ("vulnerabilities:\n  unknown: deny\n", "give deny too (all, or a severity)"),
        (
            "vulnerabilities:\n  ignore:\n    - {id: X, reason: r, expires: 2030-01-01, "
            "package: urllib3}\n",
            "ignore X: unknown key 'package'",
        ),
        (
            "vulnerabilities:\n  ignore:\n    - {id: X, reason: '', expires: 2030-01-01}\n",
            "ignore X: give the reason it does not apply",
        ),
        ("licenses:\n  deny: [MIT OR Apache-2.0]\n", "is an expression; list each licence"),
        (
            "vulnerabilities:\n  ignore:\n    - {id: X, reason: r, expires: 2030-01-01, "
            "justification: trust-me}\n",
            "justification 'trust-me' is none of component_not_present,",
        ),
    ],
)
def test_a_wrong_policy_is_a_usage_error_naming_what_is_wrong(
    index: LocalIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    req = requirements(tmp_path / "app", "alpha")
    refused = bundle(
        capsys, "make", req, "--index-url", index.url, "--policy", _policy(tmp_path, text)
    )
    assert refused.code == 2
    assert expected in refused.err


@pytest.mark.parametrize(
    ("expression", "deny", "allow", "allowed"),
    [
        # AND: every part must pass; OR: some alternative must (issue 33: AND once slipped through)
        ("(MIT OR Apache-2.0) AND BSD-3-Clause", ["BSD-3-Clause"], None, False),
        ("(MIT OR Apache-2.0) AND BSD-3-Clause", ["MIT"], None, True),
        ("(MIT OR Apache-2.0) AND BSD-3-Clause", ["MIT", "Apache-2.0"], None, False),
        ("MIT OR (GPL-3.0-only AND (BSD-2-Clause OR ISC))", ["MIT", "ISC"], None, True),
        ("MIT OR (GPL-3.0-only AND (BSD-2-Clause OR ISC))", ["MIT", "GPL-3.0-only"], None, False),
        ("mit or apache-2.0", ["MIT"], None, True),  # case as packaging canonicalises it
        # WITH: judged by its licence, unless the policy names the licence with its exception
        ("GPL-2.0-only WITH Classpath-exception-2.0", ["GPL-2.0-only"], None, False),
        ("GPL-2.0-only WITH Classpath-exception-2.0", ["GPL-3.0-only"], None, True),
        (
            "GPL-2.0-only WITH Classpath-exception-2.0",
            ["GPL-2.0-only"],
            ["GPL-2.0-only WITH Classpath-exception-2.0", "MIT"],
            True,
        ),
        (
            "GPL-2.0-only WITH Classpath-exception-2.0",
            ["GPL-2.0-only WITH Classpath-exception-2.0"],
            None,
            False,
        ),
        # an allow list: some alternative entirely within it
        ("Apache-2.0 AND (MIT OR GPL-3.0-only)", [], ["Apache-2.0", "MIT"], True),
        ("Apache-2.0 AND GPL-3.0-only", [], ["Apache-2.0", "MIT"], False),
        ("LicenseRef-Proprietary", ["LicenseRef-Proprietary"], None, False),
        ("LicenseRef-Proprietary", ["licenseref-proprietary"], None, False),  # SPDX ignores case
        ("LicenseRef-Proprietary", [], ["MIT"], False),
        ("unknown", ["unknown"], None, False),
        ("unknown", [], None, True),
    ],
)
def test_a_licence_expression_is_parsed_not_split(
    tmp_path: Path, expression: str, deny: list[str], allow: list[str] | None, allowed: bool
) -> None:
    text = f"licenses:\n  deny: {json.dumps(deny)}\n"
    if allow is not None:
        text += f"  allow: {json.dumps(allow)}\n"
    assert license_allowed(expression, load_policy(_policy(tmp_path, text))) is allowed


def test_a_finding_no_advisory_rates_is_as_the_policy_says(
    index: LocalIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = make_archive(tmp_path / "one", index.url, "alpha")
    osv = tmp_path / "osv"
    osv.mkdir()
    unrated = {k: v for k, v in ADVISORY.items() if k != "database_specific"}
    (osv / "PYSEC-2026-1.json").write_text(json.dumps(unrated))
    for unknown, code in (("", 4), ("  unknown: deny\n", 4), ("  unknown: allow\n", 1)):
        policy = _policy(tmp_path, f"vulnerabilities:\n  deny: high\n{unknown}")
        judged = bundle(capsys, "audit", archive, "--osv", osv, "--policy", policy)
        assert judged.code == code, judged.err
        if code == 4:
            assert "(unknown) is a known vulnerability the policy denies" in judged.err


def test_an_expiry_written_as_a_time_is_read_as_its_day(tmp_path: Path) -> None:
    policy = load_policy(
        _policy(
            tmp_path,
            "vulnerabilities:\n  deny: all\n  ignore:\n"
            "    - {id: X, reason: r, expires: 2099-01-01T00:00:00Z}\n",
        )
    )
    assert policy.ignore[0].expires == datetime.date(2099, 1, 1)


def test_make_refuses_osv_without_a_policy_and_a_missing_osv_before_any_work(
    licensed_index: LocalIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    licensed_index.reset_requests()
    alone = _make(capsys, tmp_path, licensed_index, "--osv", tmp_path)
    assert alone.code == 2 and "--osv is read for --policy's vulnerability rules" in alone.err
    deny = _policy(tmp_path, "vulnerabilities:\n  deny: high\n")
    missing = _make(capsys, tmp_path, licensed_index, "--policy", deny, "--osv", tmp_path / "no")
    assert missing.code == 2 and "no such file or folder" in missing.err
    assert not licensed_index.requests  # refused before resolving
