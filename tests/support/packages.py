"""Make real, tiny distributions in a folder, so tests never need a public index.

Every file is byte-for-byte deterministic (fixed timestamps, sorted members), so two calls with the
same arguments give identical files and bundles built from them can be compared by hash.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib.metadata
import io
import shutil
import subprocess
import sysconfig
import tarfile
import textwrap
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from packaging import tags
from packaging.utils import canonicalize_name
from packaging.version import Version
from uv import find_uv_bin

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
"""The earliest time a zip can hold: a fixed timestamp makes wheel bytes reproducible."""

TAR_EPOCH = 315532800
"""The same instant (1980-01-01T00:00:00Z) as a Unix time, for sdist members."""

SIMULATED_BUILD_ERROR = "error: simulated compiler failure: gcc not found"
"""What a `fail_build=True` sdist prints to stderr; tests look for it in pip's output."""


def escaped_name(name: str) -> str:
    """The project name as it appears in file names (PEP 427, PEP 491, PEP 625)."""
    return canonicalize_name(name).replace("-", "_")


def normalized_version(version: str) -> str:
    """The version as it appears in file names: normalized, `-` escaped."""
    return str(Version(version)).replace("-", "_")


def dist_info_dir(name: str, version: str) -> str:
    """The `.dist-info` folder name installers expect for this project."""
    return f"{escaped_name(name)}-{normalized_version(version)}.dist-info"


def wheel_filename(name: str, version: str, tag: str = "py3-none-any") -> str:
    """The PEP 427 file name of a wheel."""
    return f"{escaped_name(name)}-{normalized_version(version)}-{tag}.whl"


def sdist_filename(name: str, version: str) -> str:
    """The PEP 625 file name of a source distribution."""
    return f"{escaped_name(name)}-{normalized_version(version)}.tar.gz"


def sha256_hex(path: Path) -> str:
    """Hex sha256 of a file, the form pip reports and indexes advertise."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def record_hash(data: bytes) -> str:
    """A RECORD hash field: `sha256=` plus urlsafe base64 without padding (PEP 376, PEP 427)."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode("ascii")


def pure_bundle_tag() -> str:
    """What a bundle of pure wheels resolved for this Python is named after: ``cp311-none-any``."""
    return f"{tags.interpreter_name()}{tags.interpreter_version()}-none-any"


def native_tag() -> str:
    """The most specific `cpXY-cpXY-manylinux_*` tag this interpreter installs.

    Falls back to the most specific tag of this interpreter when the platform is not manylinux
    (musl, macOS, Windows), so a `native` package always installs here.
    """
    all_tags = [str(tag) for tag in tags.sys_tags()]
    interpreter = f"{tags.interpreter_name()}{tags.interpreter_version()}"
    prefix = f"{interpreter}-{interpreter}-manylinux_"
    for tag in all_tags:
        if tag.startswith(prefix):
            return tag
    return all_tags[0]


def metadata_text(
    name: str,
    version: str,
    *,
    requires: Iterable[str] = (),
    extras: Mapping[str, Iterable[str]] | None = None,
    requires_python: str | None = None,
    license_expression: str | None = None,
    classifiers: Iterable[str] = (),
    license: str | None = None,
    license_files: Iterable[str] = (),
) -> str:
    """Core metadata (METADATA / PKG-INFO) with dependencies spelled the way pip reads them."""
    headers: list[tuple[str, str]] = [
        ("Metadata-Version", "2.4" if license_expression else "2.3"),
        ("Name", name),
        ("Version", version),
        ("Summary", f"{name}: a test package made by tests/packages.py"),
    ]
    if license_expression:
        headers.append(("License-Expression", license_expression))
    if license:
        headers.append(("License", license.replace("\n", "\n        ")))  # folded, as setuptools
    headers.extend(("License-File", name) for name in license_files)
    headers.extend(("Classifier", classifier) for classifier in classifiers)
    if requires_python:
        headers.append(("Requires-Python", requires_python))
    headers.extend(("Requires-Dist", requirement) for requirement in requires)
    for extra, extra_requires in (extras or {}).items():
        extra_name = canonicalize_name(extra)
        headers.append(("Provides-Extra", extra_name))
        headers.extend(
            ("Requires-Dist", _with_extra_marker(requirement, extra_name))
            for requirement in extra_requires
        )
    return "".join(f"{key}: {value}\n" for key, value in headers)


