"""The relay between pip and the index: whatever pip downloads while resolving is not fetched again."""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from bundles import bundle, requirements, unpack
from conftest import MakeIndex
from index import LocalIndex

from wheelbundle.cache import Cache
from wheelbundle.credentials import Credentials
from wheelbundle.fetch import Fetcher
from wheelbundle.manifest import Manifest
from wheelbundle.relay import Relay

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
    assert {n for p, n in fetched.items() if p in wheels} == {1}
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
        '<a href="../../files/a-1.0-py3-none-any.whl#sha256=ab12" data-requires-python="&gt;=3.8"'
        ' data-core-metadata="sha256=cd34">a-1.0-py3-none-any.whl</a>\n'
        "<a href='https://files.example/x/a-1.0.tar.gz'>a-1.0.tar.gz</a>\n"
    )
    fetcher = Fetcher(Cache(tmp_path), Credentials())
    fetcher.read_page = lambda url: (url, page)  # type: ignore[method-assign]
    with Relay(["https://pypi.example/simple"], fetcher) as relay:
        rewritten = (relay.page(0, "a/") or b"").decode()
        wheel, sdist = (html.unescape(h) for _, h in re.findall(r"href=([\"'])(.*?)\1", rewritten))
        assert wheel.startswith(f"{relay.base}/file/ab12/")
        assert wheel.endswith("/a-1.0-py3-none-any.whl#sha256=ab12")
        assert sdist.startswith(f"{relay.base}/file/-/") and sdist.endswith("/a-1.0.tar.gz")
        assert relay.original(wheel.partition("#")[0]) == (
            "https://pypi.example/files/a-1.0-py3-none-any.whl"
        )
        assert relay.original(sdist) == "https://files.example/x/a-1.0.tar.gz"
        assert 'data-requires-python="&gt;=3.8" data-core-metadata="sha256=cd34"' in rewritten
        assert relay.pip_options() == ["--index-url", f"{relay.base}/index/0/"]
