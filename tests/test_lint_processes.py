"""Forked cfn-lint runs and the lint process started early (compiler.lint_processes):
results in order, faults reported rather than waited on, and no process left behind."""

from __future__ import annotations

import gc
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from compiler import lint as lint_module
from compiler.lint import LintFinding, LintJob, lint_templates
from compiler.lint_processes import LINT_GC_THRESHOLDS, Abandoned, LintProcess, run_forked


def gone(pid: int) -> bool:
    """Whether process `pid` has ended (a zombie nobody reaps counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def wait_until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def pid_file_of_a_run(directory: Path, name: str) -> Path:
    return directory / f"{name}.pid"


# --- run_forked -----------------------------------------------------------------------


def test_each_item_runs_in_a_process_of_its_own_and_results_keep_their_order():
    found = run_forked(lambda item: (item * 10, os.getpid()), [3, 1, 2, 5, 4], 2)
    assert [value for value, _ in found] == [30, 10, 20, 50, 40]
    pids = {pid for _, pid in found}
    assert len(pids) == 5 and os.getpid() not in pids


def test_no_more_runs_at_once_than_workers(tmp_path):
    def work(item):
        mine = tmp_path / f"{item}.running"
        mine.touch()
        together = len(list(tmp_path.glob("*.running")))
        time.sleep(0.2)
        mine.unlink()
        return together

    seen = run_forked(work, list(range(6)), 2)
    assert max(seen) == 2  # two at a time: at least once both, never three


def test_a_large_result_from_runs_side_by_side_arrives_whole():
    """More than a pipe holds (64 KiB), from two runs at once: read as they write."""
    found = run_forked(lambda item: str(item) * 1_000_000, ["a", "b", "c"], 2)
    assert [len(text) for text in found] == [1_000_000] * 3
    assert [text[0] for text in found] == ["a", "b", "c"]


def test_what_a_run_raises_is_raised_here_and_the_other_runs_are_ended(tmp_path):
    def work(item):
        if item == "fails":
            (tmp_path / "ready").exists() or time.sleep(0.3)
            raise ValueError("no such region: mars-1")
        pid_file_of_a_run(tmp_path, item).write_text(str(os.getpid()))
        time.sleep(60)

    with pytest.raises(ValueError, match="no such region: mars-1"):
        run_forked(work, ["slow", "fails"], 2)
    slow = int(pid_file_of_a_run(tmp_path, "slow").read_text())
    assert gone(slow)


def test_an_exception_that_does_not_pickle_arrives_as_its_text():
    class Unpicklable(Exception):
        def __reduce__(self):
            raise TypeError("not this one")

    def work(item):
        raise Unpicklable("the rules could not load")

    with pytest.raises(RuntimeError, match="Unpicklable: the rules could not load"):
        run_forked(work, ["x"], 2)


def test_a_run_killed_by_a_signal_is_an_error_not_a_wait_without_end():
    """What the kernel's out-of-memory killer does; a multiprocessing pool waits forever."""

    def work(item):
        os.kill(os.getpid(), signal.SIGKILL)

    with pytest.raises(ChildProcessError, match="stackset.json was ended by SIGKILL"):
        run_forked(work, ["stackset.json"], 2)


def test_a_ctrl_c_reaching_a_run_is_left_to_the_parent():
    def work(item):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.1)
        return "finished"

    assert run_forked(work, ["x", "y"], 2) == ["finished", "finished"]


def test_runs_are_abandoned_when_the_asker_goes_away(tmp_path):
    read_end, write_end = os.pipe()

    def work(item):
        os.close(write_end)  # the asker's end: a run forked here has it too
        pid_file_of_a_run(tmp_path, item).write_text(str(os.getpid()))
        time.sleep(60)

    def asker_goes_away():
        wait_until(lambda: pid_file_of_a_run(tmp_path, "long").exists())
        os.close(write_end)

    closer = threading.Thread(target=asker_goes_away)
    closer.start()
    try:
        with pytest.raises(Abandoned):
            run_forked(work, ["long"], 2, watch=read_end)
    finally:
        closer.join()
        os.close(read_end)
    assert gone(int(pid_file_of_a_run(tmp_path, "long").read_text()))


