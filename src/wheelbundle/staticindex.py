"""``bundle index``: the wheels of verified bundles as a static package index, inside the gap.

A site with many servers serves one index rather than copying a tarball to each. The folder this
writes is what any static web server (or ``file://``) can serve to pip:

    OUTDIR/files/NAME.whl            every wheel once
    OUTDIR/files/NAME.whl.metadata   its METADATA (PEP 658/714): pip resolves without the wheel
    OUTDIR/simple/index.html         the projects (PEP 503), and index.json (PEP 691)
    OUTDIR/simple/PROJECT/index.html each project's files with their sha256, Requires-Python and
                                     metadata hash; index.json the same in PEP 691 JSON

Adding a later bundle to the same folder adds its wheels and rewrites the pages. Every file
appears by an atomic rename, wheels before the pages that name them, so pip reading the index
meanwhile sees the old pages or the new ones, each complete. A wheel already there under the
same name must have the same bytes.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name, parse_wheel_filename

from wheelbundle.archive import BundleArchive
from wheelbundle.cache import sha256_file
from wheelbundle.errors import BundleError
from wheelbundle.layout import wheel_member
from wheelbundle.verify import verify_bundle
from wheelbundle.wheelcheck import metadata_bytes

_METADATA = ".metadata"
_JSON_API = {"api-version": "1.1"}


@dataclass(frozen=True)
class Indexed:
    """What ``bundle index`` did: the index's URL for pip, and how many wheels it added."""

    simple: Path
    added: int
    projects: int


@dataclass(frozen=True)
class _File:
    filename: str
    sha256: str
    metadata_sha256: str
    requires_python: str | None


def index_bundles(
    outdir: Path, archives: Sequence[Path], allowed_signers: Path | None = None
) -> Indexed:
    """Verify every bundle first (nothing is written if one fails), then add their wheels."""
    manifests = [verify_bundle(a, allowed_signers).manifest for a in archives]
    files = outdir / "files"
    files.mkdir(parents=True, exist_ok=True)
    added = 0
    for archive, manifest in zip(archives, manifests, strict=True):
        carried = set(manifest.base.wheels) if manifest.base else set()
        with BundleArchive(archive) as bundle:
            for package in manifest.packages:
                if package.wheel in carried and not (files / package.wheel).exists():
                    assert manifest.base is not None
                    raise BundleError(
                        f"{archive} is a delta bundle and {package.wheel} is in its base, "
                        f"{manifest.base.name} {manifest.base.version}: index that bundle first"
                    )
                added += _add_wheel(bundle, package.wheel, package.sha256, files, archive)
    projects = _write_pages(outdir, _files(files))
    return Indexed(simple=outdir / "simple", added=added, projects=projects)


def _add_wheel(bundle: BundleArchive, wheel: str, sha256: str, files: Path, archive: Path) -> int:
    """1 when the wheel is new here, 0 when the same file is here already."""
    final = files / wheel
    if final.exists():
        if sha256_file(final) != sha256:
            raise BundleError(
                f"{archive}: {wheel} differs from the file of that name already in {files}; "
                "an index holds one file per name"
            )
        return 0
    with tempfile.TemporaryDirectory(dir=files, prefix=".adding-") as tmp:
        copied = bundle.copy_to(wheel_member(wheel), Path(tmp))
        metadata = files / f"{wheel}{_METADATA}"
        _atomic_write(metadata, metadata_bytes(copied))
        copied.replace(final)  # the bundle was verified: these are the bytes its sums promise
    return 1


def _files(folder: Path) -> dict[str, list[_File]]:
    """Every wheel in ``folder`` with what its project page says of it, by project."""
    found: dict[str, list[_File]] = {}
    for wheel in sorted(folder.glob("*.whl")):
        metadata = (folder / f"{wheel.name}{_METADATA}").read_bytes()
        headers = HeaderParser().parsestr(metadata.decode("utf-8", "replace"))
        name = canonicalize_name(parse_wheel_filename(wheel.name)[0])
        found.setdefault(name, []).append(
            _File(
                filename=wheel.name,
                sha256=sha256_file(wheel),
                metadata_sha256=hashlib.sha256(metadata).hexdigest(),
                requires_python=headers.get("Requires-Python"),
            )
        )
    return found


def _write_pages(outdir: Path, projects: dict[str, list[_File]]) -> int:
    simple = outdir / "simple"
    for name, files in projects.items():
        (simple / name).mkdir(parents=True, exist_ok=True)
        _atomic_write(simple / name / "index.html", _project_html(name, files).encode())
        _atomic_write(simple / name / "index.json", _json(_project_json(name, files)))
    listing = {"meta": _JSON_API, "projects": [{"name": n} for n in sorted(projects)]}
    _atomic_write(simple / "index.html", _root_html(sorted(projects)).encode())
    _atomic_write(simple / "index.json", _json(listing))
    return len(projects)


def _project_html(name: str, files: Iterable[_File]) -> str:
    rows = []
    for f in files:
        requires = (
            f' data-requires-python="{html.escape(f.requires_python)}"' if f.requires_python else ""
        )
        metadata = f"sha256={f.metadata_sha256}"
        rows.append(
            f'<a href="../../files/{html.escape(f.filename)}#sha256={f.sha256}"{requires} '
            f'data-core-metadata="{metadata}" data-dist-info-metadata="{metadata}">'
            f"{html.escape(f.filename)}</a><br>"
        )
    return _page(f"Links for {name}", "\n".join(rows))


def _project_json(name: str, files: Iterable[_File]) -> dict[str, Any]:
    return {
        "meta": _JSON_API,
        "name": name,
        "files": [
            {
                "filename": f.filename,
                "url": f"../../files/{f.filename}",
                "hashes": {"sha256": f.sha256},
                "requires-python": f.requires_python,
                "core-metadata": {"sha256": f.metadata_sha256},
                "dist-info-metadata": {"sha256": f.metadata_sha256},
            }
            for f in files
        ],
    }


def _root_html(names: Iterable[str]) -> str:
    rows = "\n".join(f'<a href="{n}/">{n}</a><br>' for n in names)
    return _page("Simple index", rows)


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html>\n<head><meta name="pypi:repository-version" content="1.1">'
        f"<title>{html.escape(title)}</title></head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _json(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, indent=1, sort_keys=True) + "\n").encode()


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        Path(tmp).chmod(0o644)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
