"""Stage 4, assemble: run the builders in dependency order and put their output in templates.

The per-region templates and the StackSet template come from the same function; they
differ only in the `RegionContext` given to the builders. The global stack (deploy roles,
template bucket, hosted zone, audit trail) has builders of its own and is deployed first.
"""

from __future__ import annotations

import json
from typing import NamedTuple

from troposphere import Output, Parameter, Ref, Template, encode_to_dict, iam

from compiler import naming
from compiler.builders import Built
from compiler.builders import storage as storage_module
from compiler.builders.access import build_access
from compiler.builders.app_config import build_app_config
from compiler.builders.audit import build_audit
from compiler.builders.certificate import CERTIFICATE_ID, build_certificate
from compiler.builders.change_events import build_change_events
from compiler.builders.compute import build_compute
from compiler.builders.database import build_database
from compiler.builders.database_events import build_database_events
from compiler.builders.dns import (
    HOSTED_ZONE_PARAMETER,
    RECORD_NAME_PARAMETER,
    RECORD_SET_ID,
    build_dns,
    build_hosted_zone,
)
from compiler.builders.encryption import build_encryption
from compiler.builders.health_alarms import build_health_alarms
from compiler.builders.hosted_zone import build_public_zone
from compiler.builders.load_balancer import build_load_balancer
from compiler.builders.monitoring import build_monitoring
from compiler.builders.network import build_network
from compiler.builders.notifications import build_notifications
from compiler.builders.patching import build_patching
from compiler.builders.scheduled_tasks import build_scheduled_tasks
from compiler.builders.security_groups import build_security_groups
from compiler.builders.slack import build_slack_channel, build_slack_delivery
from compiler.builders.storage import build_storage
from compiler.builders.waf import build_waf
from compiler.context import (
    REGION_MAP,
    ROUTE53_METRICS_REGION,
    RegionContext,
    health_alarm_regions,
    region_mappings,
)
from compiler.errors import SpecPath
from compiler.spec import InfraSpec
from compiler.tagging import apply_tags

# What each template entry was built for: (section, name) -> the spec section of the
# builder that made it, e.g. ("Resources", "LaunchTemplate") -> ("compute",). The
# spec map (compiler/spec_map.py) refines it to the key; builders never see it.
Sources = dict[tuple[str, str], SpecPath]


# The kind of the us-east-1 stack of health-check alarms (builders/health_alarms.py): it
# goes last, once every regional stack (or StackSet instance) has its health check.
HEALTH_ALARMS_KIND = "health-alarms"


class StackTemplate(NamedTuple):
    """One template to write, with the stack it deploys as."""

    kind: str  # "global" | "region" | "stackset" | HEALTH_ALARMS_KIND
    stack_name: str
    region: str
    path: str  # relative to the output directory
    template: Template
    sources: Sources = {}  # noqa: RUF012  (never mutated: a NamedTuple default is shared)


class _Parts:
    """The builders' output for one template, each with the spec section it serves."""

    def __init__(self) -> None:
        self.built: list[tuple[Built, SpecPath]] = []

    def add(self, built: Built, section: SpecPath):
        self.built.append((built, section))
        return built.handle


def build_regional_template(spec: InfraSpec, ctx: RegionContext, description: str) -> Template:
    """Every builder of the regional stack, in dependency order, into one template."""
    return build_regional_parts(spec, ctx, description)[0]


