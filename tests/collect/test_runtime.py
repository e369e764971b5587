"""``--python-runtime``: bundles that carry their interpreter, for servers with no fitting Python.

The runtime is a relocatable CPython made here the way python-build-standalone makes its own
(see `runtimes.py`); install.sh runs with no network, and must not touch the server's Python.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import subprocess
import tarfile
from pathlib import Path

import pytest
from support.bundles import bundle, read_member, requirements, rewrite, unpack
from support.cyclonedx import validate
from support.fixtures import RunOffline
from support.index import LocalIndex, serve_folder
from support.runtimes import RUNTIME_VERSION

from wheelbundle.cache import sha256_file
from wheelbundle.format.layout import read_manifest


def make_with_runtime(
    capsys: pytest.CaptureFixture[str], folder: Path, index: LocalIndex, runtime: str, *lines: str
) -> Path:
    req = requirements(folder / "app", *(lines or ("alpha",)))
    made = bundle(
        capsys, "make", req, "-o", folder / "dist", "--index-url", index.url,
        "--python-runtime", runtime, "-q",
    )  # fmt: skip
    assert made.code == 0, made.err
    return made.archive


def test_the_runtime_is_carried_hashed_and_described_and_the_target_read_from_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, index: LocalIndex, runtime: Path
) -> None:
    archive = make_with_runtime(capsys, tmp_path, index, str(runtime))
    (target,) = read_manifest(archive).targets
    assert target.runtime is not None
    assert (target.runtime.file, target.runtime.sha256, target.runtime.size) == (
        runtime.name,
        sha256_file(runtime),
        runtime.stat().st_size,
    )
    assert target.runtime.python.startswith(f"{RUNTIME_VERSION}.")
    assert target.runtime.machine == os.uname().machine
    assert target.interpreter == "cp312"
    assert target.environment["python_full_version"] == target.runtime.python
    # Pure wheels, but an interpreter for one architecture and glibc: named for that.
    platform = f"manylinux_{target.runtime.glibc.replace('.', '_')}_{target.runtime.machine}"
    assert (target.name, target.platform) == (f"cp312-{platform}", platform)
    assert archive.name.endswith(f"-cp312-{platform}.tar.gz")

    top = unpack(archive, tmp_path / "look")
    sums = (top / "SHA256SUMS").read_text()
    assert f"{sha256_file(runtime)}  runtime/{runtime.name}\n" in sums
    assert (top / "support/runtimes.txt").read_text() == (
        f"{target.name} {target.runtime.machine} {target.runtime.glibc} "
        f"{target.runtime.python} runtime/{runtime.name}\n"
    )
    sbom = json.loads((top / "sbom.cdx.json").read_text())
    validate(sbom)  # CycloneDX 1.6
    (component,) = [c for c in sbom["components"] if c["name"] == "cpython"]
    assert component["version"] == target.runtime.python
    assert component["hashes"] == [{"alg": "SHA-256", "content": target.runtime.sha256}]
    assert bundle(capsys, "verify", archive).code == 0
    shown = bundle(capsys, "inspect", archive).out
    assert f"runtime: CPython {target.runtime.python} for {target.runtime.machine}" in shown


def test_install_builds_the_venv_from_the_bundled_runtime_offline_and_rolls_back_with_it(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    index: LocalIndex,
    runtime: Path,
    offline: RunOffline,
) -> None:
    archive = make_with_runtime(capsys, tmp_path, index, str(runtime))
    top = unpack(archive, tmp_path / "server")
    venv = tmp_path / "srv/app/venv"
    # A PATH with no python at all: only the server's shell tools.
    tools = tmp_path / "tools"
    tools.mkdir()
    for tool in ("sh", "tar", "gzip", "sha256sum", "mktemp", "uname", "getconf", "awk", "grep",
                 "sed", "cut", "head", "find", "ln", "rm", "mv", "mkdir", "readlink", "date",
                 "dirname", "basename", "env", "rmdir", "cat", "printf"):  # fmt: skip
        found = next(d / tool for d in (Path("/usr/bin"), Path("/bin")) if (d / tool).exists())
        (tools / tool).symlink_to(found)
    env = ["env", "-i", f"PATH={tools}", f"HOME={tmp_path}"]
    first = offline([*env, top / "install.sh", venv])
    assert first.returncode == 0, first.stderr
    assert "using the bundled Python runtime, CPython 3.12." in first.stderr
    release = venv.resolve()
    assert (release / "runtime/bin/python3").exists()
    base = offline([venv / "bin/python", "-c", "import sys, alpha; print(sys.base_prefix)"])
    assert base.stdout.strip() == str(release / "runtime"), base.stderr
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob("wheelbundle-runtime.*"))

    second = offline([*env, top / "install.sh", venv])
    assert second.returncode == 0, second.stderr
    assert venv.resolve() != release
    back = offline([*env, top / "install.sh", "--rollback", venv])
    assert back.returncode == 0, back.stderr
    assert venv.resolve() == release  # the earlier release, with its own interpreter
    assert offline([venv / "bin/python", "-c", "import alpha"]).returncode == 0


def test_a_runtime_for_another_architecture_is_refused_before_anything_is_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, index: LocalIndex, runtime: Path
) -> None:
    foreign = _with_machine(
        runtime, tmp_path / "foreign" / runtime.name.replace(os.uname().machine, "aarch64"), 183
    )  # aarch64
    archive = make_with_runtime(capsys, tmp_path, index, str(foreign))
    (target,) = read_manifest(archive).targets
    assert target.runtime is not None and target.runtime.machine == "aarch64"
    assert target.environment["platform_machine"] == "aarch64"
    top = unpack(archive, tmp_path / "server")
    venv = tmp_path / "venv"
    refused = _run([top / "install.sh", venv])
    assert refused.returncode == 3
    assert refused.stderr.strip().splitlines()[-1] == (
        f"error: the Python runtime this bundle carries (CPython {target.runtime.python} for "
        f"aarch64 with glibc {target.runtime.glibc} or later) cannot run here: this server is "
        f"{os.uname().machine} with {_glibc()}; name a fitting Python with --python PATH"
    )
    assert not venv.exists() and not (tmp_path / "venv.releases").exists()


def test_a_changed_runtime_is_refused_before_it_is_unpacked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, index: LocalIndex, runtime: Path
) -> None:
    archive = make_with_runtime(capsys, tmp_path, index, str(runtime))
    top = unpack(archive, tmp_path / "server")
    carried = top / "runtime" / runtime.name
    carried.write_bytes(carried.read_bytes()[:-1] + b"\0")
    refused = _run([top / "install.sh", tmp_path / "venv"])
    assert refused.returncode == 4
    assert refused.stderr.strip().endswith(
        f"error: runtime/{runtime.name}: checksum mismatch (the bundle was changed or damaged in transit)"
    )


def test_a_runtime_by_url_is_downloaded_once_and_checked_against_its_published_hash(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, index: LocalIndex, runtime: Path
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / runtime.name).symlink_to(runtime)
    (site / f"{runtime.name}.sha256").write_text(f"{sha256_file(runtime)}  {runtime.name}\n")
    with serve_folder(site) as url:
        archive = make_with_runtime(capsys, tmp_path / "one", index, f"{url}/{runtime.name}")
        (target,) = read_manifest(archive).targets
        assert target.runtime is not None and target.runtime.source == f"{url}/{runtime.name}"
        wrong = bundle(
            capsys, "make", requirements(tmp_path / "two" / "app", "alpha"), "-o",
            tmp_path / "two" / "dist", "--index-url", index.url, "--python-runtime",
            f"{url}/{runtime.name}#sha256={'0' * 64}", "--cache-dir", tmp_path / "fresh-cache",
        )  # fmt: skip
    assert wrong.code == 1
    assert "does not match the hash the index published" in wrong.err
    assert not (tmp_path / "two" / "dist").exists() or not list((tmp_path / "two/dist").iterdir())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--target", "cp312-manylinux_2_28_x86_64"), "--python-runtime sets the target"),
        ((), "member 'README' is outside python/"),
    ],
)
def test_wrong_runtime_input_is_one_usage_line(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    index: LocalIndex,
    args: tuple[str, ...],
    message: str,
) -> None:
    not_a_runtime = tmp_path / "cpython-3.12.1-x86_64-unknown-linux-gnu-install_only.tar.gz"
    with tarfile.open(not_a_runtime, "w:gz") as tar:
        info = tarfile.TarInfo("README")
        tar.addfile(info, io.BytesIO(b""))
    made = bundle(
        capsys, "make", requirements(tmp_path / "app", "alpha"), "-o", tmp_path / "dist",
        "--index-url", index.url, "--python-runtime", not_a_runtime, *args,
    )  # fmt: skip
    assert made.code == 2
    (line,) = [x for x in made.err.splitlines() if x.startswith("error:")]
    assert message in line


def _with_machine(runtime: Path, dest: Path, machine: int) -> Path:
    """A copy of ``runtime`` whose executables say they are for ELF machine ``machine``."""
    dest.parent.mkdir(parents=True)
    with (
        tarfile.open(runtime) as src,
        gzip.open(dest, "wb", compresslevel=1) as raw,
        tarfile.open(fileobj=raw, mode="w") as out,
    ):
        for member in src:
            file = src.extractfile(member) if member.isfile() else None
            data = file.read() if file is not None else None
            if data is not None and member.name.startswith("python/bin/"):
                data = data[:18] + machine.to_bytes(2, "little") + data[20:]
            out.addfile(member, io.BytesIO(data) if data is not None else None)
    return dest


def _glibc() -> str:
    return os.confstr("CS_GNU_LIBC_VERSION") or "no glibc"


def _run(command: list[str | Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


def test_verify_refuses_a_runtimes_txt_that_says_other_than_the_manifest(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, index: LocalIndex, runtime: Path
) -> None:
    """A runtimes.txt claiming an older glibc would let install.sh run the runtime where it
    cannot: even with SHA256SUMS rewritten to match, verify compares it with the manifest."""
    archive = make_with_runtime(capsys, tmp_path, index, str(runtime))
    listed = read_member(archive, "support/runtimes.txt")
    lie = re.sub(rb" 2\.\d+ ", b" 2.17 ", listed)
    assert lie != listed
    sums = read_member(archive, "SHA256SUMS").replace(
        hashlib.sha256(listed).hexdigest().encode(), hashlib.sha256(lie).hexdigest().encode()
    )
    bad = rewrite(
        archive, tmp_path / "bad.tar.gz", {"support/runtimes.txt": lie, "SHA256SUMS": sums}
    )
    refused = bundle(capsys, "verify", bad)
    assert refused.code == 3
    assert "support/runtimes.txt: does not name the runtimes of manifest.yaml" in refused.err


def test_merge_keeps_each_targets_runtime_install_picks_this_machines_and_diff_shows_them(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    index: LocalIndex,
    runtime: Path,
    offline: RunOffline,
) -> None:
    foreign = _with_machine(
        runtime, tmp_path / "foreign" / runtime.name.replace(os.uname().machine, "aarch64"), 183
    )  # aarch64
    arm = make_with_runtime(capsys, tmp_path / "arm", index, str(foreign))
    here = make_with_runtime(capsys, tmp_path / "here", index, str(runtime))
    plain = bundle(
        capsys, "make", requirements(tmp_path / "plain" / "app", "alpha"), "-o",
        tmp_path / "plain" / "dist", "--index-url", index.url, "-q",
    )  # fmt: skip
    assert plain.code == 0, plain.err

    changes = bundle(capsys, "diff", plain.archive, here)
    assert changes.code == 1
    version = read_manifest(here).targets[0].runtime.python  # type: ignore[union-attr]
    machine = os.uname().machine
    assert changes.out == f"added  python-runtime ({machine})  {version}\n"

    merged = bundle(capsys, "merge", arm, here, "-o", tmp_path / "merged")
    assert merged.code == 0, merged.err
    targets = read_manifest(merged.archive).targets
    assert sorted(t.runtime.machine for t in targets if t.runtime) == ["aarch64", machine]
    assert bundle(capsys, "verify", merged.archive).code == 0
    top = unpack(merged.archive, tmp_path / "server")
    installed = offline([top / "install.sh", tmp_path / "venv"])
    assert installed.returncode == 0, installed.stderr
    assert f"using the bundled Python runtime, CPython {version}" in installed.stderr
    assert f"({targets[1].name})" in installed.stdout  # this machine's target, not the first
