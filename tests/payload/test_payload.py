"""The server-side payload as it ships: support/probe.py and install.sh, run for real.

Bundles are laid out by hand in tmp_path (tiny wheels made with zipfile, pip's own wheel from
ensurepip), then installed with real interpreters, real venvs and real pip, the network cut
with `unshare -n` where that works.
"""

from __future__ import annotations

import base64
import email
import hashlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import metadata
from pathlib import Path
from typing import Any

import packaging
import pytest
from packaging.markers import default_environment
from packaging.specifiers import SpecifierSet
from packaging.tags import sys_tags
from packaging.version import Version
from support.packages import make_uv_wheel
from support.pythons import INSTALLABLE_VERSIONS, find_python
from uv import find_uv_bin

PAYLOAD = Path(__file__).resolve().parents[2] / "src" / "wheelbundle" / "payload"
PROBE = PAYLOAD / "probe.py"
INSTALL_SH = PAYLOAD / "install.sh"
STEPS = PAYLOAD / "steps.py"
SIMULATE = Path(__file__).resolve().parents[1] / "payload_data" / "simulate.py"
TIMEOUT = 180
PY_VERSION = f"{sys.version_info[0]}.{sys.version_info[1]}"
CP = f"cp{sys.version_info[0]}{sys.version_info[1]}"
SHELL = shutil.which("dash") or "/bin/sh"
# packaging 26.3 moved the plain linux_<arch> platform ahead of manylinux; probe.py follows it.
EXACT_ORDER = Version(packaging.__version__) >= Version("26.3")

Run = subprocess.CompletedProcess[str]


# --- wheels and bundles ---------------------------------------------------------------------


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def make_wheel(
    folder: Path,
    name: str,
    version: str,
    files: dict[str, str],
    requires: Sequence[str] = (),
    scripts: dict[str, str] | None = None,
    tag: str = "py3-none-any",
) -> Path:
    """A minimal valid wheel: the given files plus METADATA, WHEEL, RECORD (and entry points)."""
    dist_info = f"{name}-{version}.dist-info"
    members = dict(files)
    members[f"{dist_info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        + "".join(f"Requires-Dist: {r}\n" for r in requires)
    )
    members[f"{dist_info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: test_payload\nRoot-Is-Purelib: true\nTag: {tag}\n"
    )
    if scripts:
        lines = "".join(f"{cmd} = {target}\n" for cmd, target in scripts.items())
        members[f"{dist_info}/entry_points.txt"] = "[console_scripts]\n" + lines
    record = [
        f"{path},{_record_hash(text.encode())},{len(text.encode())}"
        for path, text in members.items()
    ]
    members[f"{dist_info}/RECORD"] = "\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n"
    path = folder / f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for member, text in members.items():
            zf.writestr(member, text)
    return path


def alpha(folder: Path, version: str = "1.0") -> Path:
    return make_wheel(folder, "alpha", version, {"alpha.py": f'VERSION = "{version}"\n'})


def beta(folder: Path) -> Path:
    """Depends on alpha and brings a console script, whose shebang names the release."""
    code = "import alpha\n\ndef main():\n    print('beta with alpha', alpha.VERSION)\n"
    return make_wheel(
        folder, "beta", "2.0", {"beta/__init__.py": code}, ["alpha"], {"beta-hello": "beta:main"}
    )


@pytest.fixture(scope="session")
def pip_wheel() -> Path:
    bundled = Path(sysconfig.get_paths()["stdlib"]) / "ensurepip" / "_bundled"
    wheels = sorted(bundled.glob("pip-*.whl"))
    if not wheels:
        pytest.skip(f"this Python has no pip wheel in {bundled}")
    return wheels[-1]


@dataclass
class Target:
    name: str = f"{CP}-any"
    python_version: str = PY_VERSION
    platform: str = "any"
    implementation: str = sys.implementation.name
    lock: str = "requirements.lock"
    wheels: list[str] = field(default_factory=list)
    uv_wheel: str | None = None

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def write_sums(bundle: Path) -> None:
    """SHA256SUMS over every file but itself, as the build side writes it."""
    lines = [
        f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.relative_to(bundle).as_posix()}\n"
        for path in sorted(bundle.rglob("*"))
        if path.is_file() and path.name != "SHA256SUMS"
    ]
    (bundle / "SHA256SUMS").write_text("".join(lines))


def lock_line(wheel: Path) -> str:
    name, version = wheel.name.split("-")[:2]
    return f"{name}=={version} --hash=sha256:{hashlib.sha256(wheel.read_bytes()).hexdigest()}\n"


def make_bundle(
    root: Path,
    wheels: Iterable[Path],
    pip_wheel: Path,
    *,
    version: str = "1.0",
    targets: Sequence[Target] | None = None,
    uv: Path | None = None,
) -> Path:
    """NAME-VERSION/ as the build side lays it out: install.sh, lock, wheels/, support/, sums.

    With `uv` (a uv wheel), every target installs with it, as after ``--installer uv``.
    """
    bundle = root / f"myapp-{version}"
    (bundle / "wheels").mkdir(parents=True)
    (bundle / "support").mkdir()
    copied = [Path(shutil.copy(w, bundle / "wheels")) for w in [*wheels, pip_wheel]]
    if uv is not None:
        shutil.copy(uv, bundle / "wheels")
    targets = targets or [Target()]
    for target in targets:
        target.wheels = target.wheels or [w.name for w in copied]
        target.uv_wheel = uv.name if uv is not None else None
        (bundle / target.lock).write_text(
            f"# myapp {version}\n"
            + "".join(lock_line(w) for w in copied if w.name in target.wheels)
        )
    (bundle / "manifest.yaml").write_text(f"name: myapp\nversion: '{version}'\n")
    data = {
        "format": 1,
        "name": "myapp",
        "version": version,
        "pip_wheel": pip_wheel.name,
        "targets": [t.as_json() for t in targets],
    }
    (bundle / "support" / "targets.json").write_text(json.dumps(data, indent=2))
    shutil.copy(PROBE, bundle / "support" / "probe.py")
    shutil.copy(STEPS, bundle / "support" / "steps.py")
    shutil.copy(INSTALL_SH, bundle / "install.sh")
    (bundle / "install.sh").chmod(0o755)
    write_sums(bundle)
    return bundle


