"""Spec changes that would destroy data when deployed, found against the last compile.

The first region holds the writer database and the buckets that replicate elsewhere.
Which region that was is only known from the previous compile's manifest.json (its
regional stacks, writer first, and its `database_replicas` section), so these checks
compare the spec with that manifest. Pure: the caller reads the file.

An *error* is a change that loses data however it is deployed (e.g. moving the writer
without promoting a replica first); a *warning* loses data that may be meant to go
(e.g. removing a replica region).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from compiler.context import replicates_database
from compiler.spec import InfraSpec


class Hazard(NamedTuple):
    level: str  # "error" | "warning"
    path: str  # the spec key to look at, dotted
    message: str


class PreviousLayout(NamedTuple):
    """What the last compile deployed where, from its manifest."""

    regions: tuple[str, ...]  # writer first
    database_replicas: bool


def previous_layout(manifest: Any) -> PreviousLayout | None:
    """The layout a manifest records; None when it is missing or of another shape."""
    if not isinstance(manifest, dict) or not isinstance(manifest.get("stacks"), list):
        return None
    regions = tuple(
        stack["region"]
        for stack in manifest["stacks"]
        if isinstance(stack, dict) and stack.get("kind") == "region" and "region" in stack
    )
    if not regions:
        return None
    return PreviousLayout(regions, isinstance(manifest.get("database_replicas"), dict))


def data_hazards(previous: PreviousLayout | None, spec: InfraSpec) -> list[Hazard]:
    """What deploying `spec` over the stacks of `previous` would destroy."""
    if previous is None:
        return []
    hazards: list[Hazard] = []
    old_writer, new_writer = previous.regions[0], spec.primary_region
    regions = [region.name for region in spec.regions]
    promoted = spec.database.promoted
    if previous.database_replicas and new_writer != old_writer:
        if promoted is None or promoted.source_region != old_writer:
            hazards.append(
                Hazard(
                    "error",
                    "regions",
                    f"the writer database moves from {old_writer} to {new_writer} without a "
                    f"promotion: CloudFormation would replace {new_writer}'s replica with an "
                    f"empty writer and {old_writer}'s writer with a replica of it, losing "
                    f"every row. Run `deploy.sh promote {new_writer}` first and set "
                    f"database.promoted (identifier it prints, source_region: {old_writer})",
                )
            )
        else:
            hazards.append(
                Hazard(
                    "warning",
                    "database.promoted",
                    f"{new_writer} is the writer now: every other region's database is "
                    f"re-created as a replica of it; what {old_writer} wrote after the last "
                    "replicated change is not in it (the old writer is kept: deletion "
                    "protection; read it before deleting it by hand)",
                )
            )
    if new_writer != old_writer:
        hazards.append(
            Hazard(
                "warning",
                "regions",
                f"the global stack is deployed in the first region: it would be created "
                f"again in {new_writer} beside the one in {old_writer} (named IAM roles and "
                "the hosted zone collide); deploy the regional stacks only, not deploy.sh's "
                "default order (docs/failover.md)",
            )
        )
    if previous.database_replicas and promoted and promoted.source_region == new_writer:
        hazards.append(
            Hazard(
                "error",
                "database.promoted.source_region",
                f"{new_writer} is still the first region: put the promoted region first",
            )
        )
    if old_writer not in regions and not (promoted and promoted.source_region == old_writer):
        hazards.append(
            Hazard(
                "error",
                "regions",
                f"{old_writer}, the writer region, is removed: deleting its stack deletes "
                "the only writable database (a final snapshot is kept). Promote another "
                "region first (deploy.sh promote REGION)",
            )
        )
    for name in previous.regions[1:]:
        if name not in regions and name != new_writer:
            hazards.append(
                Hazard(
                    "warning",
                    "regions",
                    f"{name} is removed: its stack goes, with its read replica (no snapshot "
                    "of a replica); its buckets are kept, but no longer replicated to",
                )
            )
    if previous.database_replicas and not replicates_database(spec):
        hazards.append(
            Hazard(
                "warning",
                "database.replicas",
                "replicas are turned off: every region but the first gets a new, empty "
                "database of its own in place of its replica",
            )
        )
    return hazards


def hazard_lines(hazards: list[Hazard]) -> list[str]:
    return [f"{h.level}: {h.path}: {h.message}" for h in hazards]
