"""The steps of install.sh that need Python, here rather than in shell strings the linters miss.

    python3 steps.py replace SRC DST                 rename SRC over DST in one step
    python3 steps.py check-sums                      check SHA256SUMS (servers without sha256sum)
    python3 steps.py target-info TARGETS_JSON NAME   print NAME VERSION PIP_WHEEL UV_WHEEL, tab-separated
    python3 steps.py unpack-uv WHEEL DEST            unpack uv's program and try it; print "uv X.Y.Z"
    python3 steps.py pip WHEEL ARG...                run pip from its wheel, never importing distutils
    python3 steps.py compile                         compile this Python's site-packages on every core
    python3 steps.py pip-without-distutils           let this venv's own pip run where distutils is not
    python3 steps.py take-base TARGETS_JSON BASE DEST  a delta's wheels from its base, into DEST

install.sh runs it from the bundle's folder, after checking the Python is 3.8 or later (so the
syntax here is 3.8's). Exit status: 0 done, else the step failed and said why on stderr (pip's
own status for ``pip``). Standard library only.
"""

from __future__ import annotations

import compileall
import hashlib
import json
import os
import runpy
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import IO, Any, Dict, NoReturn, Tuple

CHUNK = 1 << 20
MAX_WHEEL = 1 << 31
"""How far a base wheel is read when targets.json gives no size for it (a delta made before
sizes were recorded)."""
Wanted = Dict[str, Tuple[str, int]]
"""The base wheels to take: each one's sha256 and size, by file name."""


def replace(src: str, dst: str) -> None:
    """``mv -T`` is GNU-only and plain ``mv`` moves into a directory: os.replace is rename(2)."""
    Path(src).replace(dst)


def check_sums() -> None:
    """What ``sha256sum -c --quiet --strict SHA256SUMS`` says of the first bad file, if any."""
    for path, digest in _read_sums().items():
        try:
            actual = _sha256(Path(path))
        except OSError:
            sys.exit(path + ": FAILED open or read")
        if actual != digest:
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


def take_base(targets_json: str, base: str, dest: str) -> None:
    """A delta bundle's other wheels, from the bundle it was made against (its folder or its
    .tar.gz), into ``dest`` (wheels/, or a scratch folder for --check).

    This bundle's own files are checked against SHA256SUMS first, targets.json before it is
    read: nothing unchecked decides what is taken. The base must then be that very bundle (the
    sha256 of its SHA256SUMS, which names every file of it), and each wheel is taken only if it
    is a regular file of the size targets.json gives and the hash SHA256SUMS gives, read with
    that bound and written under a temporary name. Exit 4 naming the file, or the base; exit 2
    for a --base given to a full bundle (whose files are then checked all the same)."""
    sums = _read_sums()
    _check_listed(targets_json, sums)
    expected = json.loads(Path(targets_json).read_text(encoding="utf-8")).get("base")
    if expected is None and base:
        sys.stderr.write(f"error: --base {base}: this is a full bundle; it needs no base\n")
        sys.exit(2)
    wheels = expected["wheels"] if expected else []
    for wheel in wheels:
        if "/" in wheel or not wheel.endswith(".whl") or f"wheels/{wheel}" not in sums:
            _fail(
                f"{targets_json}: names {wheel!r} as a base wheel, which SHA256SUMS does not list"
            )
    checked = {targets_json, *(f"wheels/{wheel}" for wheel in wheels)}
    for own in sums:
        if own not in checked:
            _check_listed(own, sums)
    if expected is None:  # a full bundle: its files are checked, and that is all
        return
    label = f"{expected['name']} {expected['version']}"
    if not base:
        _fail(
            f"this is a delta bundle: it takes {len(wheels)} wheels from {label}; "
            "pass --base with that bundle (its folder or its .tar.gz)"
        )
    sizes = expected.get("sizes", {})
    wanted = {w: (sums[f"wheels/{w}"], sizes.get(w, MAX_WHEEL)) for w in wheels}
    path = Path(base)
    try:
        if path.is_dir():
            _take_from_folder(path, expected, label, wanted, Path(dest))
        elif path.is_file():
            _take_from_archive(path, expected, label, wanted, Path(dest))
        else:
            _fail(f"--base {base}: no such folder or file; it should be {label}")
    except (OSError, tarfile.TarError, EOFError, zlib.error) as exc:
        _fail(f"--base {base}: cannot read it ({exc}); it should be {label}")


