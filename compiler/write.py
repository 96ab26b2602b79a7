"""Stage 5, write: replace the output directory atomically, and only one that is ours.

Files go to a hidden sibling directory first, are flushed to disk, and the finished
directory is then swapped with the old one in a single `renameat2(RENAME_EXCHANGE)`
call (Linux), so a reader or a crash sees either the complete old output or the
complete new one. Elsewhere two renames are used, with a brief window with no output
directory at all, but never a mix of old and new files.

The swap deletes whatever the directory held, so `plan_output` decides first whether
it may: every compile leaves a marker file (`MARKER`) naming the project, the
environment and the files it wrote, and a directory is replaced only when it is empty
or holds nothing but what a compile of the same project and environment wrote (see
`plan_output` for the rest).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import glob
import json
import os
import shutil
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from compiler.bounded_read import InputTooLarge, NotARegularFile, read_bounded
from compiler.errors import OutputError, os_error_text

if TYPE_CHECKING:
    from compiler.render import RenderedFile

MARKER = ".infra-compiler"
MANIFEST = "manifest.json"  # what a compile wrote before markers existed names its files

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
    """Delete staging directories that an interrupted earlier run left behind: only those
    that are empty or hold a marker (a compile writes it first), so a directory of the
    user's that happens to be named `.templates_out.old` is never deleted."""
    for stale in out_dir.parent.glob(glob.escape(f".{out_dir.name}.") + "*"):
        if not stale.is_dir() or stale.is_symlink():
            continue
        if ".new-" in stale.name and _process_alive(stale.name.rsplit("-", 1)[-1]):
            continue  # another compile is writing right now
        if not (stale.name.endswith(".old") or ".new-" in stale.name):
            continue
        marker = stale / MARKER
        if marker.is_file() and not marker.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                stale.rmdir()  # empty: killed before its first file; else not ours


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


class Owner(NamedTuple):
    """Whose templates a directory holds: what the marker records and compares."""

    project: str
    environment: str

    def __str__(self) -> str:
        return f"project {self.project}, environment {self.environment}"


def marker_content(owner: Owner, paths: list[str]) -> bytes:
    """The marker a compile leaves among `paths`, the files it writes (deterministic)."""
    return (
        json.dumps(
            {
                "written_by": "infra compile",
                "note": "infra compile replaces this directory only while this file names "
                "the project and environment it compiles and the directory holds no other "
                "files than those listed here",
                "project": owner.project,
                "environment": owner.environment,
                "files": sorted(p for p in paths if p != MARKER),
            },
            indent=2,
        )
        + "\n"
    ).encode("utf-8")


class _Written(NamedTuple):
    owner: Owner | None  # None: written before markers, known by its manifest
    files: frozenset[str]


def _read_json(path: Path):
    try:
        return json.loads(read_bounded(path, 10_000_000))
    except (OSError, ValueError, RecursionError, NotARegularFile, InputTooLarge):
        return None


def _written_by_compile(directory: Path) -> _Written | None:
    """What a compile recorded writing into `directory`; None if nothing says one did."""
    marker = _read_json(directory / MARKER)
    if isinstance(marker, dict):
        project, environment, files = (marker.get(k) for k in ("project", "environment", "files"))
        if (
            isinstance(project, str)
            and isinstance(environment, str)
            and isinstance(files, list)
            and all(isinstance(f, str) for f in files)
        ):
            return _Written(Owner(project, environment), frozenset([*files, MARKER]))
    manifest = _read_json(directory / MANIFEST)  # a compile older than the marker
    try:
        templates = [entry["template"] for entry in manifest["stacks"]]
        script = manifest["deploy_script"]
        if "bootstrap" in manifest:  # deploy.sh's own stack, since it had one
            templates.append(manifest["bootstrap"]["template"])
    except (TypeError, KeyError):
        return None
    if all(isinstance(t, str) for t in [*templates, script]):
        return _Written(None, frozenset([*templates, script, MANIFEST]))
    return None


@dataclass
class OutputPlan:
    """Where a compile writes, and what of that directory's content it carries over."""

    out_dir: Path  # absolute; a symbolic link's target
    new: bool = False  # it did not exist: one appearing before the write is another's
    keep: list[str] = field(default_factory=list)  # other compiles' directories in it
    notes: list[str] = field(default_factory=list)  # one line each, for the user


def _forbidden(real: Path, spec_path: Path | None) -> str | None:
    """Why `real` may never be replaced, even with --force; None if it may."""
    protected = [(Path.cwd(), "the working directory"), (Path("/"), "the root directory")]
    if spec_path is not None:
        protected.insert(0, (spec_path.absolute().parent, "the spec's directory"))
    home = os.environ.get("HOME")
    if home:
        protected.append((Path(home), "your home directory"))
    places = [(c, what) for p, what in protected for c in {p.absolute(), p.resolve()}]
    is_one = next((f"it is {what}" for place, what in places if real == place), None)
    return is_one or next(
        (f"it contains {what}" for place, what in places if place.is_relative_to(real)), None
    )


