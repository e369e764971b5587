"""Describe this Python and machine as wheelbundle sees them, or pick the bundle target that fits.

    python3 probe.py                          print JSON: interpreter, wheel tags, marker environment
    python3 probe.py --select targets.json    print "TARGET<TAB>LOCK" for the first target that fits
    python3 probe.py --select targets.json --lock-only    print only LOCK
    python3 probe.py --select targets.json --runtime FILE choose among the targets of that
                                                          bundled runtime only

Exit status: 0 on success, 2 for a bad command line or an unreadable targets.json, 3 when no
target fits this server (one "error: ..." line on stderr says why).

Standard library only; runs on Python 3.8 and later. Choosing a target, the tags and markers
are read with the packaging vendored in the bundle's own pip wheel (imported from the wheel): the
code that will install decides what fits. Describing a server that has no bundle yet (`bundle
probe`, `install.sh --describe`), the tag list is this module's own: the one
`packaging.tags.sys_tags()` (packaging 26.3) yields on the same interpreter, in the same order;
pip installs a wheel only if one of its tags is in that list. Not covered: iOS, Android and
Emscripten (they get the single sysconfig platform).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import platform
import re
import struct
import subprocess
import sys
import sysconfig
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

FORMAT = 1
NO_FIT = 3
BAD_INPUT = 2
SHORT_NAMES = {"python": "py", "cpython": "cp", "pypy": "pp", "ironpython": "ip", "jython": "jy"}
DISPLAY_NAMES = {"cpython": "CPython", "pypy": "PyPy"}
IS_32BIT = struct.calcsize("P") == 4


class NoFit(Exception):
    """No target in targets.json fits this interpreter; the message says why."""


def _normalize(text: str) -> str:
    return text.replace(".", "_").replace("-", "_").replace(" ", "_")


def _nodot(version: Sequence[int]) -> str:
    return "".join(str(part) for part in version)


# --- Linux: the ELF header of the interpreter, glibc and musl versions -----------------------


class Elf(NamedTuple):
    """What the manylinux and musllinux checks need from the interpreter's ELF header."""

    bits: int
    lsb: bool
    machine: int
    flags: int
    loader: str | None
    """The program interpreter (dynamic loader), e.g. /lib/ld-musl-x86_64.so.1."""


def _read(f: BinaryIO, fmt: str) -> tuple[Any, ...]:
    return struct.unpack(fmt, f.read(struct.calcsize(fmt)))


def _elf(path: str) -> Elf | None:
    """The ELF header of a binary (the running interpreter), or None if it cannot be read."""
    try:
        with Path(path).open("rb") as f:
            ident = f.read(16)
            if len(ident) < 16 or ident[:4] != b"\x7fELF" or {ident[4], ident[5]} - {1, 2}:
                return None
            bits, lsb = (32 if ident[4] == 1 else 64), ident[5] == 1
            order = "<" if lsb else ">"
            # The ELF header from e_type on; a program header's p_type, p_offset and p_filesz.
            head, phdr, at = ("HHIIIIIHHH", "IIIIIIII", (1, 4))
            if bits == 64:
                head, phdr, at = ("HHIQQQIHHH", "IIQQQQQQ", (2, 5))
            _, machine, _, _, phoff, _, flags, _, phentsize, phnum = _read(f, order + head)
            loader = None
            for index in range(phnum):
                f.seek(phoff + phentsize * index)
                entry = _read(f, order + phdr)
                if entry[0] == 3:  # PT_INTERP
                    f.seek(entry[at[0]])
                    loader = os.fsdecode(f.read(entry[at[1]])).strip("\0")
                    break
    except (OSError, struct.error):
        return None
    return Elf(bits, lsb, machine, flags, loader)