def _read_sums() -> dict[str, str]:
    sums = {}
    for line in Path("SHA256SUMS").read_text(encoding="utf-8").splitlines():
        digest, _, path = line.partition("  ")
        sums[path.lstrip("*")] = digest.lower()
    return sums


def _check_listed(path: str, sums: dict[str, str]) -> None:
    """One of this bundle's own files, as check_sums checks it, with install.sh's words."""
    if path not in sums:
        _fail(f"{path} is not listed in SHA256SUMS (the bundle is incomplete)")
    try:
        actual = _sha256(Path(path))
    except OSError:
        _fail(f"{path}: missing or unreadable (the bundle is incomplete)")
    if actual != sums[path]:
        _fail(f"{path}: checksum mismatch (the bundle was changed or damaged in transit)")


def _take_from_folder(
    folder: Path, expected: dict[str, Any], label: str, wanted: Wanted, dest: Path
) -> None:
    _check_identity((folder / "SHA256SUMS").read_bytes(), folder, expected, label)
    for wheel, bound in wanted.items():
        source = folder / "wheels" / wheel
        with source.open("rb") as src:
            if not stat.S_ISREG(os.fstat(src.fileno()).st_mode):
                _fail(f"--base {folder}: wheels/{wheel} is not a regular file")
            _put(wheel, src, bound, dest, folder)


def _take_from_archive(
    archive: Path, expected: dict[str, Any], label: str, wanted: Wanted, dest: Path
) -> None:
    with tarfile.open(archive) as tar:
        members = {m.name: m for m in tar.getmembers()}
        tops = {name.split("/")[0] for name in members}
        top = min(tops) if len(tops) == 1 else ""
        sums = members.get(f"{top}/SHA256SUMS")
        stream = tar.extractfile(sums) if sums and sums.isfile() else None
        _check_identity(stream.read(1 << 20) if stream else b"", archive, expected, label)
        for wheel, bound in wanted.items():
            member = members.get(f"{top}/wheels/{wheel}")
            if member is None or not member.isfile():
                _fail(f"--base {archive}: wheels/{wheel} is missing from it, or not a file")
            found = tar.extractfile(member)
            assert found is not None  # a regular file
            _put(wheel, found, bound, dest, archive)


def _check_identity(sums: bytes, base: Path, expected: dict[str, Any], label: str) -> None:
    if hashlib.sha256(sums).hexdigest() != expected["sums_sha256"]:
        _fail(
            f"--base {base} is not the bundle this delta was made against ({label}); "
            "nothing was changed"
        )


def _put(wheel: str, src: IO[bytes], bound: tuple[str, int], dest: Path, base: Path) -> None:
    """Into ``dest`` under a temporary name, read no further than its size and renamed only
    once its hash matched: never a partial or foreign wheel. One there already is kept only
    when it is the right one (a run that was stopped may have left another)."""
    digest, size = bound
    final = dest / wheel
    if final.is_file() and _sha256(final) == digest:
        return
    part = final.with_name(f".{wheel}.part")
    sha, seen = hashlib.sha256(), 0
    try:
        with part.open("wb") as out:
            while block := src.read(min(CHUNK, size + 1 - seen)):
                seen += len(block)
                if seen > size:
                    _fail(f"--base {base}: wheels/{wheel} is larger than the {size} bytes expected")
                sha.update(block)
                out.write(block)
        if sha.hexdigest() != digest:
            _fail(f"--base {base}: wheels/{wheel} does not match SHA256SUMS; nothing was changed")
        part.replace(final)
    finally:
        part.unlink(missing_ok=True)


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
    elif step == "take-base" and len(args) == 3:
        take_base(args[0], args[1], args[2])
    else:
        sys.exit("usage: steps.py STEP ARGS, where STEP is one of those its docstring lists")


def interrupted(signum: int, frame: object) -> NoReturn:
    """Ctrl-C ends pip and compile at once with 130, which install.sh reads as an interrupt:
    pip catches KeyboardInterrupt and exits 1, as if its check had found a conflict, and
    compileall's process pool hangs on one. What they leave half-done lies in the new release,
    which install.sh removes (a .pyc is written atomically)."""
    os._exit(130)


if __name__ == "__main__":
    if sys.argv[1:2] in (["pip"], ["compile"]) and (
        signal.getsignal(signal.SIGINT) is signal.default_int_handler  # not when ignored
    ):
        signal.signal(signal.SIGINT, interrupted)  # compileall's workers inherit it
    try:
        main(sys.argv[1:])
    except KeyboardInterrupt:  # Ctrl-C: what was under way was removed; install.sh says so
        sys.exit(130)
