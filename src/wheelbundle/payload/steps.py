"""The steps of install.sh that need Python, here rather than in shell strings the linters miss.

    python3 steps.py replace SRC DST                 rename SRC over DST in one step
    python3 steps.py check-sums                      check SHA256SUMS (servers without sha256sum)
    python3 steps.py target-info TARGETS_JSON NAME   print NAME VERSION PIP_WHEEL UV_WHEEL, tab-separated
    python3 steps.py unpack-uv WHEEL DEST            unpack uv's program and try it; print "uv X.Y.Z"
    python3 steps.py pip WHEEL ARG...                run pip from its wheel, never importing distutils
    python3 steps.py compile                         compile this Python's site-packages on every core
    python3 steps.py pip-without-distutils           let this venv's own pip run where distutils is not
    python3 steps.py take-base TARGETS_JSON BASE     a delta's wheels from its base, into wheels/

install.sh runs it from the bundle's folder, after checking the Python is 3.8 or later (so the
syntax here is 3.8's). Exit status: 0 done, else the step failed and said why on stderr (pip's
own status for ``pip``). Standard library only.
"""

from __future__ import annotations

import compileall
import hashlib
import json
import runpy
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import IO, Any, NoReturn

CHUNK = 1 << 20


def replace(src: str, dst: str) -> None:
    """``mv -T`` is GNU-only and plain ``mv`` moves into a directory: os.replace is rename(2)."""
    Path(src).replace(dst)


def check_sums() -> None:
    """What ``sha256sum -c --quiet --strict SHA256SUMS`` says of the first bad file, if any."""
    with Path("SHA256SUMS").open(encoding="utf-8") as sums:
        for line in sums:
            digest, _, path = line.rstrip("\n").partition("  ")
            try:
                actual = _sha256(Path(path.lstrip("*")))
            except OSError:
                sys.exit(path + ": FAILED open or read")
            if actual != digest.lower():
                sys.exit(path + ": FAILED")


def _sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            sha.update(block)
    return sha.hexdigest()


def target_info(targets_json: str, name: str) -> None:
    data = json.loads(Path(targets_json).read_text(encoding="utf-8"))
    [target] = [t for t in data["targets"] if t["name"] == name]
    fields = [data["name"], data["version"], data["pip_wheel"], target.get("uv_wheel") or ""]
    print("\t".join(fields))


