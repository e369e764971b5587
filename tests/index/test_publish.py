"""``bundle publish``: bundles' wheels uploaded to a real devpi-server and a real pypiserver.

Both servers run on 127.0.0.1 from the hash-pinned `.venv-devpi/` that `make test` provisions
(a bare `pytest` skips these tests without it). devpi gets its login in the URL, pypiserver from
a netrc file: the two places publish finds credentials.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.bundles import bundle, make_archive
from support.devpi import REQUIRED_VARIABLE, DevpiServer, server_executable
from support.fixtures import MakeIndex
from support.index import LocalIndex
from support.packages import make_wheel
from support.pypiserver import PypiServer

from wheelbundle.format.layout import read_manifest
from wheelbundle.net.simple import links

USER = "ops"
PASSWORD = "publish-Pw-7Qm2v"


@dataclass(frozen=True)
class Index:
    """An empty index to publish to: its upload URL as a user gives it, and its simple URL."""

    to: str
    simple: str
    credentials: str
    """``--to`` with the login in it (devpi), or the same URL when the login is in netrc."""

    def page(self, project: str) -> dict[str, str | None]:
        """File name → sha256 on the project's page, read as pip reads it (no login needed)."""
        import urllib.error
        import urllib.request

        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        url = f"{self.simple}{project}/"
        try:
            with opener.open(url, timeout=30) as answer:
                text = answer.read().decode()
                final = answer.geturl()
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return {}
            raise
        return {link.filename: link.sha256 for link in links(text, final)}


@pytest.fixture(scope="module")
def server_bin() -> Path:
    executable, how = server_executable()
    if executable is None:
        if os.environ.get(REQUIRED_VARIABLE) == "1":
            pytest.fail(how)
        pytest.skip(how)
    return executable.parent


@pytest.fixture(scope="module")
def devpi(server_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevpiServer]:
    with DevpiServer(server_bin / "devpi-server", tmp_path_factory.mktemp("devpi") / "s") as s:
        s.create_user(USER, PASSWORD)
        yield s


@pytest.fixture(params=["devpi", "pypiserver"])
def empty_index(
    request: pytest.FixtureRequest,
    server_bin: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Index]:
    """A fresh index on either server; anyone may read it, ``USER`` alone may upload."""
    if request.param == "devpi":
        server: DevpiServer = request.getfixturevalue("devpi")
        name = f"i{len(list(tmp_path.parent.iterdir()))}-{os.getpid()}"
        simple = server.create_index(USER, PASSWORD, name, readers=[":ANONYMOUS:"])
        to = f"{server.url}/{USER}/{name}/"
        yield Index(to, simple, to.replace("http://", f"http://{USER}:{PASSWORD}@", 1))
        return
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login {USER} password {PASSWORD}\n")
    monkeypatch.setenv("NETRC", str(netrc))
    with PypiServer(server_bin / "pypi-server", tmp_path / "pypiserver", USER, PASSWORD) as s:
        yield Index(s.url, f"{s.url}simple/", s.url)


