"""JSON Schema of every wire model, written to ``schemas/json/`` (kept in sync by a test)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from regaudit.schemas.access import (
    CombinedLine,
    FilebeatEnvelope,
    FluentBitEnvelope,
    NginxRecord,
    VectorEnvelope,
)
from regaudit.schemas.registry import Event, StrictEnvelope

WIRE_MODELS: dict[str, type[BaseModel]] = {
    "distribution-envelope": StrictEnvelope,
    "distribution-event": Event,
    "nginx-json-record": NginxRecord,
    "nginx-combined-line": CombinedLine,
    "shipper-vector": VectorEnvelope,
    "shipper-filebeat": FilebeatEnvelope,
    "shipper-fluentbit": FluentBitEnvelope,
}

SCHEMA_DIR = Path(__file__).parent / "json"


def schema_documents() -> dict[str, str]:
    """File name -> JSON text, deterministic."""
    documents = {}
    for name, model in WIRE_MODELS.items():
        schema = model.model_json_schema(by_alias=True, mode="validation")
        schema["$id"] = f"https://regaudit.invalid/schemas/{name}.schema.json"
        documents[f"{name}.schema.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return documents


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, text in schema_documents().items():
        path = directory / file_name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
