"""The fixtures are real: pip resolves, downloads, builds and installs what they serve."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import select
import subprocess
import sys
import tarfile
import urllib.error
import urllib.request
import venv
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from packaging.metadata import Metadata
from packaging.utils import parse_wheel_filename
from support.index import LocalIndex
from support.packages import (
    SIMULATED_BUILD_ERROR,
    make_sdist,
    make_wheel,
    native_tag,
    pip_wheel,
    sha256_hex,
    wheel_filename,
)

RunOffline = Callable[..., "subprocess.CompletedProcess[str]"]
MakeIndex = Callable[..., LocalIndex]


def pip(*args: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
    """Run this interpreter's pip in the isolated environment the autouse fixture prepared."""
    return subprocess.run(
        [sys.executable, "-m", "pip", *(os.fspath(arg) for arg in args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def dry_run_report(index_url: str, report: Path, *requirements: str) -> dict[str, Any]:
    """What `pip install --dry-run --report` would install, as pip's JSON report."""
    result = pip(
        "install", "--dry-run", "--ignore-installed", "--quiet",
        "--report", report, "--index-url", index_url, *requirements,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    loaded: dict[str, Any] = json.loads(report.read_text())
    return loaded


def record_problems(wheel: Path) -> list[str]:
    """Every way the wheel's RECORD disagrees with its members (empty when the wheel is sound)."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        record_name = next(name for name in names if name.endswith(".dist-info/RECORD"))
        rows = list(csv.reader(io.StringIO(archive.read(record_name).decode())))
        problems = []
        recorded = {row[0] for row in rows}
        problems += [f"{name}: not in RECORD" for name in names if name not in recorded]
        for path, digest, size in rows:
            if path == record_name:
                continue
            data = archive.read(path)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            if digest != f"sha256={expected.decode()}" or size != str(len(data)):
                problems.append(f"{path}: RECORD says {digest},{size}")
    return problems


# pip_isolation


def test_pip_sees_no_machine_configuration() -> None:
    assert {key for key in os.environ if key.startswith("PIP_")} == {
        "PIP_CONFIG_FILE",
        "PIP_DISABLE_PIP_VERSION_CHECK",
        "PIP_NO_INPUT",
    }
    assert os.environ["PIP_CONFIG_FILE"] == os.devnull
    assert "SOURCE_DATE_EPOCH" not in os.environ
    result = pip("config", "list")
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        ":env:.config-file='/dev/null'",
        ":env:.disable-pip-version-check='1'",
        ":env:.no-input='1'",
    ]


def test_caches_live_in_the_session_temp_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    cache = Path(os.environ["XDG_CACHE_HOME"])
    assert cache.is_relative_to(tmp_path_factory.getbasetemp())


# packages.make_wheel


def test_make_wheel_writes_a_sound_wheel_with_the_given_metadata(tmp_path: Path) -> None:
    wheel = make_wheel(
        tmp_path,
        "Foo.Bar-baz",
        "1.0.0",
        requires=['qux>=2; python_version >= "3.8"'],
        extras={"Fast": ["speedy", 'turbo; sys_platform == "linux"']},
        requires_python=">=3.9",
        license_expression="MIT",
        classifiers=["Programming Language :: Python :: 3"],
    )

    assert wheel.name == "foo_bar_baz-1.0.0-py3-none-any.whl"
    assert record_problems(wheel) == []
    with zipfile.ZipFile(wheel) as archive:
        assert sorted(archive.namelist()) == [
            "foo_bar_baz-1.0.0.dist-info/METADATA",
            "foo_bar_baz-1.0.0.dist-info/RECORD",
            "foo_bar_baz-1.0.0.dist-info/WHEEL",
            "foo_bar_baz/__init__.py",
        ]
        assert archive.read("foo_bar_baz/__init__.py") == b'__version__ = "1.0.0"\n'
        assert b"Root-Is-Purelib: true\n" in archive.read("foo_bar_baz-1.0.0.dist-info/WHEEL")
        metadata = Metadata.from_email(archive.read("foo_bar_baz-1.0.0.dist-info/METADATA"))
    assert metadata.metadata_version == "2.4"
    assert metadata.license_expression == "MIT"
    assert str(metadata.requires_python) == ">=3.9"
    assert metadata.provides_extra == ["fast"]
    assert [str(requirement) for requirement in metadata.requires_dist or []] == [
        'qux>=2; python_version >= "3.8"',
        'speedy; extra == "fast"',
        'turbo; sys_platform == "linux" and extra == "fast"',
    ]


def test_make_wheel_is_byte_for_byte_reproducible(tmp_path: Path) -> None:
    first = make_wheel(tmp_path / "one", "same", "1.0", requires=["beta"])
    second = make_wheel(tmp_path / "two", "same", "1.0", requires=["beta"])
    assert first.read_bytes() == second.read_bytes()


def test_make_wheel_accepts_any_platform_tag_and_marks_it_platlib(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "winonly", "1.0", tag="cp312-cp312-win_amd64")

    assert wheel.name == "winonly-1.0-cp312-cp312-win_amd64.whl"
    assert {str(tag) for tag in parse_wheel_filename(wheel.name)[3]} == {"cp312-cp312-win_amd64"}
    with zipfile.ZipFile(wheel) as archive:
        wheel_file = archive.read("winonly-1.0.dist-info/WHEEL").decode()
    assert "Root-Is-Purelib: false\n" in wheel_file
    assert "Tag: cp312-cp312-win_amd64\n" in wheel_file
    assert record_problems(wheel) == []


# packages.make_sdist and the in-tree backend


def test_make_sdist_carries_an_in_tree_backend_and_is_reproducible(tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path / "one", "My.Project", "2.0", requires=["beta"])
    again = make_sdist(tmp_path / "two", "My.Project", "2.0", requires=["beta"])

    assert sdist.name == "my_project-2.0.tar.gz"
    assert sdist.read_bytes() == again.read_bytes()
    with tarfile.open(sdist) as archive:
        assert sorted(archive.getnames()) == [
            "my_project-2.0/PKG-INFO",
            "my_project-2.0/backend.py",
            "my_project-2.0/my_project/__init__.py",
            "my_project-2.0/pyproject.toml",
        ]
        pyproject = archive.extractfile("my_project-2.0/pyproject.toml")
        assert pyproject is not None
        assert pyproject.read().decode() == (
            '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
        )


def test_pip_builds_the_gamma_sdist_offline_with_its_in_tree_backend(
    packages_dir: Path, tmp_path: Path, offline: RunOffline
) -> None:
    result = offline(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-index", "--no-cache-dir",
         "--wheel-dir", tmp_path, packages_dir / "gamma-1.0.tar.gz"],
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    built = tmp_path / "gamma-1.0-py3-none-any.whl"
    assert [path.name for path in tmp_path.iterdir()] == [built.name]
    assert record_problems(built) == []
    with zipfile.ZipFile(built) as archive:
        assert archive.read("gamma/__init__.py") == b'__version__ = "1.0"\n'
        metadata = Metadata.from_email(archive.read("gamma-1.0.dist-info/METADATA"))
    assert [str(requirement) for requirement in metadata.requires_dist or []] == ["beta"]


def test_a_broken_sdist_fails_to_build_with_a_recognisable_message(
    packages_dir: Path, tmp_path: Path
) -> None:
    result = pip(
        "wheel", "--no-deps", "--no-index", "--no-cache-dir",
        "--wheel-dir", tmp_path, packages_dir / "broken-1.0.tar.gz",
    )  # fmt: skip

    assert result.returncode != 0
    assert SIMULATED_BUILD_ERROR in result.stdout + result.stderr
    assert list(tmp_path.iterdir()) == []


# the standard packages on the index


def test_pip_resolves_the_standard_packages_with_the_served_hashes(
    index: LocalIndex, packages_dir: Path, tmp_path: Path
) -> None:
    report = dry_run_report(
        index.url, tmp_path / "report.json", "alpha", "gamma", "delta[fast]", "zeta"
    )

    installed = {
        item["metadata"]["name"]: item["metadata"]["version"] for item in report["install"]
    }
    assert installed == {
        "alpha": "1.0",
        "beta": "2.0",
        "gamma": "1.0",
        "delta": "1.0",
        "epsilon": "1.0",
        "zeta": "1.0",
        "theta": "1.0",
    }
    for item in report["install"]:
        filename = item["download_info"]["url"].rsplit("/", 1)[-1]
        served_hash = item["download_info"]["archive_info"]["hashes"]["sha256"]
        assert served_hash == sha256_hex(packages_dir / filename)


def test_conflicting_packages_cannot_be_installed_together(index: LocalIndex) -> None:
    result = pip("install", "--dry-run", "--index-url", index.url, "conflict-a", "conflict-b")

    assert result.returncode != 0
    assert "ResolutionImpossible" in result.stdout + result.stderr


def test_the_native_and_console_script_packages_install_into_a_fresh_venv(
    index: LocalIndex, tmp_path: Path
) -> None:
    assert wheel_filename("native", "1.0", native_tag()) in {
        path.rsplit("/", 1)[-1] for path in _hrefs(index.url + "native/")
    }
    venv.create(tmp_path / "venv", with_pip=False)
    python = tmp_path / "venv" / "bin" / "python"

    result = pip("--python", python, "install", "--index-url", index.url, "native", "webapp-core")

    assert result.returncode == 0, result.stderr
    imported = subprocess.run(
        [python, "-c", "import native; print(native.__version__)"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert imported.stdout == "1.0\n"
    hello = subprocess.run(
        [tmp_path / "venv" / "bin" / "webapp-hello"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert hello.stdout == "hello from webapp-core\n"


def test_pips_own_wheel_is_served_when_the_interpreter_bundles_one(
    index: LocalIndex, packages_dir: Path
) -> None:
    bundled = pip_wheel()
    if bundled is None:
        pytest.skip("this interpreter's ensurepip carries no pip wheel")
    assert (packages_dir / bundled.name).read_bytes() == bundled.read_bytes()
    assert any(href.endswith(f"/{bundled.name}") for href in _hrefs(index.url + "pip/"))


# PEP 658 metadata, counted requests


def test_with_metadata_pip_resolves_from_metadata_files_alone(
    index: LocalIndex, tmp_path: Path
) -> None:
    index.reset_requests()

    dry_run_report(index.url, tmp_path / "report.json", "alpha", "delta[fast]")

    fetched = {path for path in index.requests if path.startswith("/files/")}
    assert fetched == {
        "/files/alpha-1.0-py3-none-any.whl.metadata",
        "/files/beta-2.0-py3-none-any.whl.metadata",
        "/files/delta-1.0-py3-none-any.whl.metadata",
        "/files/epsilon-1.0-py3-none-any.whl.metadata",
    }


def test_without_metadata_pip_downloads_whole_wheels_to_resolve(
    index_nometa: LocalIndex, tmp_path: Path
) -> None:
    index_nometa.reset_requests()

    dry_run_report(index_nometa.url, tmp_path / "report.json", "alpha", "delta[fast]")

    fetched = {path for path in index_nometa.requests if path.startswith("/files/")}
    assert fetched == {
        "/files/alpha-1.0-py3-none-any.whl",
        "/files/beta-2.0-py3-none-any.whl",
        "/files/delta-1.0-py3-none-any.whl",
        "/files/epsilon-1.0-py3-none-any.whl",
    }


# basic auth, tampering, standalone use


def test_basic_auth_refuses_without_credentials_and_accepts_them_in_the_url(
    packages_dir: Path, make_index: MakeIndex, tmp_path: Path
) -> None:
    private = make_index(packages_dir / "beta-2.0-py3-none-any.whl", username="user", password="pw")

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(private.url, timeout=10)
    assert refused.value.code == 401
    refused.value.close()
    assert pip("download", "--no-deps", "-d", tmp_path, "-i", private.url, "beta").returncode != 0

    report = dry_run_report(private.url_with_auth("user", "pw"), tmp_path / "r.json", "beta")
    assert [item["metadata"]["version"] for item in report["install"]] == ["2.0"]


def test_a_tampered_file_fails_pips_hash_check(
    packages_dir: Path, make_index: MakeIndex, tmp_path: Path
) -> None:
    private = make_index(packages_dir / "beta-2.0-py3-none-any.whl")
    private.tamper("beta-2.0-py3-none-any.whl")

    result = pip("download", "--no-deps", "-d", tmp_path / "d", "-i", private.url, "beta")

    assert result.returncode != 0
    assert "HASHES" in result.stderr
    assert not (tmp_path / "d" / "beta-2.0-py3-none-any.whl").exists()


def test_files_added_later_are_served_at_once(make_index: MakeIndex, tmp_path: Path) -> None:
    private = make_index()
    assert _hrefs(private.url) == []

    private.add(make_wheel(tmp_path, "Late.Comer", "3.0"))

    assert _hrefs(private.url) == ["/simple/late-comer/"]
    report = dry_run_report(private.url, tmp_path / "report.json", "late_comer")
    assert [item["metadata"]["version"] for item in report["install"]] == ["3.0"]


def test_index_runs_standalone_and_prints_its_url(packages_dir: Path) -> None:
    script = Path(__file__).parent / "support" / "index.py"
    with subprocess.Popen(
        [sys.executable, script, packages_dir], stdout=subprocess.PIPE, text=True
    ) as server:
        try:
            assert server.stdout is not None
            ready, _, _ = select.select([server.stdout], [], [], 30)
            assert ready, "the index printed no URL within 30 s"
            url = server.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:")
            assert "/simple/alpha/" in _hrefs(url)
        finally:
            server.terminate()


def _hrefs(page_url: str) -> list[str]:
    """The link targets of one simple-index page, without their hash fragments."""
    with urllib.request.urlopen(page_url, timeout=10) as response:
        page = response.read().decode()
    return [part.split('"', 1)[0].split("#", 1)[0] for part in page.split('href="')[1:]]


def test_offline_commands_cannot_reach_even_the_local_index(
    index: LocalIndex, offline: RunOffline
) -> None:
    fetch = f"import urllib.request; urllib.request.urlopen({index.url!r}, timeout=5)"

    result = offline([sys.executable, "-c", fetch])

    assert result.returncode != 0
    assert "URLError" in result.stderr
