"""A simple-index project page, read as pip reads it (PEP 503, 592, 658, 714)."""

from __future__ import annotations

import re
from collections.abc import Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wheelbundle.net.simple import (
    json_page,
    links,
    links_with_sha256,
    metadata_sha256s,
    sha256s_by_filename,
    yanked_files,
)

PAGE_URL = "https://pypi.example.com/simple/demo/"
A = "a" * 64
B = "b" * 64


def test_each_anchor_is_a_file_with_its_absolute_url_and_hashes() -> None:
    page = f"""<!DOCTYPE html><html><body>
    <a href="../../files/demo-1.0.tar.gz#sha256={A.upper()}">demo-1.0.tar.gz</a>
    <A HREF='https://files.example.com/demo-1.0-py3-none-any.whl#sha512={B}'>wheel</A>
    <a href="/files/demo-0.9.zip#md5=0123abcd">old</a>
    </body></html>"""
    assert [(link.url, link.filename, link.hashes) for link in links(page, PAGE_URL)] == [
        ("https://pypi.example.com/files/demo-1.0.tar.gz", "demo-1.0.tar.gz", {"sha256": A}),
        (
            "https://files.example.com/demo-1.0-py3-none-any.whl",
            "demo-1.0-py3-none-any.whl",
            {"sha512": B},
        ),
        ("https://pypi.example.com/files/demo-0.9.zip", "demo-0.9.zip", {"md5": "0123abcd"}),
    ]


def test_attributes_pip_reads_are_unescaped_and_kept() -> None:
    page = (
        f'<a href="demo-2.0.tar.gz?x=1&amp;y=2#sha256={A}" data-requires-python="&gt;=3.9" '
        f'data-yanked="broken build" data-core-metadata="sha256={B}">x</a>'
        '<a href="demo-2.1.tar.gz" data-yanked data-dist-info-metadata="true">y</a>'
        '<a href="demo-2.2.tar.gz" data-yanked="" data-core-metadata="false">z</a>'
        '<a href="demo-2.3.tar.gz">plain</a>'
    )
    first, second, third, fourth = links(page, PAGE_URL)
    assert first.url == "https://pypi.example.com/simple/demo/demo-2.0.tar.gz?x=1&y=2"
    assert first.filename == "demo-2.0.tar.gz"
    assert (first.requires_python, first.yanked, first.metadata, first.sha256) == (
        ">=3.9",
        "broken build",
        {"sha256": B},
        A,
    )
    assert second.yanked == ""  # PEP 592: present, even with no value, is yanked
    assert second.metadata == {}  # served, no hash given
    assert (third.yanked, third.metadata, third.sha256) == ("", False, None)
    assert (fourth.yanked, fourth.metadata, fourth.requires_python) == (None, False, None)


def test_the_quick_readers_of_yanked_files_and_metadata_hashes_agree_with_links() -> None:
    """The relay reads only these two facts of every page, without reading every anchor."""
    page = (
        f'<a href="demo-2.0.tar.gz?x=1&amp;y=2#sha256={A}" data-requires-python="&gt;=3.9" '
        f'data-yanked="broken &amp; build" data-core-metadata="sha256={B.upper()}">x</a>'
        f"<a href='demo-2.1.tar.gz' data-yanked data-dist-info-metadata='sha256={A}'>y</a>"
        '<a href="demo-2.2.tar.gz" data-yanked="" data-core-metadata="false">z</a>'
        '<a href="demo-2.3.tar.gz">plain</a>'
    )
    every = list(links(page, PAGE_URL))
    assert yanked_files(page) == {x.filename: x.yanked for x in every if x.yanked is not None}
    assert yanked_files(page)["demo-2.0.tar.gz"] == "broken & build"
    hashed = [(x.filename, x.metadata) for x in every if isinstance(x.metadata, Mapping)]
    assert metadata_sha256s(page) == {name: m["sha256"] for name, m in hashed if "sha256" in m}
    as_json = {
        "files": [
            {"filename": "demo-2.0.tar.gz", "url": "x", "yanked": "broken & build",
             "core-metadata": {"sha256": B}},
            {"filename": "demo-2.1.tar.gz", "url": "y", "yanked": True,
             "dist-info-metadata": {"sha256": A}},
            {"filename": "demo-2.2.tar.gz", "url": "z", "yanked": False, "core-metadata": False},
        ]
    }  # fmt: skip
    assert yanked_files(as_json) == {"demo-2.0.tar.gz": "broken & build", "demo-2.1.tar.gz": ""}
    assert metadata_sha256s(as_json) == {"demo-2.0.tar.gz": B, "demo-2.1.tar.gz": A}


