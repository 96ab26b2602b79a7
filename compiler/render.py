"""Turns assembled templates into the exact bytes written to disk, plus the manifest.

Everything here is deterministic: key order follows the builders, lists keep their
order, and no timestamp or absolute path enters the output.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from compiler.assemble import StackTemplate


@dataclass(frozen=True)
class RenderedFile:
    path: str  # relative to the output directory, with forward slashes
    content: bytes


def to_json_bytes(data) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def manifest_entry(stack: StackTemplate, content: bytes) -> dict:
    return {
        "stack_name": stack.stack_name,
        "kind": stack.kind,
        "region": stack.region,
        "template": stack.path,
        "sha256": hashlib.sha256(content).hexdigest(),
        "resources": len(stack.template.resources),
        "bytes": len(content),
    }


def render(stacks: list[StackTemplate]) -> list[RenderedFile]:
    """Template files, then `manifest.json` listing them in deploy order."""
    files: list[RenderedFile] = []
    entries = []
    for stack in stacks:
        content = to_json_bytes(stack.template.to_dict())
        files.append(RenderedFile(stack.path, content))
        entries.append(manifest_entry(stack, content))
    files.append(RenderedFile("manifest.json", to_json_bytes({"version": 1, "stacks": entries})))
    return files
