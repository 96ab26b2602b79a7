"""The root spec model: one `infra.yaml`."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field

from compiler.spec.access import AccessSpec
from compiler.spec.audit import AuditSpec
from compiler.spec.checks import ChecksSpec
from compiler.spec.compute import ComputeSpec
from compiler.spec.database import DatabaseSpec
from compiler.spec.dns import DnsSpec
from compiler.spec.load_balancer import LoadBalancerSpec
from compiler.spec.monitoring import MonitoringSpec
from compiler.spec.network import NetworkSpec
from compiler.spec.notifications import NotificationsSpec
from compiler.spec.patching import PatchingSpec
from compiler.spec.regions import RegionSpec
from compiler.spec.scheduled_tasks import MAX_TASKS, ScheduledTaskSpec
from compiler.spec.stackset import StackSetSpec
from compiler.spec.storage import StorageSpec
from compiler.spec.types import SPEC_MODEL_CONFIG, Slug, empty_dict, empty_list, pattern_str
from compiler.spec.waf import WafSpec

REQUIRED_TAGS = ("Team", "CostCenter")
# The characters AWS allows in tags, but for what deploy.sh's AWS CLI calls would read
# differently: `aws cloudformation deploy --tags KEY=VALUE` splits at the first '=', so a
# key may not hold one, and the shorthand `Key=K,Value=V` of the StackSet calls refuses a
# value that starts with '=' (commas, which it splits at, are not allowed at all).
TagKeyText = pattern_str(
    r"^[A-Za-z0-9_ .:/+@-]{1,128}$",
    "tag keys are 1 to 128 letters, digits, spaces and _ . : / + @ - "
    "(not '=': `aws cloudformation deploy --tags KEY=VALUE` would split the key there)",
)


def global_stack_region(global_region: str | None, region_names: list[str]) -> str:
    """`global_region` if set; else DEFAULT_GLOBAL_REGION if listed, else the first region:
    never a matter of the regions' order unless neither is given."""
    if global_region is not None:
        return global_region
    return DEFAULT_GLOBAL_REGION if DEFAULT_GLOBAL_REGION in region_names else region_names[0]


def check_tag_key(key: str) -> str:
    """Checked per key, so that each is reported at its own line."""
    if key.lower().startswith("aws:"):
        raise ValueError(f"tag keys starting with 'aws:' are reserved by AWS: {key}")
    if key == "Environment":
        raise ValueError("do not set the Environment tag here; it is taken from `environment`")
    return key


TagKey = Annotated[TagKeyText, AfterValidator(check_tag_key)]
# Not empty: CloudWatch alarms and dashboards and SSM documents and patch baselines
# refuse an empty tag value, and every resource carries these tags.
TagValue = pattern_str(
    r"^[A-Za-z0-9_ .:/+@-][A-Za-z0-9_ .:/=+@-]{0,255}$",
    "tag values are 1 to 256 letters, digits, spaces and _ . : / = + @ -, not starting "
    "with '=' (the AWS CLI's Key=K,Value=V shorthand refuses that)",
)
# Route 53 publishes its health checks' metrics, and IAM its events, in this region only.
DEFAULT_GLOBAL_REGION = "us-east-1"
# AWS allows 50 tags a resource; the compiler adds Environment to every one and
# PatchGroup to the web instances.
MAX_TAGS = 48


def check_tags(tags: dict[str, str]) -> dict[str, str]:
    missing = [key for key in REQUIRED_TAGS if key not in tags]
    if missing:
        raise ValueError(
            f"tags must include {' and '.join(missing)} (cost and ownership reports use them)"
        )
    return tags


