"""The acceptance journey against the real public index, on a small set (`requests` + `six`).

Marked `network`: deselected by default, run with `pytest -m network`. The build side needs the
public index; the server side runs with the network cut, exactly as the hermetic tests do.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.bundles import requirements, unpack

pytestmark = pytest.mark.network

BUNDLE = Path(sys.executable).with_name("bundle")
# Captured at import, before the autouse isolation fixture strips `PIP_*`: a build machine behind
# an intercepting proxy needs its certificate to reach the index at all.
_CERT = os.environ.get("PIP_CERT")

# Run inside the installed venv: import every top-level module of every installed distribution,
# found from `top_level.txt`, else from the `RECORD` (files and packages at the top of the tree).
IMPORT_ALL = r"""
import importlib, importlib.metadata as md
names = set()
for dist in md.distributions():
    listed = (dist.read_text("top_level.txt") or "").split()
    if not listed:
        for f in dist.files or []:
            head = f.parts[0]
            if head.endswith((".dist-info", ".data")) or head == "..":
                continue
            if len(f.parts) > 1 or head.endswith(".py"):
                listed.append(head.split(".")[0])
    names.update(n for n in listed if n.isidentifier() and not n.startswith("__"))
for name in sorted(names):
    importlib.import_module(name)
print(" ".join(sorted(names)))
"""


def _public_env(cache: Path) -> dict[str, str]:
    """The environment of a normal user: the public index only, none of this machine's pip setup."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        XDG_CACHE_HOME=str(cache),
    )
    if _CERT:
        env["PIP_CERT"] = _CERT
    return env


def _make(req: Path, outdir: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BUNDLE, "make", req, "-o", outdir, "--cache-dir", cache / "wheelbundle"],
        env=_public_env(cache),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def public_bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """`bundle make` of requests + six from the public index, with a fresh cache: (archive, cache)."""
    work = tmp_path_factory.mktemp("public")
    req = requirements(work / "small", "requests", "six")
    made = _make(req, work / "dist", work / "cache")
    if made.returncode != 0 and "error:" in made.stderr and "index" in made.stderr.lower():
        pytest.skip(f"the public index is out of reach: {made.stderr.strip()}")
    assert made.returncode == 0, made.stderr
    yield Path(made.stdout.strip().splitlines()[-1]), work / "cache"


def test_a_bundle_of_index_wheels_with_every_hash(public_bundle: tuple[Path, Path]) -> None:
    archive, _ = public_bundle
    verified = subprocess.run([BUNDLE, "verify", archive], capture_output=True, text=True)
    assert verified.returncode == 0, verified.stderr
    top = unpack(archive, archive.parent / "inspect")
    manifest: dict[str, Any] = yaml.safe_load((top / "manifest.yaml").read_text())
    # charset-normalizer publishes native wheels, so the bundle is tagged for this interpreter.
    (target,) = manifest["targets"]
    assert archive.name == f"small-{manifest['version']}-{target['name']}.tar.gz"
    names = {p["name"] for p in manifest["packages"]}
    assert {"requests", "six", "urllib3", "idna", "certifi", "charset-normalizer", "pip"} <= names
    assert {p["origin"] for p in manifest["packages"]} == {"index-wheel"}
    lock = [ln for ln in (top / "requirements.lock").read_text().splitlines() if ln.strip()]
    lock = [ln for ln in lock if not ln.lstrip().startswith("#")]
    assert len(lock) == len(names)
    assert all("--hash=sha256:" in ln for ln in lock)


def test_installs_offline_passes_pip_check_and_imports_everything(
    public_bundle: tuple[Path, Path], tmp_path: Path, offline: Any
) -> None:
    archive, _ = public_bundle
    top = unpack(archive, tmp_path / "server")
    venv = tmp_path / "srv" / "venv"
    first = offline([top / "install.sh", venv])
    assert first.returncode == 0, first.stderr
    python = venv / "bin" / "python"
    check = offline([python, "-m", "pip", "check"])
    assert check.returncode == 0, check.stdout + check.stderr
    imported = offline([python, "-c", IMPORT_ALL])
    assert imported.returncode == 0, imported.stderr
    assert {"requests", "six", "urllib3", "idna", "certifi", "charset_normalizer"} <= set(
        imported.stdout.split()
    )
    again = offline([top / "install.sh", venv])
    assert again.returncode == 0, again.stderr
    assert offline([python, "-c", "import requests, six"]).returncode == 0


def test_a_warm_rebuild_gives_the_same_bytes(
    public_bundle: tuple[Path, Path], tmp_path: Path
) -> None:
    archive, cache = public_bundle
    req = archive.parent.parent / "small" / "requirements.txt"
    again = _make(req, tmp_path / "dist", cache)
    assert again.returncode == 0, again.stderr
    rebuilt = Path(again.stdout.strip().splitlines()[-1])
    assert rebuilt.name == archive.name
    assert rebuilt.read_bytes() == archive.read_bytes()
