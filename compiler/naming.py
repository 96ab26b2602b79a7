"""The only place that makes logical IDs, stack and resource names, exports and tags.

Logical IDs never contain the region, so the per-region templates and the StackSet
template name every resource the same way (and a diff between regions is meaningful).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

# Imported lazily (see bucket_name) and for type checks only: validation imports this
# module for `logical_id`, and must need neither troposphere nor the spec package.
if TYPE_CHECKING:
    from troposphere import Sub

    from compiler.spec import InfraSpec

# The StackSet template's mapping of each region's values (`context.RegionContext`).
REGION_MAP = "RegionMap"


def logical_id(*parts: str | int) -> str:
    """`('public', 'subnet', 0)` -> `PublicSubnet1`: CloudFormation IDs are alphanumeric."""
    words: list[str] = []
    for part in parts:
        if isinstance(part, int):
            words.append(str(part + 1))  # AZ indexes read 1, 2, 3 like the console does
        else:
            words.extend(w[:1].upper() + w[1:] for w in re.split(r"[^A-Za-z0-9]+", part) if w)
    return "".join(words)


def logical_id_collisions(names: Sequence[str], *suffix: str) -> Iterator[tuple[int, int, str]]:
    """`(index, other index, logical ID)` for every pair of distinct `names` that would
    make the same logical ID with `suffix` (`a-1b` and `a1b` both make `A1b...`): a
    template cannot hold two resources of one ID, so the spec must not name them so."""
    first: dict[str, int] = {}
    for index, name in enumerate(names):
        made = logical_id(name, *suffix)
        other = first.setdefault(made, index)
        if other != index and names[other] != name:
            yield index, other, made


def name_prefix(spec: InfraSpec) -> str:
    return f"{spec.project}-{spec.environment}"


def regional_stack_name(spec: InfraSpec, region: str) -> str:
    return f"{name_prefix(spec)}-{region}"


def global_stack_name(spec: InfraSpec) -> str:
    return f"{name_prefix(spec)}-global"


def bootstrap_stack_name(spec: InfraSpec) -> str:
    """deploy.sh's bootstrap stack (a template bucket), the same name in every region."""
    return f"{name_prefix(spec)}-bootstrap"


def global_resource_name(spec: InfraSpec, short_name: str) -> str:
    """A name in the global stack's namespace, `<prefix>-global-<short_name>`: the deploy
    roles may change `<prefix>-*` IAM resources except these (see builders/access.py)."""
    return f"{global_stack_name(spec)}-{short_name}"


def export_name(spec: InfraSpec, name: str) -> str:
    """Exports are unique per account and region; the prefix keeps environments apart."""
    return f"{name_prefix(spec)}-{name}"


def stack_set_name(spec: InfraSpec) -> str:
    return f"{name_prefix(spec)}-regional"


def member_hosted_zone_parameter(spec: InfraSpec) -> str:
    """The SSM parameter that holds, in each member account and region of a service-managed
    StackSet, the ID of that account's public hosted zone. Outside the project's own
    parameter path, which the web instances may read."""
    return f"/infra/{name_prefix(spec)}/hosted-zone-id"


def member_record_name_parameter(spec: InfraSpec) -> str:
    """The SSM parameter that holds, in each member account and region of a service-managed
    StackSet, the DNS name that account's stacks answer for (a name in its own zone)."""
    return f"/infra/{name_prefix(spec)}/record-name"


def member_zone_name_parameter(spec: InfraSpec) -> str:
    """The SSM parameter that holds, in each member account and region, the name of that
    account's public hosted zone (written by the account's prerequisites, for people and
    tools; the regional template needs only the zone's ID and the record's name)."""
    return f"/infra/{name_prefix(spec)}/zone-name"


def stack_set_instance_name_prefix(spec: InfraSpec) -> str:
    """CloudFormation names the stack of each StackSet instance `StackSet-<stack set>-<id>`."""
    return f"StackSet-{stack_set_name(spec)}-"


def stack_name_prefixes(spec: InfraSpec) -> list[str]:
    """Every stack of the project is named with one of these: the stacks above, and those
    of the StackSet's instances."""
    return [f"{name_prefix(spec)}-", stack_set_instance_name_prefix(spec)]


# The kind of each region's alarm topic: the global stack's alarms name it too.
ALARM_TOPIC_KIND = "alarms"
# The kind of the health-alarm stack's own topic, in us-east-1 (builders/health_alarms.py):
# not ALARM_TOPIC_KIND, which a us-east-1 regional stack added later would create.
HEALTH_ALARM_TOPIC_KIND = "health-alarms"


def health_alarms_stack_name(spec: InfraSpec) -> str:
    """The stack in us-east-1 that alarms the other regions' Route 53 health checks."""
    return f"{name_prefix(spec)}-health-alarms"


def slack_notifier_name(spec: InfraSpec) -> str:
    """The Slack webhook function, the same name in every region."""
    return resource_name(spec, "slack-notifier")


