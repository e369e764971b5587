"""``bundle index``: the wheels of verified bundles as a static package index, inside the gap.

A site with many servers serves one index rather than copying a tarball to each. The folder this
writes is what any static web server (or ``file://``) can serve to pip:

    OUTDIR/files/NAME.whl            every wheel once
    OUTDIR/files/NAME.whl.metadata   its METADATA (PEP 658/714): pip resolves without the wheel
    OUTDIR/simple/index.html         the projects (PEP 503), and index.json (PEP 691)
    OUTDIR/simple/PROJECT/index.html each project's files with their sha256, Requires-Python and
                                     metadata hash; index.json the same in PEP 691 JSON

Adding a later bundle to the same folder adds its wheels and rewrites the pages. Everything is
checked and staged first, then every file appears by an atomic rename, wheels before the pages
that name them, so pip reading the index meanwhile sees the old pages or the new ones, each
complete, and a failed run adds nothing. A wheel already there under the same name must have
the same bytes. Writers take turns on a lock on OUTDIR itself: the folder holds only the index.
"""

from __future__ import annotations

import fcntl
import hashlib
import html
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from wheelbundle.cache import atomic_file, sha256_file
from wheelbundle.errors import BundleError
from wheelbundle.format.archive import BundleArchive
from wheelbundle.format.layout import wheel_member
from wheelbundle.format.manifest import Manifest
from wheelbundle.format.wheelfile import metadata_bytes
from wheelbundle.review.verify import verify_bundle

_METADATA = ".metadata"
_JSON_API = {"api-version": "1.1"}
_OLD_LOCK = ".wheelbundle-index.lock"


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
    size: int


def index_bundles(
    outdir: Path, archives: Sequence[Path], allowed_signers: Path | None = None
) -> Indexed:
    """Verify every bundle, then, holding the folder's lock, stage every new wheel with its
    metadata and read every page's facts before anything is published: an error leaves the
    index as it was. Concurrent runs take turns, so that none drops a file another added."""
    manifests = [verify_bundle(a, allowed_signers).manifest for a in archives]
    outdir.mkdir(parents=True, exist_ok=True)
    files = outdir / "files"
    with _locked(outdir):
        files.mkdir(exist_ok=True)
        _sweep(outdir)
        with tempfile.TemporaryDirectory(dir=files, prefix=".adding-") as tmp:
            staged: dict[str, Path] = {}
            for archive, manifest in zip(archives, manifests, strict=True):
                _stage_bundle(archive, manifest, files, Path(tmp), staged)
            pages = _files([*sorted(files.glob("*.whl")), *staged.values()])
            for wheel in sorted(staged.values()):  # each wheel's metadata before the wheel
                (wheel.parent / f"{wheel.name}{_METADATA}").replace(
                    files / f"{wheel.name}{_METADATA}"
                )
                wheel.replace(files / wheel.name)
            projects = _write_pages(outdir, pages)
    return Indexed(simple=outdir / "simple", added=len(staged), projects=projects)


def _stage_bundle(
    archive: Path, manifest: Manifest, files: Path, tmp: Path, staged: dict[str, Path]
) -> None:
    """Copy the bundle's wheels that the index lacks into ``tmp``, each with its metadata."""
    carried = set(manifest.base.wheels) if manifest.base else set()
    with BundleArchive(archive) as bundle:
        for package in manifest.packages:
            wheel = package.wheel
            here = staged.get(wheel) or (files / wheel if (files / wheel).exists() else None)
            if here is None and wheel in carried:
                assert manifest.base is not None
                raise BundleError(
                    f"{archive} is a delta bundle and {wheel} is in its base, "
                    f"{manifest.base.name} {manifest.base.version}: index that bundle first"
                )
            if here is not None:
                if sha256_file(here) != package.sha256:
                    raise BundleError(
                        f"{archive}: {wheel} differs from the file of that name already in "
                        f"{files}; an index holds one file per name, and nothing was changed"
                    )
                continue
            copied = bundle.copy_to(wheel_member(wheel), tmp)  # the bytes its sums promise
            (tmp / f"{wheel}{_METADATA}").write_bytes(metadata_bytes(copied))  # tmp is ours
            staged[wheel] = copied


@contextmanager
def _locked(outdir: Path) -> Iterator[None]:
    """The folder's writer lock: held by one run at a time, and let go by the kernel when that
    run ends, however it ends. It is taken on the folder itself, so that no lock file is left
    in what a web server serves (earlier versions left ``.wheelbundle-index.lock``: removed)."""
    fd = os.open(outdir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        (outdir / _OLD_LOCK).unlink(missing_ok=True)
        yield
    finally:
        os.close(fd)


def _sweep(outdir: Path) -> None:
    """What a killed run left: its staging folders and half-written pages. Only called with the
    lock held, so no live run is writing them."""
    for leftover in (outdir / "files").glob(".adding-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for part in (outdir / "simple").glob("**/.*.part"):
        part.unlink(missing_ok=True)


def _files(wheels: Iterable[Path]) -> dict[str, list[_File]]:
    """What each project page says of each wheel (its metadata beside it), by project; a wheel
    without readable metadata beside it is not one this command wrote, and stops the run."""
    found: dict[str, list[_File]] = {}
    for wheel in sorted(wheels, key=lambda w: w.name):
        try:
            metadata = (wheel.parent / f"{wheel.name}{_METADATA}").read_bytes()
            name = canonicalize_name(parse_wheel_filename(wheel.name)[0])
        except (OSError, ValueError) as exc:
            raise BundleError(
                f"{wheel}: not a wheel this index holds ({exc}); remove it, or index into "
                "another folder; nothing was changed"
            ) from exc
        headers = HeaderParser().parsestr(metadata.decode("utf-8", "replace"))
        found.setdefault(name, []).append(
            _File(
                filename=wheel.name,
                sha256=sha256_file(wheel),
                metadata_sha256=hashlib.sha256(metadata).hexdigest(),
                requires_python=headers.get("Requires-Python"),
                size=wheel.stat().st_size,
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


def _project_json(name: str, files: Sequence[_File]) -> dict[str, Any]:
    """PEP 691 JSON at api-version 1.1, which PEP 700 makes name every version (``versions``)
    and give each file its ``size``."""
    versions = {str(parse_wheel_filename(f.filename)[1]) for f in files}
    return {
        "meta": _JSON_API,
        "name": name,
        "versions": sorted(versions, key=Version),
        "files": [
            {
                "filename": f.filename,
                "url": f"../../files/{f.filename}",
                "hashes": {"sha256": f.sha256},
                "size": f.size,
                **({"requires-python": f.requires_python} if f.requires_python else {}),
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
    with atomic_file(path) as out:
        out.write(data)
