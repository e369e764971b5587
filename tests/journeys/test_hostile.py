"""Hostile input across the gap: every archive, answer and cached item is checked before use.

The campaign is organised by class, so that a new feature meets each on day one: archive
members (a runtime, a base bundle), answers served to us (pages, uploads), writes that are
interrupted, and a cache damaged on disk. Each case is made here, as an attacker or a fault
would make it, and asserts the one-line error, the exit code and that nothing was left behind.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from support.bundles import bundle, requirements, unpack
from support.fixtures import RunOffline
from support.index import SIMPLE_PREFIX as SIMPLE
from support.index import LocalIndex

from wheelbundle.cache import sha256_file

Hostile = Callable[[tarfile.TarFile], None]
PAYLOAD_STEPS = Path(__file__).parents[2] / "src/wheelbundle/payload/steps.py"


def _file(name: str, data: bytes = b"x", mode: int = 0o644) -> Hostile:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(data), mode
        tar.addfile(info, io.BytesIO(data))

    return add


def _special(name: str, kind: bytes, linkname: str = "") -> Hostile:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.linkname, info.mode = kind, linkname, 0o644
        info.devmajor, info.devminor = 1, 3
        tar.addfile(info)

    return add


def _both(*adds: Hostile) -> Hostile:
    def add(tar: tarfile.TarFile) -> None:
        for one in adds:
            one(tar)

    return add


#: Each hostile member a runtime archive may carry, and what the refusal says of it.
RUNTIME_CASES = {
    "climbs-out": (_file("python/../../climbed.txt"), "'python/../../climbed.txt' is a path that climbs out with .."),
    "absolute": (_file("/tmp/wheelbundle-absolute.txt"), "is an absolute or unusual path"),
    "outside": (_file("elsewhere/x"), "'elsewhere/x' is outside python/"),
    "symlink-etc": (_special("python/lib/passwd", tarfile.SYMTYPE, "/etc/passwd"), "'python/lib/passwd' is a symlink to an absolute path (/etc/passwd)"),
    "symlink-climbs": (_special("python/lib/up", tarfile.SYMTYPE, "../../../x"), "'python/lib/up' is a symlink that leaves python/ (../../../x)"),
    "hardlink-etc": (_special("python/lib/hard", tarfile.LNKTYPE, "etc/passwd"), "'python/lib/hard' is a hardlink to etc/passwd, which is not a file before it in python/"),
    "fifo": (_special("python/fifo", tarfile.FIFOTYPE), "'python/fifo' is a device, FIFO or other special file"),
    "device": (_special("python/null", tarfile.CHRTYPE), "'python/null' is a device, FIFO or other special file"),
    "setuid": (_file("python/bin/su", b"#!/bin/sh\n", 0o4755), "'python/bin/su' is a setuid or setgid file"),
    "below-a-link": (
        _both(_special("python/out", tarfile.SYMTYPE, "lib"), _file("python/out/evil.txt")),
        "member 'python/out/evil.txt' is below the symlink 'python/out'",
    ),
    "link-through-a-link": (
        _both(_special("python/s", tarfile.SYMTYPE, "lib"), _special("python/u", tarfile.SYMTYPE, "s/../bin")),
        "member 'python/u' is a symlink through the symlink 'python/s'",
    ),
}  # fmt: skip


def hostile_runtime(runtime: Path, dest: Path, add: Hostile) -> Path:
    """A copy of the real runtime archive with ``add``'s members at its end."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with (
        tarfile.open(runtime) as src,
        gzip.open(dest, "wb", compresslevel=1) as raw,
        tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as out,
    ):
        for member in src:
            out.addfile(member, src.extractfile(member) if member.isfile() else None)
        add(out)
    return dest


def huge_member_runtime(runtime: Path, dest: Path, size: int) -> Path:
    """The runtime with a last member whose header says ``size`` bytes (of zeros, streamed)."""

    class Zeros(io.RawIOBase):
        def __init__(self, left: int) -> None:
            self.left = left

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            n = min(len(buffer), self.left)
            buffer[:n] = bytes(n)
            self.left -= n
            return n

    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo("python/lib/huge.bin")
        info.size = size
        tar.addfile(info, io.BufferedReader(Zeros(size), 1 << 20))

    return hostile_runtime(runtime, dest, add)


def _make(
    capsys: pytest.CaptureFixture[str], folder: Path, index: LocalIndex, runtime: Path | str
) -> tuple[int, str, Path]:
    made = bundle(
        capsys, "make", requirements(folder / "app", "alpha"), "-o", folder / "dist",
        "--index-url", index.url, "--python-runtime", runtime, "-q",
    )  # fmt: skip
    return made.code, made.err, folder / "dist"


