"""Deploy order: for each stack, how it is deployed and where each of its values comes from.

The plan is worked out from the assembled templates alone (pure, no I/O) and is written
twice: as data in `manifest.json` and as the AWS CLI commands of `deploy.sh`. Both read
it from here, so the manifest cannot say one thing and the script do another.

Where values come from:

- A template parameter with a `Default` keeps it (e.g. `HostedZoneId` when the spec gives
  `dns.hosted_zone_id`); nothing is passed.
- A parameter without one is the global stack's output of the same name, read with
  `describe-stacks` once the global stack exists. Cross-stack exports cannot carry it:
  an export is visible only in its own region, and the global stack lives in one region
  only (`global_region`).
- A template over CloudFormation's 51,200-byte `TemplateBody` limit goes through an S3
  bucket in the stack's own region: `aws cloudformation deploy --s3-bucket` builds the
  template URL from the stack's region, so a bucket elsewhere is unreadable
  (aws/aws-cli#4372). The first of these that is set wins: `DEPLOY_BUCKET_<REGION>`,
  then, in the global stack's region only, `DEPLOY_BUCKET`; else the bucket of the
  region's bootstrap stack (`deploy_bootstrap`), which deploy.sh creates first when
  missing. The global stack is no exception: it cannot use a bucket it creates itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from troposphere import Template

from compiler import naming
from compiler.assemble import HEALTH_ALARMS_KIND, StackTemplate
from compiler.builders.bucket_replication import REPLICATION_PARAMETER
from compiler.builders.database import SECRET_ARN_OUTPUT, WRITER_SECRET_PARAMETER
from compiler.builders.health_alarms import HEALTH_CHECK_OUTPUT, health_check_parameter
from compiler.builders.hosted_zone import NAME_SERVERS_OUTPUT
from compiler.context import health_alarm_regions, replica_regions, replicates_database
from compiler.deploy_bootstrap import BOOTSTRAP_TEMPLATE, BUCKET_OUTPUT
from compiler.spec import InfraSpec

# Above this many bytes CloudFormation refuses `TemplateBody`; the template must come from S3.
TEMPLATE_BODY_LIMIT = 51_200

# Global stack outputs that the deploy itself consumes (besides parameters of the same name).
EXECUTION_ROLE_OUTPUT = "ExecutionRoleArn"
STACK_SET_ADMINISTRATION_ROLE_OUTPUT = "StackSetAdministrationRoleArn"
STACK_SET_EXECUTION_ROLE_OUTPUT = "StackSetExecutionRoleName"

BUCKET_VARIABLE = "DEPLOY_BUCKET"

# Resources whose replacement or deletion loses data or identity (a database, buckets, keys,
# the network, the zone the registrar delegates to): deploy.sh's stack policy denies an
# update that would replace or delete them, and `infra diff --fail-on-replace` flags them.
STATEFUL_TYPES = (
    "AWS::RDS::DBInstance",
    "AWS::S3::Bucket",
    "AWS::KMS::Key",
    "AWS::EC2::VPC",
    "AWS::Route53::HostedZone",
)

# IAM types and the property that gives them a custom name, which needs CAPABILITY_NAMED_IAM.
_IAM_NAME_PROPERTIES = {
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
}


# The three kinds of parameter source are dataclasses, not NamedTuples like the other
# records here: a source's kind is part of its identity, and two tuples of different
# kinds with equal fields would compare equal.
@dataclass(frozen=True)
class StackOutput:
    """The value of another stack's output, read with `describe-stacks` at deploy time."""

    stack_name: str
    region: str
    output: str

    def to_manifest(self) -> dict[str, str]:
        return {
            "from": "stack_output",
            "stack": self.stack_name,
            "region": self.region,
            "output": self.output,
        }


@dataclass(frozen=True)
class TemplateDefault:
    """The parameter's `Default` in the template, passed as it is. Left out,
    `aws cloudformation deploy` would keep an existing stack's previous value
    (UsePreviousValue), so a default the spec changed (a new `compute.image_parameter`,
    `dns.hosted_zone_id`) would never reach a deployed stack, while a `deploy.sh plan`
    change set, which takes the template's default, would show it."""

    value: str

    def to_manifest(self) -> dict[str, str]:
        return {"from": "template_default", "value": self.value}


