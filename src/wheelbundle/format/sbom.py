"""``sbom.cdx.json``: the bundle as a CycloneDX 1.6 bill of materials, built from its manifest.

The bundle is the root component; every wheel is a library component with its purl, sha256 and
license, and the dependency graph follows each wheel's ``Requires-Dist``. A uv wheel that install.sh
runs but never installs (``--installer uv``) has the scope ``excluded``. The output depends
only on the manifest: the timestamp is the manifest's, and the serial number is a UUID derived
from the content, so the same bundle always gets the same bytes.

Each package's license is the manifest's, decided once by ``format.licenses``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from wheelbundle.format.manifest import GraftedLibrary, Manifest, Package, Runtime
from wheelbundle.format.osv import Snapshot

SPEC_VERSION = "1.6"
_SERIAL_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "wheelbundle:sbom.cdx.json")


def purl(package: Package) -> str:
    return f"pkg:pypi/{canonicalize_name(package.name)}@{quote(package.version, safe='')}"


def sbom(manifest: Manifest) -> dict[str, Any]:
    """The CycloneDX 1.6 document as plain data, with a serial number derived from it."""
    root = f"bundle:{manifest.top}"
    installed = {w for t in manifest.targets for w in t.wheels}
    tools = {t.uv_wheel for t in manifest.targets if t.uv_wheel} - installed
    head = {
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
    }
    body: dict[str, Any] = {
        "version": 1,
        "metadata": {
            "timestamp": manifest.created,
            "tools": {
                "components": [
                    {"type": "application", "name": "wheelbundle", "version": manifest.tool_version}
                ]
            },
            "component": {
                "type": "application",
                "bom-ref": root,
                "name": manifest.name,
                "version": manifest.version,
                "properties": [
                    {"name": "wheelbundle:target", "value": t.name} for t in manifest.targets
                ],
            },
        },
        "components": [
            *(_component(p, p.wheel in tools) for p in manifest.packages),
            *(_runtime(t.runtime) for t in manifest.targets if t.runtime is not None),
        ],
        "dependencies": _dependencies(manifest, root),
    }
    if manifest.audit is not None:  # make --policy judged it against this copy of OSV
        body["metadata"]["properties"] = snapshot_properties(manifest.audit)
    content = json.dumps([head, body], sort_keys=True).encode()
    serial = uuid.uuid5(_SERIAL_NAMESPACE, hashlib.sha256(content).hexdigest())
    return {**head, "serialNumber": serial.urn, **body}


def snapshot_properties(snapshot: Snapshot) -> list[dict[str, str]]:
    """The copy of the OSV database a verdict rests on, as the SBOM's metadata properties."""
    return [
        {"name": f"wheelbundle:osv:{key}", "value": str(value)}
        for key, value in snapshot.as_json().items()
        if value is not None
    ]


def sbom_json(manifest: Manifest) -> str:
    return json.dumps(sbom(manifest), indent=2) + "\n"


def _component(package: Package, installer: bool) -> dict[str, Any]:
    """``installer``: a wheel install.sh runs (uv) but never installs: scope ``excluded``."""
    component: dict[str, Any] = {
        "type": "library",
        "bom-ref": package.wheel,
        "name": package.name,
        "version": package.version,
        "purl": purl(package),
        "hashes": [{"alg": "SHA-256", "content": package.sha256}],
    }
    if package.license:
        component["licenses"] = [{"expression": package.license}]
    component["properties"] = [
        {"name": "wheelbundle:origin", "value": package.origin},
        {"name": "wheelbundle:wheel", "value": package.wheel},
    ]
    if installer:
        component["scope"] = "excluded"
        component["properties"].append({"name": "wheelbundle:role", "value": "installer"})
    if package.repaired:
        component["properties"].append({"name": "wheelbundle:repaired", "value": package.repaired})
        component["components"] = [_grafted(package, g) for g in package.grafted]
    return component


def _runtime(runtime: Runtime) -> dict[str, Any]:
    """The interpreter the bundle carries (``--python-runtime``): it ships and it runs."""
    return {
        "type": "application",
        "bom-ref": f"runtime/{runtime.file}",
        "name": "cpython",
        "version": runtime.python,
        "purl": f"pkg:generic/cpython@{runtime.python}",
        "hashes": [{"alg": "SHA-256", "content": runtime.sha256}],
        "properties": [
            {"name": "wheelbundle:runtime", "value": runtime.file},
            {"name": "wheelbundle:machine", "value": runtime.machine},
            {"name": "wheelbundle:glibc", "value": runtime.glibc},
            {"name": "wheelbundle:source", "value": runtime.source},
        ],
    }


def _grafted(package: Package, library: GraftedLibrary) -> dict[str, Any]:
    """A library auditwheel copied into a wheel built here: it ships, so it is a component."""
    return {
        "type": "library",
        "bom-ref": f"{package.wheel}#{library.file}",
        "name": library.name,
        "hashes": [{"alg": "SHA-256", "content": library.sha256}],
        "properties": [{"name": "wheelbundle:grafted-as", "value": library.file}],
    }


def _dependencies(manifest: Manifest, root: str) -> list[dict[str, Any]]:
    """Each wheel depends on the wheels of its requirements that sit beside it in a target.

    The root depends on every wheel nothing else requires (and on any left unreached by a cycle).
    """
    edges: dict[str, set[str]] = {p.wheel: set() for p in manifest.packages}
    by_wheel = {p.wheel: p for p in manifest.packages}
    for target in manifest.targets:
        here: dict[str, str] = {
            canonicalize_name(by_wheel[w].name): w for w in target.wheels if w in by_wheel
        }
        for wheel in target.wheels:
            if wheel in by_wheel:
                for name in _required_names(by_wheel[wheel].requires):
                    if name in here and here[name] != wheel:
                        edges[wheel].add(here[name])
    required = set().union(*edges.values())
    tops = {w for w in edges if w not in required}
    reached = _reach(tops, edges)
    for wheel in sorted(edges):
        if wheel not in reached:
            tops.add(wheel)
            reached |= _reach({wheel}, edges)
    graph = [{"ref": root, "dependsOn": sorted(tops)}]
    graph += [{"ref": w, "dependsOn": sorted(edges[w])} for w in sorted(edges)]
    return graph


def _required_names(requires: Iterable[str]) -> set[str]:
    names: set[str] = set()
    for line in requires:
        try:
            names.add(canonicalize_name(Requirement(line).name))
        except InvalidRequirement:
            continue
    return names


def _reach(start: set[str], edges: Mapping[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(start)
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(edges[node])
    return seen
