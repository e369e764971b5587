"""The official CycloneDX 1.6 schema, read offline from tests/schemas, as a check of our SBOMs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

SCHEMAS = Path(__file__).parents[1] / "schemas"
BASE = "http://cyclonedx.org/schema/"


def validate(document: dict[str, Any]) -> None:
    """Against the official CycloneDX 1.6 schema, offline: its neighbours come from tests/schemas."""
    resources = [
        (f"{BASE}{name}", Resource.from_contents(json.loads((SCHEMAS / name).read_text()), DRAFT7))
        for name in ("spdx.SNAPSHOT.schema.json", "jsf-0.82.SNAPSHOT.schema.json")
    ]
    schema = json.loads((SCHEMAS / "bom-1.6.SNAPSHOT.schema.json").read_text())
    validator = jsonschema.Draft7Validator(schema, registry=Registry().with_resources(resources))
    validator.validate(document)
    assert document["version"] == 1  # required upstream; the vendored copy relaxes it