@dataclass(frozen=True)
class EnvironmentVariable:
    """Whatever the operator sets in this environment variable when running deploy.sh."""

    name: str

    def to_manifest(self) -> dict[str, str]:
        return {"from": "environment", "variable": self.name}


@dataclass(frozen=True)
class ReplicationSwitch:
    """The writer region's bucket-replication switch: deploy.sh sets it per pass (see
    BucketReplicationPass and the manifest's `bucket_replication`)."""

    def to_manifest(self) -> dict[str, str]:
        return {"from": "bucket_replication"}


@dataclass(frozen=True)
class StackInstanceOutput:
    """The value of an output of the StackSet's stack instance in `region`, read once that
    instance exists (its stack name is CloudFormation's, so it is found by region)."""

    region: str
    output: str

    def to_manifest(self) -> dict[str, str]:
        return {"from": "stack_instance_output", "region": self.region, "output": self.output}


@dataclass(frozen=True)
class RegionalOutput:
    """An output of `region`'s regional stack, whichever way the regions were deployed:
    the stack `stack_name` (deploy.sh stacks), or the StackSet `stack_set_name`'s instance
    there, found through `admin_region` (deploy.sh stackset)."""

    region: str
    output: str
    stack_name: str
    stack_set_name: str
    admin_region: str

    def to_manifest(self) -> dict[str, str]:
        return {
            "from": "regional_output",
            "region": self.region,
            "output": self.output,
            "stack": self.stack_name,
            "stack_set": self.stack_set_name,
        }


@dataclass(frozen=True)
class GivenValue:
    """A value the compiler knows and deploy.sh passes as it is."""

    value: str

    def to_manifest(self) -> dict[str, str]:
        return {"from": "value", "value": self.value}


Source = StackOutput | TemplateDefault | EnvironmentVariable


class PlannedParameter(NamedTuple):
    name: str
    source: (
        StackOutput
        | TemplateDefault
        | ReplicationSwitch
        | StackInstanceOutput
        | GivenValue
        | RegionalOutput
    )


class StackSetRoles(NamedTuple):
    """Roles of a self-managed StackSet; None: CloudFormation's defaults
    (AWSCloudFormationStackSetAdministrationRole / AWSCloudFormationStackSetExecutionRole)."""

    administration_role_arn: StackOutput | None
    execution_role_name: StackOutput | None


class StackSetDeployment(NamedTuple):
    """How the StackSet is deployed (spec `stackset`): where its instances go and how each
    operation rolls out. Self-managed: the caller's account; service-managed: every account
    of `organizational_unit_ids`, administered as `call_as`."""

    service_managed: bool
    organizational_unit_ids: tuple[str, ...]
    call_as: str
    auto_deployment: tuple[bool, bool] | None  # (enabled, retain on removal); service-managed
    region_concurrency: str
    max_concurrent: tuple[str, int]  # (MaxConcurrentCount|MaxConcurrentPercentage, value)
    failure_tolerance: tuple[str, int]  # (FailureToleranceCount|...Percentage, value)
    concurrency_mode: str

    def to_manifest(self) -> dict:
        fields: dict = {
            "permission_model": "SERVICE_MANAGED" if self.service_managed else "SELF_MANAGED",
            "operation_preferences": {
                "RegionConcurrencyType": self.region_concurrency,
                self.max_concurrent[0]: self.max_concurrent[1],
                self.failure_tolerance[0]: self.failure_tolerance[1],
                "ConcurrencyMode": self.concurrency_mode,
            },
        }
        if self.service_managed:
            enabled, retain = self.auto_deployment or (True, False)
            fields["organizational_unit_ids"] = list(self.organizational_unit_ids)
            fields["call_as"] = self.call_as
            fields["auto_deployment"] = {
                "Enabled": enabled,
                "RetainStacksOnAccountRemoval": retain,
            }
        return fields


