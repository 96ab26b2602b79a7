"""Reading an input file safely: only a regular file, and never more than a bound.

Used for every file a command reads that a user names (the spec, task sources) or
that could have been replaced since (the compile cache's inputs); imports nothing
heavy, so the unchanged-compile check can use it too.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class InputTooLarge(Exception):
    def __init__(self, size: str):
        self.size = size  # "1,000,001 bytes", or "more than 1,000,000 bytes" if it grew


class NotARegularFile(Exception):
    def __init__(self, kind: str):
        self.kind = kind
        super().__init__(f"it is {kind}, not a regular file")


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of the regular file `path`, refusing anything else before reading it: a
    FIFO would block forever and /dev/zero never end. Raises `OSError`,
    `NotARegularFile`, or `InputTooLarge` when it holds more than `limit` bytes;
    the size is checked before reading and the read stops one byte past `limit`, so a
    file that grows meanwhile cannot exhaust memory either."""
    # O_NONBLOCK: opening a FIFO with no writer would otherwise wait before fstat can refuse it
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        status = os.fstat(fd)
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(status.st_mode):
        os.close(fd)
        kind = next((what for test, what in _FILE_KINDS if test(status.st_mode)), "special")
        raise NotARegularFile(kind)
    with os.fdopen(fd, "rb") as handle:
        size = status.st_size
        if size > limit:
            raise InputTooLarge(f"{size:,} bytes")
        data = handle.read(limit + 1)
        if len(data) > limit:
            raise InputTooLarge(f"more than {limit:,} bytes")
        return data
