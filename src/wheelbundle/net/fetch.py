"""Downloading the files pip chose: once, in parallel, over kept-alive connections, hash-checked.

Each worker thread keeps one connection per host (a fresh connection per file pays a DNS lookup
and a TLS handshake every time, which is slower than pip). A file lands in the cache only after
its bytes matched the hash the index published; otherwise it is discarded.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar
from urllib.parse import SplitResult, unquote, urljoin, urlsplit

from wheelbundle.cache import Cache, naming, sha256_file
from wheelbundle.errors import AccessRefused, FetchFailed, HashMismatch, Stalled, TooLarge
from wheelbundle.net.answers import (
    MAX_ANSWER,
    MAX_DOCUMENT,
    MIN_RATE,
    TIMEOUT,
    CutShort,
    body_seconds,
    inflated,
    read_chunk,
)
from wheelbundle.net.credentials import Credentials, Location
from wheelbundle.net.network import Network
from wheelbundle.redaction import redact, refused_message

RETRIES = 3
_T = TypeVar("_T")
Done = Callable[[], None]
"""Called each time a file is in the cache."""
Refused = Callable[[str, int, bool], str]


class Tee(Protocol):
    """Where a download's bytes also go as they arrive (the relay: to pip)."""

    def begin(self, length: int) -> None:
        """A download attempt starts; ``length`` bytes will come. Called again on a retry."""

    def write(self, chunk: bytes) -> None:
        """The next bytes of the attempt under way."""


"""The message for a 401 or 403 answer: the URL, the status, whether credentials were sent."""


@dataclass(frozen=True)
class Download:
    """A file to fetch: where from, what its bytes must hash to, what to call it."""

    url: str
    filename: str
    sha256: str | None
    label: str
    """How errors name it: ``name==version``."""


@dataclass(frozen=True)
class Document:
    """What a URL served: where it ended up (after redirects), its bytes and their type."""

    url: str
    body: bytes
    content_type: str
    charset: str | None = None

    @property
    def text(self) -> str:
        return self.body.decode(self.charset or "utf-8", "replace")


@dataclass(frozen=True)
class _Route:
    """A kept-alive connection and how requests go on it."""

    conn: http.client.HTTPConnection
    absolute: bool
    """Through a proxy to a plain-HTTP URL: the request names the whole URL."""
    headers: dict[str, str]


class _Connections(threading.local):
    """Per-thread kept-alive connections, one per (scheme, host, port)."""

    def __init__(self) -> None:
        self.open: dict[tuple[str, str, int | None], _Route] = {}
        self.watchdog: _Watchdog | None = None
        """The deadline of the request this thread is making, if any."""