def stack_set_deployment(spec: InfraSpec) -> StackSetDeployment:
    stackset = spec.stackset
    preferences = stackset.operation_preferences
    auto = stackset.effective_auto_deployment
    return StackSetDeployment(
        service_managed=stackset.service_managed,
        organizational_unit_ids=tuple(stackset.organizational_unit_ids),
        call_as=stackset.call_as,
        auto_deployment=(auto.enabled, auto.retain_stacks_on_account_removal)
        if stackset.service_managed
        else None,
        region_concurrency=preferences.region_concurrency,
        max_concurrent=preferences.max_concurrent,
        failure_tolerance=preferences.failure_tolerance,
        concurrency_mode=preferences.concurrency_mode,
    )


class StackNeeds(NamedTuple):
    """What a first create of a regional stack takes from the region's quotas, counted in
    its template: deploy.sh's preflight compares it with what the region has left."""

    elastic_ips: int
    nat_gateways: int  # at most one per AZ: the busiest AZ needs one more
    vpcs: int
    reserved_concurrency: int  # Lambda concurrency its functions reserve

    def to_manifest(self) -> dict[str, int]:
        return self._asdict()


def stack_needs(template: Template) -> StackNeeds:
    resources = list(template.resources.values())

    def count(resource_type: str) -> int:
        return sum(1 for r in resources if r.resource_type == resource_type)

    reserved = [
        r.properties.get("ReservedConcurrentExecutions")
        for r in resources
        if r.resource_type == "AWS::Lambda::Function"
    ]
    return StackNeeds(
        elastic_ips=count("AWS::EC2::EIP"),
        nat_gateways=count("AWS::EC2::NatGateway"),
        vpcs=count("AWS::EC2::VPC"),
        # Only literal reservations are known before deploying; the builders write literals.
        reserved_concurrency=sum(value for value in reserved if isinstance(value, int)),
    )


class PlannedStack(NamedTuple):
    """One entry of the deploy order."""

    kind: str  # "global" | "region" | "stackset" | "health-alarms"
    stack_name: str
    region: str  # where it is deployed (for the StackSet: where it is administered)
    template: str  # path relative to the output directory
    template_bytes: int
    sha256: str
    parameters: tuple[PlannedParameter, ...]
    capabilities: tuple[str, ...]
    # The role CloudFormation acts as for this stack; None: the caller's own credentials.
    role_arn: StackOutput | None
    # Where the template is uploaded, first one set wins; empty: sent inline (TemplateBody).
    template_bucket: tuple[Source, ...]
    # StackSet only: one stack instance per region (and account), in deploy order
    instance_regions: tuple[str, ...] = ()
    stack_set_roles: StackSetRoles | None = None  # StackSet only
    needs: StackNeeds | None = None  # regional stacks and StackSet instances
    deployment: StackSetDeployment | None = None  # StackSet only

    @property
    def passed_parameters(self) -> tuple[PlannedParameter, ...]:
        """The parameters deploy.sh passes: every one but the bucket-replication switch
        and a StackSet instance's output (passed their own way)."""
        return tuple(
            p
            for p in self.parameters
            if isinstance(p.source, (StackOutput, GivenValue, RegionalOutput, TemplateDefault))
        )


class BucketReplicationPass(NamedTuple):
    """The writer region's stack turns bucket replication on with `parameter` only once the
    destination buckets (the other regions' stacks) exist: on a first deploy it runs
    twice, first with replication off (its database must exist before the replicas),
    then again after the other regions with replication on; once all exist, once."""

    parameter: str
    stack_name: str  # the writer region's regional stack
    destinations: tuple[tuple[str, str], ...]  # (stack name, region) of the other regions

    def to_manifest(self) -> dict:
        return {
            "parameter": self.parameter,
            "stack": self.stack_name,
            "first_pass": "true if every destination stack exists, else false",
            "second_pass": "true, after the destination stacks, if the first pass was false",
            "destinations": [{"stack": s, "region": r} for s, r in self.destinations],
        }


class ReplicaPromotion(NamedTuple):
    """What `deploy.sh promote REGION` needs: the writer's identifier (replicas are found
    by their source), the regions holding a replica, and the promoted writer's settings."""

    identifier: str  # the writer's
    replica_regions: tuple[str, ...]
    backup_retention_days: int

    def to_manifest(self) -> dict:
        return {
            "writer_identifier": self.identifier,
            "replica_regions": list(self.replica_regions),
            "backup_retention_days": self.backup_retention_days,
        }


