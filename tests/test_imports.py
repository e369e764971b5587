"""The import rule: data flows one way, so a module imports only its own layer and earlier ones.

The folders are the layers, in the order the data takes (docs/architecture.md says what each
holds): top-level modules are the base (errors, progress, the cache, the target, the runner of
programs), ``pipeline`` (bundle make's stages in turn) and the CLI.

    base -> format -> pip -> net -> inputs -> review -> resolve -> collect -> bundle -> pack
        -> pipeline -> index -> cli

review/ (verify, inspect, diff, audit, report) sits before every make stage: reading a bundle
imports nothing that resolves, fetches, builds or packs.

A new folder must be given its place here; a module that imports a later layer fails this test.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src" / "wheelbundle"
LAYERS = (
    "base",
    "format",
    "pip",
    "net",
    "inputs",
    "review",
    "resolve",
    "collect",
    "bundle",
    "pack",
    "pipeline",
    "index",
    "cli",
)
FOLDERS: dict[str, str] = {}
"""Folders that share a layer: none (pip's runner words its messages without the network)."""
TOP = {"cli": "cli", "__main__": "cli", "pipeline": "pipeline"}
"""Top-level modules that are not the base."""


def layer_of(module: str) -> str:
    """``format.manifest`` -> format; ``cli`` -> cli; ``errors`` -> base."""
    head, _, rest = module.partition(".")
    if rest or head in FOLDERS or head in LAYERS:
        return FOLDERS.get(head, head)
    return TOP.get(head, "base")


def imported(source: str) -> set[str]:
    """The wheelbundle modules (or packages) a module's source imports, below ``wheelbundle.``."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            if parts[0] != "wheelbundle":
                continue
            if len(parts) > 1:
                found.add(".".join(parts[1:]))
            else:  # from wheelbundle import X: a top-level module, a folder, or __init__'s name
                found |= {
                    a.name
                    if (SRC / a.name).exists() or (SRC / f"{a.name}.py").exists()
                    else "__init__"
                    for a in node.names
                }
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "wheelbundle" and len(parts) > 1:
                    found.add(".".join(parts[1:]))
    return found


def backward_imports(sources: dict[str, str]) -> list[str]:
    """``module (layer) imports other (later layer)``, for every import against the flow."""
    order = {layer: n for n, layer in enumerate(LAYERS)}
    return [
        f"{module} ({layer_of(module)}) imports {other} ({layer_of(other)})"
        for module, source in sorted(sources.items())
        for other in sorted(imported(source))
        if order[layer_of(other)] > order[layer_of(module)]
    ]


def _sources() -> dict[str, str]:
    """Every module's source by its dotted name below wheelbundle (``resolve.relay``)."""
    return {
        ".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(
            ".__init__"
        ): path.read_text()
        for path in SRC.rglob("*.py")
        if "payload" not in path.parts
    }


def test_every_folder_has_a_layer() -> None:
    folders = {p.name for p in SRC.iterdir() if (p / "__init__.py").exists()}
    assert folders <= {*LAYERS, *FOLDERS}
    assert {layer_of(m) for m in _sources()} <= set(LAYERS)


def test_no_module_imports_a_later_layer_or_the_cli() -> None:
    assert backward_imports(_sources()) == []


def test_a_planted_backward_import_is_caught() -> None:
    sources = _sources()
    sources["review.verify"] += (
        "\nfrom wheelbundle.pack.write import write_archive\nfrom wheelbundle import cli\n"
    )
    sources["net.fetch"] += "\nimport wheelbundle.resolve.relay\n"
    assert backward_imports(sources) == [
        "net.fetch (net) imports resolve.relay (resolve)",
        "review.verify (review) imports cli (cli)",
        "review.verify (review) imports pack.write (pack)",
    ]


@pytest.mark.parametrize(
    ("module", "kept_out"),
    [
        ("review.verify", ("resolve", "net", "pip", "pack", "http.server", "http.client")),
        ("review.inspect", ("resolve", "net", "pip", "pack", "http.server", "http.client")),
        ("review.diff", ("resolve", "net", "pip", "pack", "http.server", "http.client")),
    ],
)
def test_reading_a_bundle_loads_no_network_pip_or_packing_code(
    module: str, kept_out: tuple[str, ...]
) -> None:
    probe = f"import sys, wheelbundle.{module}; print(' '.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = set(done.stdout.split())
    stdlib = {name for name in kept_out if name.startswith("http.")}
    ours = {f"wheelbundle.{name}" for name in kept_out} - {f"wheelbundle.{n}" for n in stdlib}
    assert stdlib & loaded == set()
    assert {m for m in loaded if any(m == o or m.startswith(f"{o}.") for o in ours)} == set()


def test_no_module_outside_the_server_side_is_over_600_lines() -> None:
    """A module that long holds more than one concept; payload/ runs on the server as it is."""
    long = {
        str(path.relative_to(SRC)): n
        for path in SRC.rglob("*.py")
        if "payload" not in path.parts and (n := len(path.read_text().splitlines())) > 600
    }
    assert long == {}