def build_regional_parts(
    spec: InfraSpec, ctx: RegionContext, description: str
) -> tuple[Template, Sources]:
    """The regional template, and the spec section each of its entries was built for."""
    template = Template(Description=description)
    parts = _Parts()
    add = parts.add

    # The data key serves the whole region: its nearest spec entry is the region's.
    key = add(build_encryption(spec, ctx), ("regions",))
    network = add(build_network(spec, ctx, key), ("network",))
    # App port and SSH sources, the rules' only inputs, are compute keys.
    security_groups = add(build_security_groups(spec, ctx, network), ("compute",))
    storage = add(build_storage(spec, ctx, key), ("storage",))
    zone = add(build_hosted_zone(spec, ctx), ("dns",))
    certificate = add(build_certificate(spec, ctx, zone), ("load_balancer", "certificate_arns"))
    load_balancer = add(
        build_load_balancer(
            spec,
            ctx,
            network,
            security_groups,
            storage,
            storage_module.LOAD_BALANCER_LOG_PREFIX,
            certificate,
        ),
        ("load_balancer",),
    )
    dns = add(build_dns(spec, ctx, zone, load_balancer), ("dns",))
    waf = add(build_waf(spec, ctx, key, load_balancer), ("waf",))
    compute = add(
        build_compute(spec, ctx, network, security_groups, load_balancer, storage, key),
        ("compute",),
    )
    add(build_patching(spec, ctx, compute, storage), ("patching",))
    database = add(build_database(spec, ctx, network, security_groups, key), ("database",))
    add(build_app_config(spec, ctx, compute, database, storage), ("compute",))
    tasks = add(build_scheduled_tasks(spec, ctx, network, storage, key), ("scheduled_tasks",))
    notifications = add(build_notifications(spec, ctx, key), ("notifications",))
    add(
        build_monitoring(
            spec, ctx, network, compute, database, load_balancer, notifications, dns, waf, tasks
        ),
        ("monitoring",),
    )
    add(build_database_events(spec, ctx, database, notifications), ("database",))
    changes = add(build_change_events(spec, ctx, key), ("notifications",))
    add(
        build_slack_delivery(spec, ctx, network, key, notifications, changes),
        ("notifications", "slack"),
    )

    tags = naming.standard_tags(spec)
    template.add_output(Output("VpcId", Description="ID of the region's VPC", Value=network.vpc_id))
    place_identities(parts.built, naming.iam_path(spec))
    sources = add_parts(template, parts.built, tags)
    sources[("Outputs", "VpcId")] = ("network",)
    return template, sources


def place_identities(parts: list[tuple[Built, SpecPath]], path: str) -> None:
    """Put every role and instance profile of the regional stack under the project's IAM
    path, the one thing about their generated names the deploy roles can scope by."""
    for built, _ in parts:
        for resource in built.resources:
            if isinstance(resource, (iam.Role, iam.InstanceProfile)):
                resource.properties.setdefault("Path", path)


def add_parts(
    template: Template, parts: list[tuple[Built, SpecPath]], tags: dict[str, str]
) -> Sources:
    """Put what the builders made into `template`, every taggable resource tagged; return
    the spec section each entry was built for."""
    sources: Sources = {}
    for built, section in parts:
        for parameter in built.parameters:
            template.add_parameter(parameter)
            sources[("Parameters", parameter.title)] = section
        for name, condition in built.conditions.items():
            template.add_condition(name, condition)
            sources[("Conditions", name)] = section
        for resource in built.resources:
            apply_tags(resource, tags)
            template.add_resource(resource)
            sources[("Resources", resource.title)] = section
        for output in built.outputs:
            template.add_output(output)
            sources[("Outputs", output.title)] = section
    return sources


def regional_description(spec: InfraSpec) -> str:
    # The same text in every region: the StackSet template must equal each regional one.
    return (
        f"{spec.project} ({spec.environment}) regional web tier: VPC, ALB, Auto Scaling "
        "group, PostgreSQL, S3. Generated by infra compile from infra.yaml; do not edit."
    )


def build_stackset_template(spec: InfraSpec) -> Template:
    """The regional stack for any region of the spec, values looked up by `AWS::Region`."""
    return build_stackset_parts(spec)[0]


def build_stackset_parts(spec: InfraSpec) -> tuple[Template, Sources]:
    """The StackSet template, and the spec section each of its entries was built for."""
    template, sources = build_regional_parts(
        spec, RegionContext.mapped(spec), regional_description(spec)
    )
    template.add_mapping(REGION_MAP, region_mappings(spec))
    regions = [region.name for region in spec.regions]
    template.add_rule(
        "RegionIsInSpec",
        {
            "Assertions": [
                {
                    "Assert": {"Fn::Contains": [regions, Ref("AWS::Region")]},
                    "AssertDescription": f"This template is for the spec's regions only: {', '.join(regions)}",
                }
            ]
        },
    )
    sources[("Mappings", REGION_MAP)] = ("regions",)
    sources[("Rules", "RegionIsInSpec")] = ("regions",)
    if spec.stackset.service_managed:
        read_zone_in_member_account(spec, template)
        read_record_name_in_member_account(spec, template)
    return template, sources


