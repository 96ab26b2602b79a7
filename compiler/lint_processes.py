"""Where cfn-lint runs: a forked process for each run, and a lint process started early.

cfn-lint's import and rules take about 1.3 s of CPU before the first template is
checked. `infra compile` starts a `LintProcess` when it begins (forked from the compile,
before pydantic and troposphere are imported): it imports cfn-lint and loads its rules
on the second core while the compile builds and writes the templates, then runs the
lint jobs the compile sends it. That takes cfn-lint's set-up off the critical path for
as long as the compile lasts (0.4 s at 2 regions, 1.8 s at 16; docs/speed.md).

Each cfn-lint run is a process of its own (`run_forked`), forked by the process that
holds the rules, so that every run shares them and none keeps another's memory. The
forking is by hand, not a `multiprocessing.Pool`: a pool with `maxtasksperchild` forks
its replacement workers from its own thread, and such a child can inherit a lock some
other thread held at that moment and wait for it forever (an earlier lint process built
on a pool did, twice). The lint process has one thread, and `LintProcess.start` forks
only from a process with one thread; `lint.parallel_workers` lints in the caller's
process, without forking, when the caller has other threads.
"""

from __future__ import annotations

import gc
import os
import pickle
import selectors
import signal
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

# The collector's thresholds in the lint process and the runs it forks (and around a
# lint in the caller's own process, `lint.run_jobs`): a collection of the young objects
# every 50,000 allocations. cfn-lint's runs make garbage cycles as they go, unlike the
# compile (whose own thresholds, `entry.GC_THRESHOLDS`, are higher): at this threshold
# they lint the example about 12% faster than at Python's default, for about 35 MiB more
# at their peak, and stay bounded (docs/speed.md). Whatever the caller's: a library
# caller's lint process, which inherited Python's defaults before, has these too.
LINT_GC_THRESHOLDS = (50_000, 50, 100)


class Abandoned(Exception):
    """The process that asked for the runs went away (its end of the pipe closed)."""


# The runs this process has going, for the lint process's SIGTERM handler (`_stop`).
_RUNS: set[int] = set()


def run_forked(
    work: Callable[[Any], Any], items: Sequence[Any], workers: int, *, watch: int | None = None
) -> list[Any]:
    """`work(item)` for each item, each in a process forked from this one, at most
    `workers` at a time, started in the order given; the results in that order. What a
    run raises is raised here, and a run ended by a signal (the kernel's out-of-memory
    killer) is a `ChildProcessError`, not a wait without end. When `watch`, a file
    descriptor, becomes readable (the asker closed its end), every run is killed and
    `Abandoned` is raised. Runs still going when this returns or raises are killed."""
    results: list[Any] = [None] * len(items)
    pending = deque(enumerate(items))
    running: dict[int, tuple[int, int, list[bytes]]] = {}  # fd -> (index, pid, bytes read)
    selector = selectors.DefaultSelector()
    if watch is not None:
        selector.register(watch, selectors.EVENT_READ, None)
    try:
        while pending or running:
            while pending and len(running) < workers:
                index, item = pending.popleft()
                read_end, write_end = os.pipe()
                # SIGTERM held back until the run is in `_RUNS`, where `_stop` finds it.
                signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
                try:
                    parent = os.getpid()
                    pid = os.fork()
                    if pid == 0:  # pragma: no cover (the child, which never returns)
                        try:
                            _end_with_parent(parent)
                            # Not the run's to hold: the asker's pipe (so that the asker's
                            # going away is seen here alone) and the other runs' pipes.
                            for fd in (read_end, *running, *([] if watch is None else [watch])):
                                os.close(fd)
                            _run_in_child(work, item, write_end)
                        finally:
                            os._exit(1)  # never on into the parent's loop
                    _RUNS.add(pid)
                except BaseException:
                    os.close(read_end)
                    raise
                finally:
                    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
                    os.close(write_end)
                running[read_end] = (index, pid, [])
                selector.register(read_end, selectors.EVENT_READ, index)
            for key, _ in selector.select():
                if key.data is None:
                    raise Abandoned
                chunk = os.read(key.fd, 1 << 16)
                if chunk:
                    running[key.fd][2].append(chunk)
                    continue
                selector.unregister(key.fd)
                os.close(key.fd)
                index, pid, chunks = running.pop(key.fd)
                _, status = os.waitpid(pid, 0)
                _RUNS.discard(pid)
                results[index] = _outcome(b"".join(chunks), status, items[index])
    finally:
        for fd, (_, pid, _) in running.items():
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            _RUNS.discard(pid)
            os.close(fd)
        selector.close()
    return results


def _end_with_parent(parent: int) -> None:
    """Have the kernel end this process when `parent`, which forked it, ends, however it
    ends (SIGKILL included: no handler of its own runs then). Linux's PR_SET_PDEATHSIG;
    elsewhere nothing, and the parent's pipe closing ends it instead, a little later."""
    try:
        import ctypes  # imported by the lint process before it forks its runs

        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it ended before the request took effect
        os._exit(1)


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _run_in_child(work: Callable[[Any], Any], item: Any, write_end: int) -> None:
    """A forked run: `work(item)`, its result (or what it raised) pickled to `write_end`,
    then the process ends without running the parent's exit handlers."""
    code = 0
    try:
        # Ctrl-C reaches the whole process group; the compile reports it, in one line.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        _RUNS.clear()  # its parent's, not its own
        payload = pickle.dumps(("done", work(item)))
    except BaseException as error:  # sent to the parent, which raises it there
        payload = pickle.dumps(("raised", _sendable(error)))
    try:
        with os.fdopen(write_end, "wb") as out:
            out.write(payload)
    except BaseException:
        code = 1
    os._exit(code)


