"""A loopback relay between pip and the indexes, so that no file is downloaded twice.

Where an index serves no PEP 658 metadata, pip's resolver downloads whole wheels to read their
dependencies, into a temporary folder it deletes when it exits; the bundle would then download
them all again. So pip is pointed at this relay instead of the indexes. The relay mirrors each
origin (scheme, host and port) the indexes link to under a path of its own, ``/o/N/``: a page
keeps its relative links as they are, and its absolute ones change origin only, which is one
string replacement per origin rather than a parse of every link (PyPI's pages for a web stack
hold 54,000 links; the searches look for ``href="`` literally, as every index writes it, which
is 30 times faster than allowing for spaces). A file pip asks for is downloaded by our fetcher into the content-addressed
cache (checked against the hash on the page, over kept-alive connections, with retries) and
served to pip from there, so the collect stage, and the next resolution, find it cached.

What pip downloads is still decided by what the index serves: on a page that offers metadata pip
asks for ``FILE.metadata``, which the relay passes through, and downloads no wheel at all. pip
itself sees only the relay, so it needs no credentials: the fetcher logs in upstream.

pip reads one page at a time. Once the relay has a distribution's metadata (the wheel pip asked
for, or its ``.metadata``) it knows which pages pip will ask for next, its dependencies', and
fetches them in parallel meanwhile. From each page it then guesses the file pip will take, as
pip's finder chooses (the newest version the requirements seen so far allow, not yanked,
whose Requires-Python the target meets, and of its wheels the one whose tag the target prefers)
and downloads that too: pip's one-at-a-time downloads become parallel ones. A wrong guess costs
at most one file per project; the resolution reports the bytes read ahead for nothing.

A file is streamed to pip as it arrives from the index, while the fetcher writes it to the cache
and checks its hash at the end.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from email.message import Message
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.markers import UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from wheelbundle.errors import BundleError, FetchFailed, HashMismatch
from wheelbundle.net.fetch import Document, Download, Fetcher, Tee
from wheelbundle.net.simple import (
    PageFile,
    index_base,
    json_page,
    metadata_sha256s,
    page_files,
    sha256s_by_filename,
    yanked_files,
)
from wheelbundle.progress import Bar, Silent
from wheelbundle.redaction import redact
from wheelbundle.resolve.choose import for_target, likely_choice, why_none_fits
from wheelbundle.resolve.loopback import METADATA, PIP_ACCEPT, LoopbackServer
from wheelbundle.target import Target

#: Where a page names a file's URL: an HTML link, or a PEP 691 JSON ``url``.
_LINK = r"""(?:href=["']|"url":\s*")"""
_ROOTED = re.compile(rf"({_LINK})/(?!/)")


class Pages:
    """The index pages one run has read, as the index sent them, shared by the relays of its
    targets: eight targets read each project's page once, not eight times. Two relays asking
    for one page at once wait for the same read."""

    def __init__(self) -> None:
        self._read: dict[tuple[str, str], Future[Document | None]] = {}
        self._lock = threading.Lock()

    def read(self, fetcher: Fetcher, url: str, accept: str) -> Document | None:
        with self._lock:
            found = self._read.get((url, accept))
            mine = found is None
            if found is None:
                found = self._read[url, accept] = Future()
        if mine:
            try:
                found.set_result(fetcher.read(url, accept))
            except BaseException as exc:
                with self._lock:  # a failed read is not kept: the next asks again
                    del self._read[url, accept]
                found.set_exception(exc)
                raise
        return found.result()


class Relay:
    """Serve ``indexes`` to pip on 127.0.0.1, keeping every file pip downloads in the cache.

    A request the relay cannot serve (refused upstream, a file whose bytes do not match the
    index's hash) is answered with an error pip does not retry, and the first such error is kept
    in :attr:`failure`: pip's own message would only name the relay.
    """

    def __init__(
        self,
        indexes: Sequence[str],
        fetcher: Fetcher,
        jobs: int = 8,
        target: Target | None = None,
        requirements: Sequence[str] = (),
        pages: Pages | None = None,
        bar: Bar | None = None,
    ):
        self.fetcher = fetcher
        self._bar = bar or Silent().bar("", None, "")
        """Counts the projects pip reads; notes the files fetched for it (read ahead or asked
        for) and their megabytes: all a user sees of a resolution that takes a minute."""
        self._counted: dict[str, int] = {}
        """The size of each file fetched so far, by URL."""
        self._pages = pages
        self._target = target
        self._wanted: dict[str, SpecifierSet] = {}
        """What the requirements seen so far allow of each project, by canonical name."""
        self._guessed: set[str] = set()
        self._files_ahead: dict[str, Future[Path]] = {}
        """Files read ahead of pip's asking, by upstream URL."""
        self.failure: BundleError | None = None
        self._indexes = [index_base(url) for url in indexes]
        self._origins: list[str] = []
        self._documents: dict[str, list[Document]] = {}
        """Each project's pages as the indexes sent them: what pip found nothing on is
        explained from them (``Pages`` keeps them for the run anyway)."""
        self._hashes: dict[str, dict[str, str]] = {}
        """Each project's files' sha256 (by file name) on the pages served for it."""
        self._metadata: dict[str, str] = {}
        """The sha256 the pages give each file's PEP 658 metadata, by file name."""
        self._yanked: dict[str, str] = {}
        """The reason the pages give for each yanked file, by file name."""
        self._ahead: dict[str, Future[tuple[str, bytes | None, str]]] = {}
        """Pages read ahead of pip's asking and not yet asked for, by upstream URL."""
        self._asked: set[str] = set()
        self._pool = ThreadPoolExecutor(max_workers=max(1, jobs))
        self._lock = threading.Lock()
        self._secret = secrets.token_urlsafe(32)
        for text in requirements:
            self._want(text)
        self._server = LoopbackServer(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        self.index_urls = [self.mirrored(url) for url in self._indexes]
        self._unmirrored = re.compile(
            rf"""{_LINK}(?!{re.escape(self.base)}/)(https?://[^/"'\s]+)/"""
        )
        """An absolute link the relay has not mirrored yet; its group is the link's origin."""
        for name in list(self._wanted):  # the requirements' own pages: pip asks for them first
            self._read_pages_ahead(name)

    @property
    def root(self) -> str:
        """Where the relay listens; it answers nothing there but below :attr:`base`."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def base(self) -> str:
        """The root and this run's secret: any local user may connect to 127.0.0.1, but only
        the pip given the secret (in its environment, see ``pip.runner.pip_environment``) is served,
        so a login-protected index is not handed to every account on a shared machine."""
        return f"{self.root}/{self._secret}"

    def serves(self, path: str) -> bool:
        """Whether a request for ``path`` carries this run's secret (compared in constant time)."""
        first = path.lstrip("/").partition("/")[0]
        return hmac.compare_digest(first.encode(), self._secret.encode())

    def mirrored(self, url: str) -> str:
        """The relay's URL for an upstream URL."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            if origin not in self._origins:
                self._origins.append(origin)
            number = self._origins.index(origin)
        return f"{self.base}/o/{number}{url[len(origin) :]}"

    def original(self, url: str) -> str:
        """The upstream URL behind one of the relay's URLs; any other URL as it is."""
        prefix = f"{self.base}/o/"
        if not url.startswith(prefix):
            return url
        number, _, rest = url[len(prefix) :].partition("/")
        return f"{self._origins[int(number)]}/{rest}"

    def close(self, finish_files: bool = True) -> None:
        """Stop serving. Files being read ahead are finished first (the bundle needs most of
        them) unless ``finish_files`` is false, as when the resolution failed."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        with self._lock:
            files = list(self._files_ahead.values())
        if finish_files:
            wait(files)
        self._pool.shutdown(wait=False, cancel_futures=True)  # pages pip never asked for
        self.fetcher.stop()  # and those being read ahead still

    def files_read_ahead(self) -> dict[str, int]:
        """Every file read ahead and now in the cache: its size, by upstream URL."""
        with self._lock:
            done = {url: f for url, f in self._files_ahead.items() if f.done()}
        return {
            url: f.result().stat().st_size
            for url, f in done.items()
            if not f.cancelled() and f.exception() is None
        }

    def __enter__(self) -> Relay:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close(finish_files=exc is None)

    def page(self, url: str, accept: str = PIP_ACCEPT) -> tuple[str, bytes | None, str]:
        """A page's final upstream URL, its text with absolute links mirrored (None: no page),
        and its content type: PEP 691 JSON when the index chose it from ``accept``, else HTML
        (whatever type the index gave, as the relay always served pages).

        When the index redirected, the final URL differs from the one asked for, and pip must
        be redirected too, so that its relative links resolve as upstream.
        """
        with self._lock:
            ahead = self._ahead.pop(url, None)
            self._asked.add(url)
        prepared = ahead.result() if ahead else self._prepared(url, accept)
        if prepared[1] is not None and prepared[0] == url:
            self._bar.advance(1)
        return prepared

    def fetch(self, download: Download, tee: Tee | None = None) -> Path:
        """A file in the cache (see ``Fetcher.fetch``), counted for the progress display."""
        path = self.fetcher.fetch(download, tee)
        with self._lock:
            self._counted[download.url] = path.stat().st_size
            files, size = len(self._counted), sum(self._counted.values())
        self._bar.note(f"{files} file{'s' if files != 1 else ''}, {size / 1e6:.1f} MB")
        return path

    def _prepared(self, url: str, accept: str) -> tuple[str, bytes | None, str]:
        """A page read and made ready for pip (see :meth:`page`); its likely file read ahead."""
        pages = self._pages
        found = pages.read(self.fetcher, url, accept) if pages else self.fetcher.read(url, accept)
        if found is None:
            return url, None, ""
        final, text = found.url, found.text
        project = canonicalize_name(PurePosixPath(urlsplit(final).path).name)
        is_json = found.content_type == "application/vnd.pypi.simple.v1+json"
        page = self._readable(url, found, project) if is_json else None
        read = text if page is None else page  # each page is parsed once, here
        if page is not None and self._target is not None:
            text = json.dumps(for_target(page, self._target))
        metadata, yanked = metadata_sha256s(read), yanked_files(read)
        with self._lock:
            self._documents.setdefault(project, []).append(found)
            self._metadata.update(metadata)
            self._yanked.update(yanked)
        self._read_file_ahead(found)
        hashes = sha256s_by_filename(text)  # of the files pip will see
        with self._lock:
            self._hashes.setdefault(project, {}).update(hashes)
        while link := self._unmirrored.search(text):  # once per origin the page links to
            text = text.replace(f"{link[1]}/", self.mirrored(f"{link[1]}/"))
        if _ROOTED.search(text):  # href="/files/…": on the page's own origin
            root = urlsplit(self.mirrored(final)).path.removesuffix(urlsplit(final).path)
            text = _ROOTED.sub(rf"\g<1>{root}/", text)
        return final, text.encode(), found.content_type if is_json else "text/html"

    def _readable(self, url: str, found: Document, project: str) -> dict[str, Any]:
        """A PEP 691 page parsed; one pip could not read is the run's failure, named."""
        try:
            return json_page(found.text)
        except ValueError as exc:
            index = next((i for i in self._indexes if url.startswith(i)), url)
            raise FetchFailed(
                f"the index {redact(index)} sent a page for {project} that pip cannot read "
                f"({redact(found.url)}): {exc}; the index is broken, or --index-url is not a "
                "package index"
            ) from None

    def _offered(self, project: str) -> list[PageFile]:
        """Every file the indexes' pages offer for a project, before any was trimmed."""
        with self._lock:
            documents = list(self._documents.get(canonicalize_name(project), ()))
        return [file for d in documents for file in page_files(d.text, d.url)]

    def why_unfound(self, requirement: str) -> str | None:
        """Why pip found no file for ``requirement``, from the whole pages (see
        ``choose.why_none_fits``); None when they do not say."""
        try:
            wanted = Requirement(requirement)
        except InvalidRequirement:
            return None
        if self._target is None:
            return None
        return why_none_fits(wanted, self._offered(wanted.name), self._target)

    def yanked(self, filename: str) -> str | None:
        """The reason the index gives for having yanked a file (PEP 592); None if not yanked."""
        with self._lock:
            return self._yanked.get(filename)

    def check_metadata(self, url: str, body: bytes) -> None:
        """Raise HashMismatch when a wheel's PEP 658 metadata is not what its page says: pip
        would name the wheel, whose bytes it never read."""
        metadata = unquote(PurePosixPath(urlsplit(url).path).name)
        wheel = metadata.removesuffix(METADATA)
        with self._lock:
            expected = self._metadata.get(wheel)
        got = hashlib.sha256(body).hexdigest()
        if expected is None or hmac.compare_digest(expected, got):
            return
        name, version, _, _ = parse_wheel_filename(wheel)
        raise HashMismatch(
            f"{name} {version}: {metadata}, the index's PEP 658 metadata for the wheel, does not "
            f"match the hash the index gives it (expected sha256:{expected}, got sha256:{got}); "
            "the wheel itself is not in question, but the index serves wrong metadata for it: "
            "tell the index's operator"
        )

    def download(self, url: str) -> Download:
        """What to fetch for a file, with the hash the page pip found it on gave it."""
        name = PurePosixPath(urlsplit(url).path).name
        return Download(url=url, filename=unquote(name), sha256=self._hash(name), label=name)

    def read_ahead(self, metadata: Message) -> None:
        """Start reading the pages of the dependencies in ``metadata`` that pip has not asked
        for and the target needs (see :meth:`_applies`)."""
        for text in metadata.get_all("Requires-Dist") or ():
            try:
                requirement = Requirement(text)
            except InvalidRequirement:
                continue
            if not self._applies(requirement):
                continue
            self._want(text)
            self._read_pages_ahead(requirement.name)

    def _read_pages_ahead(self, name: str) -> None:
        """Start reading the project's page on every index, unless read or asked for."""
        for index in self._indexes:
            url = f"{index}{canonicalize_name(name)}/"
            with self._lock:
                if url not in self._ahead and url not in self._asked:
                    self._ahead[url] = self._pool.submit(self._prepared, url, PIP_ACCEPT)

    def _applies(self, requirement: Requirement) -> bool:
        """Whether the target needs this dependency: not for an extra (pip rarely needs
        those), and not when its marker is false on the target (a Windows-only one on Linux)."""
        marker = requirement.marker
        if marker is None:
            return True
        if "extra" in str(marker):
            return False
        if self._target is None:
            return True
        try:
            return marker.evaluate({**self._target.markers, "extra": ""})
        except UndefinedEnvironmentName:  # a target described without it: read it anyway
            return True

    def wait_for_file(self, url: str) -> None:
        """If ``url`` is being read ahead, wait until it is in the cache (or failed)."""
        with self._lock:
            ahead = self._files_ahead.get(url)
        if ahead is not None:
            wait([ahead])

    def _want(self, text: str) -> None:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            return
        name = canonicalize_name(requirement.name)
        with self._lock:
            self._wanted[name] = self._wanted.get(name, SpecifierSet()) & requirement.specifier

    def _read_file_ahead(self, page: Document) -> None:
        """Start downloading the file pip will most likely take from this project page."""
        if self._target is None:
            return
        project = canonicalize_name(PurePosixPath(urlsplit(page.url).path).name)
        with self._lock:
            if project in self._guessed:
                return
            self._guessed.add(project)
            wanted = self._wanted.get(project, SpecifierSet())
        best = likely_choice(page_files(page.text, page.url), wanted, self._target)
        if best is None:
            return
        download = Download(best.url, unquote(best.filename), best.sha256, best.filename)
        with self._lock:
            if best.url not in self._files_ahead:
                self._files_ahead[best.url] = self._pool.submit(self.fetch, download)

    def _hash(self, name: str) -> str | None:
        """The sha256 its project's page gives the file ``name``."""
        filename = unquote(name)
        with self._lock:
            return self._hashes.get(_project(filename) or "", {}).get(filename)


def _project(filename: str) -> str | None:
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[0]
        return parse_sdist_filename(filename)[0]
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
