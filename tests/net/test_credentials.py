"""Private indexes: credentials are found wherever pip finds them, and written nowhere."""

from __future__ import annotations

import base64
import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest
from support.bundles import Outcome, bundle, requirements, secrets_found
from support.fixtures import MakeIndex
from support.index import LocalIndex

from wheelbundle.errors import PipAccessRefused
from wheelbundle.inputs.reqfile import read_requirements
from wheelbundle.net.credentials import (
    Credentials,
    Login,
    config_locations,
    pip_credentials,
)
from wheelbundle.pip.runner import classify_failure
from wheelbundle.redaction import redact

USER = "builder"
PASSWORD = "Pw-7f3kq9Zt-distinctive"
SECRETS = (
    PASSWORD,
    f"{USER}:{PASSWORD}",
    base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),  # the Authorization header value
)


@pytest.fixture(autouse=True)
def no_netrc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Point pip and the tool at an empty netrc, so the user's own never answers for a test."""
    path = tmp_path / "netrc"
    path.write_text("")
    monkeypatch.setenv("NETRC", str(path))
    return path


@pytest.fixture
def private(make_index: MakeIndex, packages_dir: Path) -> LocalIndex:
    """alpha (which needs beta), gamma (an sdist) and pip, behind basic auth."""
    files = ["alpha-1.0-py3-none-any.whl", "beta-2.0-py3-none-any.whl", "gamma-1.0.tar.gz"]
    paths = [packages_dir / f for f in files] + sorted(packages_dir.glob("pip-*.whl"))
    return make_index(*paths, username=USER, password=PASSWORD)


# Where credentials come from


def test_a_url_login_goes_to_its_index_and_files_on_the_same_host_and_port_only() -> None:
    credentials = Credentials(
        [
            "https://alice:pw1@pkgs.example.com/team/simple/",
            "https://bob:pw2@pkgs.example.com/other/simple/",
            "http://127.0.0.1:8001/simple/",
        ]
    )
    assert credentials.login("https://pkgs.example.com/team/simple/acme/") == Login("alice", "pw1")
    assert credentials.login("https://pkgs.example.com/other/simple/acme/") == Login("bob", "pw2")
    # devpi serves files outside the index path: the host's first login answers.
    assert credentials.login("https://pkgs.example.com/+f/0ab/acme-1.0.whl") == Login(
        "alice", "pw1"
    )
    assert credentials.login("https://pkgs.example.com:8443/team/simple/") is None
    assert credentials.login("http://pkgs.example.com/team/simple/") is None
    assert credentials.login("https://files.example.com/acme-1.0.whl") is None
    assert credentials.login("http://127.0.0.1:8001/simple/acme/") is None


def test_netrc_answers_for_a_host_no_url_has_a_login_for(no_netrc: Path) -> None:
    no_netrc.write_text("machine pkgs.example.com login carol password pw3\n")
    credentials = Credentials(["https://pkgs.example.com/simple/"])
    assert credentials.login("https://pkgs.example.com/simple/acme/") == Login("carol", "pw3")
    assert credentials.login("https://other.example.com/simple/") is None


def test_every_place_pip_reads_urls_from_is_searched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nested = tmp_path / "more.txt"
    nested.write_text("--find-links https://erin:pw5@links.example.com/wheels/\n")
    main = tmp_path / "requirements.txt"
    main.write_text(
        "-i https://dave:pw4@req.example.com/simple/  # the team index\n"
        "--extra-index-url=https://frank:pw6@extra.example.com/simple/\n"
        "acme @ https://gina:pw7@files.example.com/acme-1.0.tar.gz \\\n"
        "    ; python_version >= '3'\n"
        "-r more.txt\n"
    )
    credentials = pip_credentials(
        ["--index-url", "https://alice:pw1@cli.example.com/simple/"],
        [line.text for line in read_requirements([main]).lines],
        pip_config=lambda: "global.index-url='https://henry:pw8@conf.example.com/simple/'\n",
        environ={"PIP_EXTRA_INDEX_URL": "https://ivy:pw9@env.example.com/simple/"},
    )
    expected = {
        "cli": ("alice", "pw1"),
        "req": ("dave", "pw4"),
        "links": ("erin", "pw5"),
        "extra": ("frank", "pw6"),
        "files": ("gina", "pw7"),
        "conf": ("henry", "pw8"),
        "env": ("ivy", "pw9"),
    }
    for host, (user, password) in expected.items():
        assert credentials.login(f"https://{host}.example.com/x/") == Login(user, password), host