# --- LintProcess ----------------------------------------------------------------------


def prepared_here(marker: Path):
    def prepare():
        marker.write_text(str(os.getpid()))

    return prepare


def test_the_lint_process_prepares_once_and_answers_every_request(tmp_path):
    marker = tmp_path / "prepared"
    process = LintProcess.start(
        prepared_here(marker), lambda request, watch: (request, os.getpid())
    )
    assert process is not None
    try:
        first = process.run("stackset.json")
        second = process.run("global.json")
    finally:
        process.close()
    assert first == ("stackset.json", process.pid) and second == ("global.json", process.pid)
    assert int(marker.read_text()) == process.pid != os.getpid()
    assert gone(process.pid)


def test_the_lint_process_prepares_without_collecting_and_runs_with_the_collector_on():
    def prepare():
        assert not gc.isenabled()

    def run(request, watch):
        forked = run_forked(lambda _part: gc.get_threshold(), [1], 1)  # as its runs are
        return gc.isenabled(), gc.get_freeze_count() > 0, gc.get_threshold(), forked[0]

    before = gc.get_threshold()
    gc.set_threshold(123_456, 7, 8)  # the compile's own, whatever they are
    try:
        process = LintProcess.start(prepare, run)
    finally:
        gc.set_threshold(*before)
    assert process is not None
    try:
        # Its own thresholds, not the compile's: cfn-lint's runs make garbage cycles.
        assert process.run("stackset.json") == (True, True, LINT_GC_THRESHOLDS, LINT_GC_THRESHOLDS)
    finally:
        process.close()


def test_what_the_lint_process_raises_is_raised_here():
    def run(request, watch):
        raise LookupError(f"no template {request}")

    process = LintProcess.start(lambda: None, run)
    assert process is not None
    try:
        with pytest.raises(LookupError, match="no template a.json"):
            process.run("a.json")
        assert process.run.__self__ is process  # still there for the next request
    finally:
        process.close()


def test_closing_a_lint_process_still_getting_ready_does_not_wait_for_it():
    """An unchanged set of templates (every one in the lint cache) asks nothing of it."""
    process = LintProcess.start(lambda: time.sleep(60), lambda request, watch: None)
    assert process is not None
    started = time.monotonic()
    process.close()
    assert time.monotonic() - started < 5
    assert gone(process.pid)


def test_ctrl_c_during_a_lint_ends_the_lint_process_and_its_runs(tmp_path):
    def run(request, watch):
        def work(item):
            pid_file_of_a_run(tmp_path, item).write_text(str(os.getpid()))
            time.sleep(60)

        return run_forked(work, [request], 2, watch=watch)

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    process = LintProcess.start(lambda: None, run)
    assert process is not None
    previous = signal.signal(signal.SIGINT, interrupt)
    run_file = pid_file_of_a_run(tmp_path, "stackset")

    def press_ctrl_c():  # the terminal sends SIGINT to the whole group: the lint process too
        wait_until(run_file.exists)
        os.kill(process.pid, signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)

    presser = threading.Thread(target=press_ctrl_c)
    presser.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            process.run("stackset")
    finally:
        presser.join()
        signal.signal(signal.SIGINT, previous)
        process.close()
    assert gone(process.pid)
    assert wait_until(lambda: gone(int(run_file.read_text())))


