"""Which spec key produced each part of a compiled template, and where it is written.

A finding about a template (cfn-lint's, checkov's) is only useful to a user in spec
terms: `infra.yaml:31:18: compute.instance_type`, not `regions/us-east-1.json:2302`.
Three sources of that knowledge, none of them in a builder:

- `assemble` records the spec section each builder serves, for every template entry
  it adds (`StackTemplate.sources`): the nearest section, e.g. `compute`.
- Resources named after a list item (a bucket, a scheduled task) are matched to that
  item by their logical ID, which `naming.logical_id` derives from the item's name.
- `PROPERTY_SOURCES` names the spec key behind the template properties a key sets.
  Region values go to the region's entry: `regions[1].cidr` in a per-region template,
  and in the StackSet template's region mapping by the mapping's region key.

`SpecMap.spec_path` answers for one template; `SpecLocator.locate` turns a spec path
into `file:line:col` (for an environment, where the overlay wrote it, if it did).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from compiler import naming
from compiler.errors import SpecPath, format_spec_path

if TYPE_CHECKING:
    from compiler.assemble import StackTemplate
    from compiler.load import LoadedSpec
    from compiler.spec import InfraSpec

TemplatePath = Sequence[str | int]  # ("Resources", "Vpc", "Properties", "CidrBlock")

# Placeholders in the targets below: the stack's region entry, its name (a key of a
# per-region mapping in the spec), and the list item a resource was built for.
REGION, REGION_NAME, ITEM = "{region}", "{region_name}", "{item}"


def _target(text: str) -> tuple[str, ...]:
    """`"regions[{region}].cidr"` -> `("regions", "{region}", "cidr")`."""
    return tuple(part for part in re.split(r"[.\[\]]+", text) if part)


# (section the resource was built for, or "*"; resource type, or "*") ->
# property path prefix -> the spec key behind it. The longest matching prefix wins.
PROPERTY_SOURCES: dict[tuple[str, str], dict[tuple[str, ...], tuple[str, ...]]] = {
    ("*", "*"): {("Tags",): _target("tags")},
    ("network", "AWS::EC2::VPC"): {("CidrBlock",): _target("regions[{region}].cidr")},
    ("network", "AWS::EC2::Subnet"): {("CidrBlock",): _target("regions[{region}].cidr")},
    ("network", "AWS::Logs::LogGroup"): {
        ("RetentionInDays",): _target("network.flow_logs_retention_days")
    },
    ("compute", "AWS::EC2::LaunchTemplate"): {
        ("LaunchTemplateData", "InstanceType"): _target("compute.instance_type"),
        ("LaunchTemplateData", "ImageId"): _target("compute.image_parameter"),
        ("LaunchTemplateData", "BlockDeviceMappings"): _target("compute.root_volume_gb"),
    },
    ("compute", "AWS::AutoScaling::AutoScalingGroup"): {
        ("MinSize",): _target("compute.min_size"),
        ("MaxSize",): _target("compute.max_size"),
        ("DesiredCapacity",): _target("compute.desired_capacity"),
    },
    ("compute", "AWS::AutoScaling::ScalingPolicy"): {
        ("TargetTrackingConfiguration", "TargetValue"): _target("compute.cpu_target_percent")
    },
    ("compute", "AWS::EC2::SecurityGroup"): {
        ("SecurityGroupIngress",): _target("compute.ssh_cidrs")
    },
    ("database", "AWS::RDS::DBInstance"): {
        ("DBInstanceClass",): _target("database.instance_class"),
        ("EngineVersion",): _target("database.engine_version"),
        ("AllocatedStorage",): _target("database.allocated_storage_gb"),
        ("MaxAllocatedStorage",): _target("database.max_allocated_storage_gb"),
        ("MultiAZ",): _target("database.multi_az"),
        ("BackupRetentionPeriod",): _target("database.backup_retention_days"),
        ("DBName",): _target("database.database_name"),
        ("MasterUsername",): _target("database.master_username"),
    },
    ("database", "AWS::RDS::DBParameterGroup"): {("Family",): _target("database.engine_version")},
    ("load_balancer", "AWS::ElasticLoadBalancingV2::TargetGroup"): {
        ("HealthCheckPath",): _target("load_balancer.health_check_path"),
        ("Port",): _target("compute.app_port"),
    },
    ("load_balancer", "AWS::ElasticLoadBalancingV2::Listener"): {
        ("Certificates",): _target("load_balancer.certificate_arns.{region_name}"),
        ("SslPolicy",): _target("load_balancer.ssl_policy"),
    },
    ("load_balancer", "AWS::CertificateManager::Certificate"): {
        ("DomainName",): _target("dns.record_name"),
        ("DomainValidationOptions",): _target("dns.record_name"),
    },
    ("dns", "AWS::Route53::HealthCheck"): {
        ("HealthCheckConfig", "ResourcePath"): _target("dns.health_check_path"),
        ("HealthCheckConfig", "RequestInterval"): _target("dns.health_check_interval_seconds"),
        ("HealthCheckConfig", "FailureThreshold"): _target("dns.failure_threshold"),
    },
    ("dns", "AWS::Route53::RecordSet"): {
        ("Name",): _target("dns.record_name"),
        ("Failover",): _target("dns.routing"),
        ("Region",): _target("dns.routing"),
    },
    ("dns", "AWS::Route53::HostedZone"): {("Name",): _target("dns.zone_name")},
    ("waf", "AWS::WAFv2::WebACL"): {("Rules",): _target("waf.managed_rule_groups")},
    ("waf", "AWS::Logs::LogGroup"): {("RetentionInDays",): _target("waf.log_retention_days")},
    ("patching", "AWS::SSM::PatchBaseline"): {
        ("OperatingSystem",): _target("patching.operating_system"),
        ("ApprovalRules",): _target("patching.approve_after_days"),
    },
    ("patching", "AWS::SSM::MaintenanceWindow"): {
        ("Schedule",): _target("patching.schedule"),
        ("ScheduleTimezone",): _target("patching.schedule_timezone"),
        ("Duration",): _target("patching.duration_hours"),
        ("Cutoff",): _target("patching.cutoff_hours"),
    },
    ("patching", "AWS::SSM::MaintenanceWindowTask"): {
        ("MaxConcurrency",): _target("patching.max_concurrency"),
        ("MaxErrors",): _target("patching.max_errors"),
    },
    ("monitoring", "AWS::CloudWatch::Alarm"): {
        ("Period",): _target("monitoring.period_seconds"),
        ("EvaluationPeriods",): _target("monitoring.evaluation_periods"),
    },
    ("notifications", "AWS::SNS::Subscription"): {("Endpoint",): _target("notifications.emails")},
    ("access", "AWS::IAM::Role"): {
        ("AssumeRolePolicyDocument",): _target("access.admin_principals")
    },
    ("scheduled_tasks", "AWS::Lambda::Function"): {
        ("Runtime",): _target("{item}.runtime"),
        ("Handler",): _target("{item}.handler"),
        ("Code",): _target("{item}.source"),
        ("Timeout",): _target("{item}.timeout_seconds"),
        ("MemorySize",): _target("{item}.memory_mb"),
        ("ReservedConcurrentExecutions",): _target("{item}.reserved_concurrency"),
        ("Environment",): _target("{item}.environment"),
        ("Description",): _target("{item}.description"),
    },
    ("scheduled_tasks", "AWS::Events::Rule"): {("ScheduleExpression",): _target("{item}.schedule")},
    ("scheduled_tasks", "AWS::Logs::LogGroup"): {
        ("RetentionInDays",): _target("{item}.log_retention_days")
    },
    ("storage", "AWS::S3::Bucket"): {
        ("LifecycleConfiguration",): _target("{item}.noncurrent_version_expiry_days")
    },
}

# The StackSet template's region mapping: value key -> the spec key it comes from
# (see `context.region_values`). Subnet CIDRs are cut from the region's CIDR.
MAPPED_SOURCES: dict[str, tuple[str, ...]] = {
    "VpcCidr": _target("regions[{region}].cidr"),
    "ElbLogAccount": _target("regions[{region}].name"),
    "CertificateArn": _target("load_balancer.certificate_arns.{region_name}"),
    "FailoverRole": _target("dns.routing"),
    "IamEventsRegion": _target("notifications.slack"),
}
_SUBNET_CIDR = re.compile(r"^[A-Z][a-z]+Subnet\d+Cidr$")


def item_prefixes(spec: InfraSpec) -> dict[str, dict[str, SpecPath]]:
    """Section -> logical ID prefix -> list item: the IDs the builders give the resources
    of each bucket and scheduled task start with these (`naming.logical_id`)."""
    return {
        "storage": {
            naming.logical_id(bucket.name, "bucket"): ("storage", "buckets", index)
            for index, bucket in enumerate(spec.storage.buckets)
        },
        "scheduled_tasks": {
            naming.logical_id(task.name, "task"): ("scheduled_tasks", index)
            for index, task in enumerate(spec.scheduled_tasks)
        },
    }


class SpecMap:
    """Spec paths for the entries of one template."""

    def __init__(
        self,
        sources: Mapping[tuple[str, str], SpecPath],
        resource_types: Mapping[str, str],
        regions: Sequence[str],
        region: str | None,
        items: Mapping[str, Mapping[str, SpecPath]],
    ):
        self.sources = sources
        self.resource_types = resource_types  # logical ID -> AWS::... type
        self.regions = list(regions)
        self.region = region  # None for the StackSet template: it serves every region
        self.items = items

    @classmethod
    def for_stack(cls, spec: InfraSpec, stack: StackTemplate) -> SpecMap:
        region = stack.region if stack.kind == "region" else None
        regions = [r.name for r in spec.regions]
        types = {name: r.resource_type for name, r in stack.template.resources.items()}
        return cls(stack.sources, types, regions, region, item_prefixes(spec))

    def spec_path(self, where: TemplatePath, region: str | None = None) -> SpecPath:
        """The spec key behind a template path; the nearest section when none is closer.
        `region` names the region a finding of the StackSet template was made for."""
        region = region or self.region
        parts = list(where)
        if len(parts) >= 2 and parts[0] == "Mappings":
            return self._mapped(parts)
        if len(parts) < 2 or not isinstance(parts[1], str):
            return ()
        section = self.sources.get((str(parts[0]), parts[1]), ())
        base = self._region_entry(section, region) if section == ("regions",) else section
        if parts[0] != "Resources":
            return base
        item = self._item(section, parts[1])
        kind = self.resource_types.get(parts[1], "")
        properties = tuple(parts[3:]) if parts[2:3] == ["Properties"] else ()
        target = self._property_target(section, kind, properties)
        if target is None:
            return item or base
        return self._fill(target, item, region) or item or base

    def _property_target(
        self, section: SpecPath, kind: str, properties: tuple[str | int, ...]
    ) -> tuple[str, ...] | None:
        name = str(section[0]) if section else ""
        best: tuple[str, ...] | None = None
        best_length = 0
        for key in ((name, kind), ("*", "*")):
            for prefix, target in PROPERTY_SOURCES.get(key, {}).items():
                if properties[: len(prefix)] == prefix and len(prefix) > best_length:
                    best, best_length = target, len(prefix)
        return best

    def _item(self, section: SpecPath, logical_id: str) -> SpecPath:
        prefixes = self.items.get(str(section[0]), {}) if section else {}
        # The longest prefix: a task `report` must not claim the resources of `report-2`.
        matches = [prefix for prefix in prefixes if logical_id.startswith(prefix)]
        return prefixes[max(matches, key=len)] if matches else ()

    def _region_entry(self, fallback: SpecPath, region: str | None) -> SpecPath:
        if region in self.regions:
            return ("regions", self.regions.index(region))
        return fallback

    def _fill(self, target: tuple[str, ...], item: SpecPath, region: str | None) -> SpecPath:
        """`target` with its placeholders set; cut short before one that has no value."""
        filled: list[str | int] = []
        for part in target:
            if part == ITEM:
                if not item:
                    break
                filled += item
            elif part == REGION:
                if region not in self.regions:
                    break
                filled.append(self.regions.index(region))
            elif part == REGION_NAME:
                if region is None:
                    break
                filled.append(region)
            else:
                filled.append(part)
        return tuple(filled)

    def _mapped(self, parts: list[str | int]) -> SpecPath:
        """`Mappings.RegionMap.<region>.<key>` -> the region's spec key."""
        region = str(parts[2]) if len(parts) > 2 else None
        key = str(parts[3]) if len(parts) > 3 else ""
        target = MAPPED_SOURCES.get(key)
        if target is None and _SUBNET_CIDR.match(key):
            target = MAPPED_SOURCES["VpcCidr"]
        if target is None:
            target = _target("regions[{region}]")
        return self._fill(target, (), region) or ("regions",)


