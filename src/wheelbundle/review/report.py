"""``bundle report``: what a review board signs, on one page: the bundle's identity, every
package with its licence, origin, size and hash, licence totals, known vulnerabilities and the
policy's verdict, and what changed since the last release. One self-contained HTML file (no
network, no scripts, no external fonts; prints on A4), or Markdown for a ticket, the same facts.
"""

from __future__ import annotations

import datetime
import hashlib
import html
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from wheelbundle.cache import sha256_file
from wheelbundle.format.archive import BundleArchive
from wheelbundle.format.layout import SUMS
from wheelbundle.format.manifest import Manifest, Package
from wheelbundle.inputs.policy import Ignored
from wheelbundle.review.audit import Audit, Finding
from wheelbundle.review.diff import Change
from wheelbundle.review.inspect import human_size
from wheelbundle.review.verify import Verified


@dataclass(frozen=True)
class Facts:
    """Everything a report says, gathered once for either format."""

    archive: Path
    manifest: Manifest
    archive_sha256: str
    sums_sha256: str
    signed: str
    """``signed by PRINCIPAL``, ``signed (signature not checked)`` or ``unsigned``."""
    audit: Audit | None = None
    """With ``--osv``: the findings, and the copy of the database they rest on."""
    ignore: tuple[Ignored, ...] = ()
    """With ``--policy``: what it accepts, shown beside the findings it covers."""
    violations: tuple[str, ...] | None = None
    """None: no policy was given."""
    changes: tuple[Change, ...] | None = None
    since: str | None = None
    crossing: tuple[int, int] | None = None
    """With ``--since``: how many wheels, and bytes, OLD does not hold (what a delta carries)."""


def gather(
    archive: Path,
    verified: Verified,
    audit: Audit | None = None,
    violations: Sequence[str] | None = None,
    changes: Sequence[Change] | None = None,
    since: Manifest | None = None,
    since_name: str | None = None,
    ignore: Sequence[Ignored] = (),
) -> Facts:
    """The facts of ``archive``, which ``verified`` says is intact (a report is never made of
    a bundle that is not): verified once by the caller, for the audit and the report alike."""
    with BundleArchive(archive) as bundle:
        sums = hashlib.sha256(bundle.read(SUMS)).hexdigest()
    if verified.signer:
        signed = f"signed by {verified.signer}"
    else:
        signed = (
            "signed (signature not checked: give --allowed-signers)"
            if verified.signed
            else "unsigned"
        )
    return Facts(
        archive=archive,
        manifest=verified.manifest,
        archive_sha256=sha256_file(archive),
        sums_sha256=sums,
        signed=signed,
        audit=audit,
        ignore=tuple(ignore),
        violations=None if violations is None else tuple(violations),
        changes=None if changes is None else tuple(changes),
        since=since_name,
        crossing=_crossing(verified.manifest, since) if since else None,
    )


def _crossing(manifest: Manifest, old: Manifest) -> tuple[int, int]:
    held = {p.sha256 for p in old.packages}
    new = [p for p in manifest.packages if p.sha256 not in held]
    return len(new), sum(p.size for p in new)


def licence_totals(manifest: Manifest) -> list[tuple[str, int]]:
    return Counter(p.license or "unknown" for p in manifest.packages).most_common()


def dependency_tree(manifest: Manifest) -> list[tuple[int, Package]]:
    """Each package under the packages that require it, from the ones nothing requires; each
    shown once, in full at its first place."""
    by_name = {p.name: p for p in manifest.packages}
    needs = {
        p.name: [n for n in _required(p) if n in by_name and n != p.name] for p in manifest.packages
    }
    needed = {n for ns in needs.values() for n in ns}
    shown: set[str] = set()
    rows: list[tuple[int, Package]] = []

    def walk(name: str, depth: int) -> None:
        rows.append((depth, by_name[name]))
        if name in shown:
            return
        shown.add(name)
        for child in sorted(needs[name]):
            walk(child, depth + 1)

    for root in sorted(n for n in by_name if n not in needed):
        walk(root, 0)
    for rest in sorted(set(by_name) - shown):  # a cycle with no root
        walk(rest, 0)
    return rows