class DatabaseIdentifiers(NamedTuple):
    """The RDS identifiers the templates give the databases: the writer's (every region's
    without replicas) and the replicas'. Recorded so that a later compile knows its
    stacks already name them (compiler/data_hazards.py): older ones left replicas, and
    databases without replicas, to names CloudFormation generated."""

    writer: str
    replica: str | None

    def to_manifest(self) -> dict:
        return {"writer": self.writer, "replica": self.replica}


class DnsDelegation(NamedTuple):
    """The global stack creates the public zone and a region requests an ACM certificate
    validated by DNS in it: validation only succeeds once the registrar delegates the
    zone to the zone's name servers (`output` of the global stack), so deploy.sh checks
    that before the first regional stack instead of letting it hang."""

    zone_name: str
    stack_name: str  # the global stack
    region: str
    output: str

    def to_manifest(self) -> dict[str, str]:
        return {
            "zone": self.zone_name,
            "name_servers": StackOutput(self.stack_name, self.region, self.output).to_manifest(),
        }


class DeployPlan(NamedTuple):
    project: str  # naming.name_prefix: also the S3 key prefix of uploaded templates
    primary_region: str
    tags: tuple[tuple[str, str], ...]
    stacks: tuple[PlannedStack, ...]
    bucket_replication: BucketReplicationPass | None = None
    promotion: ReplicaPromotion | None = None
    # deploy.sh creates it (from BOOTSTRAP_TEMPLATE) in a region before the first stack there
    # that reads its bucket; it has the same name in every region.
    bootstrap_stack: str = ""
    delegation: DnsDelegation | None = None
    database_identifiers: DatabaseIdentifiers | None = None

    def by_kind(self, kind: str) -> list[PlannedStack]:
        return [stack for stack in self.stacks if stack.kind == kind]


class DeployPlanError(ValueError):
    """The assembled stacks cannot be deployed in order: a compiler bug, not a spec error."""


def bucket_variable(region: str) -> str:
    """`us-west-2` -> `DEPLOY_BUCKET_US_WEST_2`."""
    return f"{BUCKET_VARIABLE}_{region.upper().replace('-', '_')}"


def required_capabilities(template: Template) -> tuple[str, ...]:
    """CAPABILITY_NAMED_IAM if an IAM resource has a custom name (it covers CAPABILITY_IAM
    too), else CAPABILITY_IAM if there is any IAM resource, else none."""
    iam = [r for r in template.resources.values() if r.resource_type.startswith("AWS::IAM::")]
    if any(_IAM_NAME_PROPERTIES.get(r.resource_type) in r.properties for r in iam):
        return ("CAPABILITY_NAMED_IAM",)
    return ("CAPABILITY_IAM",) if iam else ()


