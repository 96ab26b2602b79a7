"""Where the compiler keeps what it remembers between runs (lint results, compiles)."""

from __future__ import annotations

import contextlib
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


def write_entry(target: Path, content: bytes) -> None:
    """Write a cache entry whole or not at all: a reader sees the old entry or the new,
    never half. A cache that cannot be written (read-only home in CI, full disk) only
    means the next run does the work again, so a failure is silent."""
    temporary = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_bytes(content)
        os.replace(temporary, target)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink()