def _required(package: Package) -> list[str]:
    names: list[str] = []
    for text in package.requires:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if requirement.marker is None or "extra" not in str(requirement.marker):
            names.append(canonicalize_name(requirement.name))
    return names


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:70em;color:#111}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.2em .5em;border-bottom:1px solid #eee;vertical-align:top}
td.num{text-align:right;white-space:nowrap}code{font-size:.85em;word-break:break-all}
.bad{color:#a00;font-weight:600}.ok{color:#060;font-weight:600}
.sev{white-space:nowrap;font-weight:600}.critical{color:#fff;background:#8b0000;padding:0 .3em}
.high{color:#a00}.medium{color:#a60}.low,.none,.unknown{color:#555}
table.vulns td:nth-child(-n+3){white-space:nowrap}
table.vulns td:nth-child(4){white-space:nowrap;font-family:monospace;font-size:.85em}ul.tree{list-style:none;padding-left:1.2em}
dl{display:grid;grid-template-columns:max-content auto;gap:.1em 1em}dt{font-weight:600}
@page{size:A4;margin:15mm}@media print{body{margin:0;max-width:none;font-size:10pt}}
"""


def report_html(facts: Facts) -> str:
    m = facts.manifest
    e = html.escape
    total = sum(p.size for p in m.packages)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(m.name)} {e(m.version)}: bundle report</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{e(m.name)} {e(m.version)}</h1>",
        f"<p>{len(m.packages)} packages, {e(human_size(total))} of wheels, archive "
        f"{e(human_size(facts.archive.stat().st_size))}; dated {e(m.created)} "
        "(SOURCE_DATE_EPOCH, else its newest input's time) by wheelbundle "
        f"{e(m.tool_version)}.{_headline_html(facts)}</p>",
        "<h2>Identity</h2><dl>",
        f"<dt>Archive</dt><dd><code>{e(facts.archive.name)}</code></dd>",
        f"<dt>Archive sha256</dt><dd><code>{facts.archive_sha256}</code></dd>",
        f"<dt>SHA256SUMS sha256</dt><dd><code>{facts.sums_sha256}</code></dd>",
        f"<dt>Signature</dt><dd>{e(facts.signed)}</dd>",
        "<dt>Targets</dt><dd>" + "<br>".join(e(t.name) for t in m.targets) + "</dd>",
        "</dl>",
        *_verdicts_html(facts),
        "<h2>Packages</h2><table><thead><tr><th>Package</th><th>Version</th><th>Origin</th>"
        "<th>Licence</th><th>Size</th><th>Source and sha256</th></tr></thead><tbody>",
    ]
    vulnerable = _vulnerable(facts)
    for p in m.packages:
        grafted = "".join(f"<br>carries {e(g.name)}" for g in p.grafted)
        out.append(
            f"<tr><td>{_marked(p, vulnerable)}</td><td>{e(p.version)}</td><td>{e(p.origin)}</td>"
            f"<td>{e(p.license or 'unknown')}</td><td class=num>{e(human_size(p.size))}</td>"
            f"<td><code>{e(p.source_url)}</code><br><code>{p.sha256}</code>{grafted}</td></tr>"
        )
    out.append("</tbody></table>")
    out += ["<h2>Licences</h2><table><tbody>"]
    out += [
        f"<tr><td>{e(name)}</td><td class=num>{count}</td></tr>"
        for name, count in licence_totals(m)
    ]
    out += ["</tbody></table>", "<h2>Sizes</h2>", _size_chart(m.packages)]
    out += ["<h2>Dependency tree</h2>", _tree_html(dependency_tree(m), vulnerable)]
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _verdicts_html(facts: Facts) -> list[str]:
    e = html.escape
    out = []
    if facts.audit is not None:
        audit = facts.audit
        out.append("<h2>Known vulnerabilities</h2>")
        source = Path(audit.snapshot.source).name
        out.append(
            f"<p>Checked against <code>{e(source)}</code>: {e(audit.snapshot.describe())}.</p>"
        )
        if not audit.findings:
            out.append('<p class="ok">None known in that copy of the OSV database.</p>')
        else:
            out.append(f'<p class="bad">{e(_counts_text(audit))}.</p>')
            out.append(
                '<table class="vulns"><thead><tr><th>Package</th><th>Severity</th>'
                "<th>Fixed in</th><th>Ids</th><th>Summary</th></tr></thead><tbody>"
            )
            for f in audit.findings:
                vector = f' title="{e(f.severity.vector)}"' if f.severity.vector else ""
                out.append(
                    f'<tr><td class="bad">{e(f.name)} {e(f.version)}</td>'
                    f'<td class="sev {e(f.severity.rating)}"{vector}>{e(str(f.severity))}</td>'
                    f"<td>{e(f.fixed or 'not fixed')}</td>"
                    f"<td>{'<br>'.join(e(i) for i in f.ids)}</td>"
                    f"<td>{e(f.summary)}{_accepted_html(f, facts)}</td></tr>"
                )
            out.append("</tbody></table>")
    if facts.violations is not None:
        out.append("<h2>Policy</h2>")
        if not facts.violations:
            out.append('<p class="ok">The policy allows this bundle.</p>')
        else:
            out.append(
                '<ul class="bad">' + "".join(f"<li>{e(v)}</li>" for v in facts.violations) + "</ul>"
            )
    if facts.changes is not None:
        out.append(f"<h2>Changes since {e(facts.since or '')}</h2>")
        if facts.crossing is not None:
            count, size = facts.crossing
            out.append(
                f"<p>{count} wheels ({e(human_size(size))}) are not in the old bundle: what a "
                "delta (<code>bundle make --since</code>) carries across.</p>"
            )
        if not facts.changes:
            out.append("<p>No package changed.</p>")
        else:
            out.append(
                "<table><thead><tr><th>Package</th><th>Change</th><th>From</th><th>To</th></tr></thead><tbody>"
            )
            for c in facts.changes:
                out.append(
                    f"<tr><td>{e(c.package)}</td><td>{e(c.change)}</td><td>{e(c.old or '')}</td>"
                    f"<td>{e(c.new or '')}</td></tr>"
                )
            out.append("</tbody></table>")
    return out


def _accepted(f: Finding, facts: Facts) -> str | None:
    """What the policy says of a finding it accepts: until when, and why."""
    entry = f.ignored_by(facts.ignore, datetime.date.today())
    if entry is None:
        return None
    return f"accepted by the policy until {entry.expires.isoformat()}: {entry.reason}"


def _accepted_html(f: Finding, facts: Facts) -> str:
    said = _accepted(f, facts)
    return "" if said is None else f'<br><em class="ok">{html.escape(said)}</em>'


def _counts_text(audit: Audit) -> str:
    """``5 known vulnerabilities: 1 critical, 2 high, 2 medium``."""
    counts = ", ".join(f"{n} {rating}" for rating, n in audit.counts().items())
    return f"{len(audit.findings)} known vulnerabilities: {counts}"


def _headline_html(facts: Facts) -> str:
    if facts.audit is None:
        return ""
    if not facts.audit.findings:
        return ' <span class="ok">No known vulnerability.</span>'
    return f' <span class="bad">{html.escape(_counts_text(facts.audit))}.</span>'


def _vulnerable(facts: Facts) -> dict[tuple[str, str], list[Finding]]:
    """The findings by package and version."""
    found: dict[tuple[str, str], list[Finding]] = {}
    for f in facts.audit.findings if facts.audit else ():
        found.setdefault((f.name, f.version), []).append(f)
    return found


def _marked(p: Package, vulnerable: dict[tuple[str, str], list[Finding]]) -> str:
    """A package's name, marked when a vulnerability is known of its version."""
    found = vulnerable.get((p.name, p.version))
    if not found:
        return html.escape(p.name)
    worst = max(f.severity for f in found)
    return (
        f'<span class="bad">{html.escape(p.name)}</span> '
        f'<span class="sev {worst.rating}">{len(found)} known ({worst.rating})</span>'
    )


def _size_chart(packages: Sequence[Package]) -> str:
    """Inline SVG bars, largest first: where the bytes that cross the gap are."""
    ranked = sorted(packages, key=lambda p: -p.size)
    largest = max((p.size for p in ranked), default=1) or 1
    row, label, bar = 18, 220, 420
    height = row * len(ranked) + 4
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label + bar + 90}" height="{height}" '
        f'role="img" aria-label="package sizes">'
    ]
    for i, p in enumerate(ranked):
        y = i * row + 2
        width = max(1, round(bar * p.size / largest))
        parts.append(
            f'<text x="{label - 6}" y="{y + 13}" text-anchor="end" font-size="12">{html.escape(p.name)}</text>'
            f'<rect x="{label}" y="{y + 2}" width="{width}" height="{row - 5}" fill="#4a7ab8"/>'
            f'<text x="{label + width + 6}" y="{y + 13}" font-size="12">{html.escape(human_size(p.size))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _tree_html(
    rows: Sequence[tuple[int, Package]], vulnerable: dict[tuple[str, str], list[Finding]]
) -> str:
    out, depth = ['<ul class="tree">'], 0
    for level, p in rows:
        while depth < level:
            out.append('<li><ul class="tree">')
            depth += 1
        while depth > level:
            out.append("</ul></li>")
            depth -= 1
        out.append(f"<li>{_marked(p, vulnerable)} {html.escape(p.version)}</li>")
    while depth > 0:
        out.append("</ul></li>")
        depth -= 1
    out.append("</ul>")
    return "".join(out)


def _md(text: str) -> str:
    """A line of the world's words (an advisory's summary) made plain text in Markdown: no
    control character, no HTML a renderer would run, no table or line broken."""
    printable = "".join(c if c.isprintable() else " " for c in text)
    return html.escape(printable, quote=False).replace("|", "\\|")


def report_markdown(facts: Facts) -> str:
    m = facts.manifest
    lines = [
        f"# {m.name} {m.version}",
        "",
        f"- Archive: `{facts.archive.name}`, sha256 `{facts.archive_sha256}`",
        f"- SHA256SUMS sha256 `{facts.sums_sha256}`; {facts.signed}",
        f"- Targets: {', '.join(t.name for t in m.targets)}",
        f"- {len(m.packages)} packages, {human_size(sum(p.size for p in m.packages))} of wheels",
        "",
    ]
    if facts.audit is not None:
        audit = facts.audit
        lines += [
            "## Known vulnerabilities",
            "",
            f"Checked against {audit.snapshot.describe()}.",
            "",
        ]
        if audit.findings:
            lines += [_counts_text(audit) + ".", ""]
        lines += [
            _md(
                f"- **{f.name} {f.version}** ({f.severity}): {', '.join(f.ids)}; "
                + (f"fixed in {f.fixed}" if f.fixed else "no fixed version")
                + f": {f.summary}"
                + (f" ({said})" if (said := _accepted(f, facts)) else "")
            )
            for f in audit.findings
        ] or ["None known in that copy of the OSV database."]
        lines.append("")
    if facts.violations is not None:
        lines += (
            ["## Policy", ""]
            + ([f"- {v}" for v in facts.violations] or ["The policy allows this bundle."])
            + [""]
        )
    if facts.changes is not None:
        lines += [f"## Changes since {facts.since}", ""]
        if facts.crossing is not None:
            count, size = facts.crossing
            lines += [f"{count} wheels ({human_size(size)}) are not in the old bundle.", ""]
        lines += [
            f"- {c.package}: {c.change} {c.old or ''} → {c.new or ''}" for c in facts.changes
        ] or ["No package changed."]
        lines.append("")
    lines += [
        "## Packages",
        "",
        "| Package | Version | Origin | Licence | Size | sha256 |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {p.name} | {p.version} | {p.origin} | {p.license or 'unknown'} | {human_size(p.size)} | `{p.sha256}` |"
        for p in m.packages
    ]
    lines += ["", "## Licences", ""] + [f"- {name}: {count}" for name, count in licence_totals(m)]
    return "\n".join(lines) + "\n"
