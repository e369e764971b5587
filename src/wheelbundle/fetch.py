"""Downloading the files pip chose: once, in parallel, over kept-alive connections, hash-checked.

Each worker thread keeps one connection per host (a fresh connection per file pays a DNS lookup
and a TLS handshake every time, which is slower than pip). A file lands in the cache only after
its bytes matched the hash the index published; otherwise it is discarded.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from wheelbundle.cache import CHUNK, Cache, sha256_file
from wheelbundle.credentials import Credentials, redact, refused_message
from wheelbundle.errors import AccessRefused, FetchFailed, HashMismatch

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
        self._cafile = cafile
        self._ssl: ssl.SSLContext | None = None
        """Made at the first HTTPS connection: loading the CAs costs a rebuild 25 ms."""
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
                        f"could not download {download.label} from {redact(download.url)}: {exc}"
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
        try:
            response, url, sent = self._get(download.url)
        except FetchFailed as exc:
            raise FetchFailed(f"could not download {download.label}: {exc}") from exc
        if response.status in (401, 403):
            raise AccessRefused(
                f"could not download {download.label}: "
                + refused_message(url, response.status, sent)
            )
        if response.status != 200:
            raise FetchFailed(
                f"could not download {download.label}: HTTP {response.status} from {redact(url)}"
            )
        return self._store(download, response)

    def _get(
        self, url: str, method: str = "GET", accept: str = "*/*", encoding: str = "identity"
    ) -> tuple[http.client.HTTPResponse, str, bool]:
        """The response (its body unread when 200), the URL it came from, whether we logged in.

        Redirects are followed; credentials are sent only to the host they belong to. A server
        error raises OSError, so that the caller may retry.
        """
        for _ in range(5):
            conn, target = self._connection(url)
            headers = {"User-Agent": "wheelbundle", "Accept": accept, "Accept-Encoding": encoding}
            if auth := self.credentials.header(url):
                headers["Authorization"] = auth
            conn.request(method, target, headers=headers)
            response = conn.getresponse()
            if response.status in (301, 302, 303, 307, 308):
                response.read()
                url = urljoin(url, response.getheader("Location", ""))
                continue
            if response.status != 200:
                response.read()
                if response.status >= 500:
                    raise OSError(f"HTTP {response.status}")
            return response, url, auth is not None
        raise FetchFailed(f"too many redirects from {redact(url)}")

    def check_access(self, urls: Iterable[str]) -> None:
        """Raise AccessRefused for the first of ``urls`` that answers 401 or 403.

        pip skips an index that refuses it without a word and then finds nothing; asked after a
        failed resolution, this names the index and the fix. Unreachable URLs are left to pip's
        own message.
        """
        try:
            for url in urls:
                try:
                    response, where, sent = self._get(url, method="HEAD")
                except (OSError, http.client.HTTPException, FetchFailed):
                    self._drop_connection(url)
                    continue
                response.read()
                if response.status in (401, 403):
                    raise AccessRefused(refused_message(where, response.status, sent))
        finally:
            self.close()

    def read_page(self, url: str) -> tuple[str, str] | None:
        """An index page's final URL and text (redirects followed); None when it has none (404)."""
        found = self.read(url, accept="text/html")
        if found is None:
            return None
        url, body, charset = found
        return url, body.decode(charset or "utf-8", "replace")

    def read(self, url: str, accept: str = "*/*") -> tuple[str, bytes, str | None] | None:
        """A small document's final URL, bytes and charset; None when there is none (404).

        Compressed in transit where the server offers it: PyPI's pages run to megabytes.
        """
        try:
            response, url, sent = self._get(url, accept=accept, encoding="gzip")
            body = response.read()
            if response.getheader("Content-Encoding", "").lower() == "gzip":
                body = gzip.decompress(body)
        except (OSError, EOFError, http.client.HTTPException) as exc:
            self._drop_connection(url)
            raise FetchFailed(f"could not read {redact(url)}: {exc}") from exc
        if response.status == 404:
            return None
        if response.status in (401, 403):
            raise AccessRefused(refused_message(url, response.status, sent))
        if response.status != 200:
            raise FetchFailed(f"could not read {redact(url)}: HTTP {response.status}")
        return url, body, response.headers.get_content_charset()

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
                    key[1], parts.port, timeout=TIMEOUT, context=self._ssl_context()
                )
            else:
                conn = http.client.HTTPConnection(key[1], parts.port, timeout=TIMEOUT)
            self._local.open[key] = conn
            with self._lock:
                self._opened.append(conn)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        return conn, target or "/"

    def _ssl_context(self) -> ssl.SSLContext:
        with self._lock:
            if self._ssl is None:
                self._ssl = ssl.create_default_context(cafile=self._cafile)
            return self._ssl

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