def read_zone_in_member_account(spec: InfraSpec, template: Template) -> None:
    """A service-managed StackSet's instances run in member accounts, where there is no
    global stack to take the hosted zone's ID from, and one value for every account could
    not name each account's own zone (a record set must be in a zone of its own account).
    So each instance reads it from an SSM parameter of its account and region, which the
    account's prerequisites make (docs/multi-account.md). The only template parameter the
    self-managed StackSet takes from the global stack; the rest of the template is the same."""
    parameter = template.parameters[HOSTED_ZONE_PARAMETER]
    # CloudFormation resolves the parameter in the instance's own account and region, and
    # still checks that the value is a hosted zone ID.
    parameter.properties["Type"] = "AWS::SSM::Parameter::Value<AWS::Route53::HostedZone::Id>"
    parameter.properties["Default"] = naming.member_hosted_zone_parameter(spec)
    parameter.properties["Description"] = (
        f"SSM parameter holding the ID of this account's public hosted zone of {spec.dns.zone_name}"
    )


def read_record_name_in_member_account(spec: InfraSpec, template: Template) -> None:
    """Each member account's stacks answer for a name of their own. One name for every
    account cannot work: each account would request an ACM certificate for it, validated
    in its own zone of that name, and only one zone of a name can be delegated publicly, so
    validation would hang in every other account. So the certificate, its validation and
    the record set take the name from an SSM parameter of the instance's account and
    region (the account's prerequisites write it; docs/multi-account.md). A parameter,
    not an override: overrides do not reach accounts that automatic deployment adds."""
    template.add_parameter(
        Parameter(
            RECORD_NAME_PARAMETER,
            Type="AWS::SSM::Parameter::Value<String>",
            Default=naming.member_record_name_parameter(spec),
            Description=(
                "SSM parameter holding the DNS name this account's stacks answer for, "
                "in the zone of the HostedZoneId parameter"
            ),
        )
    )
    name = Ref(RECORD_NAME_PARAMETER)
    certificate = template.resources.get(CERTIFICATE_ID)
    if certificate is not None:
        certificate.properties["DomainName"] = name
        for option in certificate.properties["DomainValidationOptions"]:
            option.properties["DomainName"] = name
    template.resources[RECORD_SET_ID].properties["Name"] = name
    # The purposes readers see name the record too: not the spec's name here.
    for resource in template.resources.values():
        metadata = getattr(resource, "Metadata", None)
        if metadata and spec.dns.record_name in metadata.get("Purpose", ""):
            resource.Metadata = {
                **metadata,
                "Purpose": metadata["Purpose"].replace(
                    spec.dns.record_name, "this account's record name (RecordName)"
                ),
            }


def global_description(spec: InfraSpec) -> str:
    trail = (
        "multi-region CloudTrail trail"
        if spec.audit.trail
        else "no trail (audit.trail: false: an organisation trail is assumed to record the account)"
    )
    zone = "" if spec.dns.hosted_zone_id else f", {spec.dns.zone_name} hosted zone"
    return (
        f"{spec.project} ({spec.environment}) global stack, deployed once in "
        f"{spec.global_stack_region} by an account administrator before the regional stacks: "
        f"deploy roles, template bucket{zone}, {trail}. Generated by infra compile from "
        "infra.yaml; do not edit."
    )


def managed_policies_attached(template: Template) -> list:
    """Every `ManagedPolicyArns` entry of `template`'s roles, once each, in order, as JSON
    values. Only those entries are encoded: the whole template's `to_dict` costs as much
    as rendering it."""
    found: dict[str, object] = {}
    for resource in template.resources.values():
        for policy_arn in resource.properties.get("ManagedPolicyArns", []):
            value = encode_to_dict(policy_arn)
            found.setdefault(json.dumps(value, sort_keys=True), value)
    return list(found.values())