def test_the_lint_process_and_its_runs_end_when_the_compile_dies(tmp_path):
    """A compile killed outright (SIGKILL) closes nothing; its end of the pipe closing is
    enough: the lint process ends its runs and itself."""

    def run(request, watch):
        def work(item):
            pid_file_of_a_run(tmp_path, item).write_text(str(os.getpid()))
            time.sleep(60)

        return run_forked(work, [request], 2, watch=watch)

    compile_pid = os.fork()
    if compile_pid == 0:  # the compile
        code = 1
        try:
            process = LintProcess.start(lambda: None, run)
            (tmp_path / "lint.pid").write_text(str(process.pid))
            process._connection.send("stackset")  # then killed while it waits
            time.sleep(60)
        finally:
            os._exit(code)
    assert wait_until(pid_file_of_a_run(tmp_path, "stackset").exists)
    os.kill(compile_pid, signal.SIGKILL)
    os.waitpid(compile_pid, 0)
    lint_pid = int((tmp_path / "lint.pid").read_text())
    run_pid = int(pid_file_of_a_run(tmp_path, "stackset").read_text())
    assert wait_until(lambda: gone(lint_pid) and gone(run_pid))


def test_no_lint_process_is_forked_from_a_process_with_other_threads():
    """A fork copies only the calling thread, with any lock another thread held then."""
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert LintProcess.start(lambda: None, lambda request, watch: None) is None
    finally:
        stop.set()
        other.join()


# --- lint_templates through a lint process --------------------------------------------


def test_a_lint_process_gives_the_findings_a_lint_here_gives(tmp_path, monkeypatch):
    def findings_of(path: Path, regions: list[str]) -> list[LintFinding]:
        return [LintFinding(str(path), len(regions), 1, "E0000", "error", f"pid {os.getpid()}")]

    monkeypatch.setattr(lint_module, "lint_template", findings_of)
    monkeypatch.setattr(lint_module, "prepare_to_lint", lambda: None)
    monkeypatch.setattr(lint_module, "parallel_workers", lambda count: 2)
    paths = [tmp_path / "global.json", tmp_path / "bootstrap.json"]
    for path in paths:
        path.write_text("{}")
    jobs = [LintJob(paths[0], ("us-east-1",)), LintJob(paths[1], ("us-east-1", "eu-west-1"))]
    here = lint_templates(jobs)
    process = lint_module.start_lint_process()
    assert process is not None
    try:
        there = lint_templates(jobs, process=process)
    finally:
        process.close()
    assert [(f.template, f.line) for f in there] == [(f.template, f.line) for f in here]
    assert [(f.template, f.line) for f in there] == [(str(paths[0]), 1), (str(paths[1]), 2)]
    assert {f.message for f in there}.isdisjoint({f"pid {os.getpid()}", f"pid {process.pid}"})


def test_a_fully_cached_lint_asks_nothing_of_the_lint_process(tmp_path):
    template = tmp_path / "global.json"
    template.write_text("{}")
    job = LintJob(template, ("us-east-1",))
    marker = lint_module.clean_marker(job, tmp_path / "cache")
    marker.parent.mkdir()
    marker.touch()

    class Refuses:
        def run(self, request):
            pytest.fail(f"asked to lint {request}")

    assert lint_templates([job], cache_dir=tmp_path / "cache", process=Refuses()) == []


def test_one_core_starts_no_lint_process(monkeypatch):
    monkeypatch.setattr(lint_module, "parallel_workers", lambda count: 1)
    assert lint_module.start_lint_process() is None