def plan_deploy(
    spec: InfraSpec, stacks: Sequence[StackTemplate], rendered: Mapping[str, tuple[int, str]]
) -> DeployPlan:
    """The deploy order of `stacks` (as `assemble` lists them); `rendered`: each template
    path -> (size in bytes, sha256) of the file written for it."""
    globals_ = [stack for stack in stacks if stack.kind == "global"]
    if len(globals_) > 1:
        raise DeployPlanError("more than one global stack")
    if globals_ and stacks[0] is not globals_[0]:
        raise DeployPlanError("the global stack must be deployed first")
    provider = globals_[0] if globals_ else None
    outputs = set(provider.template.outputs) if provider else set()

    def global_output(name: str) -> StackOutput | None:
        if provider is None or name not in outputs:
            return None
        return StackOutput(provider.stack_name, provider.region, name)

    planned = []
    for stack in stacks:
        size, sha256 = rendered[stack.path]
        parameters = tuple(
            _plan_parameter(stack, name, parameter.properties.get("Default"), global_output, spec)
            for name, parameter in stack.template.parameters.items()
        )
        is_stack_set = stack.kind == "stackset"
        planned.append(
            PlannedStack(
                kind=stack.kind,
                stack_name=stack.stack_name,
                region=stack.region,
                template=stack.path,
                template_bytes=size,
                sha256=sha256,
                parameters=parameters,
                capabilities=required_capabilities(stack.template),
                # The global stack creates the execution role, so it runs as the caller; a
                # StackSet acts through its administration and execution roles instead.
                role_arn=global_output(EXECUTION_ROLE_OUTPUT) if stack.kind == "region" else None,
                template_bucket=_template_bucket(spec, stack, size),
                instance_regions=_instance_regions(spec) if is_stack_set else (),
                # Service-managed StackSets act through the roles Organizations' trusted
                # access makes in each account, never the global stack's.
                stack_set_roles=StackSetRoles(
                    global_output(STACK_SET_ADMINISTRATION_ROLE_OUTPUT),
                    global_output(STACK_SET_EXECUTION_ROLE_OUTPUT),
                )
                if is_stack_set and not spec.stackset.service_managed
                else None,
                needs=stack_needs(stack.template) if stack.kind in ("region", "stackset") else None,
                deployment=stack_set_deployment(spec) if is_stack_set else None,
            )
        )
    return DeployPlan(
        project=naming.name_prefix(spec),
        primary_region=spec.primary_region,
        tags=tuple(naming.standard_tags(spec).items()),
        stacks=tuple(planned),
        bucket_replication=_bucket_replication(spec, planned),
        promotion=_promotion(spec),
        bootstrap_stack=naming.bootstrap_stack_name(spec),
        delegation=_delegation(spec, stacks, provider),
        database_identifiers=DatabaseIdentifiers(
            naming.database_identifier(spec),
            naming.replica_database_identifier(spec) if replicates_database(spec) else None,
        ),
    )


def _instance_regions(spec: InfraSpec) -> tuple[str, ...]:
    """The spec's regions in the StackSet's deploy order (`region_order`, else `regions`)."""
    order = spec.stackset.operation_preferences.region_order
    return tuple(order) if order else tuple(r.name for r in spec.regions)


def _delegation(spec, stacks, provider) -> DnsDelegation | None:
    def has(stack, resource_type: str) -> bool:
        return any(r.resource_type == resource_type for r in stack.template.resources.values())

    if provider is None or NAME_SERVERS_OUTPUT not in provider.template.outputs:
        return None
    if not has(provider, "AWS::Route53::HostedZone"):
        return None
    if not any(has(s, "AWS::CertificateManager::Certificate") for s in stacks if s is not provider):
        return None
    return DnsDelegation(
        spec.dns.zone_name, provider.stack_name, provider.region, NAME_SERVERS_OUTPUT
    )


def _bucket_replication(
    spec: InfraSpec, planned: list[PlannedStack]
) -> BucketReplicationPass | None:
    regional = [stack for stack in planned if stack.kind == "region"]
    writer = [stack for stack in regional if stack.region == spec.primary_region]
    if not writer or REPLICATION_PARAMETER not in {p.name for p in writer[0].parameters}:
        return None
    others = tuple((s.stack_name, s.region) for s in regional if s is not writer[0])
    return BucketReplicationPass(REPLICATION_PARAMETER, writer[0].stack_name, others)


def _promotion(spec: InfraSpec) -> ReplicaPromotion | None:
    if not replicates_database(spec):
        return None
    return ReplicaPromotion(
        naming.database_identifier(spec),
        tuple(replica_regions(spec)),
        spec.database.backup_retention_days,
    )


