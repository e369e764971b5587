"""Downloading the files pip chose: once, in parallel, over kept-alive connections, hash-checked.

Each worker thread keeps one connection per host (a fresh connection per file pays a DNS lookup
and a TLS handshake every time, which is slower than pip). A file lands in the cache only after
its bytes matched the hash the index published; otherwise it is discarded.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import netrc
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from wheelbundle.cache import CHUNK, Cache, sha256_file
from wheelbundle.errors import FetchFailed, HashMismatch

RETRIES = 3
TIMEOUT = 60.0

Done = Callable[[], None]
"""Called each time a file is in the cache."""


@dataclass(frozen=True)
class Download:
    """A file to fetch: where from, what its bytes must hash to, what to call it."""

    url: str
    filename: str
    sha256: str | None
    label: str
    """How errors name it: ``name==version``."""


class Credentials:
    """User names and passwords for the indexes pip was given, matched by host.

    pip strips credentials from the URLs in its report; we take them back from the index URLs
    (command line, pip configuration) and from ``~/.netrc``. They are only ever sent, never kept.
    """

    def __init__(self, index_urls: Iterable[str]):
        self._by_host: dict[str, tuple[str, str]] = {}
        for url in index_urls:
            parts = urlsplit(url)
            if parts.username and parts.hostname:
                self._by_host[parts.hostname] = (
                    unquote(parts.username),
                    unquote(parts.password or ""),
                )

    def header(self, host: str) -> str | None:
        pair = self._by_host.get(host) or _netrc_login(host)
        if pair is None:
            return None
        token = base64.b64encode(f"{pair[0]}:{pair[1]}".encode()).decode()
        return f"Basic {token}"


def _netrc_login(host: str) -> tuple[str, str] | None:
    try:
        entry = netrc.netrc().authenticators(host)
    except (OSError, netrc.NetrcParseError):
        return None
    return (entry[0], entry[2] or "") if entry else None


class _Connections(threading.local):
    """Per-thread kept-alive connections, one per (scheme, host, port)."""

    def __init__(self) -> None:
        self.open: dict[tuple[str, str, int | None], http.client.HTTPConnection] = {}


class Fetcher:
    """Fetch many files into a cache, in parallel, each at most once."""

    def __init__(
        self,
        cache: Cache,
        credentials: Credentials,
        *,
        jobs: int = 8,
        cafile: str | None = None,
    ):
        self.cache = cache
        self.credentials = credentials
        self.jobs = jobs
        self._ssl = ssl.create_default_context(cafile=cafile)
        self._local = _Connections()
        self._opened: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every kept-alive connection, whichever thread opened it."""
        with self._lock:
            for conn in self._opened:
                conn.close()
            self._opened.clear()

    def fetch_all(self, downloads: Sequence[Download], done: Done | None = None) -> dict[str, Path]:
        """Return each download's cached path, keyed by URL; raise on the first failure."""
        if not downloads:
            return {}

        def one(download: Download) -> Path:
            path = self.fetch(download)
            if done:
                done()
            return path

        try:
            with ThreadPoolExecutor(max_workers=max(1, self.jobs)) as pool:
                paths = list(pool.map(one, downloads))
        finally:
            self.close()
        return {d.url: p for d, p in zip(downloads, paths, strict=True)}

    def fetch(self, download: Download) -> Path:
        """The file in the cache: found there by hash, copied from disk, or downloaded."""
        if download.sha256 and (hit := self.cache.file(download.sha256, download.filename)):
            return hit
        parts = urlsplit(download.url)
        if parts.scheme == "file":
            return self._from_file(download, Path(unquote(parts.path)))
        for attempt in range(1, RETRIES + 1):
            try:
                return self._from_http(download)
            except (OSError, http.client.HTTPException) as exc:
                self._drop_connection(download.url)
                if attempt == RETRIES:
                    raise FetchFailed(
                        f"could not download {download.label} from {_redact(download.url)}: {exc}"
                    ) from exc
                time.sleep(0.5 * 2 ** (attempt - 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def _from_file(self, download: Download, source: Path) -> Path:
        if not source.is_file():
            raise FetchFailed(f"{download.label}: {source} does not exist")
        actual = sha256_file(source)
        _check(download, actual)
        return self.cache.add_file(source, actual)

    def _from_http(self, download: Download) -> Path:
        url = download.url
        for _ in range(5):  # redirects
            conn, target = self._connection(url)
            headers = {"User-Agent": "wheelbundle", "Accept-Encoding": "identity"}
            host = urlsplit(url).hostname or ""
            if auth := self.credentials.header(host):
                headers["Authorization"] = auth
            conn.request("GET", target, headers=headers)
            response = conn.getresponse()
            if response.status in (301, 302, 303, 307, 308):
                response.read()
                url = urljoin(url, response.getheader("Location", ""))
                continue
            if response.status != 200:
                response.read()
                if response.status >= 500:
                    raise OSError(f"HTTP {response.status}")
                raise FetchFailed(
                    f"could not download {download.label}: HTTP {response.status} from "
                    f"{_redact(url)}"
                    + (" (check the index credentials)" if response.status in (401, 403) else "")
                )
            return self._store(download, response)
        raise FetchFailed(f"could not download {download.label}: too many redirects")

    def read_page(self, url: str) -> tuple[str, str] | None:
        """An index page's final URL and text (redirects followed); None when it has none (404)."""
        for _ in range(5):  # redirects
            conn, target = self._connection(url)
            headers = {"User-Agent": "wheelbundle", "Accept": "text/html"}
            if auth := self.credentials.header(urlsplit(url).hostname or ""):
                headers["Authorization"] = auth
            conn.request("GET", target, headers=headers)
            response = conn.getresponse()
            body = response.read()
            if response.status in (301, 302, 303, 307, 308):
                url = urljoin(url, response.getheader("Location", ""))
                continue
            if response.status == 404:
                return None
            if response.status != 200:
                raise FetchFailed(f"could not read {_redact(url)}: HTTP {response.status}")
            return url, body.decode(response.headers.get_content_charset() or "utf-8", "replace")
        raise FetchFailed(f"could not read {_redact(url)}: too many redirects")

    def _store(self, download: Download, response: http.client.HTTPResponse) -> Path:
        digest = hashlib.sha256()
        with self.cache.incoming() as (out, tmp):
            while chunk := response.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
            out.close()
            _check(download, digest.hexdigest())
            return self.cache.adopt(tmp, digest.hexdigest(), download.filename)

    def _connection(self, url: str) -> tuple[http.client.HTTPConnection, str]:
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "", parts.port)
        conn = self._local.open.get(key)
        if conn is None:
            if parts.scheme == "https":
                conn = http.client.HTTPSConnection(
                    key[1], parts.port, timeout=TIMEOUT, context=self._ssl
                )
            else:
                conn = http.client.HTTPConnection(key[1], parts.port, timeout=TIMEOUT)
            self._local.open[key] = conn
            with self._lock:
                self._opened.append(conn)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        return conn, target or "/"

    def _drop_connection(self, url: str) -> None:
        parts = urlsplit(url)
        conn = self._local.open.pop((parts.scheme, parts.hostname or "", parts.port), None)
        if conn is not None:
            conn.close()


def _check(download: Download, actual: str) -> None:
    if download.sha256 and actual != download.sha256:
        raise HashMismatch(
            f"{download.label}: {download.filename} does not match the hash the index published "
            f"(expected sha256 {download.sha256}, got {actual}); the file was discarded. "
            "Someone may have replaced it: check the index before trusting it"
        )


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.username is None:
        return url
    return url.replace(f"{parts.netloc.rsplit('@', 1)[0]}@", "****@", 1)