@pytest.mark.parametrize("case", sorted(RUNTIME_CASES))
def test_a_runtime_with_a_hostile_member_is_refused_at_make_naming_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, index: LocalIndex, runtime: Path, case: str
) -> None:
    add, said = RUNTIME_CASES[case]
    bad = hostile_runtime(runtime, tmp_path / "in" / runtime.name, add)
    code, err, dist = _make(capsys, tmp_path, index, bad)
    assert code == 2, err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"error: --python-runtime {runtime.name}: member ")
    assert said in line
    assert not dist.exists() or not list(dist.iterdir())


def test_a_runtime_member_past_the_size_bound_is_refused_before_it_is_read(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, index: LocalIndex, runtime: Path
) -> None:
    bad = huge_member_runtime(runtime, tmp_path / "in" / runtime.name, (1 << 30) + 1)
    code, err, _ = _make(capsys, tmp_path, index, bad)
    assert code == 2, err
    assert err.strip() == (
        f"error: --python-runtime {runtime.name}: member 'python/lib/huge.bin' is "
        f"{(1 << 30) + 1} bytes, more than any real file ({1 << 30} at most)"
    )


@pytest.fixture(scope="module")
def runtime_bundle(
    tmp_path_factory: pytest.TempPathFactory, index: LocalIndex, runtime: Path
) -> Path:
    """A good bundle carrying the runtime, made once for the server-side cases."""
    from wheelbundle.cli import main

    folder = tmp_path_factory.mktemp("runtime-bundle")
    req = requirements(folder / "app", "alpha")
    code = main(
        ["make", str(req), "-o", str(folder / "dist"), "--index-url", index.url,
         "--python-runtime", str(runtime), "-q"]
    )  # fmt: skip
    assert code == 0
    (archive,) = (folder / "dist").glob("*.tar.gz")
    return archive


def _swap_runtime(top: Path, runtime_name: str, hostile: Path) -> None:
    """What an attacker who rebuilt the bundle would do: the runtime replaced, SHA256SUMS fixed."""
    carried = top / "runtime" / runtime_name
    old, new = sha256_file(carried), sha256_file(hostile)
    carried.write_bytes(hostile.read_bytes())
    sums = top / "SHA256SUMS"
    sums.write_text(sums.read_text().replace(old, new))


@pytest.mark.parametrize("case", sorted(RUNTIME_CASES))
def test_install_sh_refuses_a_hostile_runtime_before_unpacking_it(
    tmp_path: Path, runtime_bundle: Path, runtime: Path, offline: RunOffline, case: str
) -> None:
    add, said = RUNTIME_CASES[case]
    top = unpack(runtime_bundle, tmp_path / "server")
    _swap_runtime(top, runtime.name, hostile_runtime(runtime, tmp_path / "h" / "r.tar.gz", add))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    venv = tmp_path / "venv"
    done = offline([top / "install.sh", venv], env={**os.environ, "TMPDIR": str(scratch)})
    assert done.returncode == 4, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: runtime/{runtime.name}: member '"), last
    assert last.endswith("; nothing was unpacked"), last
    assert said in last, last
    assert not venv.exists() and not (tmp_path / "venv.releases").exists()
    assert list(scratch.iterdir()) == []
    assert not (tmp_path / "climbed.txt").exists()


def test_verify_refuses_a_bundle_whose_runtime_holds_a_hostile_member(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, runtime_bundle: Path, runtime: Path
) -> None:
    top = unpack(runtime_bundle, tmp_path / "b")
    add, _ = RUNTIME_CASES["climbs-out"]
    hostile = hostile_runtime(runtime, tmp_path / "h" / "r.tar.gz", add)
    carried = top / "runtime" / runtime.name
    old_sha, old_size = sha256_file(carried), carried.stat().st_size
    _swap_runtime(top, runtime.name, hostile)
    manifest = top / "manifest.yaml"
    text = manifest.read_text().replace(old_sha, sha256_file(hostile))
    manifest.write_text(text.replace(f"size: {old_size}", f"size: {hostile.stat().st_size}"))
    sums = top / "SHA256SUMS"
    lines = [
        f"{sha256_file(manifest)}  manifest.yaml" if line.endswith("  manifest.yaml") else line
        for line in sums.read_text().splitlines()
    ]
    sums.write_text("\n".join(lines) + "\n")
    archive = tmp_path / runtime_bundle.name
    subprocess.run(["tar", "-czf", archive, "-C", top.parent, top.name], check=True)
    refused = bundle(capsys, "verify", archive)
    assert refused.code == 3, refused.err
    assert refused.err.strip() == (
        f"error: runtime/{runtime.name}: member 'python/../../climbed.txt' is a path that "
        "climbs out with .."
    )


