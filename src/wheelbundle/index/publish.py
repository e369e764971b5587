"""``bundle publish``: the wheels of verified bundles uploaded to an index, as twine uploads them.

Inside the gap, a site's index (devpi, pypiserver, Nexus, Artifactory) is fed from bundles that
crossed it. The upload API is the one every such index speaks: a multipart POST with
``:action=file_upload`` and the wheel's metadata as form fields. Before anything is sent, every
wheel is looked up on the index's simple page: one it has with the same sha256 is skipped, one it
has with other bytes stops the run with nothing uploaded (an index that allows overwriting would
otherwise replace it silently). After each upload the page must list the file with our hash.
"""

from __future__ import annotations

import hashlib
import secrets
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from packaging.utils import canonicalize_name, parse_wheel_filename

from wheelbundle.cache import CHUNK, Cache, default_cache_dir
from wheelbundle.errors import (
    AccessRefused,
    BundleError,
    FetchFailed,
    Stalled,
    TooLarge,
    done_before,
)
from wheelbundle.format.archive import BundleArchive
from wheelbundle.format.layout import wheel_member
from wheelbundle.format.manifest import Manifest
from wheelbundle.format.wheelfile import wheel_metadata
from wheelbundle.net.credentials import Credentials, Location
from wheelbundle.net.fetch import Fetcher
from wheelbundle.net.network import pip_wiring
from wheelbundle.net.simple import PageFile, page_files
from wheelbundle.progress import Reporter, Silent
from wheelbundle.redaction import redact
from wheelbundle.review.verify import verify_bundle

#: Where the simple index lives beside an upload URL: devpi, then pypiserver, Nexus, Artifactory.
SIMPLE_BESIDE_UPLOAD = ("+simple/", "simple/")
#: METADATA fields whose form name is not the field's name in lower case (twine's names).
_FORM_NAMES = {
    "classifier": "classifiers",
    "project_url": "project_urls",
    "provides_extra": "provides_extras",
    "home_page": "home_page",
}


class PublishFailed(BundleError):
    """The index holds other bytes under a wheel's name, or refused an upload."""


@dataclass(frozen=True)
class Published:
    """What ``bundle publish`` did."""

    simple: str
    """The index's simple URL, where pip finds the wheels (without credentials)."""
    uploaded: tuple[str, ...]
    present: tuple[str, ...]
    """Already on the index with the same bytes: not sent again."""


@dataclass(frozen=True)
class _Wheel:
    filename: str
    sha256: str
    size: int
    archive: Path

    @property
    def project(self) -> str:
        return canonicalize_name(parse_wheel_filename(self.filename)[0])


def publish_bundles(
    archives: Sequence[Path],
    to: str,
    *,
    simple_url: str | None = None,
    allowed_signers: Path | None = None,
    reporter: Reporter | None = None,
) -> Published:
    """Verify every bundle, look every wheel up on the index, then upload the missing ones.

    Credentials come from ``to`` and ``simple_url`` (``user:password@``), else from netrc; the
    proxy and CA bundle are pip's. A delta bundle's wheels from its base must be on the index
    already: publish the base first.
    """
    report = reporter or Silent()
    report.stage("verifying")
    manifests = [verify_bundle(a, allowed_signers).manifest for a in archives]
    carried, expected = _wheels(archives, manifests)
    credentials = Credentials([url for url in (to, simple_url) if url])
    network = pip_wiring().network
    fetcher = Fetcher(Cache(default_cache_dir()), credentials, network=network, refused=_refused)
    with fetcher:
        index = _Index(fetcher, _upload_url(to), simple_url)
        report.stage(f"looking up {len(carried) + len(expected)} wheels on {index.simple}")
        on_index = {w.filename: index.sha256(w) for w in [*carried, *expected]}
        _refuse_missing_base(expected, on_index, index.simple)
        _refuse_other_bytes(carried, on_index, index.simple)
        missing = [w for w in carried if on_index[w.filename] is None]
        _upload(index, missing, report)
    return Published(
        simple=index.simple,
        uploaded=tuple(w.filename for w in missing),
        present=tuple(w.filename for w in carried if on_index[w.filename] == w.sha256),
    )


def _upload(index: _Index, wheels: Sequence[_Wheel], report: Reporter) -> None:
    """Each wheel in turn; a Ctrl-C says which were uploaded by then (the index keeps them)."""
    bar = report.bar("uploading", sum(w.size for w in wheels), "B")
    sent: list[str] = []
    sending: str | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="wheelbundle-publish-") as tmp:
            for wheel in wheels:
                with BundleArchive(wheel.archive) as bundle:
                    path = bundle.copy_to(wheel_member(wheel.filename), Path(tmp))
                sending = wheel.filename
                index.upload(path, wheel)
                sent.append(wheel.filename)
                sending = None
                path.unlink()
                bar.advance(wheel.size)
    except KeyboardInterrupt as exc:
        if sent or sending:
            raise done_before(exc, _uploaded_before(sent, sending, len(wheels), index)) from None
        raise
    finally:
        bar.close()