class SpecLocation(NamedTuple):
    """Where a spec key is written: the key's own line for a mapping or list, the value's
    for a scalar; its nearest written parent when the key is left to its default."""

    file: str
    line: int
    column: int
    path: SpecPath  # as written: for an environment, under `environments.<name>` if there

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {format_spec_path(self.path)}"


class SpecLocator:
    """Positions of spec paths in the spec file, for the base or one environment."""

    def __init__(self, loaded: LoadedSpec, environment: str | None = None):
        from compiler.environments import environment_names, merge_environment

        self.base = loaded
        self.merged = None
        if environment is not None and environment in environment_names(loaded):
            self.merged = merge_environment(loaded, environment)
        self.loaded = self.merged.loaded if self.merged else loaded

    def locate(self, path: SpecPath) -> SpecLocation:
        written = path
        if self.merged is not None:
            written = self.merged.overlay_path(path) or path
        positions = self.loaded.value_positions
        found = next((path[:e] for e in range(len(path), -1, -1) if path[:e] in positions), ())
        position = self.loaded.value_positions.get(found)
        value = _value_at(self.loaded.data, found)
        if isinstance(value, dict | list) or position is None:
            position = self.loaded.key_positions.get(found, position)
        line, column = position if position else (1, 1)
        return SpecLocation(self.loaded.file, line, column, written)


def _value_at(data: Any, path: SpecPath) -> Any:
    for part in path:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


class SpecIndex:
    """Spec maps of every template of a compile, and where their keys are written:
    `locate(template, template_path)` for a finding about one template."""

    def __init__(self, maps: Mapping[str, SpecMap], locator: SpecLocator):
        self.maps = maps  # by template path relative to the output directory
        self.locator = locator

    @classmethod
    def build(
        cls,
        spec: InfraSpec,
        stacks: Sequence[StackTemplate],
        loaded: LoadedSpec,
        environment: str | None = None,
    ) -> SpecIndex:
        maps = {stack.path: SpecMap.for_stack(spec, stack) for stack in stacks}
        return cls(maps, SpecLocator(loaded, environment))

    def locate(
        self, template: str, where: TemplatePath, region: str | None = None
    ) -> SpecLocation | None:
        """None for a template of another compile, or a part of it no spec key made.
        `region`: for a finding of the StackSet template that concerns one region."""
        spec_map = self.maps.get(template)
        path = spec_map.spec_path(where, region) if spec_map else ()
        return self.locator.locate(path) if path else None
