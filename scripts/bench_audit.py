"""How long ``bundle audit`` takes on a database the size of osv.dev's whole PyPI export.

No export is downloaded: the real advisories in ``tests/review/osv_data/json`` (PYSEC records
and their GHSA twins, CVSS v3 and v4 vectors) are the templates of a zip shaped like
``PyPI/all.zip`` (``--records`` advisories, one JSON file each, compressed), each copy with ids of
its own and one of ``--projects`` package names; the real records stay as they are. Then the
whole of it is read for a bundle of ``--packages`` packages (requests, urllib3 and Django among
them), as ``bundle audit`` reads it, and the median of ``--runs`` is printed with what was found.

    python scripts/bench_audit.py [--records 20000] [--packages 150] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import zipfile
from pathlib import Path

from wheelbundle.format.osv import read_osv

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "tests" / "review" / "osv_data" / "json"


def export(path: Path, records: int, projects: int) -> int:
    """Write the zip; return how many advisories it holds."""
    templates = [json.loads(p.read_text()) for p in sorted(TEMPLATES.glob("*.json"))]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for record in templates:
            zf.writestr(f"{record['id']}.json", json.dumps(record))
        for i in range(records - len(templates)):
            copy = json.loads(json.dumps(templates[i % len(templates)]))
            copy["id"] = f"{copy['id']}-{i}"
            copy["aliases"] = [f"{a}-{i}" for a in copy.get("aliases", [])]
            for affected in copy.get("affected", []):
                affected["package"]["name"] = f"project-{i % projects}"
            zf.writestr(f"{copy['id']}.json", json.dumps(copy))
    return records


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--projects", type=int, default=4000)
    parser.add_argument("--packages", type=int, default=150)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    names = ["requests", "urllib3", "django", *(f"project-{i}" for i in range(args.packages - 3))]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "all.zip"
        export(path, args.records, args.projects)
        times, found = [], 0
        for _ in range(args.runs):
            started = time.perf_counter()
            database = read_osv(path, names)
            times.append(time.perf_counter() - started)
            found = len(database.advisories)
        size = path.stat().st_size / 1e6
        print(
            f"{database.snapshot.advisories} advisories ({size:.1f} MB zip), {len(names)} packages: "
            f"{statistics.median(times):.2f} s median of {args.runs} "
            f"(min {min(times):.2f}, max {max(times):.2f}); {found} advisories about them"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