def check_not_protected(out_dir: Path, spec_path: Path | None) -> None:
    """Raise `OutputError` if `out_dir` is a directory no compile may ever replace (see
    `plan_output`); cheap, so a compile can ask before it builds anything."""
    out_dir = out_dir.absolute()
    try:
        reason = _forbidden(out_dir.resolve(), spec_path)
    except OSError as error:
        raise OutputError(out_dir, f"cannot check the directory: {os_error_text(error)}") from None
    if reason:
        raise OutputError(
            out_dir,
            f"infra compile never replaces this directory: {reason}; "
            "give -o a directory of its own, like templates_out",
        )


def _entries(directory: Path) -> list[Path]:
    return sorted(directory.iterdir())


def _shown(names: list[str], limit: int = 3) -> str:
    more = " and more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def plan_output(
    out_dir: Path,
    *,
    owner: Owner,
    writes: list[str],
    spec_path: Path | None = None,
    force: bool = False,
) -> OutputPlan:
    """Check that `out_dir` may be replaced by the files `writes` of `owner`'s compile.

    Never the working directory, the spec's directory, $HOME, `/` or a directory that
    contains one of them, not even with `force`. Otherwise a directory that does not
    exist, is empty, or holds only what a compile of the same project and environment
    wrote (its marker lists the files; before markers, its manifest did); `force`
    replaces another project's output or files no compile wrote. Directories of other
    compiles inside it (the per-environment folders of an older layout) are carried
    over, never deleted, and reported; so are files an earlier layout left in the
    parent. Raises `OutputError` with one line saying why not and what to do instead.
    """
    out_dir = out_dir.absolute()
    try:
        check_not_protected(out_dir, spec_path)
        if out_dir.is_symlink():
            out_dir = out_dir.resolve()
        plan = OutputPlan(out_dir)
        plan.notes += _older_layout(out_dir.parent)
        if not out_dir.exists() and not out_dir.is_symlink():
            existing = next(p for p in out_dir.parents if p.exists())
            if not existing.is_dir():
                raise OutputError(out_dir, f"cannot be made: {existing} is a file, not a directory")
            plan.new = True
            return plan
        if not out_dir.is_dir():
            raise OutputError(out_dir, "exists and is not a directory; give -o a directory")
        written = _written_by_compile(out_dir)
        if written and written.owner and written.owner != owner and not force:
            raise OutputError(
                out_dir,
                f"holds the templates of {written.owner}, not of this spec ({owner}); "
                "give -o another directory, or --force to replace them",
            )
        foreign = _sort_content(out_dir, plan, written, set(writes), stop_at=None if force else 4)
    except OSError as error:
        raise OutputError(out_dir, f"cannot check the directory: {os_error_text(error)}") from None
    if foreign and not force:
        why = (
            "holds files infra compile did not write"
            if written
            else f"is not empty and has no {MARKER} file, so infra compile did not write it"
        )
        raise OutputError(
            out_dir,
            f"not replaced: it {why} ({_shown(foreign)}); move them away, give -o another "
            "directory, or --force to replace it",
        )
    return plan


def _sort_content(
    out_dir: Path,
    plan: OutputPlan,
    written: _Written | None,
    writes: set[str],
    stop_at: int | None,
) -> list[str]:
    """Fill in `plan.keep` and its notes; return what nothing says a compile wrote (the
    first `stop_at` of it: a refusal needs no more, and `-o ~/src` may hold a lot)."""
    owned = written.files if written else frozenset()
    foreign: list[str] = []
    pending = _entries(out_dir)
    while pending and (stop_at is None or len(foreign) < stop_at):
        path = pending.pop(0)
        relative = path.relative_to(out_dir).as_posix()
        if relative in owned:
            continue
        if path.is_dir() and not path.is_symlink():
            nested = _written_by_compile(path)
            if (
                nested
                and relative not in writes
                and not any(w.startswith(f"{relative}/") for w in writes)
            ):
                plan.keep.append(relative)
                who = f" ({nested.owner})" if nested.owner else ""
                plan.notes.append(
                    f"{path}/ holds the templates of another compile{who}; kept as it is. "
                    "Delete it when you no longer need it"
                )
                continue
            inside = _entries(path)
            if inside:
                pending[:0] = inside
                continue
        if not any(o.startswith(f"{relative}/") for o in owned):  # regions/ is ours
            foreign.append(relative)
    return foreign