@pytest.fixture
def bundle(tmp_path: Path, pip_wheel: Path) -> Path:
    """myapp 1.0: alpha 1.0 and beta 2.0 (which needs alpha), for this interpreter."""
    wheels = tmp_path / "wheels-1.0"
    wheels.mkdir()
    return make_bundle(tmp_path / "b1", [alpha(wheels), beta(wheels)], pip_wheel)


@pytest.fixture
def bundle2(tmp_path: Path, pip_wheel: Path) -> Path:
    """myapp 2.0: the same with alpha 1.1."""
    wheels = tmp_path / "wheels-2.0"
    wheels.mkdir()
    return make_bundle(
        tmp_path / "b2", [alpha(wheels, "1.1"), beta(wheels)], pip_wheel, version="2.0"
    )


# --- running things -------------------------------------------------------------------------


def _can_cut_network() -> bool:
    unshare = shutil.which("unshare")
    if not unshare:
        return False
    done = subprocess.run(
        [unshare, "-n", "true"], capture_output=True, timeout=TIMEOUT, check=False
    )
    return done.returncode == 0


OFFLINE = ["unshare", "-n"] if _can_cut_network() else []


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without any pip or Python settings, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "PYTHON")) and k != "VIRTUAL_ENV"
    }
    env.update(extra)
    return env


def run(cmd: Sequence[str | Path], env: dict[str, str] | None = None, **kw: Any) -> Run:
    return subprocess.run(
        [str(c) for c in cmd],
        env=clean_env() if env is None else env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        **kw,
    )


def install(bundle: Path, *args: str | Path, **kw: Any) -> Run:
    """`install.sh ARGS` under dash (or sh), with the network cut where possible."""
    return run([*OFFLINE, SHELL, bundle / "install.sh", "--python", sys.executable, *args], **kw)


def ok(done: Run) -> Run:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def error_lines(done: Run) -> list[str]:
    return [line for line in done.stderr.splitlines() if line.startswith("error: ")]


def link(path: Path) -> str:
    """Where a symlink points, as written."""
    return str(path.readlink())


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def alpha_version(venv: Path) -> str:
    done = ok(run([venv_python(venv), "-c", "import alpha; print(alpha.VERSION)"]))
    return done.stdout.strip()


def snapshot(*roots: Path) -> dict[str, tuple[str, int]]:
    """Every path below the roots with its kind and mtime, symlinks not followed."""
    state: dict[str, tuple[str, int]] = {}
    for root in roots:
        paths = [root, *root.rglob("*")] if root.is_dir() and not root.is_symlink() else [root]
        for path in paths:
            if path.is_symlink():
                state[str(path)] = ("link:" + str(path.readlink()), 0)
            elif path.exists():
                state[str(path)] = (
                    ("dir", 0) if path.is_dir() else ("file", path.stat().st_mtime_ns)
                )
    return state


# --- probe.py: the same tags and markers as packaging -----------------------------------------


def probe_json(python: str | Path = sys.executable) -> Any:
    return json.loads(ok(run([python, PROBE])).stdout)


def assert_same_tags(
    probe: Sequence[str], reference: Sequence[str], exact_order: bool = EXACT_ORDER
) -> None:
    if exact_order:
        assert list(probe) == list(reference)
    else:  # an older packaging orders linux_<arch> last; the set is the same
        assert set(probe) == set(reference)


def test_probe_describes_this_interpreter_as_packaging_does() -> None:
    described = probe_json()
    assert_same_tags(described["tags"], [str(t) for t in sys_tags()])
    assert described["markers"] == default_environment()
    assert described["format"] == 1
    assert described["implementation"] == sys.implementation.name
    assert described["python_version"] == PY_VERSION
    assert described["interpreter"] == CP
    assert described["abi"][-1] == "none"
    assert described["tags"][0] == f"{CP}-{described['abi'][0]}-{described['platforms'][0]}"


#: Every Python the probe runs on that this machine has, this one included.
OTHER_PYTHONS = list(filter(None, map(find_python, INSTALLABLE_VERSIONS)))