def test_install_sh_removes_the_scratch_folder_a_killed_run_left(
    tmp_path: Path, runtime_bundle: Path, offline: RunOffline
) -> None:
    top = unpack(runtime_bundle, tmp_path / "server")
    scratch = tmp_path / "tmp"
    dead = subprocess.run(["sh", "-c", "echo $$"], capture_output=True, text=True, check=True)
    left = scratch / f"wheelbundle-runtime.{dead.stdout.strip()}.AbCdEf"
    (left / "python").mkdir(parents=True)
    alive = scratch / f"wheelbundle-runtime.{os.getpid()}.GhIjKl"  # a run still going on
    alive.mkdir()
    done = offline([top / "install.sh", "--check"], env={**os.environ, "TMPDIR": str(scratch)})
    assert done.returncode == 0, done.stderr
    assert sorted(scratch.iterdir()) == [alive]


def test_a_runtime_url_whose_published_hash_is_unusable_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, index: LocalIndex, runtime: Path
) -> None:
    from support.index import serve_folder

    site = tmp_path / "site"
    site.mkdir()
    (site / runtime.name).symlink_to(runtime)
    (site / f"{runtime.name}.sha256").write_text("<html>not here</html>\n")
    (site / "other.tar.gz").symlink_to(runtime)  # and no other.tar.gz.sha256 at all
    with serve_folder(site) as url:
        code, err, dist = _make(capsys, tmp_path / "a", index, f"{url}/{runtime.name}")
        assert code == 2, err
        assert _error_line(err) == (
            f"error: --python-runtime {url}/{runtime.name}: {url}/{runtime.name}.sha256 holds "
            "no sha256 digest (it reads '<html>not here</html>'); add the runtime's digest to "
            "the URL as #sha256=DIGEST"
        )
        code, err, _ = _make(capsys, tmp_path / "b", index, f"{url}/other.tar.gz")
        assert code == 2, err
        assert "no sha256 is published beside it" in err
        digest = hashlib.sha256(runtime.read_bytes()).hexdigest()
        code, err, _ = _make(capsys, tmp_path / "c", index, f"{url}/other.tar.gz#sha256={digest}")
        assert code == 0, err
    assert not dist.exists() or not list(dist.iterdir())


def test_a_runtime_url_that_is_not_there_is_named_missing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, index: LocalIndex
) -> None:
    """A 404 for the runtime itself is a failed fetch (exit 1) naming the runtime, not a
    complaint about its missing digest file."""
    from support.index import serve_folder

    site = tmp_path / "site"
    site.mkdir()
    with serve_folder(site) as url:
        missing = f"{url}/rt-missing.tar.gz"
        code, err, dist = _make(capsys, tmp_path / "a", index, missing)
        assert code == 1, err
        assert _error_line(err) == (
            f"error: --python-runtime {missing}: no runtime there (HTTP 404); check the URL "
            "(python-build-standalone's release assets end in -install_only.tar.gz)"
        )
        code, err, _ = _make(capsys, tmp_path / "b", index, f"{missing}#sha256={'a' * 64}")
        assert code == 1, err
        assert _error_line(err) == (
            f"error: --python-runtime: could not download the Python runtime: HTTP 404 from "
            f"{missing}"
        )
    assert not dist.exists() or not list(dist.iterdir())
    refused = "http://127.0.0.1:9/rt.tar.gz"  # nothing listens there: the runtime is named
    code, err, _ = _make(capsys, tmp_path / "c", index, refused)
    assert code == 1, err
    line = _error_line(err)
    assert line.startswith(f"error: --python-runtime: could not reach {refused}"), line
    assert line.endswith("; check the URL and the network"), line


def _error_line(err: str) -> str:
    """The one ``error:`` line (a test server may log its requests on stderr too)."""
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    return line


# What is served on loopback answers only the process we started.


def _as_nobody(url: str) -> str:
    """What user ``nobody`` gets for ``url``: the status, or why nothing came."""
    probe = (
        "import sys, urllib.request, urllib.error\n"
        "try:\n"
        "    print(urllib.request.urlopen(sys.argv[1], timeout=10).status)\n"
        "except urllib.error.HTTPError as e:\n"
        "    print(e.code)\n"
    )
    done = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3",
         "-c", probe, url],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.skipif(os.geteuid() != 0, reason="runs a request as user nobody, which needs root")
