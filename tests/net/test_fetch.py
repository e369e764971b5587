"""Fetching: every byte checked against the published hash, each file fetched once."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import certifi
import pytest
from support.bundles import bundle, requirements
from support.index import LocalIndex
from support.packages import make_wheel
from support.proxy import ForwardProxy

from wheelbundle.cache import Cache
from wheelbundle.errors import AccessRefused, FetchFailed, HashMismatch, UsageError
from wheelbundle.net.credentials import Credentials
from wheelbundle.net.fetch import Download, Fetcher
from wheelbundle.net.network import Network, pip_network
from wheelbundle.review.verify import verify_bundle


def download_of(index: LocalIndex, wheel: Path) -> Download:
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    return Download(index.file_url(wheel.name), wheel.name, digest, "pkg==1.0")


def test_files_land_in_the_cache_under_their_hash_and_are_fetched_once(
    make_index: object, tmp_path: Path
) -> None:
    wheels = [make_wheel(tmp_path / "src", f"pkg{i}", "1.0") for i in range(5)]
    index: LocalIndex = make_index(*wheels)  # type: ignore[operator]
    fetcher = Fetcher(Cache(tmp_path / "cache"), Credentials([]), jobs=3)
    downloads = [download_of(index, w) for w in wheels]
    paths = fetcher.fetch_all(downloads)
    for d in downloads:
        assert hashlib.sha256(paths[d.url].read_bytes()).hexdigest() == d.sha256
        assert paths[d.url].name == d.filename
    index.reset_requests()
    assert fetcher.fetch_all(downloads) == paths
    assert sum(index.requests.values()) == 0


def test_a_cached_file_damaged_on_disk_is_fetched_again_never_packed(
    capsys: pytest.CaptureFixture[str], index: LocalIndex, tmp_path: Path
) -> None:
    def make() -> Path:
        made = bundle(
            capsys, "make", requirements(tmp_path / "app", "alpha"), "-o", tmp_path / "dist",
            "--index-url", index.url, "--cache-dir", tmp_path / "cache", "-q", "--refresh",
        )  # fmt: skip
        assert made.code == 0, made.err
        return made.archive

    make().unlink()
    [cached] = (tmp_path / "cache" / "files").rglob("alpha-1.0-py3-none-any.whl")
    damaged = bytearray(cached.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    cached.write_bytes(bytes(damaged))
    index.reset_requests()
    verify_bundle(make())
    assert index.requests[urlsplit(index.file_url(cached.name)).path] == 1
    assert cached.parent.name == hashlib.sha256(cached.read_bytes()).hexdigest()


def test_a_tampered_file_is_refused_and_not_kept(make_index: object, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "src", "pkg", "1.0")
    index: LocalIndex = make_index(wheel)  # type: ignore[operator]
    index.tamper(wheel.name)
    cache = Cache(tmp_path / "cache")
    with (
        Fetcher(cache, Credentials([])) as fetcher,
        pytest.raises(HashMismatch, match=r"pkg==1.0: pkg-1.0-py3-none-any.whl does not match"),
    ):
        fetcher.fetch(download_of(index, wheel))
    assert not [p for p in cache.root.rglob("*") if p.is_file()]


def test_credentials_come_from_the_index_url_and_are_sent(
    make_index: object, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path / "src", "pkg", "1.0")
    index: LocalIndex = make_index(wheel, username="alice", password="s3cret")  # type: ignore[operator]
    download = download_of(index, wheel)
    with (
        Fetcher(Cache(tmp_path / "c1"), Credentials([])) as anonymous,
        pytest.raises(AccessRefused, match=r"asks for credentials \(HTTP 401\)"),
    ):
        anonymous.fetch(download)
    credentials = Credentials([index.url_with_auth("alice", "s3cret")])
    with Fetcher(Cache(tmp_path / "c2"), credentials) as fetcher:
        assert fetcher.fetch(download).read_bytes() == wheel.read_bytes()


def test_a_local_file_url_is_copied_and_checked(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "src", "pkg", "1.0")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    fetcher = Fetcher(Cache(tmp_path / "cache"), Credentials([]))
    got = fetcher.fetch(Download(wheel.as_uri(), wheel.name, digest, "pkg==1.0"))
    assert got.read_bytes() == wheel.read_bytes()
    with pytest.raises(HashMismatch):
        fetcher.fetch(Download(wheel.as_uri(), wheel.name, "0" * 64, "pkg==1.0"))


def test_an_unreachable_host_fails_with_the_package_named(tmp_path: Path) -> None:
    download = Download(
        "http://127.0.0.1:9/files/pkg-1.0.tar.gz", "pkg-1.0.tar.gz", None, "pkg==1.0"
    )
    with (
        Fetcher(Cache(tmp_path / "cache"), Credentials([])) as fetcher,
        pytest.raises(FetchFailed, match="could not download pkg==1.0"),
    ):
        fetcher.fetch(download)


@pytest.mark.parametrize("bypass", [False, True], ids=["proxied", "no_proxy"])
def test_downloads_go_through_the_proxy_of_the_environment_unless_no_proxy_names_the_host(
    make_index: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bypass: bool
) -> None:
    wheel = make_wheel(tmp_path / "src", "pkg", "1.0")
    index: LocalIndex = make_index(wheel)  # type: ignore[operator]
    with ForwardProxy() as proxy:
        monkeypatch.setenv("http_proxy", proxy.url)
        monkeypatch.setenv("no_proxy", "127.0.0.1" if bypass else "")
        with Fetcher(Cache(tmp_path / "cache"), Credentials([])) as fetcher:
            path = fetcher.fetch(download_of(index, wheel))
    assert path.read_bytes() == wheel.read_bytes()
    assert proxy.seen == ([] if bypass else [index.file_url(wheel.name)])


def test_pip_s_own_proxy_setting_wins_and_its_login_is_sent(
    make_index: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = make_wheel(tmp_path / "src", "pkg", "1.0")
    index: LocalIndex = make_index(wheel)  # type: ignore[operator]
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # nothing listens there
    with ForwardProxy("ops", "s3cret") as proxy:
        login = proxy.url.replace("http://", "http://ops:s3cret@")
        with Fetcher(
            Cache(tmp_path / "cache"), Credentials([]), network=lambda: Network(proxy=login)
        ) as fetcher:
            fetcher.fetch(download_of(index, wheel))
    assert proxy.seen == [index.file_url(wheel.name)]


@pytest.mark.parametrize(
    "trust", ["pip's CA bundle", "system CAs", "trusted host"], ids=lambda trust: trust
)
def test_https_goes_through_the_proxy_in_a_tunnel_checked_as_pip_checks_it(
    tmp_path: Path, certificate: tuple[Path, Path], trust: str
) -> None:
    wheel = make_wheel(tmp_path / "src", "pkg", "1.0")
    cafile = str(certificate[0]) if trust == "pip's CA bundle" else None
    trusted = frozenset({"127.0.0.1"} if trust == "trusted host" else ())
    with (
        LocalIndex(wheel.parent, tls=certificate) as index,
        ForwardProxy() as proxy,
        Fetcher(
            Cache(tmp_path / "cache"),
            Credentials([]),
            network=lambda: Network(cafile=cafile, proxy=proxy.url, trusted_hosts=trusted),
        ) as fetcher,
    ):
        download = download_of(index, wheel)
        if trust != "system CAs":
            assert fetcher.fetch(download).read_bytes() == wheel.read_bytes()
        else:
            with pytest.raises(FetchFailed, match="CERTIFICATE_VERIFY_FAILED.*PIP_CERT"):
                fetcher.fetch(download)
    assert proxy.seen[0] == f"CONNECT 127.0.0.1:{index.port}"


def test_a_request_begun_after_stop_fails_and_leaves_no_socket_open(
    tmp_path: Path, index: LocalIndex
) -> None:
    """A read-ahead still starting when its relay stopped: its connection is closed at once, not
    left for the garbage collector (which warns, at a random later moment)."""
    import gc

    fetcher = Fetcher(Cache(tmp_path), Credentials())
    fetcher.stop()
    with pytest.raises(FetchFailed, match="stopped"):
        fetcher.read(f"{index.url}alpha/")
    gc.collect()  # an unclosed socket warns here, which this suite makes an error


def test_an_index_that_asks_for_a_client_certificate_gets_pip_s(
    tmp_path: Path, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mutual TLS, as pip does it with PIP_CLIENT_CERT (one PEM file: certificate and key): the
    fetcher shows the same certificate, so the relay reaches an index pip itself could."""
    client = tmp_path / "client"
    client.mkdir()
    cert, key = client / "cert.pem", client / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=builder", "-keyout", key, "-out", cert],
        check=True, capture_output=True,
    )  # fmt: skip
    both = client / "both.pem"
    both.write_bytes(cert.read_bytes() + key.read_bytes())
    monkeypatch.setenv("PIP_CLIENT_CERT", str(both))
    monkeypatch.setenv("PIP_CERT", str(certificate[0]))
    network = pip_network(lambda: "")
    assert network.client_cert == str(both)
    wheel = make_wheel(tmp_path / "src", "pkg", "1.0")
    with LocalIndex(wheel.parent, tls=certificate, client_ca=cert) as index:
        with Fetcher(Cache(tmp_path / "a"), Credentials([]), network=lambda: network) as fetcher:
            assert fetcher.fetch(download_of(index, wheel)).read_bytes() == wheel.read_bytes()
        anonymous = Network(cafile=str(certificate[0]))
        with (
            Fetcher(Cache(tmp_path / "b"), Credentials([]), network=lambda: anonymous) as fetcher,
            pytest.raises(FetchFailed),
        ):
            fetcher.fetch(download_of(index, wheel))
    broken = Network(client_cert=str(tmp_path / "missing.pem"))
    with pytest.raises(UsageError, match=r"missing.pem \(PIP_CLIENT_CERT, or client-cert in"):
        broken.context(urlsplit("https://127.0.0.1/"))


