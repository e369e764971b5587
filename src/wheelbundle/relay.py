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
fetches them in parallel meanwhile.
"""

from __future__ import annotations

import hashlib
import re
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from email.message import Message
from email.parser import HeaderParser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import PurePosixPath
from types import TracebackType
from urllib.parse import unquote, urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from wheelbundle.errors import BundleError, FetchFailed
from wheelbundle.fetch import Download, Fetcher
from wheelbundle.simple import sha256s_by_filename
from wheelbundle.wheelcheck import wheel_metadata

_METADATA = ".metadata"
#: Every archive pip takes a distribution from; a page's URL never ends so.
_ARCHIVES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tbz", ".tar.xz", ".txz")
_ROOTED = re.compile(r"""(href=["'])/(?!/)""")


class Relay:
    """Serve ``indexes`` to pip on 127.0.0.1, keeping every file pip downloads in the cache.

    A request the relay cannot serve (refused upstream, a file whose bytes do not match the
    index's hash) is answered with an error pip does not retry, and the first such error is kept
    in :attr:`failure`: pip's own message would only name the relay.
    """

    def __init__(self, indexes: Sequence[str], fetcher: Fetcher, jobs: int = 8):
        self.fetcher = fetcher
        self.failure: BundleError | None = None
        self._indexes = [url.rstrip("/") + "/" for url in indexes]
        self._origins: list[str] = []
        self._pages: dict[str, list[tuple[str, str]]] = {}
        """Each project's pages as upstream served them (URL, text), for the files' hashes."""
        self._hashes: dict[str, dict[str, str]] = {}
        """The pages served for each project (canonical name), one per index: files' hashes."""
        self._ahead: dict[str, Future[tuple[str, str] | None]] = {}
        """Pages read ahead of pip's asking and not yet asked for, by upstream URL."""
        self._asked: set[str] = set()
        self._pool = ThreadPoolExecutor(max_workers=max(1, jobs))
        self._lock = threading.Lock()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        self.index_urls = [self.mirrored(url) for url in self._indexes]
        self._unmirrored = re.compile(
            rf"""href=["'](?!{re.escape(self.base)}/)(https?://[^/"'\s]+)/"""
        )
        """An absolute link the relay has not mirrored yet; its group is the link's origin."""

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def pip_options(self) -> list[str]:
        """The index options that send pip to the relay instead of the indexes."""
        first, *extra = self.index_urls
        return ["--index-url", first, *(arg for url in extra for arg in ("--extra-index-url", url))]

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

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._pool.shutdown(wait=False, cancel_futures=True)  # pages pip never asked for
        self.fetcher.stop()  # and those being read ahead still

    def __enter__(self) -> Relay:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def page(self, url: str) -> tuple[str, bytes | None]:
        """A page's final relay URL and its text with absolute links mirrored (None: no page).

        When the index redirected, the final URL differs from the one asked for, and pip must
        be redirected too, so that its relative links resolve as upstream.
        """
        with self._lock:
            ahead = self._ahead.pop(url, None)
            self._asked.add(url)
        found = ahead.result() if ahead else self.fetcher.read_page(url)
        if found is None:
            return url, None
        final, text = found
        project = canonicalize_name(PurePosixPath(urlsplit(final).path).name)
        with self._lock:
            self._pages.setdefault(project, []).append((final, text))
            self._hashes.pop(project, None)
        while link := self._unmirrored.search(text):  # once per origin the page links to
            text = text.replace(f"{link[1]}/", self.mirrored(f"{link[1]}/"))
        if _ROOTED.search(text):  # href="/files/…": on the page's own origin
            root = urlsplit(self.mirrored(final)).path.removesuffix(urlsplit(final).path)
            text = _ROOTED.sub(rf"\g<1>{root}/", text)
        return final, text.encode()

    def download(self, url: str) -> Download:
        """What to fetch for a file, with the hash the page pip found it on gave it."""
        name = PurePosixPath(urlsplit(url).path).name
        return Download(url=url, filename=unquote(name), sha256=self._hash(name), label=name)

    def read_ahead(self, metadata: Message) -> None:
        """Start reading the pages of the dependencies in ``metadata`` that pip has not asked for.

        Dependencies only an extra asks for are left out: pip rarely needs those.
        """
        for text in metadata.get_all("Requires-Dist") or ():
            try:
                requirement = Requirement(text)
            except InvalidRequirement:
                continue
            if requirement.marker and "extra" in str(requirement.marker):
                continue
            for index in self._indexes:
                url = f"{index}{canonicalize_name(requirement.name)}/"
                with self._lock:
                    if url not in self._ahead and url not in self._asked:
                        self._ahead[url] = self._pool.submit(self.fetcher.read_page, url)

    def _hash(self, name: str) -> str | None:
        """The sha256 its project's page gives the file ``name`` (read once per page)."""
        filename = unquote(name)
        project = _project(filename) or ""
        with self._lock:
            if (known := self._hashes.get(project)) is None:
                known = {}
                for _, text in self._pages.get(project, ()):
                    known.update(sha256s_by_filename(text))
                self._hashes[project] = known
            return known.get(filename)


def _project(filename: str) -> str | None:
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[0]
        return parse_sdist_filename(filename)[0]
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, relay: Relay):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.relay = relay

    def handle_error(self, request: object, client_address: object) -> None:
        """Not to stderr: pip hung up (its business), or the relay broke (kept as the failure)."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, ConnectionError) and self.relay.failure is None:
            self.relay.failure = FetchFailed(f"the relay between pip and the index failed: {exc!r}")


class _ToPip:
    """A file's bytes handed to pip as they arrive from upstream, while the fetcher caches them.

    The last piece is held back until the whole file has matched its hash: a file that fails
    it reaches pip cut short, and pip fails rather than using it. A retried download starts
    again at its first byte: what pip already has is skipped, after checking it is the same.
    """

    def __init__(self, handler: _Handler):
        self.handler = handler
        self.length: int | None = None
        self._taken = 0
        self._taken_hash = hashlib.sha256()
        self._pending = b""
        self._seen = 0
        self._seen_hash = hashlib.sha256()
        self._gone = False

    def begin(self, length: int) -> None:
        if self.length is None:
            self.length = length
            self.handler._headers(HTTPStatus.OK, "application/octet-stream", length)
        elif length != self.length:
            raise FetchFailed(f"the index served {length} bytes, then {self.length}, for one file")
        self._seen, self._seen_hash = 0, hashlib.sha256()

    def write(self, chunk: bytes) -> None:
        if self._seen < self._taken:  # a retry, over bytes pip already has
            again, chunk = chunk[: self._taken - self._seen], chunk[self._taken - self._seen :]
            self._seen += len(again)
            self._seen_hash.update(again)
            if self._seen == self._taken and self._seen_hash.digest() != self._taken_hash.digest():
                raise FetchFailed("the index served other bytes when the download was retried")
        if not chunk:
            return
        self._send(self._pending)
        self._pending = chunk
        self._taken += len(chunk)
        self._seen += len(chunk)
        self._taken_hash.update(chunk)

    def finish(self) -> None:
        """The file matched its hash: pip gets its last bytes."""
        self._send(self._pending)
        self._pending = b""

    def _send(self, data: bytes) -> None:
        if data and not self._gone:
            try:
                self.handler.wfile.write(data)
            except OSError:  # pip hung up: the file is still cached for the collect stage
                self._gone = True


class _Handler(BaseHTTPRequestHandler):
    """``/o/N/PATH``: PATH at the Nth origin, a page, a file, or a file's metadata."""

    protocol_version = "HTTP/1.1"  # pip keeps its connection to the relay alive
    disable_nagle_algorithm = True  # else each body waits ~40 ms for the ACK of its headers
    server: _Server

    def do_GET(self) -> None:
        relay = self.server.relay
        url = relay.original(relay.base + self.path)
        if url == relay.base + self.path:
            self._send_bytes(None, "")
            return
        try:
            if url.endswith(_METADATA):  # PEP 658: small, and pip reads it instead of the wheel
                found = relay.fetcher.read(url)
                if found:
                    relay.read_ahead(HeaderParser().parsestr(found[1].decode("utf-8", "replace")))
                self._send_bytes(found[1] if found else None, "application/octet-stream")
            elif urlsplit(url).path.endswith(_ARCHIVES):
                to_pip = _ToPip(self)
                try:
                    path = relay.fetcher.fetch(relay.download(url), to_pip)
                except BundleError:
                    if to_pip.length is None:
                        raise
                    self.close_connection = True  # pip has part of it: it must not get the rest
                    raise
                if to_pip.length is None:  # a cached file, or a server that gave no length
                    with path.open("rb") as f:
                        self._headers(
                            HTTPStatus.OK, "application/octet-stream", path.stat().st_size
                        )
                        self.connection.sendfile(f)
                else:
                    to_pip.finish()
                if path.suffix == ".whl":
                    relay.read_ahead(wheel_metadata(path))
            else:
                final, page = relay.page(url)
                if final != url:
                    self._headers(HTTPStatus.FOUND, "text/plain", 0, relay.mirrored(final))
                else:
                    self._send_bytes(page, "text/html; charset=utf-8")
        except BundleError as exc:
            if relay.failure is None:
                relay.failure = exc
            if not self.close_connection:
                self._send_bytes(str(exc).encode(), "text/plain", HTTPStatus.FAILED_DEPENDENCY)

    def _send_bytes(
        self, body: bytes | None, content_type: str, status: HTTPStatus = HTTPStatus.OK
    ) -> None:
        if body is None:
            status, body, content_type = HTTPStatus.NOT_FOUND, b"not found", "text/plain"
        self._headers(status, content_type, len(body))
        self.wfile.write(body)

    def _headers(
        self, status: HTTPStatus, content_type: str, length: int, location: str | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        if location:
            self.send_header("Location", location)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """pip's requests are not the user's business."""