def test_pip_configuration_is_asked_once_and_only_when_the_given_urls_do_not_answer() -> None:
    calls: list[int] = []

    def pip_config() -> str:
        calls.append(1)
        return "global.index-url='https://carol:pw3@mirror.example.com/simple/'\n"

    credentials = pip_credentials(
        ["--index-url", "https://alice:pw1@pkgs.example.com/simple/"],
        [],
        pip_config,
        environ={},
    )
    assert credentials.login("https://pkgs.example.com/simple/acme/") == Login("alice", "pw1")
    assert calls == []
    assert credentials.login("https://mirror.example.com/simple/acme/") == Login("carol", "pw3")
    assert credentials.login("https://elsewhere.example.com/acme.whl") is None
    assert calls == [1]


def test_pip_config_list_output_is_read_for_index_and_find_links_keys_of_every_origin() -> None:
    output = (
        "WARNING: Location 'file:///opt/wheels/' is ignored\n"
        "global.cert='/etc/ssl/certs/ca-certificates.crt'\n"
        "global.extra-index-url='https://a:1@one.example.com/simple\\nhttps://two.example.com/simple'\n"
        "install.find-links='https://b:2@links.example.com/'\n"
        ":env:.index-url='https://c:3@env.example.com/simple'\n"
    )
    assert config_locations(output) == [
        "https://a:1@one.example.com/simple",
        "https://two.example.com/simple",
        "https://b:2@links.example.com/",
        "https://c:3@env.example.com/simple",
    ]


def test_redact_hides_passwords_and_lone_tokens_and_keeps_the_rest() -> None:
    text = (
        "see https://alice:s3cret@pkgs.example.com/simple/ and https://TOKEN123@git.example.com/r"
    )
    assert redact(text) == (
        "see https://alice:****@pkgs.example.com/simple/ and https://****@git.example.com/r"
    )
    assert redact("http://127.0.0.1:8080/simple/") == "http://127.0.0.1:8080/simple/"


# Bundling from a private index


@pytest.mark.parametrize(
    "source",
    ["command line", "requirements file", "PIP_INDEX_URL", "pip.conf", "netrc", "hash-pinned lock"],
)
def test_a_private_index_bundles_from_wherever_pip_takes_its_credentials_and_they_leak_nowhere(
    source: str,
    private: LocalIndex,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_netrc: Path,
    packages_dir: Path,
) -> None:
    with_auth = private.url_with_auth(USER, PASSWORD)
    lines = ["alpha", "gamma"]
    args: list[str] = []
    if source == "command line":
        args = ["--index-url", with_auth]
    elif source == "requirements file":
        lines.insert(0, f"--index-url {with_auth}")
    elif source == "PIP_INDEX_URL":
        monkeypatch.setenv("PIP_INDEX_URL", with_auth)
    elif source == "pip.conf":
        conf = tmp_path / "pip.conf"
        conf.write_text(f"[global]\nindex-url = {with_auth}\n")
        monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    elif source == "netrc":
        no_netrc.write_text(f"machine 127.0.0.1 login {USER} password {PASSWORD}\n")
        args = ["--index-url", private.url]
    else:  # found on the index pages by hash, without pip
        wheels = {"alpha": "alpha-1.0-py3-none-any.whl", "beta": "beta-2.0-py3-none-any.whl"}
        lines = [
            f"{n}=={w.split('-')[1]} --hash=sha256:{_sha256(packages_dir / w)}"
            for n, w in wheels.items()
        ]
        args = ["--index-url", with_auth]
    req = requirements(tmp_path / "app", *lines)
    cache = tmp_path / "cache"
    made = _make(capfd, req, tmp_path, cache, *args, "--verbose")
    assert made.code == 0, made.err
    assert private.requests["/files/alpha-1.0-py3-none-any.whl"] >= 1  # fetched by us, logged in
    assert secrets_found(SECRETS, made.archive, [cache], stdout=made.out, stderr=made.err) == []