def _glibc_version() -> tuple[int, int] | None:
    version: str | None = None
    try:
        version = os.confstr("CS_GNU_LIBC_VERSION").rsplit()[1]  # type: ignore[union-attr]
    except (AttributeError, OSError, ValueError, IndexError):
        try:
            import ctypes

            function = ctypes.CDLL(None).gnu_get_libc_version
            function.restype = ctypes.c_char_p
            version = function().decode("ascii")
        except (ImportError, OSError, AttributeError):
            return None
    match = re.match(r"([0-9]+)\.([0-9]+)", version or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def _musl_version() -> tuple[int, int] | None:
    """The musl version, read from what its loader prints (the interpreter must link musl)."""
    elf = _elf(sys.executable)
    loader = elf.loader if elf else None
    if not loader or "musl" not in loader:
        return None
    try:
        # The loader named in this interpreter's own ELF header, run with no argument.
        text = subprocess.run([loader], stderr=subprocess.PIPE, text=True).stderr  # noqa: S603
    except OSError:
        return None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    match = re.match(r"Version (\d+)\.(\d+)", lines[1]) if len(lines) > 1 else None
    if not lines or not lines[0].startswith("musl") or not match:
        return None
    return int(match.group(1)), int(match.group(2))


def _manylinux_allowed(module: Any, version: tuple[int, int], arch: str) -> bool:
    """Whether a `_manylinux` module (placed by a distributor, PEP 600) allows this glibc."""
    if module is None:
        return True
    if hasattr(module, "manylinux_compatible"):
        result = module.manylinux_compatible(version[0], version[1], arch)
        return True if result is None else bool(result)
    legacy = {(2, 5): "manylinux1", (2, 12): "manylinux2010", (2, 17): "manylinux2014"}
    attribute = legacy.get(version, "") + "_compatible"
    return bool(getattr(module, attribute, True))


def _manylinux_platforms(archs: Sequence[str]) -> Iterator[str]:
    elf = _elf(sys.executable)
    if "armv7l" in archs:  # only the hard-float ARM EABI5 ABI is manylinux
        ok = elf is not None and (elf.bits, elf.lsb, elf.machine) == (32, True, 40)
        ok = ok and elf is not None and elf.flags & 0xFF000400 == 0x05000400  # EABI5, hard float
    elif "i686" in archs:
        ok = elf is not None and (elf.bits, elf.lsb, elf.machine) == (32, True, 3)
    else:
        allowed = {"x86_64", "aarch64", "ppc64", "ppc64le", "s390x", "loongarch64", "riscv64"}
        ok = any(arch in allowed for arch in archs)
    glibc = _glibc_version()
    if not ok or glibc is None:
        return
    try:
        module: Any = __import__("_manylinux")
    except ImportError:
        module = None
    # glibc 2.17 is the oldest manylinux for every architecture but x86, which goes back to 2.5.
    oldest = (2, 5) if set(archs) & {"x86_64", "i686"} else (2, 17)
    # A newer glibc major would run everything built for older majors; assume 50 minors each.
    newest = [glibc] + [(major, 50) for major in range(glibc[0] - 1, 1, -1)]
    aliases = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}
    for arch in archs:
        for major, top in newest:
            bottom = oldest[1] if major == oldest[0] else 0
            for minor in range(top, bottom - 1, -1):
                if _manylinux_allowed(module, (major, minor), arch):
                    yield f"manylinux_{major}_{minor}_{arch}"
                    if (major, minor) in aliases:
                        yield f"{aliases[(major, minor)]}_{arch}"


def _linux_platforms() -> Iterator[str]:
    linux = _normalize(sysconfig.get_platform())
    if not linux.startswith("linux_"):
        yield linux
        return
    if IS_32BIT:  # a 32-bit Python on a 64-bit kernel
        linux = {"linux_x86_64": "linux_i686", "linux_aarch64": "linux_armv8l"}.get(linux, linux)
    arch = linux.split("_", 1)[1]
    archs = ["armv8l", "armv7l"] if arch == "armv8l" else [arch]
    for arch in archs:
        yield "linux_" + arch
    yield from _manylinux_platforms(archs)
    musl = _musl_version()
    if musl:
        for arch in archs:
            for minor in range(musl[1], -1, -1):
                yield f"musllinux_{musl[0]}_{minor}_{arch}"