def unpack_uv(wheel: str, dest: str) -> None:
    """uv's program, beside the release (so it can hardlink from its cache, and /tmp may be
    mounted noexec), tried at once: a program built for another machine fails here, in Python,
    not in the shell."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            member = next(n for n in zf.namelist() if n.endswith(".data/scripts/uv"))
            with zf.open(member) as src, Path(dest).open("wb") as out:
                shutil.copyfileobj(src, out, CHUNK)
        Path(dest).chmod(0o755)
        done = subprocess.run(
            [dest, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60
        )
    except (OSError, StopIteration, zipfile.BadZipFile, subprocess.SubprocessError) as exc:
        sys.exit(getattr(exc, "strerror", None) or repr(exc))
    lines = done.stdout.decode(errors="replace").strip().splitlines() or [""]
    if done.returncode != 0:
        sys.exit(f"uv --version exited {done.returncode}: {lines[-1]}")
    print(" ".join(lines[0].split()[:2]))  # "uv 0.9.5"


def run_pip(wheel: str, args: list[str]) -> None:
    """pip from its wheel (a zip holds a runnable ``pip/``), finding install locations with
    sysconfig as it does on Python 3.10 and later: it then never imports distutils, which Debian
    and Ubuntu ship apart (python3-distutils), so their stock Python 3.9 installs too."""
    sysconfig._PIP_USE_SYSCONFIG = True  # type: ignore[attr-defined]
    sys.path[0] = wheel  # this script's folder is not pip's business
    sys.argv = ["pip", *args]
    runpy.run_module("pip", run_name="__main__", alter_sys=True)


def compile_site_packages() -> None:
    """Bytecode compiled here, so its paths are this server's, on every core (pip uses one);
    like pip, a file that does not compile (Python 2 leftovers in some packages) is skipped."""
    for path in sorted({sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}):
        compileall.compile_dir(path, quiet=2, workers=0)


def pip_without_distutils() -> None:
    """Debian and Ubuntu ship distutils apart (python3-distutils), and pip on Python 3.9 and
    older imports it as it starts: the venv's own ``pip`` would die there. A ``.pth`` line sets
    the flag pip reads to find install locations with sysconfig (its choice on 3.10 and later)."""
    if sys.version_info >= (3, 10) or _has_distutils():
        return
    pth = Path(sysconfig.get_path("purelib")) / "_wheelbundle_pip_sysconfig.pth"
    pth.write_text("import sysconfig; sysconfig._PIP_USE_SYSCONFIG = True\n", encoding="utf-8")


def _has_distutils() -> bool:
    try:
        import distutils.cmd  # noqa: F401
    except ImportError:
        return False
    return True


def take_base(targets_json: str, base: str) -> None:
    """A delta bundle's other wheels, from the bundle it was made against (its folder or its
    .tar.gz), into wheels/. The base must be that very bundle (the sha256 of its SHA256SUMS, which
    names every file of it); the wheels are then checked with the rest, against this bundle's
    SHA256SUMS. Exit 4, naming the base, when it is missing or another bundle."""
    expected = json.loads(Path(targets_json).read_text(encoding="utf-8"))["base"]
    label = f"{expected['name']} {expected['version']}"
    if not base:
        _fail(
            f"this is a delta bundle: it takes {len(expected['wheels'])} wheels from {label}; "
            "pass --base with that bundle (its folder or its .tar.gz)"
        )
    path = Path(base)
    try:
        if path.is_dir():
            _take_from_folder(path, expected, label)
        elif path.is_file():
            _take_from_archive(path, expected, label)
        else:
            _fail(f"--base {base}: no such folder or file; it should be {label}")
    except (OSError, tarfile.TarError, EOFError, zlib.error) as exc:
        _fail(f"--base {base}: cannot read it ({exc}); it should be {label}")


def _take_from_folder(folder: Path, expected: dict[str, Any], label: str) -> None:
    _check_identity((folder / "SHA256SUMS").read_bytes(), folder, expected, label)
    for wheel in expected["wheels"]:
        with (folder / "wheels" / wheel).open("rb") as src:
            _put(wheel, src)


def _take_from_archive(archive: Path, expected: dict[str, Any], label: str) -> None:
    with tarfile.open(archive) as tar:
        members = {m.name: m for m in tar.getmembers() if m.isfile()}
        tops = {name.split("/")[0] for name in members}
        sums = members.get(f"{min(tops)}/SHA256SUMS") if len(tops) == 1 else None
        stream = tar.extractfile(sums) if sums else None
        _check_identity(stream.read() if stream else b"", archive, expected, label)
        for wheel in expected["wheels"]:
            member = members.get(f"{min(tops)}/wheels/{wheel}")
            found = tar.extractfile(member) if member else None
            if found is None:
                _fail(f"--base {archive}: wheels/{wheel} is missing from it")
            _put(wheel, found)


def _check_identity(sums: bytes, base: Path, expected: dict[str, Any], label: str) -> None:
    if hashlib.sha256(sums).hexdigest() != expected["sums_sha256"]:
        _fail(
            f"--base {base} is not the bundle this delta was made against ({label}); "
            "nothing was changed"
        )


def _put(wheel: str, src: IO[bytes]) -> None:
    """Into wheels/ under a temporary name, then renamed: never a partial wheel."""
    final = Path("wheels") / wheel
    if final.exists():
        return
    part = final.with_name(f".{wheel}.part")
    with part.open("wb") as out:
        shutil.copyfileobj(src, out, CHUNK)
    part.replace(final)


def _fail(message: str) -> NoReturn:
    sys.stderr.write(f"error: {message}\n")
    sys.exit(4)


def main(argv: list[str]) -> None:
    step, args = (argv[0], argv[1:]) if argv else ("", [])
    if step == "replace" and len(args) == 2:
        replace(args[0], args[1])
    elif step == "check-sums" and not args:
        check_sums()
    elif step == "target-info" and len(args) == 2:
        target_info(args[0], args[1])
    elif step == "unpack-uv" and len(args) == 2:
        unpack_uv(args[0], args[1])
    elif step == "pip" and args:
        run_pip(args[0], args[1:])
    elif step == "compile" and not args:
        compile_site_packages()
    elif step == "pip-without-distutils" and not args:
        pip_without_distutils()
    elif step == "take-base" and len(args) == 2:
        take_base(args[0], args[1])
    else:
        sys.exit("usage: steps.py STEP ARGS, where STEP is one of those its docstring lists")


if __name__ == "__main__":
    main(sys.argv[1:])
