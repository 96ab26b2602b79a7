"""The import floor: what `infra compile --no-lint` must import from its libraries,
and nothing else. No spec is read, no model is defined beyond one, no template built.

The design card fixes the libraries (click for the CLI, pydantic for the spec, PyYAML,
troposphere); this row shows what they cost before the compiler does any work, next to
the troposphere floor (floor_troposphere.py) that the speed goal is measured against.
One trivial pydantic model is defined because pydantic finishes its set-up (schema
machinery, core validator) on the first model, which any pydantic program pays.

    python benchmarks/floor_imports.py
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from compiler.entry import apply_process_settings  # light: gc, os, sys and types only

# The process settings `infra` starts with, so that this row and the compile rows are
# measured alike.
apply_process_settings()
sys.path.insert(0, str(Path(__file__).resolve().parent))

import click  # noqa: E402,F401
import orjson  # noqa: E402,F401
import yaml  # noqa: E402,F401
from floor_troposphere import MODULES  # noqa: E402
from pydantic import BaseModel  # noqa: E402


class FirstModel(BaseModel):
    name: str


for module in MODULES:
    importlib.import_module(f"troposphere.{module}")