# --- macOS -------------------------------------------------------------------------------


def _mac_formats(version: tuple[int, int], arch: str) -> list[str]:
    """Binary formats a `macosx_<version>_<format>` wheel may carry and still run on `arch`."""
    formats = [arch]
    if arch in ("x86_64", "i386"):
        if version < (10, 4):
            return []
        formats += ["intel", "fat64", "fat3"] if arch == "x86_64" else ["intel", "fat3", "fat"]
    elif arch == "ppc64":
        if version > (10, 5) or version < (10, 4):
            return []
        formats.append("fat64")
    elif arch == "ppc":
        if version > (10, 6):
            return []
        formats += ["fat3", "fat"]
    if arch in ("arm64", "x86_64"):
        formats.append("universal2")
    if arch in ("x86_64", "i386", "ppc64", "ppc", "intel"):
        formats.append("universal")
    return formats


def _mac_platforms() -> Iterator[str]:
    release, _, machine = platform.mac_ver()
    version = tuple(int(part) for part in release.split(".")[:2])
    if version == (10, 16):  # Python built with an old SDK: ask for the real version
        release = subprocess.run(
            [sys.executable, "-sS", "-c", "import platform; print(platform.mac_ver()[0])"],
            check=True,
            env={"SYSTEM_VERSION_COMPAT": "0"},
            stdout=subprocess.PIPE,
            text=True,
        ).stdout
        version = tuple(int(part) for part in release.split(".")[:2])
    major, minor = version[0], (version[1] if len(version) > 1 else 0)
    arch = ("ppc" if machine.startswith("ppc") else "i386") if IS_32BIT else machine
    # Up to 10.15 the minor number counted releases; from 11 on the major one does.
    if (10, 0) <= (major, minor) < (11, 0):
        for old_minor in range(minor, -1, -1):
            for fmt in _mac_formats((10, old_minor), arch):
                yield f"macosx_10_{old_minor}_{fmt}"
    if major >= 11:
        for old_major in range(major, 10, -1):
            for fmt in _mac_formats((old_major, 0), arch):
                yield f"macosx_{old_major}_0_{fmt}"
        # x86_64 runs anything built for 10.x; arm64 only the universal2 builds of it.
        for old_minor in range(16, 3, -1):
            formats = _mac_formats((10, old_minor), arch) if arch == "x86_64" else ["universal2"]
            for fmt in formats:
                yield f"macosx_10_{old_minor}_{fmt}"


@functools.lru_cache(maxsize=None)  # functools.cache is Python 3.9+
def platforms() -> tuple[str, ...]:
    """This machine's platform tags, most specific first."""
    system = platform.system()
    if system == "Darwin":
        return tuple(_mac_platforms())
    if system == "Linux":
        return tuple(_linux_platforms())
    return (_normalize(sysconfig.get_platform()),)  # Windows, and the generic fallback


# --- interpreter and tags ------------------------------------------------------------------


def interpreter_name() -> str:
    name = sys.implementation.name
    return SHORT_NAMES.get(name) or name


def interpreter_version() -> str:
    version = sysconfig.get_config_var("py_version_nodot")
    return str(version) if version else _nodot(sys.version_info[:2])


def _cpython_abis() -> list[str]:
    """`cp311`; `cp313t` for a free-threaded build; a debug build also loads normal modules."""
    version = sys.version_info[:2]
    debug = sysconfig.get_config_var("Py_DEBUG")
    if debug is None:  # Windows does not set it
        debug = hasattr(sys, "gettotalrefcount") or "_d.pyd" in EXTENSION_SUFFIXES
    threading = "t" if version >= (3, 13) and sysconfig.get_config_var("Py_GIL_DISABLED") else ""
    pymalloc = ""
    if version < (3, 8) and sysconfig.get_config_var("WITH_PYMALLOC") in (1, None):
        pymalloc = "m"
    base = "cp" + _nodot(version) + threading
    abis = [base + ("d" if debug else "") + pymalloc]
    if debug and version >= (3, 8):
        abis.append(base)
    return abis