def topic_name(spec: InfraSpec, kind: str) -> str:
    """SNS topics get fixed names, so that a stack can name another stack's topic by ARN:
    the global stack's Slack channel lists every region's topics (see builders/slack.py)."""
    return resource_name(spec, kind)


def resource_name(spec: InfraSpec, *parts: str) -> str:
    """A physical name for resources whose names are per-account-and-region unique."""
    return "-".join((name_prefix(spec), *parts))


# RDS instance identifiers: a letter, then letters, digits and single hyphens, 63 at most.
DB_INSTANCE_IDENTIFIER_MAX = 63


def database_identifier(spec: InfraSpec) -> str:
    """The writer's RDS identifier (and, without replicas, every region's), fixed so that
    the replicas in other regions name it by ARN without a cross-stack reference and its
    log groups can be made before it (limits checked in spec/consistency.py); after a
    failover, the promoted replica's own."""
    promoted = spec.database.promoted
    return promoted.identifier if promoted else f"{name_prefix(spec)}-db"


def database_master_secret_name(spec: InfraSpec) -> str:
    """The writer's master secret's name in a service-managed StackSet: Secrets Manager
    gives a secret's copies its name in every region, so a replica region's stack names its
    copy (`<name>-??????`, the random suffix) with no parameter, in any member account.
    Letters, digits, `/` and `-` only (Secrets Manager allows `/_+=.@-`, 512 at most), and
    not ending in a hyphen and six characters, which Secrets Manager would take for the
    suffix of a partial ARN. One name per account and region: database.promoted is refused
    with service_managed, since a promoted writer region's new secret would collide with the
    copy already there under this name."""
    return f"{name_prefix(spec)}/database/master"


def replica_database_identifier(spec: InfraSpec) -> str:
    """A read replica's RDS identifier, the same in every replica region (identifiers are
    unique per region): `<prefix>-db-` and 8 hex digits of the writer's identifier.

    It changes whenever the writer does: CloudFormation replaces a replica whose source
    changes, and cannot replace a resource with a custom name by one of the same name.
    After `deploy.sh promote`, the promoted replica keeps this name as the writer's
    (`database.promoted.identifier`); the old writer, re-created as a replica, and the
    other replicas get a name made from it, which differs from any they had (the writers'
    names follow one another through the digest). At most 41 + 4 + 8 = 53 characters."""
    digest = hashlib.sha256(database_identifier(spec).encode()).hexdigest()[:8]
    return f"{name_prefix(spec)}-db-{digest}"


# The log types the database exports to CloudWatch Logs (EnableCloudwatchLogsExports):
# RDS for PostgreSQL's two, the server log and the major-version upgrade log.
DATABASE_LOG_TYPES = ("postgresql", "upgrade")


def database_log_group_name(identifier: str, log_type: str) -> str:
    """The log group RDS writes an instance's exported log to: RDS makes it itself (no
    retention, key or tags) unless it exists, so the stack makes it first."""
    return f"/aws/rds/instance/{identifier}/{log_type}"


def data_key_alias(spec: InfraSpec) -> str:
    """Each region's data key has this alias: another region's stack names the key by it."""
    return f"alias/{name_prefix(spec)}/data"


def bucket_name_in(spec: InfraSpec, short_name: str, region) -> Sub:
    """`bucket_name` as it is in `region` (a value or a lookup), from any region."""
    from troposphere import Sub

    return Sub(f"{name_prefix(spec)}-{short_name}-${{AWS::AccountId}}-${{Region}}", Region=region)


def bucket_name(spec: InfraSpec, short_name: str) -> Sub:
    """S3 names are global: the account and region make them unique without a random suffix."""
    from troposphere import Sub

    return Sub(f"{name_prefix(spec)}-{short_name}-${{AWS::AccountId}}-${{AWS::Region}}")


def parameter_path(spec: InfraSpec) -> str:
    """The SSM Parameter Store path under which the instances find their configuration."""
    return f"/{spec.project}/{spec.environment}/"


def log_group_name(spec: InfraSpec, *parts: str) -> str:
    return "/" + "/".join((spec.project, spec.environment, *parts))


# The tag that marks a resource as this project's: the deploy roles may change only
# resources carrying it, and create EC2, RDS, ELB and KMS resources only with it (see
# builders/deploy_permissions.py). The `infra:` prefix keeps it apart from the spec's tags.
PROJECT_TAG = "infra:project"


def project_tag_value(spec: InfraSpec) -> str:
    return name_prefix(spec)


def iam_path(spec: InfraSpec) -> str:
    """The IAM path of the regional stacks' roles and instance profiles. Their names are
    generated from the stack name and cut to 64 characters (a StackSet instance's stack
    name alone is 76), so the deploy roles scope them by path, not by name."""
    return f"/{spec.project}/{spec.environment}/"


def standard_tags(spec: InfraSpec) -> dict[str, str]:
    """Environment, Team, CostCenter, the spec's other tags and the project tag, in a
    stable order."""
    return dict(sorted({**spec.all_tags(), PROJECT_TAG: project_tag_value(spec)}.items()))