def open_pipes() -> set[str]:
    """The pipes this process holds open, as the kernel names them (`pipe:[inode]`)."""
    targets = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            targets.add(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:  # the directory's own descriptor, closed by now
            pass
    return {target for target in targets if target.startswith("pipe:")}


def test_a_run_holds_neither_the_askers_pipe_nor_the_other_runs_pipes():
    """Else the lint process's end going away would not be seen until every run ended."""
    read_end, write_end = os.pipe()
    before = open_pipes()
    asker = os.readlink(f"/proc/self/fd/{read_end}")

    def pipes_of_the_run(item):
        time.sleep(0.2)  # both runs going at once
        try:
            at_the_askers_fd = os.readlink(f"/proc/self/fd/{read_end}")
        except OSError:
            at_the_askers_fd = None
        return open_pipes() - before, at_the_askers_fd

    try:
        (first, fd_a), (second, fd_b) = run_forked(pipes_of_the_run, ["a", "b"], 2, watch=read_end)
    finally:
        os.close(read_end)
        os.close(write_end)
    assert asker != fd_a and asker != fd_b  # closed in the runs
    # a run's only new pipe is the one it reports on, not the other run's
    assert len(first) == len(second) == 1 and first != second


def test_a_fork_that_fails_leaves_no_pipe_and_sigterm_unblocked(monkeypatch):
    import errno

    def no_more_processes():
        raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")

    fds_before = sorted(os.listdir("/proc/self/fd"))
    monkeypatch.setattr(os, "fork", no_more_processes)
    with pytest.raises(BlockingIOError):
        run_forked(lambda item: item, ["a"], 2)
    assert signal.SIGTERM not in signal.pthread_sigmask(signal.SIG_BLOCK, [])
    assert sorted(os.listdir("/proc/self/fd")) == fds_before


def test_a_caller_with_other_threads_lints_without_forking():
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert lint_module.parallel_workers(4) == 1
    finally:
        stop.set()
        other.join()


def test_closing_a_stopped_lint_process_does_not_wait_for_ever():
    """A stopped process (a debugger's, `kill -STOP`) never acts on SIGTERM: the compile
    waited in waitpid, and held back every further Ctrl-C."""
    process = LintProcess.start(lambda: None, lambda request, watch: request)
    assert process is not None
    # Ready, its SIGTERM handler in place (before it, SIGTERM's default action ends even
    # a stopped process, and this would test nothing).
    assert process.run("ready?") == "ready?"
    os.kill(process.pid, signal.SIGSTOP)
    started = time.monotonic()
    process.close()
    assert 1.5 < time.monotonic() - started < 10  # the grace, then SIGKILL
    assert gone(process.pid)


def test_a_lint_process_killed_mid_lint_is_reported_at_once_and_its_runs_end(tmp_path):
    """What the kernel's out-of-memory killer does: the compile hears of it at once, in
    words, and the runs end with their parent instead of finishing for nobody."""

    def run(request, watch):
        def work(item):
            pid_file_of_a_run(tmp_path, item).write_text(str(os.getpid()))
            time.sleep(60)

        return run_forked(work, [request], 2, watch=watch)

    process = LintProcess.start(lambda: None, run)
    assert process is not None
    run_file = pid_file_of_a_run(tmp_path, "stackset")

    def kill_the_lint_process():
        wait_until(run_file.exists)
        os.kill(process.pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_the_lint_process)
    killer.start()
    started = time.monotonic()
    try:
        with pytest.raises(ChildProcessError, match="lint process was ended by SIGKILL"):
            process.run("stackset")
    finally:
        killer.join()
        process.close()
    assert time.monotonic() - started < 10
    assert wait_until(lambda: gone(int(run_file.read_text())), timeout=5)


def test_a_failed_run_is_named_by_its_template_and_regions():
    part = lint_module._Part(
        Path("out/stackset.json"), ("us-east-1", "eu-west-1"), 0, ("us-east-1",)
    )

    def work(item):
        os.kill(os.getpid(), signal.SIGKILL)

    with pytest.raises(ChildProcessError) as failed:
        run_forked(work, [part], 2)
    assert str(failed.value) == (
        "the cfn-lint run for out/stackset.json in us-east-1, eu-west-1 was ended by SIGKILL"
    )


def test_the_cores_counted_are_those_the_process_may_run_on(monkeypatch):
    """`taskset -c 0 infra compile`: one core, whatever the machine has."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert lint_module.parallel_workers(4) == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2})
    assert lint_module.parallel_workers(4) == 3
    assert lint_module.parallel_workers(2) == 2