def _older_layout(parent: Path) -> list[str]:
    """Files a compile of an earlier layout left in `parent` (before environments)."""
    written = _written_by_compile(parent)
    if written is None:
        return []
    left = sorted(f for f in written.files - {MARKER} if (parent / f).is_file())
    if not left:
        return []
    return [
        f"{parent}/ still holds {len(left)} files of an earlier compile into it "
        f"({_shown(left)}), which this compile no longer updates; delete them when you no "
        "longer need them"
    ]


def write_output(
    files: list[RenderedFile],
    out_dir: Path,
    *,
    keep: list[str] = (),
    owner: Owner | None = None,
    new: bool = False,
) -> None:
    """Make `out_dir` hold exactly `files` (and the directories `keep` it already holds),
    all at once. When `out_dir` is a symbolic link, the directory it points to is
    replaced and the link is kept. A compile racing this one into a directory that did
    not exist wins, or loses to a compile of the same `owner` with both succeeding;
    with `new` (`plan_output` found no directory), one that appeared meanwhile counts as
    another's even when its compile finished first. Raises `OutputError` when the
    filesystem refuses; `out_dir` is then as it was."""
    out_dir = out_dir.absolute()
    try:
        _write(files, out_dir, list(keep), owner, new)
    except OSError as error:
        raise OutputError(
            out_dir, f"cannot write: {os_error_text(error)}; it keeps what it held before"
        ) from None


def _write(
    files: list[RenderedFile], out_dir: Path, keep: list[str], owner: Owner | None, new: bool
) -> None:
    if out_dir.is_symlink():
        out_dir = out_dir.resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(out_dir)
    staging = out_dir.parent / f".{out_dir.name}.new-{os.getpid()}"
    staging.mkdir()
    try:
        # the marker first: it is what lets a later run remove this if the run is killed
        for file in sorted(files, key=lambda f: f.path != MARKER):
            target = staging / file.path
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as handle:
                handle.write(file.content)
                handle.flush()
                os.fsync(handle.fileno())
            if file.executable:
                os.chmod(target, 0o755)
        # copied, not moved: a crash before the swap must leave them where they were
        for name in keep:
            shutil.copytree(out_dir / name, staging / name, symlinks=True)
        for directory in {(staging / f.path).parent for f in files}:
            _fsync_dir(directory)
        if not _created(staging, out_dir, owner, new):
            _replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    # The new output is in place and its files are on disk; if the rename itself cannot
    # be made durable, saying the directory "keeps what it held" would be false.
    with contextlib.suppress(OSError):
        _fsync_dir(out_dir.parent)


def _created(staging: Path, out_dir: Path, owner: Owner | None, new: bool) -> bool:
    """Rename `staging` to a new `out_dir`; False when `out_dir` exists and must be swapped.
    A compile that created it in the meantime wins unless it compiled the same owner,
    whether it is still renaming or finished before this one got here (`new`)."""
    if not out_dir.exists():
        try:
            os.rename(staging, out_dir)
            return True
        except OSError as error:
            if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
    elif not new or not any(out_dir.iterdir()):
        return False  # planned as an existing directory, or still empty: swap
    written = _written_by_compile(out_dir)
    if owner is not None and written is not None and written.owner == owner:
        return False  # the same templates: replacing them is what that compile did too
    raise OutputError(
        out_dir,
        "another command created this directory while this compile was writing it "
        f"({written.owner if written and written.owner else 'not a compile of this spec'}); "
        "that one won and this compile changed nothing",
    )


def _replace(staging: Path, out_dir: Path) -> None:
    if _exchange(staging, out_dir):
        # now holds the old output; if it cannot go, the next compile removes it
        shutil.rmtree(staging, ignore_errors=True)
        return
    old = out_dir.parent / f".{out_dir.name}.old"
    os.rename(out_dir, old)
    os.rename(staging, out_dir)
    shutil.rmtree(old)


def replace_file(path: Path, content: bytes) -> None:
    """Make the file `path` hold `content` all at once, for the commands that write one
    file (`graph -o`, `schema -o`): written beside it, flushed and renamed over it, so a
    full disk or an interrupted run leaves the old file whole, never a truncated one. A
    symbolic link keeps pointing at the file it names, which keeps its mode; a device or
    pipe (`-o /dev/stdout`) is written into, as there is nothing there to keep. Raises
    `OSError` naming `path`."""
    try:
        status = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        status = None  # a path under a file: `mkdir` below names the file in the way
    if status is not None and not stat.S_ISREG(status.st_mode):
        with open(path, "wb") as handle:
            handle.write(content)
        return
    target = Path(os.path.realpath(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        if status is not None:
            os.chmod(temporary, stat.S_IMODE(status.st_mode))
        os.replace(temporary, target)
    except BaseException as error:
        with contextlib.suppress(OSError):
            temporary.unlink()
        if isinstance(error, OSError):  # the user named `path`, not the temporary file
            raise OSError(error.errno, error.strerror, str(path)) from None
        raise
