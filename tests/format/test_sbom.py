"""``sbom.cdx.json``: valid CycloneDX 1.6, licenses read and never guessed, the real graph."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from email.parser import HeaderParser
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from support.bundles import bundle, make_archive, unpack
from support.cyclonedx import validate
from support.index import LocalIndex
from support.packages import make_wheel, metadata_text

from wheelbundle.format.checksums import parse_sha256sums
from wheelbundle.format.licenses import CLASSIFIER_LICENSES, license_of, wheel_license
from wheelbundle.format.manifest import Manifest
from wheelbundle.format.sbom import sbom, sbom_json


@pytest.fixture(scope="module")
def licensed(tmp_path_factory: pytest.TempPathFactory, packages_dir: Path) -> Iterator[Path]:
    """A bundle of packages whose metadata declares a license in each supported way, or none."""
    folder = tmp_path_factory.mktemp("licensed-index")
    for name in ("alpha-1.0", "beta-2.0"):
        shutil.copy(packages_dir / f"{name}-py3-none-any.whl", folder)
    shutil.copy(next(packages_dir.glob("pip-*.whl")), folder)
    make_wheel(
        folder, "expr", "1.0", license_expression="mit or apache-2.0", requires=["classified"]
    )
    make_wheel(folder, "classified", "1.0", classifiers=["License :: OSI Approved :: MIT License"])
    make_wheel(
        folder, "vague", "1.0", classifiers=["License :: OSI Approved :: Apache Software License"]
    )
    with LocalIndex(folder) as served:
        yield make_archive(
            tmp_path_factory.mktemp("licensed"), served.url, "alpha", "expr", "vague"
        )


@pytest.fixture(scope="module")
def unpacked(licensed: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return unpack(licensed, tmp_path_factory.mktemp("server"))


def document(top: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((top / "sbom.cdx.json").read_text())
    return data


def test_every_bundle_carries_a_valid_cyclonedx_16_sbom(unpacked: Path) -> None:
    validate(document(unpacked))


def test_the_schema_check_is_real(unpacked: Path) -> None:
    """A license id outside SPDX's list fails: the SPDX schema was found by its $id, offline."""
    bad = document(unpacked)
    bad["components"][0]["licenses"] = [{"license": {"id": "Not-A-License"}}]
    with pytest.raises(jsonschema.ValidationError):
        validate(bad)
    bad = document(unpacked)
    bad["serialNumber"] = "urn:uuid:not-a-uuid"
    with pytest.raises(jsonschema.ValidationError):
        validate(bad)


def test_the_sbom_is_covered_by_sha256sums(unpacked: Path) -> None:
    assert "sbom.cdx.json" in parse_sha256sums((unpacked / "SHA256SUMS").read_text())


def test_the_bundle_is_the_root_and_each_wheel_a_component(unpacked: Path) -> None:
    manifest = Manifest.from_yaml((unpacked / "manifest.yaml").read_text())
    bom = document(unpacked)
    root = bom["metadata"]["component"]
    assert (root["type"], root["name"], root["version"]) == (
        "application",
        manifest.name,
        manifest.version,
    )
    assert bom["metadata"]["timestamp"] == manifest.created
    components = {c["name"]: c for c in bom["components"]}
    assert sorted(components) == ["alpha", "beta", "classified", "expr", "pip", "vague"]
    for p in manifest.packages:
        c = components[p.name]
        assert c["purl"] == f"pkg:pypi/{p.name}@{p.version}"
        assert c["hashes"] == [{"alg": "SHA-256", "content": p.sha256}]
        assert c["bom-ref"] == p.wheel


def test_licenses_are_read_normalised_and_never_guessed(unpacked: Path) -> None:
    components = {c["name"]: c for c in document(unpacked)["components"]}
    assert components["expr"]["licenses"] == [{"expression": "MIT OR Apache-2.0"}]
    assert components["classified"]["licenses"] == [{"expression": "MIT"}]
    for unknown in ("alpha", "vague"):  # no license at all; a classifier without a version
        assert "licenses" not in components[unknown]
    manifest = Manifest.from_yaml((unpacked / "manifest.yaml").read_text())
    assert {p.name: p.license for p in manifest.packages if p.name != "pip"} == {
        "alpha": None,
        "beta": None,
        "classified": "MIT",
        "expr": "MIT OR Apache-2.0",
        "vague": None,
    }


def test_the_dependency_graph_follows_requires_dist(unpacked: Path) -> None:
    bom = document(unpacked)
    ref = {c["bom-ref"]: c["name"] for c in bom["components"]}
    ref[bom["metadata"]["component"]["bom-ref"]] = "ROOT"
    graph = {ref[d["ref"]]: sorted(ref[r] for r in d["dependsOn"]) for d in bom["dependencies"]}
    assert graph == {
        "ROOT": ["alpha", "expr", "pip", "vague"],
        "alpha": ["beta"],
        "beta": [],
        "classified": [],
        "expr": ["classified"],
        "pip": [],
        "vague": [],
    }