def test_wrong_credentials_are_one_error_line_naming_the_host_and_the_fix(
    private: LocalIndex, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    wrong = private.url_with_auth(USER, "not-" + PASSWORD)
    req = requirements(tmp_path / "app", "alpha")
    refused = _make(capfd, req, tmp_path, tmp_path / "cache", "--index-url", wrong, "-q")
    assert refused.code == 1
    assert refused.err.splitlines() == [
        f"error: the index at 127.0.0.1:{private.port} refused the credentials given for it "
        f"(HTTP 401); check the user name and password for 127.0.0.1:{private.port} in the "
        "index URL (--index-url, --extra-index-url, the requirements file, PIP_INDEX_URL or "
        "pip.conf) or in ~/.netrc"
    ]
    assert not (tmp_path / "dist").exists()
    shown = _make(capfd, req, tmp_path, tmp_path / "cache", "--index-url", wrong, "--verbose")
    assert shown.code == 1
    assert PASSWORD not in shown.out + shown.err  # pip's own output included


def test_no_credentials_for_an_index_that_asks_for_them_says_so(
    private: LocalIndex, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    req = requirements(tmp_path / "app", "alpha")
    refused = _make(capfd, req, tmp_path, tmp_path / "cache", "--index-url", private.url, "-q")
    assert refused.code == 1
    (line,) = refused.err.splitlines()
    assert line.startswith(
        f"error: the index at 127.0.0.1:{private.port} asks for credentials (HTTP 401) and none "
        "were found for it; give them as user:password@ in the index URL"
    )
    assert line.endswith(
        "or as a 'machine 127.0.0.1 login USER password PASSWORD' line in ~/.netrc"
    )


def test_our_own_download_refused_is_one_error_line_too(
    private: LocalIndex, tmp_path: Path, capfd: pytest.CaptureFixture[str], no_netrc: Path
) -> None:
    """pip's resolution is reused from the cache, the files are not there, the password changed."""
    req = requirements(tmp_path / "app", "alpha")
    cache = tmp_path / "cache"
    no_netrc.write_text(f"machine 127.0.0.1 login {USER} password {PASSWORD}\n")
    assert _make(capfd, req, tmp_path, cache, "--index-url", private.url, "-q").code == 0
    shutil.rmtree(cache / "files")
    shutil.rmtree(tmp_path / "dist")
    no_netrc.write_text(f"machine 127.0.0.1 login {USER} password expired\n")
    refused = _make(capfd, req, tmp_path, cache, "--index-url", private.url, "-q")
    assert refused.code == 1
    (line,) = refused.err.splitlines()
    assert line.startswith(
        f"error: could not download alpha==1.0: the index at 127.0.0.1:{private.port} refused "
        "the credentials given for it (HTTP 401); check the user name and password"
    )


def test_pip_output_quoting_a_url_with_a_password_is_redacted_in_the_error() -> None:
    output = (
        "Looking in indexes: https://alice:****@pkgs.example.com/simple/\n"
        "ERROR: HTTP error 403 while getting https://alice:s3cret@pkgs.example.com/+f/a.whl\n"
    )
    error = classify_failure(["pip", "install"], 1, output)
    assert isinstance(error, PipAccessRefused)
    assert "s3cret" not in str(error) + error.output
    assert str(error).startswith("the index at pkgs.example.com refused access (HTTP 403)")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _make(
    capfd: pytest.CaptureFixture[str], req: Path, tmp: Path, cache: Path, *args: Any
) -> Outcome:
    return bundle(capfd, "make", req, "-o", tmp / "dist", "--cache-dir", cache, *args)
