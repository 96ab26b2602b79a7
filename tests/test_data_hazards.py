"""Spec changes that would destroy data, found against the last compile's manifest."""

from __future__ import annotations

import pytest

from compiler.data_hazards import (
    PreviousLayout,
    data_hazards,
    hazard_lines,
    previous_layout,
    read_previous_layout,
)
from compiler.errors import format_spec_path
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
    return [(h.level, format_spec_path(h.path)) for h in hazards]


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
    assert levels(hazards) == [("warning", "database.promoted")]
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
                "database_identifiers": {"writer": "x", "replica": "x-1"},
            },
            BEFORE._replace(global_region="us-east-1"),
        ),
        (
            {"stacks": [{"kind": "region", "region": "eu-west-1"}]},
            PreviousLayout(("eu-west-1",), False, generated_database_names=True),
        ),
        ({"stacks": "not a list"}, None),
        ([], None),
        ({"stacks": []}, None),
    ],
)
def test_the_layout_read_from_a_manifest(manifest, expected):
    assert previous_layout(manifest) == expected


# --- stacks compiled before every database had a fixed identifier ---------------------

GENERATED = BEFORE._replace(generated_database_names=True)


def test_naming_the_databases_of_stacks_without_replicas_is_an_error():
    """Each region's database had a name CloudFormation generated: a fixed one replaces
    it with an empty one."""
    before = PreviousLayout(("us-east-1", "us-west-2"), False, generated_database_names=True)
    (hazard,) = data_hazards(before, spec_with([EAST, WEST], database={"replicas": False}))
    assert (hazard.level, format_spec_path(hazard.path)) == ("error", "database")
    assert "replace the database of us-east-1, us-west-2" in hazard.message
    assert "storefront-production-db" in hazard.message


def test_naming_the_replicas_is_a_warning_that_says_which_log_groups_to_delete():
    """The writer keeps its name (it had one), but RDS made its log groups already."""
    (hazard,) = data_hazards(GENERATED, spec_with([EAST, WEST]))
    assert (hazard.level, format_spec_path(hazard.path)) == ("warning", "database")
    assert "/aws/rds/instance/storefront-production-db/postgresql" in hazard.message
    assert "re-created from the writer" in hazard.message


def test_naming_a_promoted_writer_whose_name_was_generated_is_an_error():
    promoted = {"promoted": {"identifier": "db-1", "source_region": "us-east-1"}}
    hazards = data_hazards(GENERATED, spec_with([WEST, EAST], database=promoted))
    assert ("error", "database.promoted.identifier") in levels(hazards)


def test_stacks_that_name_their_databases_already_are_safe():
    assert data_hazards(BEFORE, spec_with([EAST, WEST])) == []


def test_reordering_regions_keeps_the_global_stack_where_it_was():
    """The failover runbook's reorder: us-east-1 (the default global region) stays the
    global stack's region though it is no longer first."""
    before = BEFORE._replace(global_region="us-east-1")
    promoted = {"promoted": {"identifier": "db-1", "source_region": "us-east-1"}}
    hazards = data_hazards(before, spec_with([WEST, EAST], database=promoted))
    assert "global_region" not in [format_spec_path(h.path) for h in hazards]


def test_moving_the_global_stack_is_an_error_that_says_how_to_keep_it():
    before = PreviousLayout(("us-west-2", "eu-west-1"), True, global_region="us-west-2")
    # Neither us-east-1 nor a global_region: the first region, now eu-west-1.
    promoted = {"promoted": {"identifier": "db-1", "source_region": "us-west-2"}}
    moved = spec_with([EU, WEST], database=promoted)
    assert moved.global_stack_region == "eu-west-1"
    (hazard,) = [h for h in data_hazards(before, moved) if h.path == ("global_region",)]
    assert hazard.level == "error"
    assert "new hosted zone" in hazard.message
    assert "Set global_region: us-west-2" in hazard.message
    pinned = spec_with([EU, WEST], database=promoted, global_region="us-west-2")
    assert not [h for h in data_hazards(before, pinned) if h.path == ("global_region",)]


def test_another_projects_manifest_says_nothing():
    before = BEFORE._replace(project="someone-else-production")
    assert data_hazards(before, spec_with([WEST, EAST])) == []
    ours = BEFORE._replace(project="storefront-production")
    assert data_hazards(ours, spec_with([WEST, EAST])) != []


def test_lines_name_the_spec_key(tmp_path):
    (line,) = hazard_lines(
        data_hazards(BEFORE, spec_with([EAST, WEST], database={"replicas": False}))
    )
    assert line.startswith("warning: database.replicas: replicas are turned off")


def test_the_layout_is_read_from_the_directory_or_not_at_all(tmp_path):
    assert read_previous_layout(tmp_path) is None  # no manifest
    (tmp_path / "manifest.json").write_text("{not json")
    assert read_previous_layout(tmp_path) is None
    (tmp_path / "manifest.json").write_text(
        '{"stacks": [{"kind": "region", "region": "eu-west-1"}], "tags": {"infra:project": "p-e"}}'
    )
    assert read_previous_layout(tmp_path) == PreviousLayout(
        ("eu-west-1",), False, "p-e", generated_database_names=True
    )