def _plan_parameter(stack, name, default, global_output, spec) -> PlannedParameter:
    if name == REPLICATION_PARAMETER and stack.kind != "global":
        # The StackSet sets it for every instance; a regional stack only in the writer region.
        if stack.kind == "stackset" or stack.region == spec.primary_region:
            return PlannedParameter(name, ReplicationSwitch())
    if name == WRITER_SECRET_PARAMETER and stack.kind != "global":
        # A replica region's stack reads the writer's secret from the writer's stack, which
        # deploy.sh deploys first; the StackSet sets it for every instance (the writer's
        # ignores it) once the writer region's instance exists.
        if stack.kind == "stackset":
            return PlannedParameter(
                name, StackInstanceOutput(spec.primary_region, SECRET_ARN_OUTPUT)
            )
        if stack.region == spec.primary_region:
            return PlannedParameter(name, GivenValue(""))  # it names its own secret
        writer = naming.regional_stack_name(spec, spec.primary_region)
        return PlannedParameter(name, StackOutput(writer, spec.primary_region, SECRET_ARN_OUTPUT))
    if default is not None:
        return PlannedParameter(name, TemplateDefault(str(default)))
    if stack.kind == HEALTH_ALARMS_KIND:
        # A region's health check ID, from its stack (builders/health_alarms.py).
        region = next(r for r in health_alarm_regions(spec) if health_check_parameter(r) == name)
        return PlannedParameter(
            name,
            RegionalOutput(
                region,
                HEALTH_CHECK_OUTPUT,
                naming.regional_stack_name(spec, region),
                naming.stack_set_name(spec),
                spec.global_stack_region,
            ),
        )
    source = global_output(name) if stack.kind != "global" else None
    if source is None:
        raise DeployPlanError(
            f"parameter {name} of {stack.path} has no default and no global stack output "
            "of that name to take its value from"
        )
    return PlannedParameter(name, source)


def _template_bucket(spec, stack, size) -> tuple[Source, ...]:
    # deploy.sh uploads the StackSet template itself (`deploy` does the others), to the
    # same place: a bucket in the region the StackSet is administered from.
    if size <= TEMPLATE_BODY_LIMIT:
        return ()
    sources: list[Source] = [EnvironmentVariable(bucket_variable(stack.region))]
    if stack.region == spec.global_stack_region:  # DEPLOY_BUCKET is a bucket there
        sources.append(EnvironmentVariable(BUCKET_VARIABLE))
    sources.append(StackOutput(naming.bootstrap_stack_name(spec), stack.region, BUCKET_OUTPUT))
    return tuple(sources)


def manifest_fields(stack: PlannedStack) -> dict:
    """What `manifest.json` says about deploying `stack`, beside its file facts."""
    fields: dict = {
        "parameters": [{"name": p.name, **p.source.to_manifest()} for p in stack.parameters],
        "capabilities": list(stack.capabilities),
        "role_arn": stack.role_arn.to_manifest() if stack.role_arn else None,
        "template_bucket": [s.to_manifest() for s in stack.template_bucket] or None,
    }
    if stack.needs is not None:
        fields["quota_needs"] = stack.needs.to_manifest()
    if stack.kind == "stackset":
        roles = stack.stack_set_roles
        deployment = stack.deployment
        fields["instances"] = {
            "regions": list(stack.instance_regions),
            # the account deploy.sh runs as, or every account of the OUs
            "accounts": {"from": "organizational_units"}
            if deployment and deployment.service_managed
            else {"from": "caller_identity"},
        }
        if deployment:
            fields["deployment"] = deployment.to_manifest()
        fields["administration_role_arn"] = (
            roles.administration_role_arn.to_manifest()
            if roles and roles.administration_role_arn
            else None
        )
        fields["execution_role_name"] = (
            roles.execution_role_name.to_manifest() if roles and roles.execution_role_name else None
        )
    return fields


def bootstrap_fields(plan: DeployPlan) -> dict:
    """What `manifest.json` says about the bootstrap stack: its name and template; which
    regions get one follows from the stacks' `template_bucket`."""
    return {
        "bootstrap": {
            "stack_name": plan.bootstrap_stack,
            "template": BOOTSTRAP_TEMPLATE,
            "bucket_output": BUCKET_OUTPUT,
        }
    }


def failover_fields(plan: DeployPlan) -> dict:
    """What `manifest.json` says about bucket replication and replica promotion, if any."""
    fields: dict = {}
    if plan.bucket_replication:
        fields["bucket_replication"] = plan.bucket_replication.to_manifest()
    if plan.promotion:
        fields["database_replicas"] = plan.promotion.to_manifest()
    if plan.delegation:
        fields["dns_delegation"] = plan.delegation.to_manifest()
    if plan.database_identifiers:
        fields["database_identifiers"] = plan.database_identifiers.to_manifest()
    return fields
