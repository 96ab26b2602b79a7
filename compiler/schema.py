"""The JSON Schema of `infra.yaml`, generated from the pydantic models.

Editors read it through the `# yaml-language-server: $schema=...` comment at the top of
the spec and offer completion, hover text (the field descriptions) and examples. The
models stay the one source of truth: a test fails when the committed file differs from
what this module produces.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from compiler.interrupts import interrupts_deferred
from compiler.spec import InfraSpec

DEFAULT_SCHEMA_PATH = Path("schemas/infra.schema.json")
# pydantic's generator emits draft 2020-12 keywords ($defs, prefixItems).
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_TITLE = "infra.yaml"


# Building the models' schema runs pydantic-core, which turns a Ctrl-C into a SchemaError:
# see compiler.interrupts.
@interrupts_deferred()
def infra_schema() -> dict[str, Any]:
    """The spec's JSON Schema, `$schema` and `title` first, then pydantic's own order.

    pydantic keeps field order (which editors use for completion lists) and sorts
    `$defs` by name, so the result is the same on every run; no keys are re-sorted.
    """
    generated = InfraSpec.model_json_schema(mode="validation")
    generated.pop("title", None)
    return {"$schema": JSON_SCHEMA_DIALECT, "title": SCHEMA_TITLE, **generated}


def schema_bytes() -> bytes:
    return (json.dumps(infra_schema(), indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def write_schema(path: Path = DEFAULT_SCHEMA_PATH) -> bool:
    """Write the schema to `path`; False when the file already held exactly these bytes."""
    content = schema_bytes()
    if path.is_file() and path.read_bytes() == content:
        return False
    from compiler.write import replace_file

    replace_file(path, content)
    return True