@pytest.fixture(scope="session")
def packaging_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This packaging, in a folder another interpreter can put on PYTHONPATH."""
    folder = tmp_path_factory.mktemp("packaging-copy")
    shutil.copytree(Path(packaging.__file__).parent, folder / "packaging")
    return folder


@dataclass(frozen=True)
class Reference:
    """A packaging release another interpreter can import: where it is, and which it is."""

    path: Path
    version: Version
    requires_python: SpecifierSet


def reference_packaging(python: str, packaging_copy: Path) -> Reference:
    """The newest packaging that runs on `python`: this one, or one make fetched for older ones.

    The probe must describe every server Python as packaging would; packaging drops old
    Pythons (26 needs 3.10), so those are compared with its last release that still ran there
    (tests/reference-wheels.txt, fetched by make into WHEELBUNDLE_REFERENCE_WHEELS).
    """
    ours = Reference(
        packaging_copy,
        Version(packaging.__version__),
        SpecifierSet(metadata("packaging")["Requires-Python"] or ""),
    )
    candidates = [ours]
    folder = os.environ.get("WHEELBUNDLE_REFERENCE_WHEELS")
    for wheel in sorted(Path(folder).glob("packaging-*.whl")) if folder else ():
        with zipfile.ZipFile(wheel) as zf:
            [name] = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
            meta = email.message_from_bytes(zf.read(name))
        candidates.append(
            Reference(wheel, Version(meta["Version"]), SpecifierSet(meta["Requires-Python"]))
        )
    major, minor = _version(python)
    fits = [c for c in candidates if c.requires_python.contains(f"{major}.{minor}.0")]
    if not fits:
        pytest.skip(
            f"no packaging release for Python {major}.{minor} here: make test fetches one into "
            ".cache/reference-wheels (WHEELBUNDLE_REFERENCE_WHEELS)"
        )
    return max(fits, key=lambda c: c.version)


REFERENCE = (
    "import json; from packaging import tags, markers; "
    "print(json.dumps([[str(t) for t in tags.sys_tags()], markers.default_environment()]))"
)


@pytest.mark.parametrize("python", OTHER_PYTHONS)
def test_probe_matches_packaging_on_every_python(python: str, packaging_copy: Path) -> None:
    described = probe_json(python)
    reference = reference_packaging(python, packaging_copy)
    done = ok(run([python, "-c", REFERENCE], env=clean_env(PYTHONPATH=str(reference.path))))
    tags, markers = json.loads(done.stdout)
    assert_same_tags(described["tags"], tags, reference.version >= Version("26.3"))
    assert described["markers"] == markers


SCENARIOS = [
    "macos_14_arm64",
    "macos_12_x86_64",
    "macos_10_15_x86_64",
    "windows_amd64",
    "musllinux_1_2",
    "glibc_2_17_aarch64",
    "glibc_3_1",
    "manylinux_module_veto",
    "manylinux_module_legacy",
    "debug_build",
    "pypy",
    "graalpy",
]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_probe_matches_packaging_on_simulated_machines(scenario: str) -> None:
    done = ok(run([sys.executable, SIMULATE, PROBE, scenario], env=clean_env()))
    result = json.loads(done.stdout)
    assert_same_tags(result["probe"], result["packaging"])


def test_probe_matches_packaging_when_free_threaded(packaging_copy: Path) -> None:
    """No free-threaded build here: a 3.13+ interpreter is told Py_GIL_DISABLED=1."""
    python = next((p for p in [sys.executable, *OTHER_PYTHONS] if _version(p) >= (3, 13)), None)
    if python is None:
        pytest.skip("no Python 3.13+ found")
    env = clean_env(PYTHONPATH=str(packaging_copy))
    result = json.loads(ok(run([python, SIMULATE, PROBE, "free_threaded"], env=env)).stdout)
    assert_same_tags(result["probe"], result["packaging"])
    assert result["probe"][0].split("-")[1].endswith("t")
    assert any("-abi3t-" in t for t in result["probe"])
    assert not any("-abi3-" in t for t in result["probe"])


def _version(python: str) -> tuple[int, int]:
    done = ok(run([python, "-c", "import sys; print(*sys.version_info[:2])"]))
    major, minor = done.stdout.split()
    return int(major), int(minor)


# --- probe.py --select ----------------------------------------------------------------------


def select(bundle: Path, *args: str, python: str = sys.executable) -> Run:
    return run([python, "support/probe.py", "--select", "support/targets.json", *args], cwd=bundle)


def test_select_prints_target_and_lock(bundle: Path) -> None:
    assert ok(select(bundle)).stdout == f"{CP}-any\trequirements.lock\n"
    assert ok(select(bundle, "--lock-only")).stdout == "requirements.lock\n"


def test_select_takes_the_first_target_that_fits(tmp_path: Path, pip_wheel: Path) -> None:
    targets = [
        Target(name="cp399-any", python_version="3.99", lock="requirements-cp399.lock"),
        Target(name="pypy-any", implementation="pypy", lock="requirements-pypy.lock"),
        Target(name="mine", lock="requirements-mine.lock"),
        Target(name="mine-too", lock="requirements-too.lock"),
    ]
    bundle = make_bundle(tmp_path, [alpha(tmp_path)], pip_wheel, targets=targets)
    assert ok(select(bundle)).stdout == "mine\trequirements-mine.lock\n"


def test_select_names_every_target_when_none_fits(tmp_path: Path, pip_wheel: Path) -> None:
    targets = [
        Target(name="a", python_version="3.99", platform="manylinux_2_28_aarch64", lock="a.lock"),
        Target(name="b", python_version="2.7", platform="manylinux_2_17_x86_64", lock="b.lock"),
    ]
    bundle = make_bundle(tmp_path, [alpha(tmp_path)], pip_wheel, targets=targets)
    done = select(bundle)
    assert done.returncode == 3
    assert done.stdout == ""
    server = probe_server()
    assert done.stderr == (
        "error: this bundle needs one of: CPython 3.99 on manylinux_2_28_aarch64, "
        f"CPython 2.7 on manylinux_2_17_x86_64; this server has {server}\n"
    )


def pip_accepting_only(pip_wheel: Path, folder: Path, platform_tag: str) -> Path:
    """A copy of the pip wheel whose vendored packaging accepts one platform (this Python's
    interpreter and ABI on ``platform_tag``) and pure wheels, nothing else."""
    folder.mkdir()
    patched = folder / pip_wheel.name
    with zipfile.ZipFile(pip_wheel) as src, zipfile.ZipFile(patched, "w") as out:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "pip/_vendor/packaging/tags.py":
                data += (
                    "\ndef sys_tags(*, warn=False):\n"
                    f"    yield Tag({CP!r}, {CP!r}, {platform_tag!r})\n"
                    "    yield Tag('py3', 'none', 'any')\n"
                ).encode()
            out.writestr(item, data)
    return patched


def test_the_bundled_pip_s_packaging_decides_which_target_fits(
    tmp_path: Path, pip_wheel: Path
) -> None:
    """The tags come from the pip that will install (its packaging, read from its wheel), not
    from probe.py's own port: a platform only that pip accepts fits; the port alone refuses it."""
    odd = make_wheel(tmp_path, "gamma", "1.0", {"gamma.py": ""}, tag=f"{CP}-{CP}-test_platform")
    target = Target(name=f"{CP}-test_platform", platform="test_platform")
    patched = pip_accepting_only(pip_wheel, tmp_path / "patched", "test_platform")
    fits = make_bundle(tmp_path / "fits", [odd], patched, targets=[target])
    assert ok(select(fits)).stdout == f"{CP}-test_platform\trequirements.lock\n"
    (fits / "wheels" / patched.name).unlink()  # no pip wheel: the port decides, and refuses
    refused = select(fits)
    assert refused.returncode == 3 and f"wheels/{odd.name} does not fit" in refused.stderr
    here = sys_tags().__next__().platform  # a wheel for this very machine, as the port sees it
    native = make_wheel(tmp_path, "delta", "1.0", {"delta.py": ""}, tag=f"{CP}-{CP}-{here}")
    ours = Target(name=f"{CP}-{here}", platform=here)
    assert ok(select(make_bundle(tmp_path / "port", [native], pip_wheel, targets=[ours])))
    unfit = make_bundle(tmp_path / "unfit", [native], patched, targets=[Target(platform=here)])
    assert f"wheels/{native.name} does not fit" in select(unfit).stderr


