"""The relay between pip and the index: whatever pip downloads while resolving is not fetched again."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from packaging.specifiers import SpecifierSet
from support.bundles import bundle, requirements, unpack
from support.fixtures import MakeIndex
from support.index import LocalIndex
from support.proxy import ForwardProxy

from wheelbundle.cache import Cache
from wheelbundle.format.manifest import Manifest
from wheelbundle.net.credentials import Credentials
from wheelbundle.net.fetch import Document, Fetcher
from wheelbundle.net.simple import PageFile
from wheelbundle.resolve.choose import likely_choice
from wheelbundle.resolve.loopback import PIP_ACCEPT
from wheelbundle.resolve.relay import Relay
from wheelbundle.target import parse_target

APP = ("alpha", "gamma", "delta[fast]", "zeta")


def make(capsys: pytest.CaptureFixture[str], tmp_path: Path, index: LocalIndex, *args: str) -> int:
    req = requirements(tmp_path / "shop", *APP)
    return bundle(
        capsys,
        "make",
        req,
        "-o",
        tmp_path / "dist",
        "--index-url",
        index.url,
        "--cache-dir",
        tmp_path / "cache",
        "-q",
        *args,
    ).code


def files_fetched(index: LocalIndex) -> Counter[str]:
    return Counter({p: n for p, n in index.requests.items() if p.startswith("/files/")})


@pytest.mark.parametrize("metadata", [False, True], ids=["no-metadata", "metadata"])
def test_each_file_is_downloaded_from_the_index_once_whatever_the_index_serves(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    packages_dir: Path,
    make_index: MakeIndex,
    metadata: bool,
) -> None:
    index = make_index(*packages_dir.iterdir(), metadata=metadata)
    assert make(capsys, tmp_path, index) == 0
    fetched = files_fetched(index)
    wheels = {p for p in fetched if not p.endswith(".metadata")}
    assert {n for p, n in fetched.items() if p in wheels} == {1}, fetched
    (archive,) = (tmp_path / "dist").glob("*.tar.gz")
    manifest = Manifest.from_yaml((unpack(archive, tmp_path / "x") / "manifest.yaml").read_text())
    from_index = {f"/files/{p.wheel}" for p in manifest.packages if p.origin == "index-wheel"}
    assert from_index <= wheels
    metadata_read = {p for p in fetched if p.endswith(".metadata")}
    if metadata:  # pip read the wheels' metadata, not the wheels
        assert {f"{w}.metadata" for w in from_index} <= metadata_read
    else:
        assert not metadata_read


def test_the_bundle_and_the_kept_resolution_name_the_index_not_the_relay(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, packages_dir: Path, make_index: MakeIndex
) -> None:
    index = make_index(*packages_dir.iterdir(), metadata=False)
    assert make(capsys, tmp_path, index) == 0
    (archive,) = (tmp_path / "dist").glob("*.tar.gz")
    manifest = Manifest.from_yaml((unpack(archive, tmp_path / "x") / "manifest.yaml").read_text())
    urls = [p.source_url for p in manifest.packages if p.origin != "local"]
    assert urls and all(url.startswith(index.file_url("")) for url in urls)
    (kept,) = (tmp_path / "cache" / "resolutions").rglob("*.json")
    report = json.loads(kept.read_text())
    assert all(
        item["download_info"]["url"].startswith(index.file_url("")) for item in report["install"]
    )


def test_a_rebuild_after_the_resolution_expired_downloads_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, packages_dir: Path, make_index: MakeIndex
) -> None:
    index = make_index(*packages_dir.iterdir(), metadata=False)
    assert make(capsys, tmp_path, index) == 0
    index.reset_requests()
    assert make(capsys, tmp_path, index, "--refresh") == 0
    assert files_fetched(index) == Counter()
    assert any(p.startswith("/simple/") for p in index.requests)  # pip did resolve again


def test_a_file_that_does_not_match_its_hash_is_refused_by_name_and_not_kept(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, packages_dir: Path, make_index: MakeIndex
) -> None:
    index = make_index(*packages_dir.iterdir(), metadata=False)
    index.tamper("beta-2.0-py3-none-any.whl")
    req = requirements(tmp_path / "shop", "alpha")
    cache = tmp_path / "cache"
    run = bundle(
        capsys, "make", req, "-o", tmp_path / "dist", "--index-url", index.url,
        "--cache-dir", cache, "-q",
    )  # fmt: skip
    assert run.code == 1
    (line,) = run.err.splitlines()
    assert "beta-2.0-py3-none-any.whl does not match the hash the index published" in line
    assert not list(cache.glob("files/**/beta-2.0-py3-none-any.whl"))
    assert not list((tmp_path / "dist").glob("*"))


def test_an_index_that_asks_for_credentials_is_named_with_the_fix(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, packages_dir: Path, make_index: MakeIndex
) -> None:
    index = make_index(*packages_dir.iterdir(), username="ops", password="s3cret")
    run = bundle(
        capsys, "make", requirements(tmp_path / "shop", "alpha"), "-o", tmp_path / "dist",
        "--index-url", index.url, "--cache-dir", tmp_path / "cache", "-q",
    )  # fmt: skip
    assert run.code == 1
    (line,) = run.err.splitlines()
    assert f"the index at 127.0.0.1:{index.port} asks for credentials (HTTP 401)" in line


def test_pages_point_pip_back_at_the_relay_and_keep_what_pip_reads(tmp_path: Path) -> None:
    page = (
        '<a href="../../files/a-1.0-py3-none-any.whl#sha256=AB12" data-requires-python="&gt;=3.8"'
        ' data-core-metadata="sha256=cd34">a-1.0-py3-none-any.whl</a>\n'
        "<a href='https://files.example/x/a-1.0.tar.gz#sha256=" + "e" * 64 + "'>a-1.0.tar.gz</a>\n"
        '<a href="https://pypi.example/files/a-0.9.tar.gz">a-0.9.tar.gz</a>\n'
        '<a href="/files/a-0.8.tar.gz">a-0.8.tar.gz</a>\n'
    )

    def read(url: str, accept: str = "*/*") -> Document | None:
        return Document(url.replace("/A/", "/a/"), page.encode(), "text/html")

    fetcher = Fetcher(Cache(tmp_path), Credentials())
    fetcher.read = read  # type: ignore[method-assign]
    with Relay(["https://pypi.example/simple"], fetcher) as relay:
        (index,) = relay.index_urls
        assert index.startswith(f"{relay.base}/o/") and len(relay.base) > len(relay.root) + 40
        assert relay.original(index) == "https://pypi.example/simple/"
        assert relay.page(relay.original(index + "A/"))[0] == "https://pypi.example/simple/a/"
        _, served, kind = relay.page(relay.original(index + "a/"))
        assert kind == "text/html"
        text = (served or b"").decode()
        relative, sdist, old, rooted = (h for _, h in re.findall(r"href=([\"'])(.*?)\1", text))
        assert relative == "../../files/a-1.0-py3-none-any.whl#sha256=AB12"  # untouched
        assert relay.original(sdist.partition("#")[0]) == "https://files.example/x/a-1.0.tar.gz"
        assert relay.original(old) == "https://pypi.example/files/a-0.9.tar.gz"
        assert relay.original(urljoin(index, rooted)) == "https://pypi.example/files/a-0.8.tar.gz"
        assert 'data-requires-python="&gt;=3.8" data-core-metadata="sha256=cd34"' in text
        assert relay.download("https://files.example/x/a-1.0.tar.gz").sha256 == "e" * 64
        assert relay.download("https://pypi.example/files/a-0.9.tar.gz").sha256 is None


def test_a_json_page_is_passed_on_as_json_with_its_file_urls_mirrored(tmp_path: Path) -> None:
    """PEP 691: pip asks for JSON first and reads it faster than HTML."""
    digest = "e" * 64
    page = json.dumps(
        {
            "meta": {"api-version": "1.1"},
            "name": "a",
            "files": [
                {"filename": "a-1.0.tar.gz", "url": "https://files.example/x/a-1.0.tar.gz",
                 "hashes": {"sha256": digest}},
                {"filename": "a-0.8.tar.gz", "url": "/files/a-0.8.tar.gz", "hashes": {}},
            ],
        }
    )  # fmt: skip
    asked: list[str] = []

    def read(url: str, accept: str = "*/*") -> Document | None:
        asked.append(accept)
        return Document(url, page.encode(), "application/vnd.pypi.simple.v1+json")

    fetcher = Fetcher(Cache(tmp_path), Credentials())
    fetcher.read = read  # type: ignore[method-assign]
    with Relay(["https://pypi.example/simple"], fetcher) as relay:
        _, served, kind = relay.page("https://pypi.example/simple/a/", PIP_ACCEPT)
        assert kind == "application/vnd.pypi.simple.v1+json"
        assert asked == [PIP_ACCEPT]
        sdist, rooted = (f["url"] for f in json.loads(served or b"")["files"])
        assert relay.original(sdist) == "https://files.example/x/a-1.0.tar.gz"
        assert relay.original(relay.root + rooted) == "https://pypi.example/files/a-0.8.tar.gz"
        assert relay.download("https://files.example/x/a-1.0.tar.gz").sha256 == digest


def test_the_pages_of_a_wheel_s_dependencies_are_read_once_ahead_of_pip(tmp_path: Path) -> None:
    read: list[str] = []

    def reading(url: str, accept: str = "*/*") -> Document | None:
        read.append(url)
        return Document(url, b"", "text/html")

    fetcher = Fetcher(Cache(tmp_path), Credentials())
    fetcher.read = reading  # type: ignore[method-assign]
    metadata = Message()
    for requirement in ("Beta_Two>=1", 'gamma; python_version >= "3"', 'delta; extra == "fast"'):
        metadata["Requires-Dist"] = requirement
    with Relay(["https://one.example/simple", "https://two.example/simple/"], fetcher) as relay:
        relay.page("https://one.example/simple/gamma/")  # pip asked for it before
        relay.read_ahead(metadata)
        relay.read_ahead(metadata)  # a second wheel with the same dependencies
        relay.page("https://one.example/simple/beta-two/")
        relay.page("https://two.example/simple/beta-two/")
        relay.page("https://two.example/simple/gamma/")
    assert sorted(read) == [  # each once; none of delta's, which only an extra needs
        "https://one.example/simple/beta-two/",
        "https://one.example/simple/gamma/",
        "https://two.example/simple/beta-two/",
        "https://two.example/simple/gamma/",
    ]


def test_behind_a_proxy_the_relay_goes_through_it_and_pip_reaches_the_relay_directly(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    packages_dir: Path,
    make_index: MakeIndex,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    index = make_index(*packages_dir.iterdir(), metadata=False)
    with ForwardProxy() as proxy:
        monkeypatch.setenv("http_proxy", proxy.url)
        monkeypatch.setenv("no_proxy", "")
        assert make(capsys, tmp_path, index) == 0
    index_base = index.url.removesuffix("/simple/")
    assert proxy.seen and all(url.startswith(index_base) for url in proxy.seen)
    assert f"{index_base}/simple/alpha/" in proxy.seen
    fetched = files_fetched(index)
    assert set(fetched.values()) == {1}
    assert {f"{index_base}{path}" for path in fetched} <= set(proxy.seen)


def test_an_https_index_is_checked_against_the_ca_bundle_in_pip_conf(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    packages_dir: Path,
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conf = tmp_path / "pip.conf"
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    with LocalIndex(packages_dir, tls=certificate) as index:
        conf.write_text("[global]\ntimeout = 5\n")
        refused = bundle(
            capsys, "make", requirements(tmp_path / "shop", "alpha"), "-o", tmp_path / "dist",
            "--index-url", index.url, "--cache-dir", tmp_path / "cache", "-q",
        )  # fmt: skip
        assert refused.code == 1
        assert "CERTIFICATE_VERIFY_FAILED" in refused.err and "cert = in pip.conf" in refused.err
        conf.write_text(f"[global]\ncert = {certificate[0]}\n")
        assert make(capsys, tmp_path, index) == 0


def test_an_untrusted_certificate_is_named_when_pip_reads_the_index_itself(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    packages_dir: Path,
    certificate: tuple[Path, Path],
) -> None:
    """pip retries the index, then says "no matching distribution": the cause must not be lost."""
    (tmp_path / "links").mkdir()  # a --find-links: pip reads the index itself, not the relay
    with LocalIndex(packages_dir, tls=certificate) as index:
        refused = bundle(
            capsys, "make", requirements(tmp_path / "shop", "alpha"), "-o", tmp_path / "dist",
            "--index-url", index.url, "--find-links", tmp_path / "links",
            "--cache-dir", tmp_path / "cache", "-q",
        )  # fmt: skip
    assert refused.code == 1
    assert re.fullmatch(  # OpenSSL 1.1 writes "self signed", 3.x "self-signed"
        r"error: cannot trust the package index's certificate \(CERTIFICATE_VERIFY_FAILED: "
        r"certificate verify failed: self.signed certificate\); give pip the CA that signed it "
        r"\(PIP_CERT, or cert = in pip.conf\)\n",
        refused.err,
    )


def test_a_trusted_host_is_relayed_without_its_certificate_checked_as_pip_would(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    packages_dir: Path,
    certificate: tuple[Path, Path],
) -> None:
    with LocalIndex(packages_dir, tls=certificate, metadata=False) as index:
        assert make(capsys, tmp_path, index, "--trusted-host", "127.0.0.1") == 0
        assert set(files_fetched(index).values()) == {1}


def test_verbose_says_that_pip_reads_the_index_through_the_relay(
    capfd: pytest.CaptureFixture[str], tmp_path: Path, index: LocalIndex
) -> None:
    made = bundle(
        capfd, "make", requirements(tmp_path / "shop", "alpha"), "-o", tmp_path / "dist",
        "--index-url", index.url, "--cache-dir", tmp_path / "cache", "--verbose",
    )  # fmt: skip
    assert made.code == 0
    assert f"pip reads {index.url} through a relay at http://127.0.0.1:" in made.err


class _SlowFile(BaseHTTPRequestHandler):
    """One page and one file; the file's second half waits for ``gate``. ``body`` is served
    under the page's hash of ``promised``."""

    protocol_version = "HTTP/1.1"
    body = os.urandom(300_000)
    promised = body
    gate = threading.Event()

    def do_GET(self) -> None:
        if self.path == "/simple/slow/":
            digest = hashlib.sha256(self.promised).hexdigest()
            data = f'<a href="/f/slow-1.0-py3-none-any.whl#sha256={digest}">w</a>'.encode()
        else:
            data = self.body
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        half = len(data) // 2
        self.wfile.write(data[:half])
        if self.path != "/simple/slow/":
            self.gate.wait(30)
        self.wfile.write(data[half:])

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def _slow_index(promised: bytes) -> Iterator[tuple[str, type[_SlowFile]]]:
    class handler(_SlowFile):  # a gate of its own for each index
        gate = threading.Event()

    handler.promised = promised
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        handler.gate.set()
        server.shutdown()
        server.server_close()


