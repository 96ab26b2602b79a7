"""`pytest -p tests.cpu_time`: the CPU time each test took, the slowest listed at the end.

pytest's `--durations` reports wall time, which on a machine shared by several test runs
says more about the others than about the test. CPU time does not: it is counted here
for the test's own process and for the processes it started and waited for (`infra` in a
subprocess, cfn-lint's workers, bash, shellcheck), set-up and tear-down included. Under
pytest-xdist each worker sends its counts to the controller, which prints them all.

    bash scripts/test.sh --fast -p tests.cpu_time           # the 25 costliest tests
    bash scripts/test.sh --fast -p tests.cpu_time --cpu-top 60
"""

from __future__ import annotations

import resource

import pytest

# test id -> CPU seconds, in this process (a worker's, or the only one)
_SPENT: dict[str, float] = {}


def _cpu_seconds() -> float:
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cpu-top", type=int, default=25, help="how many of the costliest tests to list"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem):
    before = _cpu_seconds()
    yield
    _SPENT[item.nodeid] = _cpu_seconds() - before


# xdist worker id -> (CPU seconds of its tests, of the whole worker process: start-up,
# collection and tests, with the processes it waited for)
_WORKERS: dict[str, tuple[float, float]] = {}


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller prints
        workeroutput["cpu_time"] = dict(_SPENT)
        workeroutput["cpu_time_process"] = _cpu_seconds()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    output = getattr(node, "workeroutput", {})
    spent = output.get("cpu_time", {})
    _SPENT.update(spent)
    if "cpu_time_process" in output:
        worker = getattr(getattr(node, "gateway", None), "id", f"gw{len(_WORKERS)}")
        _WORKERS[worker] = (sum(spent.values()), output["cpu_time_process"])


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    if not _SPENT:
        return
    terminalreporter.section("CPU time (the test's process and the processes it waited for)")
    total = sum(_SPENT.values())
    terminalreporter.write_line(f"{total:8.1f} s  all {len(_SPENT)} tests")
    for worker, (tests, process) in sorted(_WORKERS.items()):
        terminalreporter.write_line(
            f"{tests:8.1f} s  the tests of worker {worker} ({process:.1f} s the whole worker)"
        )
    modules: dict[str, float] = {}
    for test, seconds in _SPENT.items():
        module = test.split("::")[0]
        modules[module] = modules.get(module, 0.0) + seconds
    top = config.getoption("--cpu-top")
    for module, seconds in sorted(modules.items(), key=lambda kv: -kv[1])[:top]:
        terminalreporter.write_line(f"{seconds:8.1f} s  {module}")
    terminalreporter.write_line("")
    for test, seconds in sorted(_SPENT.items(), key=lambda kv: -kv[1])[:top]:
        terminalreporter.write_line(f"{seconds:8.2f} s  {test}")
