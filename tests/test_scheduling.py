"""tests/conftest.py's order of work for pytest-xdist: costliest scopes first."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from tests import conftest


class FakeItem:
    def __init__(self, nodeid: str, *markers: str):
        self.nodeid, self.markers = nodeid, markers

    def get_closest_marker(self, name: str):
        return name if name in self.markers else None


def worker(seconds: dict) -> SimpleNamespace:
    return SimpleNamespace(workerinput={"test_seconds": seconds})


def ids(items) -> list[str]:
    return [item.nodeid for item in items]


def test_measured_costliest_scope_first_then_unmeasured_full_tier_then_collection_order():
    """A scope's cost is the sum of its collected tests' last seconds."""
    items = [
        FakeItem("tests/test_a.py::test_one"),
        FakeItem("tests/test_a.py::test_two"),
        FakeItem("tests/test_b.py::TestX::test_one"),
        FakeItem("tests/test_c.py::test_one", "full"),
        FakeItem("tests/test_b.py::TestY::test_one"),
        FakeItem("tests/test_d.py::test_one"),
    ]
    seconds = {
        "tests/test_b.py::TestY::test_one": 40.0,
        "tests/test_d.py::test_one": 3.5,
        "tests/test_a.py::test_one": 0.1,  # test_two never measured: the scope still is
        "tests/test_gone.py::test_one": 99.0,  # no longer collected: no effect
        "tests/test_c.py::test_other": 50.0,  # not collected: test_c stays unmeasured
    }
    conftest.costliest_scopes_first(worker(seconds), items)
    assert ids(items) == [
        "tests/test_b.py::TestY::test_one",
        "tests/test_d.py::test_one",
        "tests/test_a.py::test_one",  # a scope's tests stay together, in their order
        "tests/test_a.py::test_two",
        "tests/test_c.py::test_one",  # unmeasured, but full tier: before the unmeasured rest
        "tests/test_b.py::TestX::test_one",
    ]


def test_one_process_keeps_the_collection_order():
    items = [FakeItem("tests/test_a.py::t"), FakeItem("tests/test_b.py::t", "deploy")]
    conftest.costliest_scopes_first(SimpleNamespace(), items)
    assert ids(items) == ["tests/test_a.py::t", "tests/test_b.py::t"]


def test_a_run_merges_its_seconds_into_the_shared_file(tmp_path, monkeypatch):
    monkeypatch.setenv("INFRA_TEST_CACHE", str(tmp_path))
    config = SimpleNamespace()
    path = tmp_path / "scheduling" / conftest.TEST_SECONDS
    path.parent.mkdir()
    path.write_text(json.dumps({"tests/test_old.py::t": 9.0, "tests/test_a.py::test_x[p]": 1.0}))
    monkeypatch.setattr(conftest, "_SPENT", {})
    for phase_seconds in (0.25, 2.0, 0.25):  # set-up, call, tear-down
        conftest.pytest_runtest_logreport(
            SimpleNamespace(nodeid="tests/test_a.py::test_x[p]", duration=phase_seconds)
        )
    conftest._remember_test_seconds(config)
    wanted = {"tests/test_old.py::t": 9.0, "tests/test_a.py::test_x[p]": 2.5}
    assert json.loads(path.read_text()) == wanted
    assert conftest._read_test_seconds(config) == wanted
    assert [p.name for p in path.parent.iterdir()] == [conftest.TEST_SECONDS]


@pytest.mark.parametrize("content", ["{not json", "[1, 2]"])
def test_a_broken_file_means_no_costs(tmp_path, monkeypatch, content):
    monkeypatch.setenv("INFRA_TEST_CACHE", str(tmp_path))
    (tmp_path / "scheduling").mkdir()
    (tmp_path / "scheduling" / conftest.TEST_SECONDS).write_text(content)
    assert conftest._read_test_seconds(SimpleNamespace()) == {}