def _with_extra_marker(requirement: str, extra: str) -> str:
    """Attach `extra == "x"` to a requirement, keeping any marker it already has."""
    base, separator, marker = requirement.partition(";")
    if not separator:
        return f'{base.strip()}; extra == "{extra}"'
    return f'{base.strip()}; ({marker.strip()}) and extra == "{extra}"'


def _wheel_file_text(tag: str) -> str:
    """The WHEEL file: purelib only for `py*-none-any`, one Tag line per expanded tag."""
    expanded = sorted(tags.parse_tag(tag), key=str)
    purelib = all(
        t.interpreter.startswith("py") and t.abi == "none" and t.platform == "any" for t in expanded
    )
    lines = [
        "Wheel-Version: 1.0",
        "Generator: wheelbundle-tests",
        f"Root-Is-Purelib: {'true' if purelib else 'false'}",
        *(f"Tag: {t}" for t in expanded),
    ]
    return "\n".join(lines) + "\n"


def _entry_points_text(entry_points: Mapping[str, Mapping[str, str]]) -> str:
    """entry_points.txt in the INI form importlib.metadata and installers read."""
    sections = []
    for group, entries in sorted(entry_points.items()):
        body = "".join(f"{key} = {value}\n" for key, value in sorted(entries.items()))
        sections.append(f"[{group}]\n{body}")
    return "\n".join(sections)


def _default_modules(name: str, version: str) -> dict[str, str]:
    """One importable package whose `__version__` lets a test see which version got installed."""
    return {f"{escaped_name(name)}/__init__.py": f'__version__ = "{version}"\n'}