def _generic_abis() -> list[str]:
    """The ABI in the extension-module suffix, e.g. `pypy310_pp73` from `.pypy310-pp73-…so`."""
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    if not isinstance(suffix, str) or not suffix.startswith("."):
        raise SystemError("invalid sysconfig.get_config_var('EXT_SUFFIX')")
    parts = suffix.split(".")
    if len(parts) < 3:  # ".pyd" on Windows up to CPython 3.7
        return _cpython_abis()
    soabi = parts[1]
    if soabi.startswith("cpython"):
        abi = "cp" + soabi.split("-")[1]
    elif soabi.startswith("cp"):
        abi = soabi.split("-")[0]
    elif soabi.startswith("pypy"):
        abi = "-".join(soabi.split("-")[:2])
    elif soabi.startswith("graalpy"):
        abi = "-".join(soabi.split("-")[:3])
    elif soabi:
        abi = soabi
    else:
        return []
    return [_normalize(abi)]


def _interpreter_tags(plats: Sequence[str]) -> Iterator[str]:
    """Tags with this interpreter's own name: cp311-cp311-*, cp311-abi3-*, cp311-none-*, …"""
    if interpreter_name() != "cp":
        interpreter = interpreter_name() + interpreter_version()
        abis = _generic_abis()
        abis += [] if "none" in abis else ["none"]
        for abi in abis:
            for plat in plats:
                yield f"{interpreter}-{abi}-{plat}"
        return
    major, minor = sys.version_info[:2]
    interpreter = f"cp{major}{minor}"
    abis = _cpython_abis()
    # The stable ABI is abi3, or abi3t on a free-threaded build (PEP 803).
    stable = "abi3t" if "t" in abis[0][len(interpreter) :] else "abi3"
    for abi in abis:
        for plat in plats:
            yield f"{interpreter}-{abi}-{plat}"
    for abi in (stable, "none"):
        for plat in plats:
            yield f"{interpreter}-{abi}-{plat}"
    for older in range(minor - 1, 1, -1):  # abi3 wheels built for older minor versions
        for plat in plats:
            yield f"cp{major}{older}-{stable}-{plat}"


def sys_tags() -> list[str]:
    """Every `interpreter-abi-platform` tag this interpreter accepts, best first."""
    plats = platforms()
    major, minor = sys.version_info[:2]
    pythons = [f"py{major}{minor}", f"py{major}"]
    pythons += [f"py{major}{older}" for older in range(minor - 1, -1, -1)]
    tags = list(_interpreter_tags(plats))
    tags += [f"{python}-none-{plat}" for python in pythons for plat in plats]
    name = interpreter_name()
    if name in ("cp", "pp"):
        tags.append(("pp3" if name == "pp" else "cp" + interpreter_version()) + "-none-any")
    tags += [f"{python}-none-any" for python in pythons]
    return tags


