"""The JSON Schemas our documents promise (docs/) and those of the formats we write
(tests/schemas/), checked offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

ROOT = Path(__file__).parents[2]


def validate_schema(document: Any, name: str) -> None:
    """Against ``docs/NAME``, a schema the reference documents for scripts."""
    schema = json.loads((ROOT / "docs" / name).read_text())
    jsonschema.validate(document, schema, format_checker=jsonschema.FormatChecker())


def validate_openvex(document: Any) -> None:
    """Against OpenVEX 0.2.0's own schema (draft 2020-12), formats (uri, date-time) checked."""
    schema = json.loads((ROOT / "tests" / "schemas" / "openvex-0.2.0.schema.json").read_text())
    jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(document)