def test_the_relay_serves_a_private_index_only_to_the_pip_given_its_secret(
    tmp_path: Path, make_index: Callable[..., LocalIndex], packages_dir: Path
) -> None:
    from wheelbundle.cache import Cache
    from wheelbundle.net.credentials import Credentials
    from wheelbundle.net.fetch import Fetcher
    from wheelbundle.resolve.relay import Relay

    if not Path("/usr/bin/python3").exists() or not shutil.which("setpriv"):
        pytest.skip("needs /usr/bin/python3 and setpriv (util-linux)")
    private = make_index(*packages_dir.glob("alpha-*"), username="team", password="s3cret")
    fetcher = Fetcher(Cache(tmp_path), Credentials([private.url_with_auth("team", "s3cret")]))
    with Relay([private.url], fetcher) as relay:
        (index,) = relay.index_urls
        page = f"{index}alpha/"
        guessed = page.replace(relay.base, f"{relay.root}/{'A' * 43}")
        bare = page.replace(relay.base, relay.root)
        assert [_as_nobody(u) for u in (bare, guessed, relay.root + "/")] == ["404"] * 3
        assert _as_nobody(page) == "200"  # the secret, not the account, is what opens it
    assert private.requests[f"{SIMPLE}alpha/"] == 1  # only the request with the secret went up


def test_pip_gets_the_relays_secret_in_its_environment_never_on_its_command_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, index: LocalIndex
) -> None:
    seen: list[tuple[tuple[str, ...], dict[str, str]]] = []
    real_popen = subprocess.Popen

    def recording(command: tuple[str, ...], **kw: object) -> subprocess.Popen[str]:
        env = kw.get("env")
        assert isinstance(env, dict)
        seen.append((tuple(command), env))
        return real_popen(command, **kw)  # type: ignore[call-overload, no-any-return]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(subprocess, "Popen", recording)
        made = bundle(
            capsys, "make", requirements(tmp_path / "app", "alpha"), "-o", tmp_path / "dist",
            "--index-url", index.url, "-q",
        )  # fmt: skip
    assert made.code == 0, made.err
    relayed = [(cmd, env) for cmd, env in seen if "--report" in cmd]
    assert relayed
    for command, env in relayed:
        secret_url = env["PIP_INDEX_URL"]
        assert secret_url.startswith("http://127.0.0.1:") and "/o/0/" in secret_url
        secret = secret_url.split("/")[3]
        assert len(secret) >= 40
        assert not any(secret in arg for arg in command)


# A delta bundle's base: nothing unchecked decides what is taken, and --check changes nothing.


@pytest.fixture(scope="module")
def delta(tmp_path_factory: pytest.TempPathFactory, index: LocalIndex) -> tuple[Path, Path]:
    """app 1.0 (alpha, pip) unpacked as a folder, and app 1.1 (adds epsilon) as a delta from it."""
    from support.bundles import make_archive

    folder = tmp_path_factory.mktemp("delta")
    old = make_archive(folder / "one", index.url, "alpha", args=("--version", "1.0"))
    new = make_archive(
        folder / "two",
        index.url,
        "alpha",
        "epsilon",
        args=("--version", "1.1", "--since", str(old)),
    )
    return unpack(old, folder / "old"), new


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _install(
    offline: RunOffline, top: Path, *args: str | Path, tmp: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **({"TMPDIR": str(tmp)} if tmp else {})}
    return offline([top / "install.sh", *args], env=env)


def _last(done: subprocess.CompletedProcess[str]) -> str:
    return done.stderr.strip().splitlines()[-1]


def test_a_delta_whose_targets_json_names_a_climbing_wheel_is_refused_before_it_is_read(
    tmp_path: Path, delta: tuple[Path, Path], offline: RunOffline
) -> None:
    import json

    base, new = delta
    top = unpack(new, tmp_path / "server")
    targets = top / "support/targets.json"
    data = json.loads(targets.read_text())
    data["base"]["wheels"].append("../../D-climbed.txt")
    before = _listing(tmp_path)
    targets.write_text(json.dumps(data))
    done = _install(offline, top, "--base", base, tmp_path / "venv")
    assert done.returncode == 4, done.stderr
    assert _last(done) == (
        "error: support/targets.json: checksum mismatch (the bundle was changed or damaged in "
        "transit)"
    )
    # An attacker who could also rewrite SHA256SUMS (an unsigned bundle) gets no further.
    sums = top / "SHA256SUMS"
    lines = sums.read_text().splitlines()
    fixed = [
        f"{sha256_file(targets)}  support/targets.json" if x.endswith("support/targets.json") else x
        for x in lines
    ]
    sums.write_text("\n".join(fixed) + "\n")
    done = _install(offline, top, "--base", base, tmp_path / "venv")
    assert done.returncode == 4, done.stderr
    assert _last(done) == (
        "error: support/targets.json: names '../../D-climbed.txt' as a base wheel, which "
        "SHA256SUMS does not list"
    )
    assert _listing(tmp_path) == before
    assert not (tmp_path.parent / "D-climbed.txt").exists()


