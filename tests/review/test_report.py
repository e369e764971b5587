"""``bundle report``: one page a reviewer reads, opened in a real headless Chromium.

The report is checked as a reader meets it: the DOM Chromium renders (``--dump-dom``) holds
every package, its licence, the vulnerabilities, the policy's verdict and the changes; a
screenshot is kept beside it; the HTML parses with every element closed.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from support.bundles import bundle, make_archive
from support.fixtures import MakeIndex
from support.index import LocalIndex
from support.packages import make_sdist, make_wheel, pip_wheel

VOID = {"meta", "br", "rect", "img", "link", "hr"}
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


class _Balanced(HTMLParser):
    """Every element closed in order: a report that renders the same in any reader."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.open or self.open[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.open[-1:] or 'nothing'}")
        else:
            self.open.pop()


@pytest.fixture
def releases(tmp_path: Path, make_index: MakeIndex) -> tuple[Path, Path]:
    """Two releases: 1.0 (alpha, beta 1.0) and 1.1 (alpha, beta 2.0, gamma built from its sdist)."""
    folder = tmp_path / "packages"
    make_wheel(folder, "alpha", "1.0", requires=["beta"], license_expression="MIT")
    make_wheel(folder, "beta", "1.0", license_expression="Apache-2.0")
    make_wheel(folder, "beta", "2.0", license_expression="Apache-2.0")
    make_sdist(folder, "gamma", "1.0")
    pip_wheel(folder)
    index: LocalIndex = make_index(*folder.iterdir())
    old = make_archive(tmp_path / "old", index.url, "alpha", "beta==1.0", args=("--version", "1.0"))
    new = make_archive(tmp_path / "new", index.url, "alpha", "gamma", args=("--version", "1.1"))
    return old, new


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    osv = tmp_path / "osv"
    osv.mkdir()
    (osv / "PYSEC-2026-1.json").write_text(json.dumps({
        "id": "PYSEC-2026-1", "aliases": ["CVE-2026-0001"], "summary": "beta trusts its input",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "beta"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.1"}]}]}],
        "database_specific": {"severity": "HIGH"},
    }))  # fmt: skip
    policy = tmp_path / "policy.yaml"
    policy.write_text("licenses:\n  deny: [unknown]\n")
    return osv, policy


def _report(capsys: pytest.CaptureFixture[str], new: Path, out: Path, *args: str | Path) -> str:
    made = bundle(capsys, "report", new, "-o", out, *args)
    assert made.code == 0, made.err
    assert made.out.strip() == str(out)
    return out.read_text()


def test_the_report_holds_every_fact_and_every_element_is_closed(
    releases: tuple[Path, Path], inputs: tuple[Path, Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    old, new = releases
    osv, policy = inputs
    page = _report(
        capsys, new, tmp_path / "report.html", "--since", old, "--osv", osv, "--policy", policy
    )
    checker = _Balanced()
    checker.feed(page)
    assert checker.errors == [] and checker.open == []
    for loads in ("<script", "<link", "src=", "href=", "url("):  # nothing fetched, nothing run
        assert loads not in page, loads
    for fact in ("alpha", "MIT", "Apache-2.0", "gamma", "built-from-sdist", "unsigned",
                 "CVE-2026-0001<br>PYSEC-2026-1", "gamma 1.0: its license unknown is not allowed",
                 "1 known vulnerabilities: 1 high", "Checked against <code>osv</code>: 1 PyPI advisories",
                 '<span class="sev high">1 known (high)</span>',
                 f"Changes since {old.name}", "upgraded", "<svg", "@page{size:A4"):  # fmt: skip
        assert fact in page, fact


def test_chromium_renders_the_report_as_a_reader_sees_it(
    releases: tuple[Path, Path], inputs: tuple[Path, Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    old, new = releases
    osv, policy = inputs
    report = tmp_path / "report.html"
    _report(capsys, new, report, "--since", old, "--osv", osv, "--policy", policy)
    profile = ["--user-data-dir=" + str(tmp_path / "profile")]
    dom = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, *profile, "--dump-dom", report.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    for fact in ("alpha", "beta", "gamma", "Apache-2.0", "PYSEC-2026-1", "upgraded", "<svg"):
        assert fact in dom, fact
    shot = tmp_path / "report.png"
    subprocess.run(
        [chromium, *CHROMIUM_FLAGS, *profile, f"--screenshot={shot}", "--window-size=1280,1600",
         report.as_uri()],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    widths = _rendered_widths(chromium, profile, report, tmp_path)
    assert widths["page"] <= 1280, widths
    assert all(w >= 60 for w in widths["vulns"]), widths  # no column squeezed to a sliver


#: Added to a copy of the report only: the report itself runs no script.
MEASURE = """<script>
const cells = [...document.querySelectorAll("table.vulns thead th")];
const out = document.createElement("pre");
out.id = "widths";
out.textContent = JSON.stringify({
  page: document.documentElement.scrollWidth,
  vulns: cells.map(c => Math.round(c.getBoundingClientRect().width)),
});
document.body.append(out);
</script>"""


def _rendered_widths(chromium: str, profile: list[str], report: Path, tmp_path: Path) -> Any:
    """The page's width and each vulnerability column's, as Chromium lays them out at 1280 px."""
    measured = tmp_path / "measured.html"
    measured.write_text(report.read_text().replace("</body>", MEASURE + "</body>"))
    dom = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, *profile, "--window-size=1280,1600", "--dump-dom",
         measured.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    found = re.search(r'<pre id="widths">(.*?)</pre>', dom)
    assert found is not None, dom[-500:]
    return json.loads(html.unescape(found[1]))


def test_markdown_for_a_ticket_holds_the_same_facts(
    releases: tuple[Path, Path], inputs: tuple[Path, Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    old, new = releases
    osv, _ = inputs
    text = _report(
        capsys, new, tmp_path / "report.md", "--format", "md", "--since", old, "--osv", osv
    )
    assert text.startswith("# app 1.1\n")
    assert (
        "- **beta 2.0** (high): CVE-2026-0001, PYSEC-2026-1; fixed in 2.1: beta trusts its input"
        in text
    )
    assert "Checked against 1 PyPI advisories, newest undated." in text
    assert "| gamma | 1.0 | built-from-sdist | unknown |" in text
    assert "- beta: upgraded 1.0 → 2.0" in text
    assert "2 wheels (" in text and ") are not in the old bundle." in text  # beta 2.0 and gamma


def test_what_the_policy_accepts_is_shown_beside_the_finding(
    releases: tuple[Path, Path], inputs: tuple[Path, Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    _, new = releases
    osv, _ = inputs
    policy = tmp_path / "accepting.yaml"
    policy.write_text(
        "vulnerabilities:\n  deny: all\n  ignore:\n"
        "    - {id: CVE-2026-0001, reason: input is trusted here, expires: 2999-12-31}\n"
    )
    for form, said in (
        ("html", "accepted by the policy until 2999-12-31: input is trusted here</em>"),
        ("md", "(accepted by the policy until 2999-12-31: input is trusted here)"),
    ):
        out = tmp_path / f"report.{form}"
        text = _report(capsys, new, out, "--format", form, "--osv", osv, "--policy", policy)
        assert said in text, text