class _Watchdog:
    """Ends a request that runs past its deadline by shutting down its connection's socket."""

    def __init__(self, seconds: float):
        self.conn: http.client.HTTPConnection | None = None
        self.allowed = 0.0
        self.fired = False
        self._started = time.monotonic()
        self._timer: threading.Timer | None = None
        self.extend(seconds)

    def extend(self, seconds: float) -> None:
        """The request may go on ``seconds`` from now."""
        self.cancel()
        self.allowed = time.monotonic() - self._started + seconds
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _fire(self) -> None:
        self.fired = True
        sock = self.conn.sock if self.conn is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class Fetcher:
    """Fetch many files into a cache, in parallel, each at most once."""

    def __init__(
        self,
        cache: Cache,
        credentials: Credentials,
        *,
        jobs: int = 8,
        network: Callable[[], Network] = Network,
        refused: Refused = refused_message,
    ):
        self.cache = cache
        self.refused = refused
        self.credentials = credentials
        self.jobs = jobs
        self._network = network
        self._settings: Network | None = None
        """Asked at the first connection: a rebuild that downloads nothing never needs it
        (pip's configuration costs a run of pip)."""
        self._local = _Connections()
        self._opened: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        """Set when the run is interrupted: downloads under way stop at their next chunk."""

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every kept-alive connection, whichever thread opened it.

        Each socket is shut down first: closing it alone would leave a download that another
        thread is blocked reading waiting for its next byte, however long that takes.
        """
        with self._lock:
            for conn in self._opened:
                if conn.sock is not None:
                    with contextlib.suppress(OSError):  # not connected, or gone already
                        conn.sock.shutdown(socket.SHUT_RDWR)
                conn.close()
            self._opened.clear()

    def stop(self) -> None:
        """End every download and page read under way: each fails at its next read, and none
        is tried again. For a run that is interrupted, and for work nobody waits for."""
        self._stopping.set()
        self.close()

    def fetch_all(self, downloads: Sequence[Download], done: Done | None = None) -> dict[str, Path]:
        """Return each download's cached path, keyed by URL; raise on the first failure."""
        if not downloads:
            return {}

        def one(download: Download) -> Path:
            path = self.fetch(download)
            if done:
                done()
            return path

        pool = ThreadPoolExecutor(max_workers=max(1, self.jobs))
        try:
            futures = [pool.submit(one, d) for d in downloads]
            _wait_waking(futures)
            paths = [f.result() for f in futures]
        except BaseException:  # Ctrl-C, SIGTERM or a failure: stop now, not after every download
            self.stop()  # every download under way fails at once, so the wait below is short
            pool.shutdown(cancel_futures=True)
            raise
        finally:
            self.close()  # a download blocked in a read fails at once
        pool.shutdown()
        return {d.url: p for d, p in zip(downloads, paths, strict=True)}

    def fetch(self, download: Download, tee: Tee | None = None) -> Path:
        """The file in the cache: found there by hash, copied from disk, or downloaded.

        With ``tee``, a download whose length the server says is also handed over as it
        arrives; the file is still only kept once it matched its hash.
        """
        if download.sha256 and (hit := self.cache.file(download.sha256, download.filename)):
            return hit
        parts = urlsplit(download.url)
        if parts.scheme == "file":
            return self._from_file(download, Path(unquote(parts.path)))
        return self._retrying(
            lambda: self._from_http(download, tee),
            download.url,
            f"could not download {download.label} from {redact(download.url)}",
        )

    def _retrying(self, attempt: Callable[[], _T], url: str, failure: str) -> _T:
        """``attempt()``, tried again with backoff after a network error or a server error."""
        for number in range(1, RETRIES + 1):
            try:
                return attempt()
            except (OSError, http.client.HTTPException) as exc:
                if isinstance(exc, OSError) and exc.filename is not None:
                    raise  # a local file (a full disk), not the network: no retry mends it
                self._drop_connection(url)
                if self._stopping.is_set():
                    raise FetchFailed(f"{failure}: stopped") from exc
                untrusted = isinstance(exc, ssl.SSLCertVerificationError)  # no retry mends it
                if number == RETRIES or untrusted:
                    fix = "; give pip the CA that signed it (PIP_CERT, or cert = in pip.conf)"
                    said = exc.after(number) if isinstance(exc, CutShort) else str(exc)
                    raise FetchFailed(f"{failure}: {said}" + (fix if untrusted else "")) from exc
                if self._stopping.wait(0.5 * 2 ** (number - 1)):  # a backoff ends at a stop
                    raise FetchFailed(f"{failure}: stopped") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _from_file(self, download: Download, source: Path) -> Path:
        if not source.is_file():
            raise FetchFailed(f"{download.label}: {source} does not exist")
        actual = sha256_file(source)
        _check(download, actual)
        return self.cache.add_file(source, actual)

    def _from_http(self, download: Download, tee: Tee | None = None) -> Path:
        with self._watched(download.url) as watchdog:
            return self._download(download, tee, watchdog)

    def _download(self, download: Download, tee: Tee | None, watchdog: _Watchdog) -> Path:
        try:
            response, url, sent = self._get(download.url)
        except FetchFailed as exc:
            raise FetchFailed(f"could not download {download.label}: {exc}") from exc
        if response.status in (401, 403):
            raise AccessRefused(
                f"could not download {download.label}: " + self.refused(url, response.status, sent)
            )
        if response.status != 200:
            raise FetchFailed(
                f"could not download {download.label}: HTTP {response.status} from {redact(url)}"
            )
        length = response.getheader("Content-Length")
        watchdog.extend(body_seconds(length))
        if tee is not None and length is not None and length.isdigit():
            tee.begin(int(length))
            return self._store(download, response, tee)
        return self._store(download, response)

    def _get(
        self, url: str, method: str = "GET", accept: str = "*/*", encoding: str = "identity"
    ) -> tuple[http.client.HTTPResponse, str, bool]:
        """The response (its body unread when 200), the URL it came from, whether we logged in.

        Redirects are followed; credentials are sent only to the host they belong to. A server
        error raises OSError, so that the caller may retry.
        """
        for _ in range(5):
            route = self._route(url)
            if self._local.watchdog is not None:
                self._local.watchdog.conn = route.conn
            parts = urlsplit(url)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            headers = {"User-Agent": "wheelbundle", "Accept": accept, "Accept-Encoding": encoding}
            if auth := self.credentials.header(url):
                headers["Authorization"] = auth
            route.conn.request(
                method,
                url.partition("#")[0] if route.absolute else target,
                headers={**headers, **route.headers},
            )
            if self._stopping.is_set():  # stopped while connecting: close() missed this socket
                self._drop_connection(url)  # so it is closed here, not left to the collector
                raise FetchFailed(f"could not read {redact(url)}: stopped")
            response = route.conn.getresponse()
            if response.status in (301, 302, 303, 307, 308):
                self._drain(response, url)
                url = urljoin(url, response.getheader("Location", ""))
                continue
            if response.status != 200:
                self._drain(response, url)
                if response.status >= 500:
                    raise OSError(f"HTTP {response.status}")
            return response, url, auth is not None
        raise FetchFailed(f"too many redirects from {redact(url)}")

    def post(
        self, url: str, body: Iterable[bytes], content_type: str, length: int
    ) -> tuple[int, bytes]:
        """POST ``body`` (streamed, ``length`` bytes) to ``url``: its status and answer.

        Sent once, on a fresh connection: a retried upload whose first answer was lost would
        find its own file there and look like a clash. Redirects are not followed.
        """
        self._drop_connection(url)  # the server may have closed a kept-alive one meanwhile
        route = self._route(url)
        parts = urlsplit(url)
        headers = {
            "User-Agent": "wheelbundle",
            "Content-Type": content_type,
            "Content-Length": str(length),
        }
        if auth := self.credentials.header(url):
            headers["Authorization"] = auth
        target = url.partition("#")[0] if route.absolute else (parts.path or "/")
        try:
            with self._watched(url, TIMEOUT + length / MIN_RATE) as watchdog:
                watchdog.conn = route.conn
                route.conn.request("POST", target, body=body, headers={**headers, **route.headers})
                watchdog.extend(TIMEOUT)
                response = route.conn.getresponse()
                return response.status, self._drain(response, url)
        except (OSError, http.client.HTTPException) as exc:
            self._drop_connection(url)
            raise FetchFailed(f"could not send to {redact(url)}: {exc}") from exc

    def size(self, url: str) -> int | None:
        """A file's length as its server states it (a HEAD request), nothing downloaded; None
        when the server does not say, or refuses."""
        parts = urlsplit(url)
        if parts.scheme == "file":
            path = Path(unquote(parts.path))
            return path.stat().st_size if path.is_file() else None
        response = self._head(url, f"could not ask {redact(url)} for its size")
        length = response.getheader("Content-Length", "")
        return int(length) if response.status == 200 and length.isdigit() else None

    def status(self, url: str) -> int:
        """The HTTP status a file's URL answers (a HEAD request, redirects followed)."""
        return self._head(url, f"could not reach {redact(url)}").status

    def _head(self, url: str, failure: str) -> http.client.HTTPResponse:
        def attempt() -> http.client.HTTPResponse:
            with self._watched(url):
                response, _, _ = self._get(url, method="HEAD")
                self._drain(response, url)
                return response

        return self._retrying(attempt, url, failure)

    def check_access(self, urls: Iterable[str]) -> None:
        """Raise AccessRefused for the first of ``urls`` that answers 401 or 403.

        pip skips an index that refuses it without a word and then finds nothing; asked after a
        failed resolution, this names the index and the fix. Unreachable URLs are left to pip's
        own message.
        """
        try:
            for url in urls:
                try:
                    with self._watched(url):
                        response, where, sent = self._get(url, method="HEAD")
                        self._drain(response, url)
                except (OSError, http.client.HTTPException, FetchFailed):
                    self._drop_connection(url)
                    continue
                if response.status in (401, 403):
                    raise AccessRefused(self.refused(where, response.status, sent))
        finally:
            self.close()

    def read_page(self, url: str) -> tuple[str, str] | None:
        """An index page's final URL and text (redirects followed); None when it has none (404)."""
        found = self.read(url, accept="text/html")
        return None if found is None else (found.url, found.text)

    def read(self, url: str, accept: str = "*/*") -> Document | None:
        """A small document, redirects followed; None when there is none (404).

        Compressed in transit where the server offers it: PyPI's pages run to megabytes.
        """

        def attempt() -> tuple[http.client.HTTPResponse, str, bool, bytes]:
            with self._watched(url) as watchdog:
                response, final, sent = self._get(url, accept=accept, encoding="gzip")
                watchdog.extend(body_seconds(response.getheader("Content-Length")))
                body = self._bounded(response, final)
            if response.getheader("Content-Encoding", "").lower() == "gzip":
                body = inflated(body, final)
            return response, final, sent, body

        response, url, sent, body = self._retrying(attempt, url, f"could not read {redact(url)}")
        if response.status == 404:
            return None
        if response.status in (401, 403):
            raise AccessRefused(self.refused(url, response.status, sent))
        if response.status != 200:
            raise FetchFailed(f"could not read {redact(url)}: HTTP {response.status}")
        return Document(
            url, body, response.headers.get_content_type(), response.headers.get_content_charset()
        )

    def _store(
        self, download: Download, response: http.client.HTTPResponse, tee: Tee | None = None
    ) -> Path:
        digest = hashlib.sha256()
        length = response.getheader("Content-Length", "")
        arrived = 0
        with self.cache.incoming() as (out, tmp):
            # Streaming to a tee, hand on what has arrived (read1); else whole chunks.
            read = response.read1 if tee is not None else response.read
            while chunk := read_chunk(read, arrived, length):
                if self._stopping.is_set():
                    raise FetchFailed(f"could not download {download.label}: stopped")
                arrived += len(chunk)
                digest.update(chunk)
                with naming(tmp):
                    out.write(chunk)
                if tee is not None:
                    tee.write(chunk)
            if length.isdigit() and arrived < int(length):  # read1 ends so, not raising
                raise CutShort(arrived, length)
            response.read()  # read1 leaves a finished response open; the connection is kept
            with naming(tmp):
                out.close()
            _check(download, digest.hexdigest())
            return self.cache.adopt(tmp, digest.hexdigest(), download.filename)

    @contextlib.contextmanager
    def _watched(self, url: str, seconds: float | None = None) -> Iterator[_Watchdog]:
        """A deadline over one request made in the block: headers within ``seconds`` (TIMEOUT
        unless given; the block extends it for the body). One that fired is a Stalled error,
        never retried."""
        watchdog = _Watchdog(TIMEOUT if seconds is None else seconds)
        self._local.watchdog = watchdog
        try:
            yield watchdog
        except (OSError, http.client.HTTPException) as exc:
            if not watchdog.fired:
                raise
            self._drop_connection(url)
            raise Stalled(
                f"{redact(url)} answered too slowly: it was given {watchdog.allowed:.0f} s "
                f"(at least {MIN_RATE >> 10} KiB/s); the index or the network is stalled"
            ) from exc
        finally:
            watchdog.cancel()
            self._local.watchdog = None

    def _bounded(self, response: http.client.HTTPResponse, url: str) -> bytes:
        """A document's bytes, refused past MAX_DOCUMENT (its connection then ends)."""
        body = response.read(MAX_DOCUMENT + 1)
        if len(body) > MAX_DOCUMENT:
            self._drop_connection(url)
            raise TooLarge(
                f"{redact(url)} answered with more than {MAX_DOCUMENT >> 20} MB; not read"
            )
        return body

    def _drain(self, response: http.client.HTTPResponse, url: str) -> bytes:
        """The start of an answer we only glance at; a longer one ends its connection."""
        body = response.read(MAX_ANSWER)
        if not response.isclosed():
            self._drop_connection(url)
        return body

    def _route(self, url: str) -> _Route:
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "", parts.port)
        route = self._local.open.get(key)
        if route is None:
            route = self._open(parts)
            self._local.open[key] = route
            with self._lock:
                self._opened.append(route.conn)
        return route

    def _open(self, parts: SplitResult) -> _Route:
        """A connection to the URL's host, directly or through the proxy (tunnelled for HTTPS)."""
        network = self._network_settings()
        host, port = parts.hostname or "", parts.port
        proxy = network.proxy_for(parts.geturl())
        if proxy is None:
            if parts.scheme == "https":
                return _Route(
                    http.client.HTTPSConnection(
                        host, port, timeout=TIMEOUT, context=network.context(parts)
                    ),
                    False,
                    {},
                )
            return _Route(http.client.HTTPConnection(host, port, timeout=TIMEOUT), False, {})
        if proxy.scheme != "http":
            raise FetchFailed(
                f"the proxy {redact(proxy.geturl())} is reached over {proxy.scheme}; "
                "give an http:// proxy (it tunnels HTTPS)"
            )
        login = Location.parse(proxy.geturl()).login
        headers = {"Proxy-Authorization": login.header()} if login else {}
        if parts.scheme == "https":
            tunnel = http.client.HTTPSConnection(
                proxy.hostname or "", proxy.port, timeout=TIMEOUT, context=network.context(parts)
            )
            tunnel.set_tunnel(host, port, headers=headers)
            return _Route(tunnel, False, {})
        conn = http.client.HTTPConnection(proxy.hostname or "", proxy.port, timeout=TIMEOUT)
        return _Route(conn, True, headers)

    def _network_settings(self) -> Network:
        with self._lock:
            if self._settings is None:
                self._settings = self._network()
            return self._settings

    def _drop_connection(self, url: str) -> None:
        parts = urlsplit(url)
        route = self._local.open.pop((parts.scheme, parts.hostname or "", parts.port), None)
        if route is not None:
            route.conn.close()


def _wait_waking(futures: Sequence[Future[Path]]) -> None:
    """Wait for each future in turn (so the first failure in order is raised), waking often.

    A Ctrl-C that Linux hands to a worker thread (blocked in a read) only marks the signal as
    pending; a main thread blocked in an untimed wait would never see it. Waking every quarter
    second, it raises the KeyboardInterrupt within that time (found: 1 run in 20, stuck until
    the 100 MB download ended).
    """
    for future in futures:
        while True:
            try:
                future.result(timeout=0.25)
                break
            except FuturesTimeout:
                continue


def _check(download: Download, actual: str) -> None:
    if download.sha256 and actual != download.sha256:
        raise HashMismatch(
            f"{download.label}: {download.filename} does not match the hash the index published "
            f"(expected sha256 {download.sha256}, got {actual}); the file was discarded. "
            "Someone may have replaced it: check the index before trusting it"
        )
