"""Spec changes that would destroy data, found against the last compile's manifest."""

from __future__ import annotations

import pytest

from compiler.data_hazards import PreviousLayout, data_hazards, previous_layout
from tests.builders.example import make_spec

EAST = {"name": "us-east-1", "cidr": "10.10.0.0/16"}
WEST = {"name": "us-west-2", "cidr": "10.20.0.0/16"}
EU = {"name": "eu-west-1", "cidr": "10.30.0.0/16"}
BEFORE = PreviousLayout(("us-east-1", "us-west-2"), database_replicas=True)


def spec_with(regions, **sections):
    return make_spec(
        regions=regions,
        load_balancer={"certificate_arns": {}},
        dns={"routing": "latency"},
        **sections,
    )


def levels(hazards) -> list[tuple[str, str]]:
    return [(h.level, h.path) for h in hazards]


def test_the_same_layout_is_safe():
    assert data_hazards(BEFORE, spec_with([EAST, WEST])) == []


def test_no_previous_compile_is_safe():
    assert data_hazards(None, spec_with([WEST, EAST])) == []


def test_moving_the_writer_without_a_promotion_is_an_error():
    hazards = data_hazards(BEFORE, spec_with([WEST, EAST]))
    assert ("error", "regions") in levels(hazards)
    error = next(h for h in hazards if h.level == "error")
    assert "deploy.sh promote us-west-2" in error.message
    assert "source_region: us-east-1" in error.message


def test_moving_the_writer_after_a_promotion_is_a_warning():
    promoted = {"promoted": {"identifier": "db-1", "source_region": "us-east-1"}}
    hazards = data_hazards(BEFORE, spec_with([WEST, EAST], database=promoted))
    assert [h.level for h in hazards] == ["warning", "warning"]
    assert "re-created as a replica" in hazards[0].message


def test_a_promotion_from_another_region_than_the_writer_is_an_error():
    promoted = {"promoted": {"identifier": "db-1", "source_region": "eu-west-1"}}
    hazards = data_hazards(BEFORE, spec_with([WEST, EAST], database=promoted))
    assert ("error", "regions") in levels(hazards)


def test_removing_the_writer_region_is_an_error_unless_it_was_failed_over():
    assert ("error", "regions") in levels(data_hazards(BEFORE, spec_with([WEST, EU])))
    promoted = {"promoted": {"identifier": "db-1", "source_region": "us-east-1"}}
    after = data_hazards(BEFORE, spec_with([WEST, EU], database=promoted))
    assert "error" not in [h.level for h in after]


def test_removing_a_replica_region_is_a_warning():
    hazards = data_hazards(BEFORE, spec_with([EAST, EU]))
    assert levels(hazards) == [("warning", "regions")]
    assert "us-west-2 is removed" in hazards[0].message


def test_turning_replicas_off_is_a_warning():
    hazards = data_hazards(BEFORE, spec_with([EAST, WEST], database={"replicas": False}))
    assert levels(hazards) == [("warning", "database.replicas")]


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        (
            {
                "stacks": [
                    {"kind": "global", "region": "us-east-1"},
                    {"kind": "region", "region": "us-east-1"},
                    {"kind": "region", "region": "us-west-2"},
                    {"kind": "stackset", "region": "us-east-1"},
                ],
                "database_replicas": {"writer_identifier": "x"},
            },
            BEFORE,
        ),
        (
            {"stacks": [{"kind": "region", "region": "eu-west-1"}]},
            PreviousLayout(("eu-west-1",), False),
        ),
        ({"stacks": "not a list"}, None),
        ([], None),
        ({"stacks": []}, None),
    ],
)
def test_the_layout_read_from_a_manifest(manifest, expected):
    assert previous_layout(manifest) == expected