def test_a_private_ca_in_the_system_store_is_trusted_as_pip_trusts_it(
    tmp_path: Path, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CA that only the system store holds (here the store OpenSSL is pointed at, as
    ca-certificates or a corporate image installs one), with no PIP_CERT: trusted, as pip's
    truststore trusts it on Linux; a store without it fails with the fix named."""
    wheel = make_wheel(tmp_path / "src", "pkg", "1.0")
    with LocalIndex(wheel.parent, tls=certificate) as index:
        monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
        with Fetcher(Cache(tmp_path / "a"), Credentials([]), network=Network) as fetcher:
            assert fetcher.fetch(download_of(index, wheel)).read_bytes() == wheel.read_bytes()
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "empty.pem"))
        (tmp_path / "empty.pem").write_text("")
        with (
            Fetcher(Cache(tmp_path / "b"), Credentials([]), network=Network) as fetcher,
            pytest.raises(FetchFailed, match="CERTIFICATE_VERIFY_FAILED.*PIP_CERT"),
        ):
            fetcher.fetch(download_of(index, wheel))


def test_certifi_s_bundle_is_trusted_where_the_system_store_is_empty(
    tmp_path: Path, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slim container with no ca-certificates: pip still reaches PyPI through certifi's
    bundle, which it loads beside the system store, and so does the fetcher (here certifi's
    bundle is the test CA; the system store is empty)."""
    (tmp_path / "empty.pem").write_text("")
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "empty.pem"))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    monkeypatch.setattr(certifi, "where", lambda: str(certificate[0]))
    wheel = make_wheel(tmp_path / "src", "pkg", "1.0")
    with (
        LocalIndex(wheel.parent, tls=certificate) as index,
        Fetcher(Cache(tmp_path / "a"), Credentials([]), network=Network) as fetcher,
    ):
        assert fetcher.fetch(download_of(index, wheel)).read_bytes() == wheel.read_bytes()


def test_pip_s_ca_bundle_comes_from_pip_or_from_the_variables_requests_reads(
    tmp_path: Path, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """pip's requests takes REQUESTS_CA_BUNDLE (or CURL_CA_BUNDLE) when pip has no cert of its
    own; a bundle that cannot be read is a one-line usage error naming the setting."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))
    assert pip_network(lambda: "").cafile == str(certificate[0])
    monkeypatch.setenv("PIP_CERT", str(tmp_path / "pip.pem"))
    assert pip_network(lambda: "").cafile == str(tmp_path / "pip.pem")
    with pytest.raises(UsageError, match=r"pip.pem \(PIP_CERT, or cert in pip.conf\) cannot"):
        pip_network(lambda: "").context(urlsplit("https://127.0.0.1/"))