def probe_server() -> str:
    """How probe.py names this server: 'CPython 3.11 on linux_x86_64 (glibc 2.36)'."""
    code = f"import sys; sys.path.insert(0, {str(PAYLOAD)!r}); import probe; "
    code += "print(probe.this_server(probe.platforms()))"
    return ok(run([sys.executable, "-c", code])).stdout.strip()


def test_select_rejects_a_broken_targets_file(bundle: Path) -> None:
    (bundle / "support" / "targets.json").write_text('{"format": 2, "targets": []}')
    done = select(bundle)
    assert done.returncode == 2
    assert error_lines(done) == ["error: support/targets.json: unsupported format 2 (expected 1)"]


def test_probe_usage_error_exits_2() -> None:
    assert run([sys.executable, PROBE, "--lock-only"]).returncode == 2


# --- install.sh: preflight refusals -----------------------------------------------------------


def test_wrong_python_version_is_refused_before_anything_is_made(bundle: Path) -> None:
    other = next((p for p in OTHER_PYTHONS if _version(p) != sys.version_info[:2]), None)
    if other is None:  # no second interpreter: make the bundle ask for one that is not here
        data = json.loads((bundle / "support" / "targets.json").read_text())
        data["targets"][0]["python_version"] = "3.99"
        (bundle / "support" / "targets.json").write_text(json.dumps(data))
        write_sums(bundle)
        other, wanted = sys.executable, "3.99"
    else:
        wanted = PY_VERSION
    venv = bundle.parent / "venv"
    done = install(bundle, "--python", other, venv)
    assert done.returncode == 3
    have = "{}.{}".format(*_version(other))
    assert error_lines(done) == [
        f"error: this bundle needs CPython {wanted}; this server has CPython {have} "
        + probe_server().split(" ", 2)[2]
    ]
    assert not venv.exists() and not Path(f"{venv}.releases").exists()


@pytest.mark.parametrize(
    ("decisions", "fits"),
    [
        ({'python_version >= "3"': True, 'sys_platform == "win32"': False}, True),
        ({'python_full_version < "3.0.1"': True}, False),
    ],
)
def test_a_marker_that_decided_the_resolution_must_come_out_the_same_here(
    bundle: Path, decisions: dict[str, bool], fits: bool
) -> None:
    """Read with the packaging inside the bundle's own pip wheel, as the server has no other."""
    data = json.loads((bundle / "support" / "targets.json").read_text())
    data["targets"][0].update(decisions=decisions, environment={"python_full_version": "3.0.0"})
    (bundle / "support" / "targets.json").write_text(json.dumps(data))
    write_sums(bundle)
    venv = bundle.parent / "venv"
    done = install(bundle, venv)
    if fits:
        ok(done)
        return
    assert done.returncode == 3
    [line] = error_lines(done)
    assert line == (
        "error: this bundle was resolved for Python 3.0.0, where 'python_full_version < \"3.0.1\"' is True, "
        f"but here (Python {platform.python_version()}) it is False, so other packages would be "
        "needed: run 'bundle probe' on this server and make the bundle with --target server.json"
    )
    assert not venv.exists() and not Path(f"{venv}.releases").exists()


def test_wheel_for_another_platform_is_refused_by_name(tmp_path: Path, pip_wheel: Path) -> None:
    mac = make_wheel(tmp_path, "gamma", "1.0", {"gamma.py": ""}, tag=f"{CP}-{CP}-macosx_11_0_arm64")
    target = Target(name=f"{CP}-macosx_11_0_arm64", platform="macosx_11_0_arm64")
    bundle = make_bundle(tmp_path / "b", [alpha(tmp_path), mac], pip_wheel, targets=[target])
    venv = tmp_path / "venv"
    done = install(bundle, venv)
    assert done.returncode == 3
    assert error_lines(done) == [
        f"error: this bundle needs CPython {PY_VERSION} on macosx_11_0_arm64; "
        f"this server has {probe_server()}; wheels/{mac.name} does not fit"
    ]
    assert not venv.exists() and not Path(f"{venv}.releases").exists()


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, pip_wheel: Path) -> Path:
    """myapp 1.0 installed once, shared by the tests that must leave it exactly as it is."""
    root = tmp_path_factory.mktemp("installed")
    bundle = make_bundle(root / "bundle", [alpha(root), beta(root)], pip_wheel)
    venv = root / "venv"
    ok(install(bundle, venv))
    return venv


def no_sha256sum_path(tmp_path: Path) -> str:
    """A PATH with every command of this one except sha256sum."""
    bin_dir = tmp_path / "bin-without-sha256sum"
    bin_dir.mkdir()
    for folder in reversed(os.environ["PATH"].split(os.pathsep)):
        for tool in Path(folder).glob("*") if Path(folder).is_dir() else []:
            if tool.name != "sha256sum" and os.access(tool, os.X_OK):
                (bin_dir / tool.name).unlink(missing_ok=True)
                (bin_dir / tool.name).symlink_to(tool)
    return str(bin_dir)


@pytest.mark.parametrize("checker", ["sha256sum", "python"])
def test_tampered_wheel_is_refused_by_name_and_nothing_changes(
    installed: Path, bundle: Path, tmp_path: Path, checker: str
) -> None:
    env = clean_env(PATH=no_sha256sum_path(tmp_path)) if checker == "python" else clean_env()
    wheel = next((bundle / "wheels").glob("alpha-*.whl"))
    flip_a_byte(wheel)
    before = snapshot(installed, Path(f"{installed}.releases"))
    for args in [(), ("--check",)]:
        done = install(bundle, *args, installed, env=env)
        assert done.returncode == 4
        assert error_lines(done) == [
            f"error: wheels/{wheel.name}: checksum mismatch "
            "(the bundle was changed or damaged in transit)"
        ]
    wheel.unlink()
    done = install(bundle, installed, env=env)
    assert error_lines(done) == [
        f"error: wheels/{wheel.name}: missing or unreadable (the bundle is incomplete)"
    ]
    assert snapshot(installed, Path(f"{installed}.releases")) == before
    assert alpha_version(installed) == "1.0"


def test_unlisted_wheel_is_refused(bundle: Path, tmp_path: Path) -> None:
    extra = alpha(bundle / "wheels", "6.6")
    done = install(bundle, tmp_path / "venv")
    assert done.returncode == 4
    assert error_lines(done) == [
        f"error: wheels/{extra.name}: not listed in SHA256SUMS (added after the bundle was made)"
    ]
    assert not (tmp_path / "venv").exists()


