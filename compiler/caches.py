"""Where the compiler keeps what it remembers between runs (lint results, compiles)."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def cache_root() -> Path:
    """`$XDG_CACHE_HOME/infra-compiler`, or `~/.cache/infra-compiler`. Deleting it is safe:
    every entry is only ever a reason to skip work."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "infra-compiler"


def is_empty_entry(path: Path) -> bool:
    """Whether `path` is an entry that says yes by existing: an empty regular file, as
    `Path.touch` makes it. A directory, link, FIFO or a file with content in its place
    was not written by the compiler and vouches for nothing; an unreadable cache
    neither (the work is done again, nothing fails)."""
    try:
        status = os.stat(path, follow_symlinks=False)
    except (OSError, ValueError):
        return False
    return stat.S_ISREG(status.st_mode) and status.st_size == 0