@contextmanager
def _file_through(relay: Relay, base: str) -> Iterator[http.client.HTTPResponse]:
    """The relay's answer to pip's request for the file, after pip read the page."""
    relay.page(f"{base}/simple/slow/")  # the relay learns the file's hash from it
    conn = http.client.HTTPConnection("127.0.0.1", int(relay.root.rsplit(":", 1)[1]), timeout=30)
    try:
        conn.request("GET", urlsplit(relay.mirrored(f"{base}/f/slow-1.0-py3-none-any.whl")).path)
        yield conn.getresponse()
    finally:
        conn.close()


def test_pip_gets_a_file_s_bytes_as_they_arrive_and_the_cache_keeps_it(tmp_path: Path) -> None:
    with _slow_index(_SlowFile.body) as (base, handler):
        fetcher = Fetcher(Cache(tmp_path), Credentials())
        with Relay([f"{base}/simple"], fetcher) as relay, _file_through(relay, base) as response:
            assert response.getheader("Content-Length") == str(len(handler.body))
            first = response.read(100_000)  # while the index still holds back the second half
            assert first == handler.body[:100_000]
            handler.gate.set()
            assert first + response.read() == handler.body
        digest = hashlib.sha256(handler.body).hexdigest()
        assert Cache(tmp_path).file(digest, "slow-1.0-py3-none-any.whl") is not None