def markers() -> dict[str, str]:
    """The PEP 508 marker environment, as `packaging.markers.default_environment()`."""
    info = sys.implementation.version
    implementation_version = f"{info.major}.{info.minor}.{info.micro}"
    if info.releaselevel != "final":
        implementation_version += info.releaselevel[0] + str(info.serial)
    return {
        "implementation_name": sys.implementation.name,
        "implementation_version": implementation_version,
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


def describe() -> dict[str, Any]:
    tags = sys_tags()
    abis: list[str] = []
    for tag in tags:
        abi = tag.split("-")[1]
        if abi not in abis:
            abis.append(abi)
    env = markers()
    return {
        "format": FORMAT,
        "implementation": sys.implementation.name,
        "python_version": env["python_version"],
        "python_full_version": env["python_full_version"],
        "interpreter": interpreter_name() + interpreter_version(),
        "abi": abis,
        "platforms": list(platforms()),
        "tags": tags,
        "markers": env,
    }


# --- choosing a target -------------------------------------------------------------------


def wheel_tags(filename: str) -> set[str]:
    """The tags of `name-version(-build)?-python-abi-platform.whl`, expanding dotted sets."""
    parts = filename[: -len(".whl")].split("-") if filename.endswith(".whl") else []
    if len(parts) not in (5, 6):
        raise ValueError("not a wheel file name: " + filename)
    pythons, abis, plats = (part.lower().split(".") for part in parts[-3:])
    return {f"{p}-{a}-{s}" for p in pythons for a in abis for s in plats}


def _needs(target: dict[str, Any]) -> str:
    """'CPython 3.12 on manylinux_2_28_x86_64', or just 'CPython 3.12' for a pure bundle."""
    name = DISPLAY_NAMES.get(target["implementation"], target["implementation"])
    text = f"{name} {target['python_version']}"
    return text if target.get("platform", "any") == "any" else text + " on " + target["platform"]


def this_server(plats: Sequence[str]) -> str:
    """'CPython 3.9 on linux_aarch64 (glibc 2.36)': the plain platform, with its C library."""
    name = DISPLAY_NAMES.get(sys.implementation.name, platform.python_implementation())
    text = f"{name} {'.'.join(platform.python_version_tuple()[:2])}"
    plain = next((p for p in plats if p.startswith("linux_")), plats[0] if plats else "")
    if not plain.startswith("linux_"):
        return text + " on " + plain if plain else text
    glibc, musl = _glibc_version(), _musl_version()
    if glibc:
        return f"{text} on {plain} (glibc {glibc[0]}.{glibc[1]})"
    if musl:
        return f"{text} on {plain} (musl {musl[0]}.{musl[1]})"
    return f"{text} on {plain}"


def select(targets: list[dict[str, Any]], pip_wheel: Path | None = None) -> dict[str, Any]:
    """The first target this interpreter can install, or NoFit saying why none can.

    A target fits when its wheels' tags do and when every marker its resolution depended on
    comes out here as it did for it. Both are read with the packaging inside ``pip_wheel``, the
    bundle's own pip, which is the code that will install; this module's port of
    ``packaging.tags`` decides only for a bundle that has no pip wheel here (a delta checked
    without its base's wheels).
    """
    accepted = set(_pip_tags(pip_wheel) if pip_wheel else sys_tags())
    python_version = ".".join(platform.python_version_tuple()[:2])
    misfit = resolved_otherwise = ""
    for target in targets:
        if (target["implementation"], target["python_version"]) != (
            sys.implementation.name,
            python_version,
        ):
            continue
        bad = [w for w in target["wheels"] if not wheel_tags(w) & accepted]
        if bad:
            misfit = misfit or f"; wheels/{bad[0]} does not fit"
            continue
        differs = _differing_marker(target, pip_wheel) if pip_wheel else ""
        if not differs:
            return target
        resolved_otherwise = resolved_otherwise or differs
    if resolved_otherwise:  # a target fits but for its resolution: that is the thing to say
        raise NoFit(resolved_otherwise)
    if len(targets) == 1:
        needs = _needs(targets[0])
    else:
        needs = "one of: " + ", ".join(_needs(target) for target in targets)
    raise NoFit(f"this bundle needs {needs}; this server has {this_server(platforms())}{misfit}")


def _differing_marker(target: dict[str, Any], pip_wheel: Path) -> str:
    """Why the target's resolution does not hold here: a marker that comes out otherwise.

    Markers are read with the packaging inside the bundle's own pip wheel, the code that will
    install; "" when every one comes out as it did where the bundle was made.
    """
    decided = target.get("decisions") or {}
    if not decided:
        return ""
    markers = _pip_packaging(pip_wheel, "markers")
    resolved_for = target.get("environment", {}).get("python_full_version", "another Python")
    for text, expected in sorted(decided.items()):
        try:
            here = markers.Marker(text).evaluate({"extra": ""})
        except Exception as exc:  # pip's own error types vary with its version
            here = f"unreadable ({exc})"
        if here is not expected:
            return (
                f"this bundle was resolved for Python {resolved_for}, where '{text}' is "
                f"{expected}, but here (Python {platform.python_version()}) it is {here}, so "
                "other packages would be needed: run 'bundle probe' on this server and make the "
                "bundle with --target server.json"
            )
    return ""


def _pip_packaging(pip_wheel: Path, module: str) -> Any:
    """A module of the packaging vendored in the bundle's pip wheel, imported from the wheel."""
    sys.path.insert(0, str(pip_wheel))
    try:
        return importlib.import_module(f"pip._vendor.packaging.{module}")
    except Exception as exc:  # a SyntaxError, an ImportError: a pip too new for this Python
        raise NoFit(
            f"the pip this bundle carries ({pip_wheel.name}) cannot run under Python "
            f"{platform.python_version()} ({type(exc).__name__}: {exc}); "
            "name a newer Python with --python PATH"
        ) from None
    finally:
        sys.path.remove(str(pip_wheel))


def _pip_tags(pip_wheel: Path) -> list[str]:
    """The tags the bundle's pip will accept here, in its order of preference."""
    return [str(tag) for tag in _pip_packaging(pip_wheel, "tags").sys_tags()]


def _load_targets(path: str) -> list[dict[str, Any]]:
    with Path(path).open(encoding="utf-8") as f:
        data = json.load(f)
    if data.get("format") != FORMAT:
        raise ValueError(f"unsupported format {data.get('format')!r} (expected {FORMAT})")
    targets = data["targets"]
    if not isinstance(targets, list) or not targets:
        raise ValueError("no targets listed")
    for target in targets:
        lock = target["lock"]
        if Path(lock).is_absolute() or ".." in Path(lock).parts:
            raise ValueError("lock file name must stay inside the bundle: " + lock)
        for wheel in target["wheels"]:
            wheel_tags(wheel)
    return targets


def _pip_wheel(targets_json: str, wheels: str | None = None) -> Path | None:
    """The bundle's pip wheel (``wheels/`` beside ``support/``, else in ``wheels``: a delta's
    wheels taken from its base for --check), named in targets.json."""
    with Path(targets_json).open(encoding="utf-8") as f:
        name = json.load(f).get("pip_wheel")
    folders = [
        Path(targets_json).resolve().parent.parent / "wheels",
        *([Path(wheels)] if wheels else []),
    ]
    found = [folder / str(name) for folder in folders if (folder / str(name)).is_file()]
    return found[0] if name and found else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Describe this Python as JSON, or pick the bundle target that fits it."
    )
    parser.add_argument(
        "--select",
        metavar="TARGETS_JSON",
        help="print TARGET<TAB>LOCK for the first target that fits (exit 3: none)",
    )
    parser.add_argument("--lock-only", action="store_true", help="with --select: print only LOCK")
    parser.add_argument(
        "--wheels",
        metavar="DIR",
        help="with --select: another folder holding the bundle's wheels (a delta's, from its base)",
    )
    parser.add_argument(
        "--runtime",
        metavar="FILE",
        help="with --select: this Python is the bundled runtime FILE; only its targets fit",
    )
    args = parser.parse_args(argv)
    if args.lock_only and not args.select:
        parser.error("--lock-only needs --select")
    if not args.select:
        print(json.dumps(describe(), indent=2))
        return 0
    try:
        targets = _load_targets(args.select)
        if args.runtime:
            targets = [t for t in targets if (t.get("runtime") or {}).get("file") == args.runtime]
        pip_wheel = _pip_wheel(args.select, args.wheels)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        print(f"error: {args.select}: {exc}", file=sys.stderr)
        return BAD_INPUT
    try:
        target = select(targets, pip_wheel)
    except NoFit as exc:
        print(f"error: {exc}", file=sys.stderr)
        return NO_FIT
    print(target["lock"] if args.lock_only else f"{target['name']}\t{target['lock']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
