"""Stage 5, write: replace the output directory atomically.

Files go to a hidden sibling directory first, are flushed to disk, and the finished
directory is then swapped with the old one in a single `renameat2(RENAME_EXCHANGE)`
call (Linux), so a reader or a crash sees either the complete old output or the
complete new one. Elsewhere two renames are used, with a brief window with no output
directory at all, but never a mix of old and new files.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from compiler.render import RenderedFile

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths; False where the platform cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result != 0:
        errno = ctypes.get_errno()
        if errno in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: filesystem or kernel can't
            return False
        raise OSError(errno, os.strerror(errno), str(a))
    return True


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_leftovers(out_dir: Path) -> None:
    """Delete staging directories that an interrupted earlier run left behind."""
    for stale in out_dir.parent.glob(f".{out_dir.name}.*"):
        if not stale.is_dir():
            continue
        if ".new-" in stale.name and _process_alive(stale.name.rsplit("-", 1)[-1]):
            continue  # another compile is writing right now
        if stale.name.endswith(".old") or ".new-" in stale.name:
            shutil.rmtree(stale, ignore_errors=True)


def _process_alive(pid_text: str) -> bool:
    if not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_output(files: list[RenderedFile], out_dir: Path) -> None:
    """Make `out_dir` hold exactly `files`, all at once. When `out_dir` is a symbolic
    link, the directory it points to is replaced and the link is kept."""
    out_dir = out_dir.absolute()
    if out_dir.is_symlink():
        out_dir = out_dir.resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(out_dir)
    staging = out_dir.parent / f".{out_dir.name}.new-{os.getpid()}"
    staging.mkdir()
    try:
        for file in files:
            target = staging / file.path
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as handle:
                handle.write(file.content)
                handle.flush()
                os.fsync(handle.fileno())
            if file.executable:
                os.chmod(target, 0o755)
        for directory in {(staging / f.path).parent for f in files}:
            _fsync_dir(directory)
        if not out_dir.exists():
            os.rename(staging, out_dir)
        elif _exchange(staging, out_dir):
            shutil.rmtree(staging)  # now holds the old output
        else:
            old = out_dir.parent / f".{out_dir.name}.old"
            os.rename(out_dir, old)
            os.rename(staging, out_dir)
            shutil.rmtree(old)
        _fsync_dir(out_dir.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