def _sendable(error: BaseException) -> BaseException:
    """`error` if it pickles, to be raised as it is on the other side; else its text in a
    RuntimeError (an exception whose arguments do not pickle)."""
    try:
        pickle.dumps(error)
    except Exception:
        return RuntimeError("".join(traceback.format_exception(error)).rstrip())
    return error


def _outcome(payload: bytes, status: int, item: Any) -> Any:
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        raise ChildProcessError(f"the cfn-lint run for {item} was ended by {name}")
    try:
        kind, value = pickle.loads(payload)
    except Exception:
        raise ChildProcessError(f"the cfn-lint run for {item} ended without a result") from None
    if kind == "raised":
        raise value
    return value


class LintProcess:
    """A process forked when a compile starts that imports cfn-lint, loads its rules
    (`prepare`, called there), then runs the lint jobs sent to it (`run`, in that process,
    with `run_forked`) until it is closed. It ignores Ctrl-C, which the compile reports;
    it ends when the compile closes it, is interrupted, or exits (its end of the pipe)."""

    def __init__(self, pid: int, connection) -> None:
        self.pid, self._connection = pid, connection
        self._ended = False  # reaped already

    @classmethod
    def start(
        cls, prepare: Callable[[], None], run: Callable[[Any, int], Any]
    ) -> LintProcess | None:
        """The lint process, or None where forking is unsafe or unavailable: a process
        with more than one thread (a library caller's; a fork copies only the calling
        thread, with whatever locks the others held), or without `os.fork`."""
        if not hasattr(os, "fork") or threading.active_count() > 1:
            return None
        from multiprocessing.connection import Pipe

        ours, theirs = Pipe()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # pragma: no cover (the lint process; measured by its results)
            try:
                ours.close()
                _end_with_parent(parent)
                _serve(theirs, prepare, run)
            finally:
                os._exit(1)  # never on with the compile's stack
        theirs.close()
        return cls(pid, ours)

    def run(self, request: Any) -> Any:
        """Send `request` to the lint process; its answer (what `run` returned there), or
        what `run` raised, raised here."""
        try:
            self._connection.send(request)
            kind, value = self._connection.recv()
        except (EOFError, OSError):
            _, status = os.waitpid(self.pid, 0)
            self._ended = True
            how = (
                f"was ended by {signal.Signals(os.WTERMSIG(status)).name}"
                if os.WIFSIGNALED(status)
                else f"exited with status {os.waitstatus_to_exitcode(status)}"
            )
            raise ChildProcessError(f"the lint process {how} before it answered") from None
        if kind == "raised":
            raise value
        return value

    def close(self) -> None:
        """End the lint process and any run it has going, and wait for it (a Ctrl-C
        meanwhile is delivered after: the process is not left unreaped)."""
        from compiler.interrupts import interrupts_deferred

        with interrupts_deferred():
            self._connection.close()
            if not self._ended:
                _end(self.pid)
                self._ended = True


def _end(pid: int, grace: float = 2.0) -> None:
    """SIGTERM to a lint process, and its end awaited; SIGKILL after `grace` seconds if
    it has not ended (a stopped process, a debugger's, never acts on SIGTERM), which
    ends its runs too (`_end_with_parent`)."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + grace
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return
        time.sleep(0.001)


def _serve(connection, prepare: Callable[[], None], run: Callable[[Any, int], Any]) -> None:
    """The lint process's life: set up, then answer requests until the compile closes the
    pipe or sends SIGTERM. Never returns: it must not go on with the compile's stack."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, _stop)
        # The set-up allocates for good (cfn-lint's modules, rules and their data: some
        # 265,000 objects, of which about 1,000 are garbage cycles, kept by the freeze
        # below with the rest), and the collector, run as it goes, only walks them: a
        # tenth of the set-up's time, which is on the critical path of every compile
        # with lint (docs/speed.md, "The sixth pass").
        gc.set_threshold(*LINT_GC_THRESHOLDS)  # for this process and the runs it forks
        gc.disable()
        try:
            prepare()
        finally:
            # What is loaded now stays: the collector need not walk it again, in this
            # process or in the runs it forks (whose pages then stay shared with it).
            gc.freeze()
            gc.enable()
        while True:
            try:
                request = connection.recv()
            except EOFError:
                break
            try:
                reply = ("done", run(request, connection.fileno()))
            except Abandoned:
                break
            except Exception as error:
                reply = ("raised", _sendable(error))
            connection.send(reply)
    except BaseException:
        code = 1
    os._exit(code)


def _stop(signum, frame) -> None:
    """SIGTERM from the compile (`LintProcess.close`): end every run going, and this
    process, at once. Not by raising: raised while Python runs a `__del__` (cfn-lint's
    imports have some), an exception is printed as ignored, and dropped."""
    for pid in list(_RUNS):
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)  # ended and reaped, not left to whoever reaps orphans
        except OSError:  # ended and reaped already
            pass
    os._exit(0)