def _uploaded_before(sent: Sequence[str], sending: str | None, total: int, index: _Index) -> str:
    shown = ", ".join(sent[:3]) + (f" and {len(sent) - 3} more" if len(sent) > 3 else "")
    done = f"{len(sent)} of {total} wheels were uploaded to {index.simple} before it" + (
        f" ({shown})" if sent else ""
    )
    if sending:
        done += f", and {sending} was being sent (the index may hold it)"
    return f"{done}; publish again to send the rest: files the index holds are skipped"


def _refuse_missing_base(
    expected: Sequence[_Wheel], on_index: dict[str, str | None], simple: str
) -> None:
    for wheel in expected:
        if on_index[wheel.filename] != wheel.sha256:
            raise PublishFailed(
                f"{wheel.archive} is a delta bundle and {wheel.filename} is in its base, which "
                f"{simple} does not hold: publish that bundle first"
            )


def _wheels(
    archives: Sequence[Path], manifests: Sequence[Manifest]
) -> tuple[list[_Wheel], list[_Wheel]]:
    """The wheels the bundles carry, each once, and those deltas take from their bases."""
    carried: dict[str, _Wheel] = {}
    expected: dict[str, _Wheel] = {}
    for archive, manifest in zip(archives, manifests, strict=True):
        from_base = set(manifest.base.wheels) if manifest.base else set()
        for package in manifest.packages:
            wheel = _Wheel(package.wheel, package.sha256, package.size, archive)
            known = carried.get(wheel.filename) or expected.get(wheel.filename)
            if known is not None and known.sha256 != wheel.sha256:
                raise PublishFailed(
                    f"{archive} and {known.archive} carry different files named "
                    f"{wheel.filename}; an index holds one file per name"
                )
            if package.wheel in from_base:
                expected.setdefault(wheel.filename, wheel)
            else:
                carried.setdefault(wheel.filename, wheel)
    return list(carried.values()), [w for n, w in expected.items() if n not in carried]


def _refuse_other_bytes(
    wheels: Sequence[_Wheel], on_index: dict[str, str | None], simple: str
) -> None:
    clashes = [w for w in wheels if on_index[w.filename] not in (None, w.sha256)]
    if clashes:
        first = clashes[0]
        raise PublishFailed(
            f"{simple} already holds {first.filename} with other bytes (sha256 "
            f"{on_index[first.filename]}, the bundle's is {first.sha256})"
            + (f", and {len(clashes) - 1} more such files" if len(clashes) > 1 else "")
            + "; nothing was uploaded. An index holds one file per name: find out which build "
            "is right before replacing it on the index by hand"
        )


def _upload_url(to: str) -> str:
    parts = urlsplit(to)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PublishFailed(f"--to {redact(to)}: give the index's upload URL, http:// or https://")
    url = Location.parse(to).url  # its login, if any, is the fetcher's to send
    return url if url.endswith("/") else url + "/"