def test_the_sbom_is_deterministic_and_its_serial_derived_from_content(unpacked: Path) -> None:
    manifest = Manifest.from_yaml((unpacked / "manifest.yaml").read_text())
    text = (unpacked / "sbom.cdx.json").read_text()
    assert sbom_json(manifest) == text
    serial = json.loads(text)["serialNumber"]
    assert serial.startswith("urn:uuid:")
    other = Manifest(**{**manifest.__dict__, "version": manifest.version + ".post1"})
    assert sbom(other)["serialNumber"] != serial


def test_inspect_shows_the_license_column(
    licensed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = bundle(capsys, "inspect", licensed).out.splitlines()
    header = next(line for line in out if line.startswith("PACKAGE"))
    assert header.split() == ["PACKAGE", "VERSION", "ORIGIN", "LICENSE", "SIZE"]
    rows = {line.split()[0]: line.split() for line in out if line.split()[:1] != ["PACKAGE"]}
    assert rows["classified"][3] == "MIT"
    assert rows["vague"][3] == "unknown"
    assert " MIT OR Apache-2.0 " in next(line for line in out if line.startswith("expr "))


def meta(**fields: Any) -> Any:
    return HeaderParser().parsestr(metadata_text("x", "1.0", **fields))


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"license_expression": "apache-2.0 AND (mit OR bsd-3-clause)"},
            "Apache-2.0 AND (MIT OR BSD-3-Clause)",
        ),
        ({"license_expression": "LicenseRef-Proprietary"}, "LicenseRef-Proprietary"),
        (
            {
                "license_expression": "not a license",
                "classifiers": ["License :: OSI Approved :: MIT License"],
            },
            "MIT",
        ),
        (
            {
                "classifiers": [
                    "License :: OSI Approved",
                    "License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)",
                ]
            },
            "GPL-3.0-or-later",
        ),
        ({"classifiers": ["License :: OSI Approved :: BSD License"]}, None),
        (
            {
                "classifiers": [
                    "License :: OSI Approved :: MIT License",
                    "License :: OSI Approved :: ISC License (ISCL)",
                ]
            },
            None,
        ),
        (
            {
                "classifiers": [
                    "License :: OSI Approved :: MIT License",
                    "License :: Other/Proprietary License",
                ]
            },
            None,
        ),
        ({"license_expression": "not a license"}, None),
        ({"license": "Apache-2.0"}, "Apache-2.0"),  # requests: License, a valid SPDX id
        ({"license": "mit", "classifiers": ["License :: OSI Approved :: BSD License"]}, "MIT"),
        ({"license": "MIT License"}, None),  # words, not an SPDX expression: not guessed
        ({"license": "MIT\n\nPermission is hereby granted…"}, None),  # a whole text
        ({}, None),
    ],
)
def test_license_of(fields: dict[str, Any], expected: str | None) -> None:
    assert license_of(meta(**fields)) == expected


def test_the_classifier_table_holds_canonical_spdx_ids() -> None:
    from packaging.licenses import canonicalize_license_expression

    for spdx in CLASSIFIER_LICENSES.values():
        assert canonicalize_license_expression(spdx) == spdx


MIT_TEXT = """MIT License

Copyright (c) 2026 Someone

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction. The above copyright notice and this
permission notice shall be included in all copies or substantial portions of the Software.
"""
BSD3_TEXT = """Copyright 2026 Someone

Redistribution and use in source and binary forms, with or without modification, are
permitted provided that the following conditions are met: ...
3. Neither the name of the copyright holder nor the names of its contributors may be used
"""
APACHE_TEXT = """
                                 Apache License
                           Version 2.0, January 2004
                        http://www.apache.org/licenses/
"""


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"LICENSE": MIT_TEXT}, "MIT"),
        ({"LICENSE.txt": BSD3_TEXT}, "BSD-3-Clause"),
        (
            {"LICENSE": APACHE_TEXT, "NOTICE": "requests\nCopyright 2019 Kenneth Reitz"},
            "Apache-2.0",
        ),
        ({"LICENSE": MIT_TEXT, "LICENSE.vendored": MIT_TEXT}, "MIT"),  # both say the same
        ({"LICENSE.APACHE": APACHE_TEXT, "LICENSE.BSD": BSD3_TEXT}, None),  # AND or OR? unknown
        ({"LICENSE": MIT_TEXT, "COPYING": "All rights reserved."}, None),  # one is none of them
        ({"LICENSE": "Proprietary. All rights reserved."}, None),
    ],
)
def test_a_license_text_the_wheel_ships_is_recognised_only_when_it_is_unambiguous(
    tmp_path: Path, files: dict[str, str], expected: str | None
) -> None:
    wheel = make_wheel(tmp_path, "texts", "1.0", license_files=files)
    assert wheel_license(wheel) == expected


def test_real_wheels_take_each_road_to_their_license(example_wheels: Path) -> None:
    """PEP 639's expression (click), an SPDX License field (requests, charset-normalizer), a
    classifier (blinker), the text alone (jinja2 says only 'BSD License' otherwise)."""
    found = {w.name.split("-")[0]: wheel_license(w) for w in example_wheels.glob("*.whl")}
    assert found["click"] == "BSD-3-Clause"
    assert found["requests"] == "Apache-2.0"
    assert found["charset_normalizer"] == "MIT"
    assert found["blinker"] == "MIT"
    assert found["jinja2"] == "BSD-3-Clause"
    assert found["colorama"] == "BSD-3-Clause"
    assert None not in found.values()
