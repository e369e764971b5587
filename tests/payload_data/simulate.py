"""Run probe.py and packaging side by side on a simulated machine; print both tag lists as JSON.

    python simulate.py PROBE_PY SCENARIO

Each scenario patches the `platform`, `sysconfig` and `sys` attributes both libraries read at
call time (and the libc probes each has), so the comparison covers macOS, Windows, musl, old
glibc, debug, free-threaded and non-CPython interpreters from one Linux machine. Run it in a
fresh process per scenario: both libraries cache what they find.
"""

from __future__ import annotations

import importlib.util
import json
import platform
import sys
import sysconfig
import types
from collections.abc import Callable
from typing import Any

from packaging import _manylinux, _musllinux, tags

_real_config_var = sysconfig.get_config_var


def _config_vars(**overrides: object) -> None:
    def get_config_var(name: str) -> Any:
        return overrides[name] if name in overrides else _real_config_var(name)

    sysconfig.get_config_var = get_config_var


def _system(name: str) -> None:
    platform.system = lambda: name


def _mac(release: str, machine: str) -> None:
    _system("Darwin")
    platform.mac_ver = lambda *args: (release, ("", "", ""), machine)


def _libc(probe: Any, glibc: tuple[int, int] | None, musl: tuple[int, int] | None) -> None:
    probe._glibc_version = lambda: glibc
    probe._musl_version = lambda: musl
    no_glibc = _manylinux._GLibCVersion(-1, -1)
    glibc_version = _manylinux._GLibCVersion(*glibc) if glibc else no_glibc
    _manylinux._get_glibc_version = lambda: glibc_version  # type: ignore[assignment]
    musl_version = _musllinux._MuslVersion(*musl) if musl else None
    _musllinux._get_musl_version = lambda executable: musl_version  # type: ignore[assignment]


def _implementation(name: str, ext_suffix: str) -> None:
    fake = types.SimpleNamespace(**vars(sys.implementation))
    fake.name = name
    sys.implementation = fake  # type: ignore[assignment]
    _config_vars(EXT_SUFFIX=ext_suffix)


SCENARIOS: dict[str, Callable[[Any], None]] = {}


def scenario(function: Callable[[Any], None]) -> Callable[[Any], None]:
    SCENARIOS[function.__name__] = function
    return function


@scenario
def macos_14_arm64(probe: Any) -> None:
    _mac("14.2", "arm64")


@scenario
def macos_12_x86_64(probe: Any) -> None:
    _mac("12.6", "x86_64")


@scenario
def macos_10_15_x86_64(probe: Any) -> None:
    _mac("10.15.7", "x86_64")


@scenario
def windows_amd64(probe: Any) -> None:
    _system("Windows")
    sysconfig.get_platform = lambda: "win-amd64"


@scenario
def musllinux_1_2(probe: Any) -> None:
    _libc(probe, None, (1, 2))


@scenario
def glibc_2_17_aarch64(probe: Any) -> None:
    _libc(probe, (2, 17), None)
    sysconfig.get_platform = lambda: "linux-aarch64"


@scenario
def glibc_3_1(probe: Any) -> None:
    """A glibc major version bump: every 2.x manylinux tag must still be accepted."""
    _libc(probe, (3, 1), None)


@scenario
def manylinux_module_veto(probe: Any) -> None:
    """A distributor's `_manylinux` module that allows nothing newer than glibc 2.28."""

    def compatible(major: int, minor: int, arch: str) -> bool | None:
        return (major, minor) <= (2, 28)

    sys.modules["_manylinux"] = types.SimpleNamespace(manylinux_compatible=compatible)  # type: ignore[assignment]


@scenario
def manylinux_module_legacy(probe: Any) -> None:
    sys.modules["_manylinux"] = types.SimpleNamespace(manylinux2014_compatible=False)  # type: ignore[assignment]


@scenario
def debug_build(probe: Any) -> None:
    _config_vars(Py_DEBUG=1)


@scenario
def free_threaded(probe: Any) -> None:
    """Only meaningful on Python 3.13+, where `Py_GIL_DISABLED` makes the ABI `cp313t`."""
    _config_vars(Py_GIL_DISABLED=1)


@scenario
def pypy(probe: Any) -> None:
    _implementation("pypy", ".pypy310-pp73-x86_64-linux-gnu.so")


@scenario
def graalpy(probe: Any) -> None:
    _implementation("graalpy", ".graalpy-240-native-x86_64-linux.so")


def main() -> None:
    probe_path, scenario = sys.argv[1], sys.argv[2]
    spec = importlib.util.spec_from_file_location("probe", probe_path)
    assert spec is not None and spec.loader is not None
    probe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe)
    SCENARIOS[scenario](probe)
    result = {
        "probe": probe.sys_tags(),
        "packaging": [str(tag) for tag in tags.sys_tags()],
        "server": probe.this_server(probe.platforms()),
    }
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