class _Index:
    """An index's upload URL and simple pages, read through the fetcher with its credentials."""

    def __init__(self, fetcher: Fetcher, to: str, simple_url: str | None):
        self._fetcher = fetcher
        self._to = to
        self.simple = self._find_simple(simple_url)
        self._pages: dict[str, dict[str, PageFile] | None] = {}

    def _find_simple(self, given: str | None) -> str:
        if given:
            url = Location.parse(given).url
            return url if url.endswith("/") else url + "/"
        for beside in SIMPLE_BESIDE_UPLOAD:
            url = urljoin(self._to, beside)
            try:
                if self._fetcher.read(url, accept="text/html") is not None:
                    return url
            except (AccessRefused, Stalled, TooLarge):
                raise
            except FetchFailed:  # a redirect loop, a server error: not the simple index
                continue
        raise PublishFailed(
            f"found no simple index beside {self._to} (tried "
            + ", ".join(SIMPLE_BESIDE_UPLOAD)
            + "); give its URL with --simple-url"
        )

    def sha256(self, wheel: _Wheel) -> str | None:
        """The sha256 of the index's file of this name (None when it has none)."""
        files = self._page(wheel.project)
        if files is None or wheel.filename not in files:
            return None
        file = files[wheel.filename]
        return file.sha256 or self._hash_of(file)

    def _page(self, project: str, *, again: bool = False) -> dict[str, PageFile] | None:
        """The files on the project's page, by file name."""
        if again or project not in self._pages:
            found = self._fetcher.read_page(f"{self.simple}{project}/")
            if found is None or not _same_server(found[0], self.simple):
                self._pages[project] = None  # absent, or a fallback to another index
            else:
                url, page = found
                self._pages[project] = {f.filename: f for f in page_files(page, url)}
        return self._pages[project]

    def _hash_of(self, file: PageFile) -> str:
        """For a page that gives no hash: the file itself, hashed."""
        found = self._fetcher.read(file.url)
        if found is None:
            raise PublishFailed(f"{redact(file.url)} is listed by the index and answers 404")
        return hashlib.sha256(found.body).hexdigest()

    def upload(self, path: Path, wheel: _Wheel) -> None:
        """POST one wheel, then check that the index lists it with our hash."""
        boundary = secrets.token_hex(16)
        fields = _form_fields(path, wheel.sha256)
        try:
            status, answer = self._fetcher.post(
                self._to,
                _multipart(fields, path, boundary),
                f"multipart/form-data; boundary={boundary}",
                length=_multipart_length(fields, path, boundary),
            )
        except FetchFailed as exc:
            raise PublishFailed(
                f"could not upload {wheel.filename}: {exc}; publish again: files the index "
                "holds are skipped"
            ) from exc
        if status in (401, 403):
            sent = self._fetcher.credentials.header(self._to) is not None
            raise AccessRefused(
                f"could not upload {wheel.filename}: {_refused(self._to, status, sent)}"
            )
        if status not in (200, 201):
            reason = " ".join(answer.decode("utf-8", "replace").split())[:300]
            raise PublishFailed(f"{self._to} refused {wheel.filename} (HTTP {status}: {reason})")
        file = (self._page(wheel.project, again=True) or {}).get(wheel.filename)
        listed = "missing" if file is None else file.sha256
        if listed not in (None, wheel.sha256):
            raise PublishFailed(
                f"{wheel.filename} was uploaded, but {self.simple}{wheel.project}/ does not list "
                f"it with its sha256 ({listed}): check where {self._to} stores uploads"
            )


def _refused(url: str, status: int, sent: bool) -> str:
    """For a 401 or 403 from the index: where publish finds credentials (not pip's places)."""
    host = urlsplit(url).hostname
    what = "refused the credentials given for it" if sent else "asks for credentials"
    return (
        f"the index at {redact(url)} {what} (HTTP {status}); give a user allowed to read and "
        f"upload there as user:password@ in --to (and --simple-url), or as a 'machine {host} "
        "login USER password PASSWORD' line in ~/.netrc"
    )


def _same_server(url: str, simple: str) -> bool:
    a, b = urlsplit(url), urlsplit(simple)
    return (a.scheme, a.netloc.rpartition("@")[2]) == (b.scheme, b.netloc.rpartition("@")[2])


def _form_fields(path: Path, sha256: str) -> list[tuple[str, str]]:
    """The upload API's fields: what the file is, its hashes, and its METADATA as twine sends it."""
    metadata = wheel_metadata(path)
    tags = parse_wheel_filename(path.name)[3]
    fields = [
        (":action", "file_upload"),
        ("protocol_version", "1"),
        ("filetype", "bdist_wheel"),
        ("pyversion", ".".join(sorted({tag.interpreter for tag in tags}))),
        ("sha256_digest", sha256),
        ("md5_digest", _md5(path)),
        ("metadata_version", metadata.get("Metadata-Version", "2.1")),
    ]
    fields += [
        (_form_name(key), str(value))
        for key, value in metadata.items()
        if key != "Metadata-Version"
    ]
    if description := _body(metadata):
        fields.append(("description", description))
    return fields


def _form_name(field: str) -> str:
    name = field.lower().replace("-", "_")
    return _FORM_NAMES.get(name, name)


def _body(metadata: Message) -> str:
    payload = metadata.get_payload()
    return payload if isinstance(payload, str) else ""


def _md5(path: Path) -> str:
    """Some indexes (PyPI among them) want an MD5 beside the sha256; it protects nothing here."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _parts(fields: Sequence[tuple[str, str]], path: Path, boundary: str) -> tuple[bytes, bytes]:
    """The multipart body before the file's bytes, and after them."""
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + value.encode()
        + b"\r\n"
        for name, value in fields
    )
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; '
        f'filename="{path.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    return head, f"\r\n--{boundary}--\r\n".encode()


def _multipart(fields: Sequence[tuple[str, str]], path: Path, boundary: str) -> Iterator[bytes]:
    """The body, streamed: a wheel of hundreds of megabytes is never read into memory whole."""
    head, tail = _parts(fields, path, boundary)
    yield head
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk
    yield tail


def _multipart_length(fields: Sequence[tuple[str, str]], path: Path, boundary: str) -> int:
    head, tail = _parts(fields, path, boundary)
    return len(head) + path.stat().st_size + len(tail)
