"""Validate response bodies against a face's own OpenAPI file (``specs/``, copied from the contracts)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SPECS = Path(__file__).resolve().parents[1] / "specs"


@cache
def _spec(name: str) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads((SPECS / name).read_text())
    return spec


def validate(spec_file: str, schema: str, body: Any) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``body`` matches ``#/components/schemas/<schema>``."""
    spec = _spec(spec_file)
    registry: Registry[Any] = Registry().with_resource("spec", Resource.opaque(spec))
    validator = Draft202012Validator({"$ref": f"spec#/components/schemas/{schema}"}, registry=registry)
    validator.validate(body)