def test_check_changes_nothing(bundle: Path, installed: Path, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh" / "venv"
    done = ok(install(bundle, "--check", fresh))
    assert done.stdout == (
        f"check passed: myapp 1.0 ({CP}-any) can be installed into {fresh}; nothing was changed\n"
    )
    assert not (tmp_path / "fresh").exists()
    before = snapshot(installed, Path(f"{installed}.releases"))
    ok(install(bundle, "--check", installed))
    assert snapshot(installed, Path(f"{installed}.releases")) == before


def test_describe_prints_the_probe_json_and_changes_nothing(bundle: Path) -> None:
    done = ok(install(bundle, "--describe"))
    assert json.loads(done.stdout) == probe_json()
    assert not (bundle / "venv").exists()


def test_help_and_usage_errors(bundle: Path) -> None:
    text = ok(install(bundle, "--help")).stdout
    words = ["VENV_DIR", "--python", "--check", "--describe", "--rollback", "--no-uv", ".releases"]
    for word in words:
        assert word in text
    done = install(bundle, "--frobnicate")
    assert done.returncode == 2
    assert error_lines(done) == ["error: unknown option --frobnicate (see --help)"]
    assert install(bundle, "--check", "--rollback").returncode == 2


# --- install.sh: installing -----------------------------------------------------------------


def hostile_env(tmp_path: Path) -> dict[str, str]:
    """A server whose pip settings would send pip elsewhere, and a PYTHONPATH with a fake alpha."""
    home = tmp_path / "home"
    for conf in [home / ".config" / "pip" / "pip.conf", home / ".pip" / "pip.conf"]:
        conf.parent.mkdir(parents=True)
        conf.write_text("[global]\nindex-url = http://127.0.0.1:9/simple\ntarget = /nowhere\n")
    fake = tmp_path / "fake-site"
    make_wheel(tmp_path, "alpha", "9.9", {"alpha.py": 'VERSION = "9.9"\n'})
    with zipfile.ZipFile(tmp_path / "alpha-9.9-py3-none-any.whl") as zf:
        zf.extractall(fake)
    return clean_env(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        PIP_TARGET=str(tmp_path / "pip-target"),
        PIP_INDEX_URL="http://127.0.0.1:9/simple",
        PIP_FIND_LINKS=str(tmp_path / "nowhere"),
        PIP_REQUIRE_VIRTUALENV="0",
        PYTHONPATH=str(fake),
    )


def test_full_install_offline(bundle: Path, tmp_path: Path) -> None:
    if not OFFLINE:
        pytest.skip("unshare -n does not work here: cannot prove the install is offline")
    venv = tmp_path / "srv" / "venv"
    done = ok(install(bundle, venv, env=hostile_env(tmp_path)))
    assert done.stdout == f"installed myapp 1.0 ({CP}-any) into {venv}\n"

    releases = Path(f"{venv}.releases")
    [release] = list(releases.iterdir())
    assert venv.is_symlink() and link(venv) == str(release)
    assert release.name.startswith("myapp-1.0-")
    assert alpha_version(venv) == "1.0"
    assert ok(run([venv / "bin" / "beta-hello"])).stdout == "beta with alpha 1.0\n"
    assert (venv / "bin" / "beta-hello").read_text().startswith(f"#!{release}/bin/python")
    ok(run([venv_python(venv), "-m", "pip", "check"]))
    assert not (tmp_path / "pip-target").exists()
    # Bytecode was compiled here, for every module, with the release's own paths inside.
    show = "import marshal, sys; f = open(sys.argv[1], 'rb'); f.read(16); print(marshal.load(f).co_filename)"
    for module in ("alpha.py", "beta/__init__.py"):
        [source] = release.rglob(module)
        [pyc] = (source.parent / "__pycache__").glob(f"{source.stem}.*.pyc")
        assert ok(run([venv_python(venv), "-c", show, pyc])).stdout.strip() == str(source)


def test_runs_from_any_directory_with_a_relative_venv(bundle: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = ok(install(bundle.resolve(), "--check", "relative-venv/", cwd=elsewhere))
    assert f" into {elsewhere / 'relative-venv'};" in done.stdout


def test_default_venv_is_beside_install_sh_or_the_active_one(bundle: Path, tmp_path: Path) -> None:
    done = ok(install(bundle, "--check"))
    assert f" into {bundle / 'venv'};" in done.stdout
    active = clean_env(VIRTUAL_ENV=str(tmp_path / "active"))
    assert f" into {tmp_path / 'active'};" in ok(install(bundle, "--check", env=active)).stdout
    # Activated from a release, VIRTUAL_ENV names the release: the symlink is what is updated.
    release = clean_env(VIRTUAL_ENV=f"{tmp_path}/app/venv.releases/myapp-1.0-20250101T000000Z")
    done = ok(install(bundle, "--check", env=release))
    assert f" into {tmp_path / 'app' / 'venv'};" in done.stdout


def releases_of(venv: Path) -> list[str]:
    return sorted(p.name for p in Path(f"{venv}.releases").iterdir())


def test_rerun_switches_prunes_and_rollback_swaps(
    bundle: Path, bundle2: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    ok(install(bundle, venv))
    first = link(venv)
    releases = Path(f"{venv}.releases")
    (releases / "myapp-0.9-20000101T000000Z").mkdir()  # an old release, no longer needed
    (releases / "myapp-1.0-20000101T000000Z.partial").touch()  # the marker of a killed run

    ok(install(bundle2, venv))
    second = link(venv)
    assert Path(second).parent == releases and Path(second).name.startswith("myapp-2.0-")
    assert alpha_version(venv) == "1.1"
    assert ok(run([venv / "bin" / "beta-hello"])).stdout == "beta with alpha 1.1\n"
    assert link(releases / "rollback") == first
    assert alpha_version(Path(first)) == "1.0"  # the previous release still works
    assert releases_of(venv) == sorted([Path(first).name, Path(second).name, "rollback"])

    done = ok(install(bundle2, "--rollback", venv))
    assert link(venv) == first and alpha_version(venv) == "1.0"
    assert "rolled back" in done.stderr
    ok(install(bundle2, "--rollback", venv))
    assert link(venv) == second


def test_rollback_without_an_earlier_release_fails_clearly(installed: Path, bundle: Path) -> None:
    done = install(bundle, "--rollback", installed)
    assert done.returncode == 1
    assert error_lines(done) == [f"error: no earlier release in {installed}.releases"]


def test_failed_install_leaves_the_previous_venv_working(bundle2: Path, installed: Path) -> None:
    lock = bundle2 / "requirements.lock"
    good = hashlib.sha256(next((bundle2 / "wheels").glob("alpha-*.whl")).read_bytes()).hexdigest()
    lock.write_text(lock.read_text().replace(good, "0" * 64))
    write_sums(bundle2)  # preflight passes: the bundle is consistent, pip refuses the hash
    before = snapshot(installed, Path(f"{installed}.releases"))

    done = install(bundle2, installed)
    assert done.returncode == 1
    assert error_lines(done) == [
        "error: pip could not install requirements.lock (see its message above)"
    ]
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in done.stderr
    assert snapshot(installed, Path(f"{installed}.releases")) == before
    assert alpha_version(installed) == "1.0"


def test_interrupted_install_removes_the_new_release(
    bundle: Path, installed: Path, tmp_path: Path
) -> None:
    """A --python that signals install.sh (its parent) right after the venv is built."""
    python = tmp_path / "python-then-term"
    python.write_text(
        f'#!/bin/sh\n"{sys.executable}" "$@"; status=$?\n'
        f'[ "$2" = venv ] && kill -{signal.SIGTERM.value} $PPID\nexit $status\n'
    )
    python.chmod(0o755)
    before = snapshot(installed, Path(f"{installed}.releases"))
    done = run([*OFFLINE, SHELL, bundle / "install.sh", "--python", python, installed])
    assert done.returncode == 143
    assert snapshot(installed, Path(f"{installed}.releases")) == before


#: A module a .pth line imports as every Python in the venv starts: in the step install.sh
#: runs with WB_PAUSE_AT among its arguments, it marks WB_PAUSED and waits where that step's
#: work is (compiling a file, in compileall's worker processes; running pip), the moment a
#: Ctrl-C lands.
PAUSE_HOOK = """\
import compileall, os, runpy, time

def pause():
    open(os.environ["WB_PAUSED"], "w").close()
    time.sleep(60)

def compile_file(*args, **kwargs):
    pause()
    return original_compile_file(*args, **kwargs)

def run_module(*args, **kwargs):
    pause()
    return original_run_module(*args, **kwargs)

original_compile_file, original_run_module = compileall.compile_file, runpy.run_module
step = os.environ.get("WB_PAUSE_AT", "")
if step and step.encode() in open("/proc/self/cmdline", "rb").read().split(b"\\0")[2:]:
    if step == "compile":
        compileall.compile_file = compile_file
    else:
        runpy.run_module = run_module
"""


@pytest.mark.parametrize("step", ["compile", "check"])
def test_ctrl_c_while_compiling_or_checking_stops_the_install_and_keeps_venv(
    installed: Path, tmp_path: Path, pip_wheel: Path, step: str
) -> None:
    """SIGINT to install.sh's process group, as a terminal sends it, while the step runs."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    pausing = make_wheel(
        wheels,
        "pausing",
        "1.0",
        {"pausing.pth": "import pausing_hook\n", "pausing_hook.py": PAUSE_HOOK},
    )
    bundle = make_bundle(tmp_path / "b", [alpha(wheels, "1.1"), pausing], pip_wheel)
    before = snapshot(installed, Path(f"{installed}.releases"))
    paused = tmp_path / "paused"
    env = clean_env(WB_PAUSE_AT=step, WB_PAUSED=str(paused))
    command = [*OFFLINE, SHELL, bundle / "install.sh", "--python", sys.executable, installed]
    with subprocess.Popen(
        [str(c) for c in command], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    ) as process:  # fmt: skip
        for _ in range(TIMEOUT * 10):
            if paused.exists() or process.poll() is not None:
                break
            time.sleep(0.1)
        assert paused.exists(), process.communicate()
        os.killpg(process.pid, signal.SIGINT)
        try:  # the paused step would go on for 60 s: an install that waits for it has hung
            out, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    assert process.returncode == 130, err
    assert "switched" not in err and not out
    assert err.splitlines()[-2:] == [f"{installed} was left as it was", "interrupted"] or (
        err.splitlines()[-2:] == ["interrupted", f"{installed} was left as it was"]
    )
    assert snapshot(installed, Path(f"{installed}.releases")) == before
    assert alpha_version(installed) == "1.0"


def test_plain_venv_at_venv_dir_is_kept_for_rollback(bundle: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    ok(run([sys.executable, "-m", "venv", "--without-pip", venv]))
    (venv / "marker").write_text("the old one")
    ok(install(bundle, venv))
    assert venv.is_symlink() and alpha_version(venv) == "1.0"
    [previous] = [p for p in releases_of(venv) if p.startswith("previous-")]
    ok(install(bundle, "--rollback", venv))
    assert link(venv).endswith(previous)
    assert (venv / "marker").read_text() == "the old one"


#: Where a kill -9 (power loss, OOM) can catch the switch, in its order: a wrapper of the
#: command kills install.sh ($PPID) once the command matching the pattern is done.
KILL_POINTS = {
    "rollback named, the venv not yet moved": ("ln", "*/rollback.tmp-link"),
    "the plain venv moved aside": ("mv", "*/previous-*"),
    "VENV's new link made, not yet in place": ("ln", "*/venv.tmp-link"),
}


@pytest.mark.parametrize("point", sorted(KILL_POINTS))
@pytest.mark.parametrize("then", ["install again", "roll back"])
def test_a_kill_while_switching_from_a_plain_venv_loses_nothing(
    bundle: Path, tmp_path: Path, point: str, then: str
) -> None:
    """kill -9 in the midst of the switch from a venv made by hand: the next run, an install
    or --rollback, first puts the venv back; after an install, --rollback returns to it. An
    interrupted switch is never taken for a finished one, whose leftovers may be deleted."""
    venv = _plain_venv(tmp_path)
    command, argument = KILL_POINTS[point]
    killed = install(bundle, venv, env=_wrapped(tmp_path, command, argument, "kill -9"))
    assert killed.returncode == -signal.SIGKILL or killed.returncode == 128 + signal.SIGKILL
    pending = link(Path(f"{venv}.releases") / "switching")  # names where the venv goes
    assert Path(pending).name.startswith("previous-")
    put_back = f"put {venv} back as it was before an install that was stopped while switching"
    if then == "roll back":
        rolled = ok(install(bundle, "--rollback", venv))
        assert put_back in rolled.stderr
    else:
        again = ok(install(bundle, venv))
        assert put_back in again.stderr
        assert venv.is_symlink() and alpha_version(venv) == "1.0"
        ok(install(bundle, "--rollback", venv))
    assert (venv / "marker").read_text() == "the old one"
    assert "switching" not in releases_of(venv)


def _wrapped(tmp_path: Path, command: str, argument: str, action: str) -> dict[str, str]:
    """An environment whose ``command`` does ``action`` to install.sh ($PPID) once done with
    a call whose arguments match ``argument``."""
    tools = tmp_path / f"wrapped-{command}"
    tools.mkdir()
    (tools / command).write_text(
        f'#!/bin/sh\n/bin/{command} "$@"; status=$?\n'
        f'case "$*" in {argument}) {action} $PPID ;; esac\nexit $status\n'
    )
    (tools / command).chmod(0o755)
    return clean_env(PATH=f"{tools}{os.pathsep}{os.environ['PATH']}")


def _plain_venv(tmp_path: Path) -> Path:
    venv = tmp_path / "venv"
    ok(run([sys.executable, "-m", "venv", "--without-pip", venv]))
    (venv / "marker").write_text("the old one")
    return venv


def test_ctrl_c_as_the_switch_ends_never_deletes_the_release_in_use(
    bundle: Path, tmp_path: Path
) -> None:
    """Interrupted once VENV points at the new release: that release stays, VENV works, and
    the venv made by hand is the one to roll back to (once, the release was deleted under it)."""
    venv = _plain_venv(tmp_path)
    env = _wrapped(tmp_path, "rm", "*/switching", "kill -INT")
    stopped = install(bundle, venv, env=env)
    assert stopped.returncode == 130, stopped.stderr
    assert alpha_version(venv) == "1.0"  # the new release, whole
    ok(install(bundle, "--rollback", venv))
    assert (venv / "marker").read_text() == "the old one"


def test_a_venv_made_again_after_a_kill_mid_switch_keeps_the_moved_one(
    bundle: Path, tmp_path: Path
) -> None:
    """The operator, finding VENV gone, made a new one by hand: the install after it cannot put
    the old one back, and keeps it apart (never sweeps it); --check says what is pending."""
    venv = _plain_venv(tmp_path)
    killed = install(bundle, venv, env=_wrapped(tmp_path, "mv", "*/previous-*", "kill -9"))
    assert killed.returncode in (-signal.SIGKILL, 128 + signal.SIGKILL)
    checked = ok(install(bundle, "--check", venv))
    assert "was stopped while switching; the next install or --rollback first puts back" in (
        checked.stderr
    )
    ok(run([sys.executable, "-m", "venv", "--without-pip", venv]))
    again = ok(install(bundle, venv))
    assert "the venv that install had moved aside is kept as" in again.stderr
    [kept] = [p for p in releases_of(venv) if p.startswith("kept-")]
    assert (Path(f"{venv}.releases") / kept / "marker").read_text() == "the old one"
    ok(install(bundle, venv))  # and a later install keeps it too
    assert kept in releases_of(venv)


def test_a_non_venv_directory_is_refused(bundle: Path, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "precious.txt").write_text("keep me")
    done = install(bundle, tmp_path / "data")
    assert done.returncode == 1
    assert error_lines(done) == [
        f"error: {tmp_path / 'data'} exists and is not a virtual environment; "
        "choose another VENV_DIR"
    ]


def python_without_ensurepip(tmp_path: Path) -> Path:
    """This interpreter in a prefix whose standard library has no ensurepip.

    Like Debian's python3 without the python3-venv package: `python3 -m venv` fails there.
    """
    real = Path(str(sysconfig.get_config_var("BINDIR"))) / f"python{PY_VERSION}"
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    prefix = tmp_path / "no-ensurepip"
    (prefix / "bin").mkdir(parents=True)
    python = Path(shutil.copy2(real, prefix / "bin" / real.name))
    (prefix / "lib" / stdlib.name).mkdir(parents=True)
    for entry in stdlib.iterdir():
        if entry.name != "ensurepip":
            (prefix / "lib" / stdlib.name / entry.name).symlink_to(entry)
    done = run([python, "-c", "import sys; print(sys.prefix)"])
    if done.returncode != 0 or done.stdout.strip() != str(prefix):
        pytest.skip(f"{real} does not run from another prefix: {done.stdout}{done.stderr}")
    return python


def test_a_python_without_ensurepip_installs_fine(bundle: Path, tmp_path: Path) -> None:
    python = python_without_ensurepip(tmp_path)
    control = run([python, "-m", "venv", tmp_path / "control"])
    assert control.returncode != 0 and "ensurepip" in control.stderr

    venv = tmp_path / "venv"
    ok(install(bundle, "--python", python, venv))
    assert alpha_version(venv) == "1.0"


# --- install.sh: installing with uv ---------------------------------------------------------

DISTRIBUTIONS = (
    "import json, importlib.metadata as m; print(json.dumps({d.metadata['Name']: "
    "[d.version, d.read_text('INSTALLER').strip()] for d in m.distributions()}))"
)


def distributions_in(venv: Path) -> dict[str, list[str]]:
    """Each installed distribution's version and the tool that installed it (its INSTALLER)."""
    found: dict[str, list[str]] = json.loads(
        ok(run([venv_python(venv), "-c", DISTRIBUTIONS])).stdout
    )
    return found


def versions(distributions: dict[str, list[str]]) -> dict[str, str]:
    return {name: version for name, (version, _) in distributions.items()}


def installers(distributions: dict[str, list[str]]) -> set[str]:
    return {installer for _, installer in distributions.values()}


@pytest.fixture
def uv_bundle(tmp_path: Path, pip_wheel: Path, uv_wheel: Path) -> Path:
    """myapp 1.0 as ``bundle make --installer uv`` lays it out: the real uv beside the wheels."""
    wheels = tmp_path / "wheels-uv"
    wheels.mkdir()
    return make_bundle(tmp_path / "b-uv", [alpha(wheels), beta(wheels)], pip_wheel, uv=uv_wheel)


def uv_hostile_env(tmp_path: Path) -> dict[str, str]:
    """hostile_env, plus uv settings that would send uv elsewhere or link into its cache."""
    env = hostile_env(tmp_path)
    config = Path(env["HOME"]) / ".config" / "uv" / "uv.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[pip]\nindex-url = "http://127.0.0.1:9/simple"\nlink-mode = "symlink"\n')
    env.update(
        UV_INDEX_URL="http://127.0.0.1:9/simple",
        UV_CACHE_DIR=str(tmp_path / "uv-cache"),
        UV_LINK_MODE="symlink",
        UV_PYTHON="/nowhere/python",
    )
    return env


def test_installs_with_the_bundled_uv_offline_as_pip_would(
    uv_bundle: Path, tmp_path: Path, pip_wheel: Path
) -> None:
    if not OFFLINE:
        pytest.skip("unshare -n does not work here: cannot prove the install is offline")
    env = uv_hostile_env(tmp_path)
    home_before = sorted(Path(env["HOME"]).rglob("*"))
    venv = tmp_path / "srv" / "venv"
    done = ok(install(uv_bundle, venv, env=env))
    uv_version = " ".join(ok(run([find_uv_bin(), "--version"])).stdout.split()[:2])
    assert f"installing 3 packages from wheels/ with {uv_version} (offline, hash-checked)" in (
        done.stderr.splitlines()
    )
    assert done.stdout == f"installed myapp 1.0 ({CP}-any) into {venv}\n"
    with_uv = distributions_in(venv)
    pip_version = pip_wheel.name.split("-")[1]
    assert versions(with_uv) == {"alpha": "1.0", "beta": "2.0", "pip": pip_version}
    assert installers(with_uv) == {"uv"}  # uv, not pip, installed every one of them
    ok(run([venv_python(venv), "-m", "pip", "check"]))
    [release] = releases_of(venv)  # uv's program and cache went with their folder
    assert ok(run([venv / "bin" / "beta-hello"])).stdout == "beta with alpha 1.0\n"
    assert (venv / "bin" / "beta-hello").read_text().startswith(f"#!{venv}.releases/{release}/")
    assert not (venv / "bin" / "uv").exists()
    assert list(Path(f"{venv}.releases", release).rglob("alpha*.pyc"))  # bytecode compiled
    assert sorted(Path(env["HOME"]).rglob("*")) == home_before  # no cache or config written
    assert not (tmp_path / "uv-cache").exists()

    pip_venv = tmp_path / "srv" / "pip-venv"
    done = ok(install(uv_bundle, "--no-uv", pip_venv, env=env))
    assert "installing 3 packages from wheels/ with pip (offline, hash-checked)" in (
        done.stderr.splitlines()
    )
    with_pip = distributions_in(pip_venv)
    assert versions(with_pip) == versions(with_uv)
    assert installers(with_pip) == {"pip"}


# Another machine's program (an aarch64 ELF header), and one that cannot find its libc.
AARCH64_PROGRAM = b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x02\x00\xb7\x00" + bytes(44)
NO_GLIBC = b"#!/bin/sh\necho \"uv: /lib64/libc.so.6: version 'GLIBC_2.99' not found\"\nexit 1\n"


@pytest.mark.parametrize(
    ("program", "reason"),
    [
        (AARCH64_PROGRAM, "Exec format error"),
        (NO_GLIBC, "uv --version exited 1: uv: /lib64/libc.so.6: version 'GLIBC_2.99' not found"),
    ],
    ids=["another-machine", "libc-too-old"],
)
def test_falls_back_to_pip_when_uv_cannot_run_here(
    tmp_path: Path, pip_wheel: Path, program: bytes, reason: str
) -> None:
    broken = make_uv_wheel(tmp_path / "uv", program)
    bundle = make_bundle(tmp_path / "b", [alpha(tmp_path), beta(tmp_path)], pip_wheel, uv=broken)
    venv = tmp_path / "venv"
    done = ok(install(bundle, venv))
    notes = [line for line in done.stderr.splitlines() if line.startswith("note: ")]
    assert notes == [
        f"note: the bundled uv cannot run here ({reason}); installing with pip instead"
    ]
    assert "installing 3 packages from wheels/ with pip (offline, hash-checked)" in done.stderr
    assert installers(distributions_in(venv)) == {"pip"}
    assert alpha_version(venv) == "1.0"
    assert len(releases_of(venv)) == 1


def test_a_failed_uv_install_leaves_the_previous_venv_working(
    tmp_path: Path, pip_wheel: Path, uv_wheel: Path, installed: Path
) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    newer = alpha(wheels, "1.1")
    bundle = make_bundle(
        tmp_path / "b", [newer, beta(wheels)], pip_wheel, version="2.0", uv=uv_wheel
    )
    lock = bundle / "requirements.lock"
    lock.write_text(
        lock.read_text().replace(hashlib.sha256(newer.read_bytes()).hexdigest(), "0" * 64)
    )
    write_sums(bundle)  # preflight passes: the bundle is consistent, uv refuses the hash
    before = snapshot(installed, Path(f"{installed}.releases"))

    done = install(bundle, installed)
    assert done.returncode == 1
    assert error_lines(done)[-1] == (
        "error: uv could not install requirements.lock (see its message above); "
        "--no-uv installs with pip"
    )
    assert "0" * 64 in done.stderr  # uv's own message names the hash it expected
    assert snapshot(installed, Path(f"{installed}.releases")) == before
    assert alpha_version(installed) == "1.0"


# --- install.sh: the script itself ----------------------------------------------------------


@pytest.mark.parametrize("shell", ["sh", "dash", "bash"])
def test_install_sh_parses(shell: str) -> None:
    if not shutil.which(shell):
        pytest.skip(f"no {shell}")
    ok(run([shell, "-n", INSTALL_SH]))


@pytest.mark.parametrize("linter", [["shellcheck", "-s", "sh"], ["checkbashisms"]])
def test_install_sh_lints_clean(linter: list[str]) -> None:
    if not shutil.which(linter[0]):
        pytest.skip(f"{linter[0]} is not installed")
    ok(run([*linter, INSTALL_SH]))
