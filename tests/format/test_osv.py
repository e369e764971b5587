"""An OSV record read as an advisory: its severity, the versions it names, its dates."""

from __future__ import annotations

from pathlib import Path

import pytest

from wheelbundle.errors import UsageError
from wheelbundle.format.osv import Severity, read_osv, severity_of

V3_HIGH = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"  # 7.5
V4 = "CVSS:4.0/AV:N/AC:H/AT:P/PR:N/UI:N/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N"  # 6.3


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"severity": [{"type": "CVSS_V3", "score": V3_HIGH}]}, "high 7.5"),
        ({"severity": [{"type": "CVSS_V4", "score": V4}]}, "medium 6.3"),
        ({"severity": [{"type": "CVSS_V4", "score": V4}, {"type": "CVSS_V3", "score": V3_HIGH}]},
         "high 7.5"),
        ({"database_specific": {"severity": "MODERATE"}}, "medium"),
        ({"severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:X"}],
          "database_specific": {"severity": "LOW"}}, "low"),  # a malformed vector is no score
        ({"severity": [{"type": "CVSS_V2", "score": "AV:N/AC:L/Au:N/C:P/I:P/A:P"}]}, "unknown"),
        ({}, "unknown"),
    ],
)  # fmt: skip
def test_severity_is_a_vector_scored_else_the_database_word_else_unknown(
    record: dict[str, object], expected: str
) -> None:
    assert str(severity_of(record, {})) == expected


def test_a_word_ranks_below_a_score_of_its_rating_and_never_fails_to_compare() -> None:
    word, scored = Severity(4), Severity(4, 7.5, V3_HIGH)
    assert max(word, scored) == scored and word < scored and not scored < word
    assert max(Severity(5), scored) == Severity(5)


def test_a_listed_version_matches_as_pep_440_compares_and_yaml_dates_are_read(
    tmp_path: Path,
) -> None:
    (tmp_path / "PYSEC-X.yaml").write_text(
        "id: PYSEC-X\nmodified: 2023-10-10T14:28:19.389317Z\naffected:\n"
        "- package: {name: Django, ecosystem: PyPI}\n  versions: ['3.2', '3.2.1']\n"
    )
    database = read_osv(tmp_path, ["django"])
    (advisory,) = database.advisories
    assert advisory.affects("3.2.0") and advisory.affects("3.2") and not advisory.affects("3.2.2")
    assert database.snapshot.newest == "2023-10-10T14:28:19Z"


def test_a_record_that_is_neither_json_nor_yaml_is_named(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(UsageError, match=r"bad.json is not an OSV advisory"):
        read_osv(tmp_path, ["x"])


def test_a_clone_of_the_pypa_repository_is_read_without_its_hidden_folders(tmp_path: Path) -> None:
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "ci.yaml").write_text("on: [push]\n---\nmore: 1\n")
    (tmp_path / "vulns" / "a").mkdir(parents=True)
    (tmp_path / "vulns" / "a" / "PYSEC-1.yaml").write_text(
        "id: PYSEC-1\naffected:\n- package: {name: a, ecosystem: PyPI}\n  versions: ['1.0']\n"
    )
    database = read_osv(tmp_path, ["a"])
    assert [a.id for a in database.advisories] == ["PYSEC-1"]
    assert database.snapshot.advisories == 1