def test_check_takes_a_deltas_base_into_a_scratch_folder_and_changes_nothing(
    tmp_path: Path, delta: tuple[Path, Path], offline: RunOffline
) -> None:
    base, new = delta
    top = unpack(new, tmp_path / "server")
    before = _listing(top)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    done = _install(offline, top, "--check", "--base", base, tmp_path / "venv", tmp=scratch)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("check passed: app 1.1 ")
    assert _listing(top) == before
    assert list(scratch.iterdir()) == []
    assert not (tmp_path / "venv").exists()


def test_a_damaged_base_is_refused_and_leaves_nothing_so_the_right_base_then_installs(
    tmp_path: Path, delta: tuple[Path, Path], offline: RunOffline
) -> None:
    base, new = delta
    top = unpack(new, tmp_path / "server")
    damaged = tmp_path / "damaged"
    shutil.copytree(base, damaged)
    (wheel,) = (damaged / "wheels").glob("alpha-*.whl")
    data = wheel.read_bytes()
    wheel.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    before = _listing(top)
    done = _install(offline, top, "--base", damaged, tmp_path / "venv")
    assert done.returncode == 4, done.stderr
    assert _last(done) == (
        f"error: --base {damaged}: wheels/{wheel.name} does not match SHA256SUMS; nothing was "
        "changed"
    )
    assert _listing(top) == before
    done = _install(offline, top, "--base", base, tmp_path / "venv")
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("kind", ["link-to-dev-zero", "oversized"])
def test_a_base_wheel_that_is_no_regular_file_or_too_large_is_refused_unread(
    tmp_path: Path, delta: tuple[Path, Path], offline: RunOffline, kind: str
) -> None:
    base, new = delta
    top = unpack(new, tmp_path / "server")
    bad = tmp_path / "bad"
    shutil.copytree(base, bad)
    (wheel,) = (bad / "wheels").glob("alpha-*.whl")
    size = wheel.stat().st_size
    wheel.unlink()
    if kind == "link-to-dev-zero":
        wheel.symlink_to("/dev/zero")
        said = f"wheels/{wheel.name} is not a regular file"
    else:
        with wheel.open("wb") as f:
            f.truncate(1 << 30)  # sparse: a GiB that costs nothing
        said = f"wheels/{wheel.name} is larger than the {size} bytes expected"
    done = _install(offline, top, "--base", bad, tmp_path / "venv")
    assert done.returncode == 4, done.stderr
    assert _last(done) == f"error: --base {bad}: {said}"
    assert not list((top / "wheels").glob(".*"))


@pytest.mark.parametrize("damage", ["own-wheel", "targets-cut-short"])
def test_a_deltas_own_damaged_file_is_named_not_blamed_on_the_base(
    tmp_path: Path, delta: tuple[Path, Path], offline: RunOffline, damage: str
) -> None:
    base, new = delta
    top = unpack(new, tmp_path / "server")
    if damage == "own-wheel":
        (damaged,) = (top / "wheels").glob("epsilon-*.whl")
        damaged.write_bytes(damaged.read_bytes()[:-10])
        name = f"wheels/{damaged.name}"
    else:
        damaged = top / "support/targets.json"
        damaged.write_bytes(damaged.read_bytes()[:50])
        name = "support/targets.json"
    done = _install(offline, top, "--base", base, tmp_path / "venv")
    assert done.returncode == 4, done.stderr
    assert _last(done) == (
        f"error: {name}: checksum mismatch (the bundle was changed or damaged in transit)"
    )


