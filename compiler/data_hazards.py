"""Spec changes that would destroy data when deployed, found against the last compile.

The first region holds the writer database and the buckets that replicate elsewhere.
Which region that was is only known from the previous compile's manifest.json (its
regional stacks, writer first, and its `database_replicas` section), so these checks
compare the spec with that manifest. `data_hazards` is pure; `read_previous_layout` is
the one read of the manifest, for `infra diff`, `compile` and `validate`.

An *error* is a change that loses data however it is deployed (e.g. moving the writer
without promoting a replica first); a *warning* loses data that may be meant to go
(e.g. removing a replica region).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

from compiler import naming
from compiler.bounded_read import InputTooLarge, NotARegularFile, read_bounded
from compiler.context import replicates_database
from compiler.errors import SpecPath, format_spec_path
from compiler.spec import InfraSpec

MANIFEST = "manifest.json"
# A manifest lists a few stacks: a few kilobytes. Anything far larger is not one.
MAX_MANIFEST_BYTES = 10_000_000


class Hazard(NamedTuple):
    level: str  # "error" | "warning"
    path: SpecPath  # the spec key to look at
    message: str


class PreviousLayout(NamedTuple):
    """What the last compile deployed where, from its manifest."""

    regions: tuple[str, ...]  # writer first
    database_replicas: bool
    project: str | None = None  # its project tag (naming.PROJECT_TAG); None if it has none
    global_region: str | None = None  # where its global stack was; None: it had none
    # Its databases had names CloudFormation generated, but for a replicated writer's:
    # its manifest predates `database_identifiers` (see deploy_plan.DatabaseIdentifiers).
    generated_database_names: bool = False


def read_previous_layout(directory: Path) -> PreviousLayout | None:
    """The layout the manifest in `directory` records; None without one a compile wrote."""
    try:  # a regular file of bounded size: the directory is the user's to point anywhere
        manifest = json.loads(read_bounded(directory / MANIFEST, MAX_MANIFEST_BYTES))
    except (OSError, ValueError, RecursionError, NotARegularFile, InputTooLarge):
        return None
    return previous_layout(manifest)


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
    tags = manifest.get("tags")
    project = tags.get(naming.PROJECT_TAG) if isinstance(tags, dict) else None
    global_regions = [
        stack.get("region")
        for stack in manifest["stacks"]
        if isinstance(stack, dict) and stack.get("kind") == "global"
    ]
    return PreviousLayout(
        regions,
        isinstance(manifest.get("database_replicas"), dict),
        project if isinstance(project, str) else None,
        global_regions[0] if global_regions and isinstance(global_regions[0], str) else None,
        "database_identifiers" not in manifest,
    )


def data_hazards(previous: PreviousLayout | None, spec: InfraSpec) -> list[Hazard]:
    """What deploying `spec` over the stacks of `previous` would destroy. Nothing when
    `previous` is another project's or environment's: its stacks are not this spec's."""
    if previous is None:
        return []
    if previous.project is not None and previous.project != naming.project_tag_value(spec):
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
                    ("regions",),
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
                    ("database", "promoted"),
                    f"{new_writer} is the writer now: every other region's database is "
                    f"re-created as a replica of it; what {old_writer} wrote after the last "
                    "replicated change is not in it (the old writer is kept: deletion "
                    "protection; read it before deleting it by hand)",
                )
            )
    moved_from = previous.global_region
    if moved_from is not None and moved_from != spec.global_stack_region:
        hazards.append(
            Hazard(
                "error",
                ("global_region",),
                f"the global stack moves from {moved_from} to {spec.global_stack_region}: "
                f"it would be created again there beside the one in {moved_from} (its named "
                "IAM roles collide) with a new hosted zone, whose new name servers leave the "
                f"domain unresolved until the registrar is changed. Set global_region: "
                f"{moved_from} to keep it where it is",
            )
        )
    if previous.database_replicas and promoted and promoted.source_region == new_writer:
        hazards.append(
            Hazard(
                "error",
                ("database", "promoted", "source_region"),
                f"{new_writer} is still the first region: put the promoted region first",
            )
        )
    if old_writer not in regions and not (promoted and promoted.source_region == old_writer):
        hazards.append(
            Hazard(
                "error",
                ("regions",),
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
                    ("regions",),
                    f"{name} is removed: its stack goes, with its read replica (no snapshot "
                    "of a replica); its buckets are kept, but no longer replicated to",
                )
            )
    if previous.generated_database_names:
        hazards.append(_naming_the_databases(previous, spec))
    if previous.database_replicas and not replicates_database(spec):
        hazards.append(
            Hazard(
                "warning",
                ("database", "replicas"),
                "replicas are turned off: every region but the first gets a new, empty "
                "database of its own in place of its replica",
            )
        )
    return hazards


def _naming_the_databases(previous: PreviousLayout, spec: InfraSpec) -> Hazard:
    """Stacks compiled before every database had a fixed identifier (so that the stack
    makes its log groups before it): CloudFormation replaces an instance that gains one."""
    writer = naming.database_identifier(spec)
    why = (
        "every database now has a fixed identifier, so that the stack makes its log groups "
        "(retention, KMS key, tags) before RDS writes to them"
    )
    if not previous.database_replicas:
        regions = ", ".join(previous.regions)
        return Hazard(
            "error",
            ("database",),
            f"{why}: CloudFormation would replace the database of {regions}, named by "
            f"CloudFormation until now, with a new, empty one named {writer} (the old one is "
            "kept: deletion protection). Copy the data over after the deploy (snapshot, "
            "restore, then swap), or deploy first where the data can go",
        )
    if spec.database.promoted:
        return Hazard(
            "error",
            ("database", "promoted", "identifier"),
            f"{why}: CloudFormation would replace the promoted writer, whose name "
            "CloudFormation generated, with a new, empty one named "
            f"{writer}, and every replica with a replica of that",
        )
    return Hazard(
        "warning",
        ("database",),
        f"{why}: the replicas are re-created from the writer under the name "
        f"{naming.replica_database_identifier(spec)} (each replica region reads no database "
        "until its copy is made), and the writer's log groups "
        f"{naming.database_log_group_name(writer, 'postgresql')} and .../upgrade, which "
        "RDS made itself, must not exist when the update runs: CloudFormation cannot "
        "create a log group that exists, and the update would roll back. RDS makes them "
        "again as soon as the database logs: delete them in the same command line as the "
        "deploy (export what you keep first), or import them (docs/alarms.md)",
    )


def hazard_lines(hazards: list[Hazard]) -> list[str]:
    return [f"{h.level}: {format_spec_path(h.path)}: {h.message}" for h in hazards]