def test_a_json_page_no_client_can_read_is_refused_saying_why() -> None:
    for text, why in [
        ('{"files": [', "it is not JSON"),
        ('{"name": "x"}', 'it has no "files" list'),
        ('{"files": [{"url": "a"}]}', "file 1 has no filename"),
        ('{"files": [{"filename": "a-1.0.tar.gz"}]}', "file 1 (a-1.0.tar.gz) has no url"),
    ]:
        with pytest.raises(ValueError, match=re.escape(why)):
            json_page(text)
    assert json_page('{"files": []}') == {"files": []}


def test_a_base_element_moves_relative_links() -> None:
    page = (
        f'<base href="https://mirror.example.com/pkgs/"><a href="demo-1.0.tar.gz#sha256={A}">d</a>'
    )
    [link] = links(page, PAGE_URL)
    assert link.url == "https://mirror.example.com/pkgs/demo-1.0.tar.gz"
    [found] = links_with_sha256(page, PAGE_URL, frozenset({A}))
    assert found.url == link.url


def test_anchors_without_href_are_passed_over_and_names_are_unquoted() -> None:
    page = f'<a name="top">top</a><a href="demo%2B1.0.tar.gz#sha256={A}">quoted</a><a href="x#unknown=1">?</a>'
    assert [(link.filename, link.hashes) for link in links(page, PAGE_URL)] == [
        ("demo+1.0.tar.gz", {"sha256": A}),
        ("x", {}),
    ]


def test_only_the_links_with_a_wanted_hash_are_read_whole() -> None:
    page = (
        f'<a href="a-1.tar.gz#sha256={A}" data-requires-python="&gt;=3.8">a</a>'
        f'<a href="b-1.tar.gz#sha256={B}">b</a><a href="c-1.tar.gz#md5=00">c</a>'
    )
    [link] = links_with_sha256(page, PAGE_URL, frozenset({A}))
    assert (link.filename, link.requires_python) == ("a-1.tar.gz", ">=3.8")
    assert sha256s_by_filename(page) == {"a-1.tar.gz": A, "b-1.tar.gz": B}


_NAMES = st.from_regex(r"[a-z][a-z0-9_.%+-]{0,20}\.(whl|tar\.gz)", fullmatch=True)
_HASHES = st.text("0123456789abcdefABCDEF", min_size=64, max_size=64)


@given(
    files=st.lists(st.tuples(_NAMES, _HASHES, st.sampled_from(['"', "'"]), st.booleans())),
)
def test_the_fast_readers_agree_with_the_whole_reading(
    files: list[tuple[str, str, str, bool]],
) -> None:
    """What the relay and the lock finder read quickly is what links() reads slowly."""
    page = "".join(
        f"<a href={q}../f/{name}?v=1#sha256={digest}{q}{' data-yanked' if yanked else ''}>x</a>\n"
        for name, digest, q, yanked in files
    )
    whole = {link.filename: link.sha256 for link in links(page, PAGE_URL) if link.sha256}
    assert sha256s_by_filename(page) == whole
    wanted = frozenset(digest.lower() for _, digest, _, _ in files[::2])
    quick = [(link.url, link.yanked) for link in links_with_sha256(page, PAGE_URL, wanted)]
    slow = [(link.url, link.yanked) for link in links(page, PAGE_URL) if link.sha256 in wanted]
    assert quick == slow
