"""The only place that makes logical IDs, stack and resource names, exports and tags.

Logical IDs never contain the region, so the per-region templates and the StackSet
template name every resource the same way (and a diff between regions is meaningful).
"""

from __future__ import annotations

import re

from troposphere import Sub

from compiler.spec import InfraSpec


def logical_id(*parts: str | int) -> str:
    """`('public', 'subnet', 0)` -> `PublicSubnet1`: CloudFormation IDs are alphanumeric."""
    words: list[str] = []
    for part in parts:
        if isinstance(part, int):
            words.append(str(part + 1))  # AZ indexes read 1, 2, 3 like the console does
        else:
            words.extend(w[:1].upper() + w[1:] for w in re.split(r"[^A-Za-z0-9]+", part) if w)
    return "".join(words)


def name_prefix(spec: InfraSpec) -> str:
    return f"{spec.project}-{spec.environment}"


def regional_stack_name(spec: InfraSpec, region: str) -> str:
    return f"{name_prefix(spec)}-{region}"


def global_stack_name(spec: InfraSpec) -> str:
    return f"{name_prefix(spec)}-global"


def global_resource_name(spec: InfraSpec, short_name: str) -> str:
    """A name in the global stack's namespace, `<prefix>-global-<short_name>`: the deploy
    roles may change `<prefix>-*` IAM resources except these (see builders/access.py)."""
    return f"{global_stack_name(spec)}-{short_name}"


def export_name(spec: InfraSpec, name: str) -> str:
    """Exports are unique per account and region; the prefix keeps environments apart."""
    return f"{name_prefix(spec)}-{name}"


def stack_set_name(spec: InfraSpec) -> str:
    return f"{name_prefix(spec)}-regional"


def stack_set_instance_name_prefix(spec: InfraSpec) -> str:
    """CloudFormation names the stack of each StackSet instance `StackSet-<stack set>-<id>`."""
    return f"StackSet-{stack_set_name(spec)}-"


def stack_name_prefixes(spec: InfraSpec) -> list[str]:
    """Every stack of the project is named with one of these: the stacks above, and those
    of the StackSet's instances."""
    return [f"{name_prefix(spec)}-", stack_set_instance_name_prefix(spec)]


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
    """The writer's RDS identifier, fixed so that the replicas in other regions name it by
    ARN without a cross-stack reference (limits checked in spec/consistency.py); after a
    failover, the promoted replica's own. Replicas get names CloudFormation generates: a
    custom-named resource cannot be replaced, and a replica is replaced when its source
    changes."""
    promoted = spec.database.promoted
    return promoted.identifier if promoted else f"{name_prefix(spec)}-db"


def data_key_alias(spec: InfraSpec) -> str:
    """Each region's data key has this alias: another region's stack names the key by it."""
    return f"alias/{name_prefix(spec)}/data"


def bucket_name_in(spec: InfraSpec, short_name: str, region) -> Sub:
    """`bucket_name` as it is in `region` (a value or a lookup), from any region."""
    return Sub(f"{name_prefix(spec)}-{short_name}-${{AWS::AccountId}}-${{Region}}", Region=region)


def bucket_name(spec: InfraSpec, short_name: str) -> Sub:
    """S3 names are global: the account and region make them unique without a random suffix."""
    return Sub(f"{name_prefix(spec)}-{short_name}-${{AWS::AccountId}}-${{AWS::Region}}")


def log_group_name(spec: InfraSpec, *parts: str) -> str:
    return "/" + "/".join((spec.project, spec.environment, *parts))


def standard_tags(spec: InfraSpec) -> dict[str, str]:
    """Environment, Team, CostCenter and the spec's other tags, in a stable order."""
    return dict(sorted(spec.all_tags().items()))