class InfraSpec(BaseModel):
    """A regionally redundant web stack."""

    model_config = SPEC_MODEL_CONFIG

    project: Slug = Field(
        description="Project name: lower-case letters, digits and hyphens; prefixes stack names.",
        examples=["storefront"],
    )
    environment: Slug = Field(
        description="Environment name; also the Environment tag.", examples=["production"]
    )
    tags: Annotated[dict[TagKey, TagValue], AfterValidator(check_tags)] = Field(
        max_length=MAX_TAGS,
        description="Tags on every resource; Team and CostCenter are required.",
        examples=[{"Team": "platform", "CostCenter": "cc-1042"}],
    )
    regions: list[RegionSpec] = Field(
        min_length=2,
        max_length=16,
        description="Two or more regions; the first is the writer region (the writer "
        "database, the buckets that replicate to the others).",
        examples=[
            [
                {"name": "us-east-1", "cidr": "10.10.0.0/16"},
                {"name": "us-west-2", "cidr": "10.20.0.0/16"},
            ]
        ],
    )
    dns: DnsSpec = Field(
        description="Route 53 zone, the site's record, and failover or latency routing.",
        examples=[
            {"zone_name": "example.com", "record_name": "shop.example.com", "routing": "failover"}
        ],
    )
    network: NetworkSpec = Field(
        default_factory=NetworkSpec,
        description="VPC layout, the same in every region.",
        examples=[{"availability_zones": 3, "nat_gateways": "per_az"}],
    )
    compute: ComputeSpec = Field(
        default_factory=ComputeSpec,
        description="Auto Scaling web instances, private subnets.",
        examples=[{"instance_type": "t3.small", "min_size": 2, "max_size": 10}],
    )
    load_balancer: LoadBalancerSpec = Field(
        default_factory=LoadBalancerSpec,
        description="Internet-facing ALB, HTTP -> HTTPS.",
        examples=[{"health_check_path": "/health"}],
    )
    database: DatabaseSpec = Field(
        default_factory=DatabaseSpec,
        description="PostgreSQL on RDS in the isolated subnets.",
        examples=[{"instance_class": "db.t3.medium", "multi_az": True}],
    )
    storage: StorageSpec = Field(
        default_factory=StorageSpec,
        description="S3 buckets created in every region.",
        examples=[{"buckets": [{"name": "assets"}]}],
    )
    waf: WafSpec = Field(
        default_factory=WafSpec,
        description="WAFv2 web ACL on each region's load balancer.",
        examples=[{"rate_limit_per_5_minutes": 2000, "blocked_countries": ["KP"]}],
    )
    monitoring: MonitoringSpec = Field(
        default_factory=MonitoringSpec,
        description="CloudWatch alarm thresholds; one dashboard per region.",
        examples=[{"period_seconds": 60, "instances": {"cpu_percent": 80}}],
    )
    notifications: NotificationsSpec = Field(
        default_factory=NotificationsSpec,
        description="Who receives the alarms of every region's alarm topic.",
        examples=[{"emails": ["oncall@example.com"]}],
    )
    access: AccessSpec = Field(
        description="Who may manage the stacks: the principals allowed to assume the global "
        "stack's infrastructure-management role, and whether they need MFA.",
        examples=[{"admin_principals": ["arn:aws:iam::123456789012:role/platform-team"]}],
    )
    audit: AuditSpec = Field(
        default_factory=AuditSpec,
        description="The global stack's multi-region CloudTrail trail and how long it keeps logs.",
        examples=[{"trail": True, "log_retention_days": 365}],
    )
    global_region: str | None = Field(
        default=None,
        description="Where the global stack (deploy roles, template bucket, hosted zone, "
        "trail, Chatbot channel) and the StackSet are deployed: one of `regions`. It never "
        f"follows the region order, so a failover's reorder does not move it. Default: "
        f"{DEFAULT_GLOBAL_REGION} when it is one of the regions (Route 53 health-check "
        "metrics and IAM events exist only there), else the first region.",
        examples=["us-east-1"],
    )
    patching: PatchingSpec = Field(
        default_factory=PatchingSpec,
        description="OS patching: patch baseline, maintenance window, instances at a time.",
        examples=[{"schedule": "cron(0 3 ? * SUN *)", "max_concurrency": "50%"}],
    )
    scheduled_tasks: list[ScheduledTaskSpec] = Field(
        default_factory=empty_list,
        max_length=MAX_TASKS,
        description="Lambda functions run on an EventBridge schedule in every region.",
        examples=[
            [
                {
                    "name": "bucket-report",
                    "schedule": "cron(0 6 * * ? *)",
                    "source": "tasks/bucket_report.py",
                }
            ]
        ],
    )
    stackset: StackSetSpec = Field(
        default_factory=StackSetSpec,
        description="How `deploy.sh stackset` deploys the StackSet: in this account "
        "(`self_managed`), or to the accounts of organizational units through AWS "
        "Organizations (`service_managed`), and how each operation rolls out.",
        examples=[
            {"permission_model": "service_managed", "organizational_unit_ids": ["ou-ab12-cd34ef56"]}
        ],
    )
    checks: ChecksSpec = Field(
        default_factory=ChecksSpec,
        description="`infra check`: the checkov checks waived, each with its reason.",
        examples=[
            {
                "waivers": [
                    {
                        "id": "CKV_AWS_157",
                        "resource": "Database",
                        "reason": "Staging runs one database instance.",
                    }
                ]
            }
        ],
    )
    # Free-form here: an overlay is validated as part of the merged spec it makes (see
    # compiler/environments.py), where its errors point at the overlay's own lines.
    environments: dict[Slug, dict[str, Any]] = Field(
        default_factory=empty_dict,
        description="Named overlays merged over this spec by `--env NAME` (mappings merge, other "
        "values replace); the name becomes `environment` unless the overlay sets it.",
        examples=[
            {
                "staging": {
                    "compute": {"instance_type": "t3.micro"},
                    "network": {"nat_gateways": "single"},
                }
            }
        ],
    )

    @property
    def primary_region(self) -> str:
        """The writer region: the writer database and the source buckets live there."""
        return self.regions[0].name

    @property
    def global_stack_region(self) -> str:
        """Where the global stack and the StackSet live (`global_region`, else its default)."""
        return global_stack_region(self.global_region, [region.name for region in self.regions])

    def all_tags(self) -> dict[str, str]:
        """The tags every resource carries, Environment included."""
        return {"Environment": self.environment, **self.tags}
