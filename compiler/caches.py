"""Where the compiler keeps what it remembers between runs (lint results, compiles)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """`$XDG_CACHE_HOME/infra-compiler`, or `~/.cache/infra-compiler`. Deleting it is safe:
    every entry is only ever a reason to skip work."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "infra-compiler"
