"""The import rule: data flows one way, so a module imports only its own layer and earlier ones.

Layers, in the order the data takes (see the README's code map):

    base     errors, progress, the cache, the target (the server's description), tar members
    format   the bundle's and pip's formats as values: pins, manifest, layout, archive, wheels
    tools    the programs and the network underneath: pip, its configuration, fetch, pages
    inputs   what the user gave: requirements files, pinned hashes, bundle.yaml, options
    resolve  every road to pip's answer: memo, lock finders, pylock, the relay
    collect  every file into the wheelhouse: download, build, repair, the runtime
    bundle   the bundle's read-only users and what describes it: sbom, sign, verify, inspect
    pack     the only writers of archives: make, delta, merge
    index    inside the gap: bundle index, bundle publish
    cli      the command line, the only module that prints or exits

A new module must be given a layer here; one that imports a later layer fails this test.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src" / "wheelbundle"
LAYERS: dict[str, tuple[str, ...]] = {
    "base": ("__init__", "errors", "progress", "cache", "target", "members"),
    "format": ("pins", "manifest", "layout", "archive", "wheelcheck"),
    "tools": ("pipconfig", "credentials", "pip", "_pip_as_target", "simple", "fetch"),
    "inputs": ("reqfile", "hashes", "config", "options", "inputs"),
    "resolve": ("memo", "find", "pylock", "relay", "resolve", "resolution"),
    "collect": ("build", "repair", "runtime", "collect"),
    "bundle": ("sbom", "sign", "verify", "summary", "diff", "describe"),
    "pack": ("pack", "delta", "merge", "make"),
    "index": ("staticindex", "publish"),
    "cli": ("cli", "__main__"),
}
ORDER = {module: n for n, modules in enumerate(LAYERS.values()) for module in modules}
LAYER_OF = {module: layer for layer, modules in LAYERS.items() for module in modules}


def imported(source: str) -> set[str]:
    """The wheelbundle modules a module's source imports, by their short name."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            if parts[0] == "wheelbundle":
                if len(parts) > 1:
                    found.add(parts[1])
                else:  # from wheelbundle import X: a module, or a name of __init__
                    found |= {a.name if a.name in ORDER else "__init__" for a in node.names}
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "wheelbundle" and len(parts) > 1:
                    found.add(parts[1])
    return found


def backward_imports(sources: dict[str, str]) -> list[str]:
    """``module (layer) imports other (later layer)``, for every import against the flow."""
    return [
        f"{module} ({LAYER_OF[module]}) imports {other} ({LAYER_OF[other]})"
        for module, source in sorted(sources.items())
        for other in sorted(imported(source))
        if ORDER[other] > ORDER[module]
    ]


def _sources() -> dict[str, str]:
    return {path.stem: path.read_text() for path in SRC.glob("*.py")}


def test_every_module_has_a_layer() -> None:
    assert sorted(_sources()) == sorted(ORDER)


def test_no_module_imports_a_later_layer_or_the_cli() -> None:
    assert backward_imports(_sources()) == []


def test_a_planted_backward_import_is_caught() -> None:
    sources = _sources()
    sources["verify"] += (
        "\nfrom wheelbundle.pack import write_archive\nfrom wheelbundle import cli\n"
    )
    sources["fetch"] += "\nimport wheelbundle.relay\n"
    assert backward_imports(sources) == [
        "fetch (tools) imports relay (resolve)",
        "verify (bundle) imports cli (cli)",
        "verify (bundle) imports pack (pack)",
    ]


@pytest.mark.parametrize(
    ("module", "kept_out"),
    [
        (
            "verify",
            ("relay", "fetch", "pip", "resolve", "resolution", "pack", "make", "http.server"),
        ),
        ("summary", ("relay", "fetch", "pip", "pack", "http.server")),
        ("diff", ("relay", "fetch", "pip", "pack", "http.server")),
    ],
)
def test_reading_a_bundle_loads_no_network_pip_or_packing_code(
    module: str, kept_out: tuple[str, ...]
) -> None:
    probe = f"import sys, wheelbundle.{module}; print(' '.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = set(done.stdout.split())
    names = {name if "." in name else f"wheelbundle.{name}" for name in kept_out}
    assert names & loaded == set()