def test_a_streamed_file_that_fails_its_hash_reaches_pip_cut_short_and_is_not_kept(
    tmp_path: Path,
) -> None:
    with _slow_index(b"other bytes") as (base, handler):
        handler.gate.set()
        fetcher = Fetcher(Cache(tmp_path), Credentials())
        with Relay([f"{base}/simple"], fetcher) as relay, _file_through(relay, base) as response:
            with pytest.raises(http.client.IncompleteRead):
                response.read()
            assert relay.failure is not None
            assert "does not match the hash the index published" in str(relay.failure)
    assert not list(tmp_path.glob("files/**/slow-1.0-py3-none-any.whl"))


def test_the_file_read_ahead_is_the_one_pip_s_finder_would_take() -> None:
    def wheel(version: str, tag: str = "py3-none-any", **kw: Any) -> PageFile:
        name = f"a-{version}-{tag}.whl"
        return PageFile(name, f"https://f.example/{name}", None, kw.get("rp"), kw.get("y"))

    target = parse_target("cp311-manylinux_2_28_x86_64")
    page = [
        wheel("1.0"),
        wheel("2.0"),
        wheel("2.0", "cp311-cp311-manylinux_2_17_x86_64"),  # a better tag than py3-none-any
        wheel("2.0", "cp312-cp312-manylinux_2_17_x86_64"),  # not for this Python
        wheel("2.1", rp=">=3.12"),  # Requires-Python the target does not meet
        wheel("2.5", y="broken"),  # yanked
        wheel("3.0rc1"),  # a pre-release
        PageFile("a-2.0.tar.gz", "https://f.example/a-2.0.tar.gz", None, None, None),
    ]
    best = likely_choice(page, SpecifierSet(), target)
    assert best is not None and best.filename == "a-2.0-cp311-cp311-manylinux_2_17_x86_64.whl"
    older = likely_choice(page, SpecifierSet("<2"), target)
    assert older is not None and older.filename == "a-1.0-py3-none-any.whl"
    pre = likely_choice(page, SpecifierSet(">=3.0rc1"), target)
    assert pre is not None and pre.filename == "a-3.0rc1-py3-none-any.whl"
    sdist_only = [PageFile("a-4.0.tar.gz", "https://f.example/a-4.0.tar.gz", None, None, None)]
    assert likely_choice([*page, *sdist_only], SpecifierSet(), target) is None  # pip builds it


def test_dependencies_files_are_read_ahead_and_the_bundle_reports_what_it_did_not_need(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, packages_dir: Path, make_index: MakeIndex
) -> None:
    index = make_index(*packages_dir.iterdir(), metadata=True)
    req = requirements(tmp_path / "shop", *APP)
    run = bundle(
        capsys, "make", req, "-o", tmp_path / "dist", "--index-url", index.url,
        "--cache-dir", tmp_path / "cache",
    )  # fmt: skip
    assert run.code == 0, run.err
    (line,) = [x for x in run.err.splitlines() if "ahead of pip" in x]
    read, unused = map(int, re.findall(r"read (\d+) files ahead of pip; (\d+) not needed", line)[0])
    assert read > 0 and unused == 0  # pip read only metadata: every wheel came ahead of the collect
    assert set(files_fetched(index).values()) == {1}