def test_ctrl_c_while_a_base_wheel_is_taken_leaves_no_part_file_and_no_traceback(
    tmp_path: Path,
) -> None:
    import runpy

    steps = runpy.run_path(str(PAYLOAD_STEPS))

    class Interrupted(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            if self.tell():
                raise KeyboardInterrupt
            return super().read(4)

    dest = tmp_path / "wheels"
    dest.mkdir()
    with pytest.raises(KeyboardInterrupt):
        steps["_put"](
            "a-1.0-py3-none-any.whl", Interrupted(b"12345678"), ("0" * 64, 8), dest, tmp_path
        )
    assert list(dest.iterdir()) == []


def test_ctrl_c_while_the_base_is_read_ends_take_base_with_130_and_no_traceback(
    tmp_path: Path, delta: tuple[Path, Path]
) -> None:
    import signal
    import time

    base, new = delta
    top = unpack(new, tmp_path / "server")
    stuck = tmp_path / "stuck"
    shutil.copytree(base, stuck)
    for wheel in (stuck / "wheels").glob("*.whl"):
        wheel.unlink()
        os.mkfifo(wheel)  # opening it waits for a writer that never comes: a read under way
    with subprocess.Popen(
        [sys.executable, "support/steps.py", "take-base", "support/targets.json", stuck, "wheels"],
        cwd=top, stderr=subprocess.PIPE, text=True,
    ) as proc:  # fmt: skip
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert (proc.returncode, err) == (130, "")
    assert not list((top / "wheels").glob(".*"))


# bundle index: checked whole before anything is published; writers take turns.


@pytest.fixture(scope="module")
def index_bundles(tmp_path_factory: pytest.TempPathFactory, index: LocalIndex) -> tuple[Path, Path]:
    from support.bundles import make_archive

    folder = tmp_path_factory.mktemp("index-bundles")
    return (
        make_archive(folder / "one", index.url, "alpha"),
        make_archive(folder / "two", index.url, "beta==1.0"),
    )


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize("foreign", ["wheel-without-metadata", "not-a-wheel"])
def test_bundle_index_refuses_a_foreign_file_before_adding_anything(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    index_bundles: tuple[Path, Path],
    foreign: str,
) -> None:
    first, second = index_bundles
    out = tmp_path / "site"
    assert bundle(capsys, "index", out, first).code == 0
    stray = out / "files" / "stray-1.0-py3-none-any.whl"
    if foreign == "wheel-without-metadata":
        (wheel,) = (out / "files").glob("alpha-*.whl")
        stray.write_bytes(wheel.read_bytes())
    else:
        stray.write_bytes(b"not a zip at all")
        (out / "files" / f"{stray.name}.metadata").write_bytes(b"Name: stray\n")
        stray = out / "files" / "bad name.whl"
        stray.write_bytes(b"")
    before = _tree(out)
    refused = bundle(capsys, "index", out, second)
    assert refused.code == 1, refused.err
    assert _error_line(refused.err).startswith(f"error: {stray}: not a wheel this index holds (")
    assert _error_line(refused.err).endswith("; nothing was changed")
    assert _tree(out) == before


def test_bundle_index_refuses_a_clash_in_one_run_before_adding_anything(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, index_bundles: tuple[Path, Path]
) -> None:
    first, second = index_bundles
    out = tmp_path / "site"
    assert bundle(capsys, "index", out, first).code == 0
    (alpha,) = (out / "files").glob("alpha-*.whl")
    alpha.write_bytes(alpha.read_bytes() + b"\0")
    (alpha.parent / f"{alpha.name}.metadata").touch()
    before = _tree(out)
    refused = bundle(capsys, "index", out, second, first)  # beta would be new; alpha clashes
    assert refused.code == 1
    assert f"{alpha.name} differs from the file of that name already in" in refused.err
    assert _tree(out) == before


def test_bundle_index_waits_for_another_writer_and_keeps_every_file_both_added(
    tmp_path: Path, index_bundles: tuple[Path, Path]
) -> None:
    import json
    import time

    out = tmp_path / "site"
    out.mkdir()
    env = {**os.environ, "PIP_CONFIG_FILE": "/dev/null"}
    command: list[str | Path] = [sys.executable, "-m", "wheelbundle", "index", out]
    with _folder_lock(out):
        runs = [
            subprocess.Popen([*command, a], env=env, stderr=subprocess.PIPE) for a in index_bundles
        ]
        time.sleep(2)
        assert [run.poll() for run in runs] == [None, None]  # both wait for the lock
        assert not (out / "files").exists() or not list((out / "files").glob("*.whl"))
    for run in runs:
        assert run.wait(timeout=120) == 0, run.stderr.read() if run.stderr else ""
        if run.stderr:
            run.stderr.close()
    listing = {p["name"] for p in json.loads((out / "simple/index.json").read_text())["projects"]}
    assert {"alpha", "beta"} <= listing
    betas = json.loads((out / "simple/beta/index.json").read_text())["files"]
    assert {f["filename"] for f in betas} == {
        "beta-1.0-py3-none-any.whl",
        "beta-2.0-py3-none-any.whl",
    }


def test_bundle_index_removes_what_a_killed_run_left(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, index_bundles: tuple[Path, Path]
) -> None:
    first, second = index_bundles
    out = tmp_path / "site"
    assert bundle(capsys, "index", out, first).code == 0
    staging = out / "files" / ".adding-k1ll3d"
    staging.mkdir()
    (staging / "beta-1.0-py3-none-any.whl").write_bytes(b"half")
    page = out / "simple" / "alpha" / ".index.html.k1ll3d.part"
    page.write_bytes(b"<html")
    (out / ".wheelbundle-index.lock").touch()  # the lock file earlier versions left
    assert bundle(capsys, "index", out, second).code == 0
    assert not staging.exists() and not page.exists()
    assert not list(out.rglob(".*"))


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """Hold the lock ``bundle index`` takes on its folder, as a writer in its midst would."""
    import fcntl

    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_an_interrupted_bundle_index_leaves_nothing_in_the_served_folder(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    index_bundles: tuple[Path, Path],
    how: signal.Signals,
) -> None:
    """Ctrl-C or kill -9 while a run waits its turn: the folder nginx serves holds only the
    index, before and after a rerun (a lock file was once left there)."""
    first, second = index_bundles
    out = tmp_path / "site"
    assert bundle(capsys, "index", out, first).code == 0
    before = _tree(out)
    env = {**os.environ, "PIP_CONFIG_FILE": "/dev/null"}
    with _folder_lock(out):
        run = subprocess.Popen(
            [sys.executable, "-m", "wheelbundle", "index", out, second],
            env=env, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(2)  # verified, and waiting for its turn
        run.send_signal(how)
        _, err = run.communicate(timeout=60)
    assert run.returncode == (130 if how == signal.SIGINT else -signal.SIGKILL), err
    assert _tree(out) == before
    assert not list(out.rglob(".*"))
    assert bundle(capsys, "index", out, second).code == 0
    assert not list(out.rglob(".*"))


# Answers served to us: a deadline per request, bounded bodies, bounded inflation.


class _Answer:
    """A server on 127.0.0.1 whose every answer ``respond(handler)`` writes itself."""

    def __init__(self, respond: Callable[[BaseHTTPRequestHandler], None]) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with contextlib.suppress(OSError):
                    respond(self)

            do_POST = do_HEAD = do_GET

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def __enter__(self) -> _Answer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _trickle(handler: BaseHTTPRequestHandler) -> None:
    """A byte every half second, headers and all: never silent long enough for a timeout."""
    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100\r\n\r\n" + b"x" * 100
    )
    for byte in answer:
        handler.wfile.write(bytes([byte]))
        handler.wfile.flush()
        time.sleep(0.5)


def _endless(handler: BaseHTTPRequestHandler) -> None:
    """A 3 GB answer to anything: zeros, for as long as the client reads."""
    if handler.command == "POST":
        handler.rfile.read(int(handler.headers["Content-Length"]))
    status = 500 if handler.command == "POST" else 200
    handler.send_response(status)
    handler.send_header("Content-Length", str(3 << 30))
    handler.end_headers()
    chunk = bytes(1 << 20)
    for _ in range(3 << 10):
        handler.wfile.write(chunk)


def test_publish_to_an_index_that_trickles_fails_at_its_deadline_in_one_line(
    capsys: pytest.CaptureFixture[str],
    index_bundles: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from wheelbundle.net import fetch

    monkeypatch.setattr(fetch, "TIMEOUT", 2.0)  # the deadline for headers, as 60 s would be
    with _Answer(_trickle) as slow:
        started = time.monotonic()
        stopped = bundle(capsys, "publish", index_bundles[0], "--to", slow.url)
        took = time.monotonic() - started
    assert stopped.code == 1
    assert _error_line(stopped.err) == (
        f"error: {slow.url}+simple/ answered too slowly: it was given 2 s (at least 8 KiB/s); "
        "the index or the network is stalled"
    )
    assert took < 15  # the deadline, not a byte every half second for ever


def test_publish_reads_no_more_of_an_endless_answer_than_it_needs(
    capsys: pytest.CaptureFixture[str],
    index_bundles: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from wheelbundle.net import fetch

    monkeypatch.setattr(fetch, "MAX_DOCUMENT", 4 << 20)  # the same rule at 256 MB, smaller
    with _Answer(_endless) as endless:
        stopped = bundle(capsys, "publish", index_bundles[0], "--to", endless.url)
    assert stopped.code == 1
    assert _error_line(stopped.err) == (
        f"error: {endless.url}+simple/ answered with more than 4 MB; not read"
    )


def test_a_gzip_bomb_for_a_page_is_refused_at_the_bound_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bomb = gzip.compress(bytes(100 << 20), compresslevel=9)  # 100 MB of zeros in 100 kB

    def bombing(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Content-Encoding", "gzip")
        handler.send_header("Content-Length", str(len(bomb)))
        handler.end_headers()
        handler.wfile.write(bomb)

    with _Answer(bombing) as server:
        made = bundle(
            capsys, "make", requirements(tmp_path / "app", "alpha"), "-o", tmp_path / "dist",
            "--index-url", f"{server.url}simple/", "-q",
        )  # fmt: skip
    assert made.code == 1
    line = _error_line(made.err)  # alpha's page, or pip's, read ahead at the same time
    assert re.fullmatch(
        rf"error: {re.escape(server.url)}simple/(alpha|pip)/ sent {len(bomb)} compressed bytes "
        r"that inflate past 64 MB; not read \(a compression bomb\?\)",
        line,
    ), line
    assert not (tmp_path / "dist").exists() or not list((tmp_path / "dist").iterdir())


# A damaged cache: every cached item is checked on use and remade when bad.


def _damage(wheel: Path) -> None:
    data = wheel.read_bytes()
    wheel.write_bytes(data[: len(data) // 2])  # a copy cut short


@pytest.mark.parametrize("how", ["cut-short", "flipped-bit"])
def test_a_damaged_cached_build_is_built_again(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, index: LocalIndex, how: str
) -> None:
    cache = tmp_path / "cache"
    req = requirements(tmp_path / "app", "gamma")
    args = (
        "make",
        req,
        "-o",
        tmp_path / "dist",
        "--index-url",
        index.url,
        "-q",
        "--cache-dir",
        cache,
    )
    first = bundle(capsys, *args)
    assert first.code == 0, first.err
    (built,) = (cache / "builds").glob("*/*/gamma-*.whl")
    if how == "cut-short":
        _damage(built)
    else:
        import zipfile

        with zipfile.ZipFile(built) as zf:  # a member's bytes changed, the zip still whole
            members = {i.filename: zf.read(i) for i in zf.infolist()}
        with zipfile.ZipFile(built, "w") as zf:
            for name, data in members.items():
                zf.writestr(name, data + b"#" if name.endswith(".py") else data)
    again = bundle(capsys, *args)
    assert again.code == 0, again.err
    (rebuilt,) = (cache / "builds").glob("*/*/gamma-*.whl")
    from wheelbundle.format.wheelcheck import check_wheel

    check_wheel(rebuilt, "gamma")  # whole again: made anew, not the damaged one
    assert bundle(capsys, "verify", again.archive).code == 0


@pytest.mark.skipif(shutil.which("gcc") is None, reason="the extension is compiled with gcc")
@pytest.mark.parametrize("which", ["builds", "repairs"])
def test_a_damaged_cached_c_build_or_repair_is_made_again(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    make_index: Callable[..., LocalIndex],
    monkeypatch: pytest.MonkeyPatch,
    which: str,
) -> None:
    from support.packages import make_linked_extension_sdist, pip_wheel

    folder, library = tmp_path / "files", tmp_path / "buildlibs"
    sdist = make_linked_extension_sdist(folder, library, "wbnative", "1.0")
    pip = pip_wheel(folder)
    assert pip is not None
    native = make_index(sdist, pip)
    monkeypatch.setenv("LD_LIBRARY_PATH", str(library))
    cache = tmp_path / "cache"
    req = requirements(tmp_path / "app", "wbnative")
    args = (
        "make",
        req,
        "-o",
        tmp_path / "dist",
        "--index-url",
        native.url,
        "-q",
        "--cache-dir",
        cache,
    )
    assert bundle(capsys, *args).code == 0
    (kept,) = (cache / which).glob("*/*/wbnative-*.whl")
    _damage(kept)
    again = bundle(capsys, *args)
    assert again.code == 0, again.err
    assert bundle(capsys, "verify", again.archive).code == 0


@pytest.mark.parametrize("kind", ["symlink", "hardlink"])
def test_a_base_archive_whose_wheel_is_a_link_is_refused_unread(
    tmp_path: Path, delta: tuple[Path, Path], offline: RunOffline, kind: str
) -> None:
    base, new = delta
    top = unpack(new, tmp_path / "server")
    (wheel,) = (base / "wheels").glob("alpha-*.whl")
    member = f"{base.name}/wheels/{wheel.name}"
    archive = tmp_path / f"{base.name}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(base.rglob("*")):
            name = f"{base.name}/{path.relative_to(base)}"
            if name == member:
                info = tarfile.TarInfo(name)
                info.type = tarfile.SYMTYPE if kind == "symlink" else tarfile.LNKTYPE
                info.linkname = "/etc/passwd" if kind == "symlink" else f"{base.name}/SHA256SUMS"
                tar.addfile(info)
            else:
                tar.add(path, name, recursive=False)
    done = _install(offline, top, "--base", archive, tmp_path / "venv")
    assert done.returncode == 4, done.stderr
    assert _last(done) == (
        f"error: --base {archive}: wheels/{wheel.name} is missing from it, or not a file"
    )
    assert not list((top / "wheels").glob(".*")) and not (tmp_path / "venv").exists()