def test_a_published_bundle_installs_from_the_index_and_a_second_publish_sends_nothing(
    capsys: pytest.CaptureFixture[str], empty_index: Index, index: LocalIndex, tmp_path: Path
) -> None:
    archive = make_archive(tmp_path / "app", index.url, "alpha")
    wheels = {p.wheel: p.sha256 for p in read_manifest(archive).packages}

    published = bundle(capsys, "publish", archive, "--to", empty_index.credentials)
    assert published.code == 0, published.err
    assert published.out.strip() == empty_index.simple
    assert f"{len(wheels)} wheels, {len(wheels)} uploaded, 0 already there" in published.err
    assert PASSWORD not in published.out + published.err
    listed = {**empty_index.page("alpha"), **empty_index.page("beta"), **empty_index.page("pip")}
    assert listed == wheels  # every wheel, with the bundle's sha256

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--isolated", "--python", venv / "bin/python", "install",
         "--index-url", empty_index.simple, "alpha"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    imported = subprocess.run(
        [venv / "bin/python", "-c", "import alpha, beta; print(beta.__version__)"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert imported.stdout.strip() == "2.0", imported.stderr

    again = bundle(capsys, "publish", archive, "--to", empty_index.credentials)
    assert again.code == 0, again.err
    assert f"{len(wheels)} wheels, 0 uploaded, {len(wheels)} already there" in again.err


def test_other_bytes_under_a_name_the_index_holds_stop_the_run_before_any_upload(
    capsys: pytest.CaptureFixture[str],
    empty_index: Index,
    index: LocalIndex,
    make_index: MakeIndex,
    packages_dir: Path,
    tmp_path: Path,
) -> None:
    first = make_archive(tmp_path / "one", index.url, "alpha")
    assert bundle(capsys, "publish", first, "--to", empty_index.credentials).code == 0
    rebuilt = make_wheel(tmp_path, "alpha", "1.0", requires=["beta>=1.0"], modules={"alpha.py": ""})
    others = [f for f in packages_dir.iterdir() if not f.name.startswith("alpha-")]
    second = make_archive(tmp_path / "two", make_index(*others, rebuilt).url, "alpha", "epsilon")

    refused = bundle(capsys, "publish", second, "--to", empty_index.credentials)
    assert refused.code == 1
    (line,) = [x for x in refused.err.splitlines() if x.startswith("error:")]
    assert line.startswith(f"error: {empty_index.simple} already holds {rebuilt.name} with other")
    assert "nothing was uploaded" in line
    assert empty_index.page("epsilon") == {}  # its new wheel was not sent either
    assert empty_index.page("alpha")[rebuilt.name] != _sha256(rebuilt)


def test_a_wrong_password_is_one_line_that_names_the_index_and_hides_the_password(
    capsys: pytest.CaptureFixture[str], empty_index: Index, index: LocalIndex, tmp_path: Path
) -> None:
    archive = make_archive(tmp_path / "app", index.url, "beta==1.0")
    wrong = empty_index.to.replace("http://", f"http://{USER}:not-{PASSWORD}@", 1)
    refused = bundle(capsys, "publish", archive, "--to", wrong)
    assert refused.code == 1
    (line,) = [x for x in refused.err.splitlines() if x.startswith("error:")]
    assert "could not upload beta-1.0-py3-none-any.whl" in line
    assert "refused the credentials given for it (HTTP 40" in line
    assert f"not-{PASSWORD}" not in refused.err
    assert empty_index.page("beta") == {}


def test_a_delta_is_published_after_its_base_and_sends_only_its_own_wheels(
    capsys: pytest.CaptureFixture[str], empty_index: Index, index: LocalIndex, tmp_path: Path
) -> None:
    old = make_archive(tmp_path / "one", index.url, "alpha", args=("--version", "1.0"))
    new = make_archive(
        tmp_path / "two",
        index.url,
        "alpha",
        "epsilon",
        args=("--version", "1.1", "--since", str(old)),
    )
    early = bundle(capsys, "publish", new, "--to", empty_index.credentials)
    assert early.code == 1
    assert "is a delta bundle and" in early.err and "publish that bundle first" in early.err
    assert empty_index.page("epsilon") == {}

    assert (
        "3 wheels, 3 uploaded, 0 already there"
        in bundle(capsys, "publish", old, "--to", empty_index.credentials).err
    )
    assert (
        "1 wheels, 1 uploaded, 0 already there"
        in bundle(capsys, "publish", new, "--to", empty_index.credentials).err
    )
    assert list(empty_index.page("epsilon")) == ["epsilon-1.0-py3-none-any.whl"]


def test_an_upload_url_with_no_simple_index_beside_it_asks_for_simple_url(
    capsys: pytest.CaptureFixture[str], index: LocalIndex, tmp_path: Path
) -> None:
    archive = make_archive(tmp_path / "app", index.url, "beta==1.0")
    nowhere = index.url.replace("/simple/", "/no-such-index/")
    refused = bundle(capsys, "publish", archive, "--to", nowhere)
    assert refused.code == 1
    assert "found no simple index beside" in refused.err
    assert "--simple-url" in refused.err


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_ctrl_c_after_two_uploads_says_which_are_on_the_index(
    capsys: pytest.CaptureFixture[str],
    empty_index: Index,
    index: LocalIndex,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import _thread

    from wheelbundle.index import publish

    archive = make_archive(tmp_path / "app", index.url, "alpha")
    wheels = [p.wheel for p in read_manifest(archive).packages]
    upload = publish._Index.upload
    sent: list[str] = []

    def interrupted_after_two(self: publish._Index, path: Path, wheel: publish._Wheel) -> None:
        upload(self, path, wheel)
        sent.append(wheel.filename)
        if len(sent) == 2:
            _thread.interrupt_main()  # the Ctrl-C a terminal sends, between two uploads

    monkeypatch.setattr(publish._Index, "upload", interrupted_after_two)
    stopped = bundle(capsys, "publish", archive, "--to", empty_index.credentials)
    assert stopped.code == 130
    # The second was on the index when the Ctrl-C came, but publish had not heard back yet.
    assert stopped.err.strip().splitlines()[-1] == (
        f"error: interrupted; 1 of {len(wheels)} wheels were uploaded to {empty_index.simple} "
        f"before it ({sent[0]}), and {sent[1]} was being sent (the index may hold it); publish "
        "again to send the rest: files the index holds are skipped"
    )
    monkeypatch.setattr(publish._Index, "upload", upload)
    again = bundle(capsys, "publish", archive, "--to", empty_index.credentials)
    assert again.code == 0, again.err
    assert f"{len(wheels)} wheels, {len(wheels) - 2} uploaded, 2 already there" in again.err
