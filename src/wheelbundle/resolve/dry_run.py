"""Resolution: ask pip which exact files make up the environment.

pip's resolver is the only resolver: we run ``pip install --dry-run --ignore-installed --report``
and read its report into frozen pins (``pins``). Nothing is installed anywhere.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from wheelbundle.cache import atomic_file
from wheelbundle.errors import PipFailed, ResolutionFailed
from wheelbundle.format.pins import Pin, Resolution, parse_report
from wheelbundle.pip.runner import Runner, run_pip, unfound
from wheelbundle.resolve.relay import Relay
from wheelbundle.target import Target


def remembered(memo: Path, max_age: float) -> Resolution | None:
    """The resolution kept in ``memo`` while it is younger than ``max_age`` seconds.

    One that cannot be read (cut short by a full disk, damaged) is removed: pip resolves anew.
    """
    if not memo.is_file() or time.time() - memo.stat().st_mtime >= max_age:
        return None
    try:
        return parse_report(json.loads(memo.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError, AttributeError):  # JSONDecodeError, UnicodeDecodeError
        memo.unlink(missing_ok=True)
        return None


def resolve(
    requirements: Sequence[str],
    pip_options: Sequence[str] = (),
    *,
    target: Target | None = None,
    verbose: bool = False,
    run: Runner = run_pip,
    memo: Path | None = None,
    relay: Relay | None = None,
) -> Resolution:
    """Resolve pip-style requirement arguments (``-r file``, specifiers, paths) to pins.

    For a ``target`` other than this machine, pip resolves with the target's tags, Python
    version and markers. With ``memo``, pip's report is kept there (see :func:`remembered`).
    With ``relay``, pip reads the indexes through it (``pip_options`` then holds no index);
    the report is kept with the indexes' own URLs.
    """
    with tempfile.TemporaryDirectory(prefix="wheelbundle-resolve-") as tmp:
        report_path = Path(tmp) / "report.json"
        target_file = None
        if target is not None and target.label is not None:
            target_file = Path(tmp) / "target.json"
            target_file.write_text(json.dumps(target.probe_json()), encoding="utf-8")
        args = [
            "install",
            "--dry-run",
            "--ignore-installed",  # not --quiet: it hides pip's account of a conflict
            "--report",
            str(report_path),
            *pip_options,
            *requirements,
        ]
        try:
            run(args, verbose, target_file, indexes=relay.index_urls if relay else ())
        except PipFailed as exc:
            if relay is not None and relay.failure is not None:
                raise relay.failure from exc  # pip's message would only name the relay
            wanted = unfound(exc.output)
            if relay is not None and wanted and (why := relay.why_unfound(wanted)):
                raise exc.reworded(ResolutionFailed, why) from None  # pip saw trimmed pages
            raise
        report = json.loads(report_path.read_text(encoding="utf-8"))
    if relay is not None:
        for item in report["install"]:
            item["download_info"]["url"] = relay.original(item["download_info"]["url"])
    resolution = parse_report(report)
    if memo is not None:
        memo.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(memo) as out:
            out.write(json.dumps(report).encode())
    return resolution


def unmet(pins: Sequence[Pin], environment: Mapping[str, str]) -> list[str]:
    """What the pins require on this environment but do not hold, one phrase each.

    A complete lock resolved with ``--no-deps`` must already hold every dependency; this finds
    the ones it misses, the way pip's hash-checking mode would refuse them.
    """
    pinned = {p.name: Version(p.version) for p in pins}
    missing = []
    for pin in pins:
        for text in pin.requires:
            requirement = Requirement(text)
            if requirement.marker is not None and not any(
                requirement.marker.evaluate({**environment, "extra": extra})
                for extra in ("", *pin.requested_extras)
            ):
                continue
            name = canonicalize_name(requirement.name)
            if name not in pinned:
                missing.append(f"{pin.name} {pin.version} needs {text}, which is not pinned")
            elif not requirement.specifier.contains(pinned[name], prereleases=True):
                missing.append(f"{pin.name} {pin.version} needs {text}, not {name} {pinned[name]}")
    return missing


def decisions(requirements: Iterable[str], environment: Mapping[str, str]) -> dict[str, bool]:
    """Every environment marker among ``requirements`` and what it came to for ``environment``.

    A resolution holds only for a server on which each of them comes out the same: a marker
    like ``python_full_version < "3.11.3"`` can add or drop a package between two patch levels
    of one Python. Markers on extras alone are left out: they ask nothing of the server.
    """
    decided = {}
    for text in requirements:
        try:
            marker = Requirement(text).marker
        except InvalidRequirement:
            continue  # an option, a path or a URL: pip has read it already
        if marker is not None and _asks_the_server(str(marker)):
            decided[str(marker)] = marker.evaluate({**environment, "extra": ""})
    return dict(sorted(decided.items()))


def _asks_the_server(marker: str) -> bool:
    """Whether a marker names a variable of the environment, not only ``extra`` and the like."""
    names = set(_NAME.findall(_QUOTED.sub("", marker)))
    return bool(names - {"extra", "extras", "dependency_groups", "and", "or", "in", "not"})


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_NAME = re.compile(r"[A-Za-z_]+")