def _zip_bytes(
    members: Mapping[str, bytes], executable: Iterable[str] = (), compresslevel: int | None = None
) -> bytes:
    """A zip with members in the given order, fixed timestamps and permissions."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member, data in members.items():
            info = zipfile.ZipInfo(member, date_time=ZIP_EPOCH)
            info.external_attr = (0o755 if member in executable else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compresslevel=compresslevel)
    return buffer.getvalue()


def _tar_gz_bytes(members: Mapping[str, bytes]) -> bytes:
    """A gzip'd tar with fixed owners, modes and timestamps (gzip header mtime 0 too)."""
    tar_buffer = io.BytesIO()
    with tarfile.open(fileobj=tar_buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for member, data in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            info.mtime = TAR_EPOCH
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            archive.addfile(info, io.BytesIO(data))
    gz_buffer = io.BytesIO()
    with gzip.GzipFile(filename="", fileobj=gz_buffer, mode="wb", mtime=0) as compressed:
        compressed.write(tar_buffer.getvalue())
    return gz_buffer.getvalue()


def make_wheel(
    dest_dir: Path,
    name: str,
    version: str,
    *,
    requires: Iterable[str] = (),
    extras: Mapping[str, list[str]] | None = None,
    requires_python: str | None = None,
    tag: str = "py3-none-any",
    modules: Mapping[str, str | bytes] | None = None,
    license_expression: str | None = None,
    classifiers: Iterable[str] = (),
    entry_points: Mapping[str, Mapping[str, str]] | None = None,
    license: str | None = None,
    license_files: Mapping[str, str] | None = None,
) -> Path:
    """Write a valid PEP 427 wheel into `dest_dir` and return its path.

    `modules` maps paths inside the wheel to their text; by default one package named after the
    project carries `__version__`. `tag` is any compressed tag set; no binary is needed inside.
    `entry_points` maps a group (`console_scripts`) to `{name: "module:function"}`.
    """
    dist_info = dist_info_dir(name, version)
    files = dict(sorted((modules or _default_modules(name, version)).items()))
    members = {path: _bytes(text) for path, text in files.items()}
    members[f"{dist_info}/METADATA"] = metadata_text(
        name,
        version,
        requires=requires,
        extras=extras,
        requires_python=requires_python,
        license_expression=license_expression,
        classifiers=classifiers,
        license=license,
        license_files=list(license_files or {}),
    ).encode()
    for file, text in (license_files or {}).items():  # PEP 639: under .dist-info/licenses/
        members[f"{dist_info}/licenses/{file}"] = text.encode()
    members[f"{dist_info}/WHEEL"] = _wheel_file_text(tag).encode()
    if entry_points:
        members[f"{dist_info}/entry_points.txt"] = _entry_points_text(entry_points).encode()
    record = "".join(f"{path},{record_hash(data)},{len(data)}\n" for path, data in members.items())
    members[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()

    dest_dir.mkdir(parents=True, exist_ok=True)
    path = dest_dir / wheel_filename(name, version, tag)
    path.write_bytes(_zip_bytes(members))
    return path


def make_uv_wheel(
    dest_dir: Path, program: bytes | None = None, platform: str | None = None
) -> Path:
    """A wheel laid out as uv publishes it: its program is ``uv-VERSION.data/scripts/uv``.

    By default the program is the real uv of the test dependencies, for this machine; `program`
    puts another in its place (one that cannot run here), `platform` names another machine.
    """
    version = importlib.metadata.version("uv")
    tag = f"py3-none-{platform or native_tag().split('-', 2)[2]}"
    dist_info = dist_info_dir("uv", version)
    script = f"uv-{version}.data/scripts/uv"
    members = {
        script: Path(find_uv_bin()).read_bytes() if program is None else program,
        f"{dist_info}/METADATA": metadata_text(
            "uv", version, license_expression="MIT OR Apache-2.0"
        ).encode(),
        f"{dist_info}/WHEEL": _wheel_file_text(tag).encode(),
    }
    record = "".join(f"{path},{record_hash(data)},{len(data)}\n" for path, data in members.items())
    members[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()
    dest_dir.mkdir(parents=True, exist_ok=True)
    path = dest_dir / wheel_filename("uv", version, tag)
    # Level 1: the real program is 38 MB, and the default level takes seconds to deflate it.
    path.write_bytes(_zip_bytes(members, executable=[script], compresslevel=1))
    return path


_BACKEND_TEMPLATE = '''\
"""In-tree PEP 517 backend written by wheelbundle's test factory: standard library only.

It turns this source tree into a pure wheel, so building needs nothing from any index.
"""

import base64
import gzip
import hashlib
import io
import os
import sys
import tarfile
import zipfile

FAILURE = {failure!r}
FAIL_METADATA = {fail_metadata!r}
MODULES = {modules!r}
DIST_INFO = {dist_info!r}
WHEEL_NAME = {wheel_name!r}
SDIST_NAME = {sdist_name!r}
WHEEL_TEXT = {wheel_text!r}
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def _fail_if_asked():
    if FAILURE:
        sys.stderr.write(FAILURE + "\\n")
        sys.stderr.flush()
        raise RuntimeError(FAILURE)


def _read(path):
    with open(path, "rb") as handle:
        return handle.read()


def _dist_info_files():
    return {{"METADATA": _read("PKG-INFO"), "WHEEL": WHEEL_TEXT.encode()}}


def _record_hash(data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode("ascii")


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    if FAIL_METADATA:
        _fail_if_asked()
    target = os.path.join(metadata_directory, DIST_INFO)
    os.makedirs(target, exist_ok=True)
    for name, data in _dist_info_files().items():
        with open(os.path.join(target, name), "wb") as handle:
            handle.write(data)
    return DIST_INFO


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _fail_if_asked()
    members = {{path: _read(path) for path in MODULES}}
    for name, data in _dist_info_files().items():
        members[DIST_INFO + "/" + name] = data
    record = "".join(
        "%s,%s,%d\\n" % (path, _record_hash(data), len(data)) for path, data in members.items()
    )
    members[DIST_INFO + "/RECORD"] = (record + DIST_INFO + "/RECORD,,\\n").encode()
    with zipfile.ZipFile(os.path.join(wheel_directory, WHEEL_NAME), "w") as archive:
        for path, data in members.items():
            info = zipfile.ZipInfo(path, date_time=ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return WHEEL_NAME


# PEP 660, so `pip install -e` accepts the tree: the "editable" wheel is a plain copy.
get_requires_for_build_editable = get_requires_for_build_wheel
prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel
build_editable = build_wheel


def build_sdist(sdist_directory, config_settings=None):
    top = SDIST_NAME[: -len(".tar.gz")]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in sorted(["PKG-INFO", "pyproject.toml", "backend.py", *MODULES]):
            data = _read(path)
            info = tarfile.TarInfo(top + "/" + path)
            info.size = len(data)
            info.mtime = 315532800
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    with gzip.GzipFile(os.path.join(sdist_directory, SDIST_NAME), "wb", mtime=0) as handle:
        handle.write(buffer.getvalue())
    return SDIST_NAME
'''

_PYPROJECT = """\
[build-system]
requires = []
build-backend = "backend"
backend-path = ["."]
"""


def make_sdist(
    dest_dir: Path,
    name: str,
    version: str,
    *,
    requires: Iterable[str] = (),
    requires_python: str | None = None,
    fail_build: bool = False,
    metadata_builds: bool = False,
    modules: Mapping[str, str | bytes] | None = None,
    tag: str = "py3-none-any",
) -> Path:
    """Write a PEP 517 sdist built by an in-tree, standard-library backend; return its path.

    The backend needs no setuptools, so building is hermetic. With `fail_build=True` metadata
    preparation and wheel building print `SIMULATED_BUILD_ERROR` to stderr and raise; with
    `metadata_builds=True` too, only the wheel build fails, as a C compile does. `tag` is
    the tag of the wheel it builds (a platform tag stands for a package with compiled code).
    """
    tree = _source_tree(
        name,
        version,
        requires=requires,
        requires_python=requires_python,
        fail_build=fail_build,
        metadata_builds=metadata_builds,
        modules=modules,
        tag=tag,
    )
    top = sdist_filename(name, version).removesuffix(".tar.gz")
    members = {f"{top}/{path}": _bytes(text) for path, text in sorted(tree.items())}

    dest_dir.mkdir(parents=True, exist_ok=True)
    path = dest_dir / sdist_filename(name, version)
    path.write_bytes(_tar_gz_bytes(members))
    return path


def make_project(
    dest_dir: Path,
    name: str,
    version: str,
    *,
    requires: Iterable[str] = (),
    extras: Mapping[str, Iterable[str]] | None = None,
    modules: Mapping[str, str] | None = None,
) -> Path:
    """Write an unpacked source tree (what a VCS checkout or a `./libs/pkg` folder holds) into
    `dest_dir`, built by the same in-tree standard-library backend as `make_sdist`; return it."""
    tree = _source_tree(name, version, requires=requires, extras=extras, modules=modules)
    for path, text in tree.items():
        (dest_dir / path).parent.mkdir(parents=True, exist_ok=True)
        (dest_dir / path).write_bytes(_bytes(text))
    return dest_dir


def _source_tree(
    name: str,
    version: str,
    *,
    requires: Iterable[str] = (),
    extras: Mapping[str, Iterable[str]] | None = None,
    requires_python: str | None = None,
    fail_build: bool = False,
    metadata_builds: bool = False,
    modules: Mapping[str, str | bytes] | None = None,
    tag: str = "py3-none-any",
) -> dict[str, str | bytes]:
    """The files of a source tree: PKG-INFO, the in-tree backend, pyproject.toml, the modules."""
    files: dict[str, str | bytes] = dict(
        sorted((modules or _default_modules(name, version)).items())
    )
    pkg_info = metadata_text(
        name, version, requires=requires, extras=extras, requires_python=requires_python
    )
    backend = _BACKEND_TEMPLATE.format(
        failure=SIMULATED_BUILD_ERROR if fail_build else None,
        fail_metadata=not metadata_builds,
        modules=list(files),
        dist_info=dist_info_dir(name, version),
        wheel_name=wheel_filename(name, version, tag),
        sdist_name=sdist_filename(name, version),
        wheel_text=_wheel_file_text(tag),
    )
    return {"PKG-INFO": pkg_info, "backend.py": backend, "pyproject.toml": _PYPROJECT, **files}


def _bytes(text: str | bytes) -> bytes:
    return text if isinstance(text, bytes) else text.encode()


_LIBRARY_C = """\
int wb_answer(void) { return 42; }
"""

_EXTENSION_C = """\
#include <Python.h>
#include <stdlib.h>
int wb_answer(void);

static PyObject *answer(PyObject *self, PyObject *args) {
    if (%(new_glibc)d) { arc4random(); }  /* glibc 2.36's: a wheel that needs a new glibc */
    return PyLong_FromLong(wb_answer());
}

static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "%(name)s", NULL, -1, methods};
PyMODINIT_FUNC PyInit_%(name)s(void) { return PyModule_Create(&module); }
"""


def make_linked_extension_sdist(
    dest_dir: Path, library_dir: Path, name: str, version: str, *, new_glibc: bool = False
) -> Path:
    """An sdist whose wheel holds a real C extension, ``name.answer()`` -> 42, that links
    ``lib<name>-2.5.so.0``, a library only ``library_dir`` holds: what psycopg2 built against this
    machine's libpq is. Compiled here with gcc and this Python's headers; the in-tree backend
    then packs the compiled module, so the built wheel is ``cpXY-cpXY-linux_<arch>``.
    ``new_glibc``: the extension also calls ``arc4random`` (glibc 2.36 and later).
    """
    library_dir.mkdir(parents=True, exist_ok=True)
    work = dest_dir / f".{name}-src"
    work.mkdir(parents=True, exist_ok=True)
    (work / "lib.c").write_text(_LIBRARY_C)
    (work / "ext.c").write_text(_EXTENSION_C % {"name": name, "new_glibc": int(new_glibc)})
    soname = f"lib{name}-2.5.so.0"  # a dot in the stem, as liblber-2.5.so.0 has
    gcc = ["gcc", "-shared", "-fPIC", "-O1"]
    subprocess.run(
        [*gcc, f"-Wl,-soname,{soname}", "-o", library_dir / soname, work / "lib.c"], check=True
    )
    (library_dir / f"lib{name}-2.5.so").unlink(missing_ok=True)
    (library_dir / f"lib{name}-2.5.so").symlink_to(soname)
    module = f"{name}{sysconfig.get_config_var('EXT_SUFFIX')}"
    include = sysconfig.get_paths()["include"]
    subprocess.run(
        [
            *gcc,
            f"-I{include}",
            "-o",
            work / module,
            work / "ext.c",
            f"-L{library_dir}",
            f"-l{name}-2.5",
        ],
        check=True,
    )
    interpreter = f"{tags.interpreter_name()}{tags.interpreter_version()}"
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return make_sdist(
        dest_dir,
        name,
        version,
        modules={module: (work / module).read_bytes()},
        tag=f"{interpreter}-{interpreter}-{platform}",
    )


def pip_wheel(dest_dir: Path | None = None) -> Path | None:
    """pip's own wheel as bundled with this interpreter's `ensurepip`, copied if `dest_dir` given.

    Returns None when the interpreter ships without one (some distributions strip ensurepip).
    """
    candidates: list[Path] = []
    try:
        import ensurepip
    except ImportError:
        return None
    candidates.extend(sorted((Path(ensurepip.__file__).parent / "_bundled").glob("pip-*.whl")))
    system_dir = sysconfig.get_config_var("WHEEL_PKG_DIR")
    if system_dir:
        candidates.extend(sorted(Path(system_dir).glob("pip-*.whl")))
    if not candidates:
        return None
    source = candidates[0]
    if dest_dir is None:
        return source
    dest_dir.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copyfile(source, dest_dir / source.name))


def pip_wheel_name() -> str:
    """The file name of pip's wheel among the fixture packages: this Python's ensurepip's."""
    wheel = pip_wheel()
    if wheel is None:
        raise RuntimeError("this Python's ensurepip carries no pip wheel; the fixtures need one")
    return wheel.name


def console_script_module(message: str, function: str = "main") -> str:
    """Module text whose `function` prints `message`: the body of a console entry point."""
    return textwrap.dedent(
        f"""\
        import sys


        def {function}() -> int:
            sys.stdout.write({message!r} + "\\n")
            return 0
        """
    )


_COMPILING_BACKEND = '''\
"""An in-tree PEP 517 backend that compiles ext.c at build time with the Python running it
(its headers, its EXT_SUFFIX, its tag): what a setuptools C extension does, without setuptools."""
import base64, hashlib, os, subprocess, sys, sysconfig, zipfile

NAME, VERSION = %(name)r, %(version)r
DIST_INFO = "%%s-%%s.dist-info" %% (NAME, VERSION)


def _tag():
    t = "t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""
    py = "cp%%d%%d%%s" %% (sys.version_info[0], sys.version_info[1], t)
    return "%%s-%%s-%%s" %% (py, py, sysconfig.get_platform().replace("-", "_").replace(".", "_"))


def _metadata():
    return "Metadata-Version: 2.1\\nName: %%s\\nVersion: %%s\\n" %% (NAME, VERSION)


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    os.makedirs(os.path.join(metadata_directory, DIST_INFO))
    with open(os.path.join(metadata_directory, DIST_INFO, "METADATA"), "w") as f:
        f.write(_metadata())
    return DIST_INFO


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    module = NAME + sysconfig.get_config_var("EXT_SUFFIX")
    include = sysconfig.get_paths()["include"]
    link = %(link)r
    subprocess.check_call(["gcc", "-shared", "-fPIC", "-O1", "-I" + include, "-o", module, "ext.c", *link])
    with open(module, "rb") as f:
        members = {module: f.read()}
    members[DIST_INFO + "/METADATA"] = _metadata().encode()
    members[DIST_INFO + "/WHEEL"] = ("Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: false\\nTag: %%s\\n" %% _tag()).encode()
    record = ""
    for path, data in members.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += "%%s,sha256=%%s,%%d\\n" %% (path, digest, len(data))
    members[DIST_INFO + "/RECORD"] = (record + DIST_INFO + "/RECORD,,\\n").encode()
    name = "%%s-%%s-%%s.whl" %% (NAME, VERSION, _tag())
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as zf:
        for path, data in members.items():
            zf.writestr(path, data)
    return name
'''


def make_compiled_sdist(
    dest_dir: Path, name: str, version: str, library_dir: Path | None = None
) -> Path:
    """An sdist of a C extension, ``name.answer()`` -> 42, compiled when it is built, by the Python
    that builds it: its wheel is ``cpXY-cpXY-linux_<arch>`` for that Python, and no other
    Python imports it (as pycrc16 or lru-dict). With ``library_dir``, the answer comes from
    ``lib<name>-2.5.so.0``, a library only that folder holds, which the extension links (as
    psycopg2 links libpq)."""
    # Nothing of libc: pycrc16's extension calls only Python's API, so it links no libc for
    # auditwheel to read (the library one below links it, as psycopg2's does).
    answer = "static int wb_answer(void) { return 42; }"
    link: list[str] = []
    if library_dir is not None:
        library_dir.mkdir(parents=True, exist_ok=True)
        soname = f"lib{name}-2.5.so.0"
        (dest_dir / f".{name}-lib.c").parent.mkdir(parents=True, exist_ok=True)
        (dest_dir / f".{name}-lib.c").write_text(_LIBRARY_C)
        gcc = ["gcc", "-shared", "-fPIC", "-O1", f"-Wl,-soname,{soname}"]
        subprocess.run([*gcc, "-o", library_dir / soname, dest_dir / f".{name}-lib.c"], check=True)
        (library_dir / f"lib{name}-2.5.so").unlink(missing_ok=True)
        (library_dir / f"lib{name}-2.5.so").symlink_to(soname)
        answer = "int wb_answer(void);"
        link = ["-Wl,--no-as-needed", f"-L{library_dir}", f"-l{name}-2.5", "-lc"]
    ext = _EXTENSION_C.replace("int wb_answer(void);", answer)
    tree = {
        "PKG-INFO": metadata_text(name, version),
        "backend.py": _COMPILING_BACKEND % {"name": name, "version": version, "link": link},
        "pyproject.toml": _PYPROJECT,
        "ext.c": ext % {"name": name, "new_glibc": 0},
    }
    top = sdist_filename(name, version).removesuffix(".tar.gz")
    members = {f"{top}/{path}": _bytes(text) for path, text in sorted(tree.items())}
    dest_dir.mkdir(parents=True, exist_ok=True)
    path = dest_dir / sdist_filename(name, version)
    path.write_bytes(_tar_gz_bytes(members))
    return path