def build_global_template(spec: InfraSpec, stackset: Template | None = None) -> Template:
    """The global stack: deploy roles and template bucket, hosted zone, audit trail.
    `stackset` is the spec's StackSet template when the caller has built it already."""
    return build_global_parts(spec, stackset)[0]


def build_global_parts(
    spec: InfraSpec, stackset: Template | None = None
) -> tuple[Template, Sources]:
    """The global template, and the spec section each of its entries was built for."""
    ctx = RegionContext.literal(spec, spec.global_stack_region)
    template = Template(Description=global_description(spec))
    parts = _Parts()
    add = parts.add

    zone = add(build_public_zone(spec, ctx), ("dns",))
    audit = add(build_audit(spec, ctx), ("audit",))
    # The deploy roles may attach to the project's roles only the AWS managed policies the
    # regional stacks use; the StackSet template holds every region's resources.
    if stackset is None:
        stackset = build_stackset_template(spec)
    attachable = managed_policies_attached(stackset)
    add(build_access(spec, ctx, zone, audit, attachable), ("access",))
    add(build_slack_channel(spec), ("notifications", "slack"))
    return template, add_parts(template, parts.built, naming.standard_tags(spec))


def build_health_alarms_parts(spec: InfraSpec) -> tuple[Template, Sources]:
    """The us-east-1 stack that alarms the other regions' Route 53 health checks."""
    regions = ", ".join(health_alarm_regions(spec))
    template = Template(
        Description=f"{spec.project} ({spec.environment}) Route 53 health-check alarms of "
        f"{regions}, in {ROUTE53_METRICS_REGION} where Route 53 publishes their metrics; "
        "deployed after the regional stacks. Generated by infra compile from infra.yaml; "
        "do not edit."
    )
    parts = _Parts()
    parts.add(build_health_alarms(spec), ("dns",))
    return template, add_parts(template, parts.built, naming.standard_tags(spec))


def assemble(spec: InfraSpec) -> list[StackTemplate]:
    """All templates of a spec, in deploy order: global, the regions, the StackSet, and
    the health-check alarms in us-east-1 of the regions that cannot alarm their own."""
    stackset, stackset_sources = build_stackset_parts(spec)
    global_template, global_sources = build_global_parts(spec, stackset)
    stacks = [
        StackTemplate(
            kind="global",
            stack_name=naming.global_stack_name(spec),
            # Not the first region: the region order changes on a failover, and moving the
            # global stack would re-create its hosted zone (new name servers).
            region=spec.global_stack_region,
            path="global.json",
            template=global_template,
            sources=global_sources,
        )
    ]
    for region in spec.regions:
        ctx = RegionContext.literal(spec, region.name)
        template, sources = build_regional_parts(spec, ctx, regional_description(spec))
        stacks.append(
            StackTemplate(
                kind="region",
                stack_name=naming.regional_stack_name(spec, region.name),
                region=region.name,
                path=f"regions/{region.name}.json",
                template=template,
                sources=sources,
            )
        )
    stacks.append(
        StackTemplate(
            kind="stackset",
            stack_name=naming.stack_set_name(spec),
            # Where the StackSet itself is administered, beside the global stack (a StackSet
            # is a resource of its administration region: it must not move either).
            region=spec.global_stack_region,
            path="stackset.json",
            template=stackset,
            sources=stackset_sources,
        )
    )
    if health_alarm_regions(spec):
        template, sources = build_health_alarms_parts(spec)
        stacks.append(
            StackTemplate(
                kind=HEALTH_ALARMS_KIND,
                stack_name=naming.health_alarms_stack_name(spec),
                region=ROUTE53_METRICS_REGION,
                path="health-alarms.json",
                template=template,
                sources=sources,
            )
        )
    return stacks


__all__ = ["StackTemplate", "assemble", "build_global_template", "build_regional_template", "Ref"]
