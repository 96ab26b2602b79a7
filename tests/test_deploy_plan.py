"""The deploy plan: stack order, where every parameter comes from, capabilities, roles and
template buckets; and how manifest.json says so."""

from __future__ import annotations

import hashlib
import json

import pytest
from troposphere import GetAtt, Output, Parameter, Ref, Template, iam, route53, s3

from compiler import naming
from compiler.assemble import StackTemplate, assemble
from compiler.deploy_plan import (
    TEMPLATE_BODY_LIMIT,
    DeployPlanError,
    EnvironmentVariable,
    GivenValue,
    StackInstanceOutput,
    StackNeeds,
    StackOutput,
    TemplateDefault,
    bucket_variable,
    plan_deploy,
    required_capabilities,
)
from compiler.pipeline import compile_in_memory, load_and_validate
from tests.builders.example import make_spec
from tests.conftest import EXAMPLE_SPEC


@pytest.fixture(scope="module")
def spec():
    return load_and_validate(EXAMPLE_SPEC)


@pytest.fixture(scope="module")
def assembled(spec):
    return assemble(spec)


def global_template(outputs=("HostedZoneId", "TemplateBucketName", "ExecutionRoleArn")) -> Template:
    """A small stand-in for the global stack, with the outputs the plan looks for."""
    template = Template(Description="global")
    zone = template.add_resource(route53.HostedZone("HostedZone", Name="example.com"))
    bucket = template.add_resource(s3.Bucket("TemplateBucket"))
    role = template.add_resource(
        iam.Role("ExecutionRole", RoleName="named", AssumeRolePolicyDocument={})
    )
    values = {
        "HostedZoneId": Ref(zone),
        "TemplateBucketName": Ref(bucket),
        "ExecutionRoleArn": GetAtt(role, "Arn"),
        "StackSetAdministrationRoleArn": GetAtt(role, "Arn"),
        "StackSetExecutionRoleName": Ref(role),
    }
    for name in outputs:
        template.add_output(Output(name, Value=values[name]))
    return template


def with_global(spec, assembled, template=None) -> list[StackTemplate]:
    """`assembled` with a stand-in global stack first (replacing a real one, if any)."""
    stand_in = StackTemplate(
        kind="global",
        stack_name=naming.global_stack_name(spec),
        region=spec.primary_region,
        path="global.json",
        template=template or global_template(),
    )
    return [stand_in, *(s for s in assembled if s.kind != "global")]


def sizes(stacks, big=TEMPLATE_BODY_LIMIT + 1, small=1000) -> dict[str, tuple[int, str]]:
    """Every template over the inline limit but the global one."""
    return {
        s.path: (small if s.kind == "global" else big, hashlib.sha256(s.path.encode()).hexdigest())
        for s in stacks
    }


@pytest.fixture(scope="module")
def plan(spec, assembled):
    stacks = with_global(spec, assembled)
    return plan_deploy(spec, stacks, sizes(stacks))


def by_name(plan, kind, region=None):
    return next(s for s in plan.stacks if s.kind == kind and region in (None, s.region))


def test_order_is_global_then_regions_then_the_stack_set(plan, spec):
    assert [(s.kind, s.region) for s in plan.stacks] == [
        ("global", spec.primary_region),
        *(("region", r.name) for r in spec.regions),
        ("stackset", spec.primary_region),
        ("health-alarms", "us-east-1"),  # once every region's health check exists
    ]


def test_a_parameter_without_default_is_the_global_output_of_its_name(plan, spec):
    global_name = naming.global_stack_name(spec)
    for stack in plan.by_kind("region") + plan.by_kind("stackset"):
        sources = {p.name: p.source for p in stack.parameters}
        assert sources["HostedZoneId"] == StackOutput(
            global_name, spec.primary_region, "HostedZoneId"
        )
        passed = [p.name for p in stack.passed_parameters]
        if stack.kind == "stackset":  # the writer's secret and the switch: their own way
            assert passed == ["HostedZoneId", "ImageId"]
        elif stack.region == spec.primary_region:  # its secret: empty (next test)
            assert passed == ["HostedZoneId", "ImageId", "WriterDatabaseSecretArn"]
        else:  # the replication switch too, at its default (off)
            assert passed == [
                "ReplicateBuckets", "HostedZoneId", "ImageId", "WriterDatabaseSecretArn"
            ]  # fmt: skip


def test_a_replica_region_takes_the_writers_secret_from_the_writer_regions_stack(plan, spec):
    """A read replica has no master secret of its own; the writer's ARN is known only once
    the writer's stack exists, which deploy.sh deploys before the replica regions."""
    writer = naming.regional_stack_name(spec, spec.primary_region)
    for stack in plan.by_kind("region"):
        source = {p.name: p.source for p in stack.parameters}["WriterDatabaseSecretArn"]
        if stack.region == spec.primary_region:
            assert source == GivenValue("")  # it names its own secret
        else:
            assert source == StackOutput(writer, spec.primary_region, "DatabaseSecretArn")
    (stack_set,) = plan.by_kind("stackset")
    source = {p.name: p.source for p in stack_set.parameters}["WriterDatabaseSecretArn"]
    assert source == StackInstanceOutput(spec.primary_region, "DatabaseSecretArn")
    assert source.to_manifest() == {
        "from": "stack_instance_output", "region": spec.primary_region,
        "output": "DatabaseSecretArn",
    }  # fmt: skip


def test_without_replicas_no_stack_takes_another_regions_secret():
    single = make_spec(database={"replicas": False})
    stacks = assemble(single)
    plan = plan_deploy(single, stacks, sizes(stacks))
    for stack in plan.stacks:
        assert "WriterDatabaseSecretArn" not in [p.name for p in stack.parameters], stack.path


def test_a_parameter_with_a_default_is_passed_at_that_default(spec):
    """Left out, `aws cloudformation deploy` would keep an existing stack's previous value
    (UsePreviousValue): a default the spec changed (a new image path, another hosted
    zone) would never be deployed, while a plan's change set would show it."""
    template = Template()
    template.add_parameter(Parameter("Zone", Type="String", Default="Z123"))
    template.add_resource(s3.Bucket("B"))
    stacks = [*with_global(spec, []), StackTemplate("region", "x", "us-east-1", "x.json", template)]
    plan = plan_deploy(spec, stacks, sizes(stacks, big=10))
    stack = plan.stacks[-1]
    assert [(p.name, p.source) for p in stack.parameters] == [("Zone", TemplateDefault("Z123"))]
    assert [(p.name, p.source) for p in stack.passed_parameters] == [
        ("Zone", TemplateDefault("Z123"))
    ]


def test_a_parameter_nobody_provides_is_a_plan_error(spec, assembled):
    stacks = with_global(spec, assembled, global_template(outputs=("ExecutionRoleArn",)))
    with pytest.raises(DeployPlanError, match="parameter HostedZoneId of regions/"):
        plan_deploy(spec, stacks, sizes(stacks))


def test_the_global_stack_must_come_first(spec, assembled):
    stacks = with_global(spec, assembled)
    with pytest.raises(DeployPlanError, match="first"):
        plan_deploy(spec, [*stacks[1:], stacks[0]], sizes(stacks))


def test_regional_stacks_run_as_the_execution_role_the_others_do_not(plan, spec):
    role = StackOutput(naming.global_stack_name(spec), spec.primary_region, "ExecutionRoleArn")
    assert {s.role_arn for s in plan.by_kind("region")} == {role}
    assert by_name(plan, "global").role_arn is None
    assert by_name(plan, "stackset").role_arn is None


def bootstrap_bucket(spec, region) -> StackOutput:
    return StackOutput(naming.bootstrap_stack_name(spec), region, "TemplateBucketName")


def test_small_templates_go_inline_large_ones_through_a_bucket_of_their_region(plan, spec):
    primary, other = spec.regions[0].name, spec.regions[1].name
    assert by_name(plan, "global").template_bucket == ()
    assert by_name(plan, "region", primary).template_bucket == (
        EnvironmentVariable(bucket_variable(primary)),
        EnvironmentVariable("DEPLOY_BUCKET"),
        bootstrap_bucket(spec, primary),
    )
    # Every region has a bootstrap bucket of its own: no region depends on another's.
    assert by_name(plan, "region", other).template_bucket == (
        EnvironmentVariable(bucket_variable(other)),
        bootstrap_bucket(spec, other),
    )
    assert (
        by_name(plan, "stackset").template_bucket
        == by_name(plan, "region", primary).template_bucket
    )
    assert plan.bootstrap_stack == naming.bootstrap_stack_name(spec)


def test_a_large_global_template_goes_through_the_primary_regions_bootstrap(spec, assembled):
    stacks = with_global(spec, assembled)
    plan = plan_deploy(spec, stacks, sizes(stacks, small=TEMPLATE_BODY_LIMIT + 1))
    assert by_name(plan, "global").template_bucket == (
        EnvironmentVariable(bucket_variable(spec.primary_region)),
        EnvironmentVariable("DEPLOY_BUCKET"),
        bootstrap_bucket(spec, spec.primary_region),
    )


def test_bucket_variable_names():
    assert bucket_variable("us-west-2") == "DEPLOY_BUCKET_US_WEST_2"
    assert bucket_variable("ap-southeast-1") == "DEPLOY_BUCKET_AP_SOUTHEAST_1"


def test_capabilities_follow_the_iam_resources():
    template = Template()
    assert required_capabilities(template) == ()
    template.add_resource(iam.Role("R", AssumeRolePolicyDocument={}))
    assert required_capabilities(template) == ("CAPABILITY_IAM",)
    template.add_resource(iam.ManagedPolicy("P", ManagedPolicyName="named", PolicyDocument={}))
    assert required_capabilities(template) == ("CAPABILITY_NAMED_IAM",)


def test_the_stack_set_has_an_instance_in_every_region_and_default_roles(plan, spec):
    stack_set = by_name(plan, "stackset")
    assert stack_set.instance_regions == tuple(r.name for r in spec.regions)
    assert stack_set.stack_set_roles.administration_role_arn is None
    assert stack_set.stack_set_roles.execution_role_name is None


def test_stack_set_roles_come_from_the_global_stack_when_it_outputs_them(spec, assembled):
    names = (
        "HostedZoneId",
        "TemplateBucketName",
        "ExecutionRoleArn",
        "StackSetAdministrationRoleArn",
        "StackSetExecutionRoleName",
    )
    stacks = with_global(spec, assembled, global_template(outputs=names))
    roles = by_name(plan_deploy(spec, stacks, sizes(stacks)), "stackset").stack_set_roles
    assert roles.administration_role_arn.output == "StackSetAdministrationRoleArn"
    assert roles.execution_role_name.output == "StackSetExecutionRoleName"


def test_tags_are_the_standard_tags(plan, spec):
    assert dict(plan.tags) == naming.standard_tags(spec)
    assert {"Environment", "Team", "CostCenter"} <= dict(plan.tags).keys()


# --- manifest.json of the example, as compiled ------------------------------------------


@pytest.fixture(scope="module")
def manifest():
    files = {f.path: f.content for f in compile_in_memory(EXAMPLE_SPEC).files}
    return json.loads(files["manifest.json"])


def test_manifest_lists_global_then_regions_then_the_stack_set(manifest, spec):
    assert [(e["kind"], e["region"]) for e in manifest["stacks"]] == [
        ("global", spec.primary_region),
        *(("region", r.name) for r in spec.regions),
        ("stackset", spec.primary_region),
        ("health-alarms", "us-east-1"),
    ]
    assert manifest["deploy_script"] == "deploy.sh"
    assert manifest["tags"] == naming.standard_tags(spec)


def test_manifest_says_where_each_parameter_comes_from(manifest, spec):
    global_name = naming.global_stack_name(spec)
    for entry in manifest["stacks"]:
        assert "parameters" in entry and "capabilities" in entry
        for parameter in entry["parameters"]:
            assert parameter["from"] in (
                "stack_output",
                "template_default",
                "bucket_replication",
                "stack_instance_output",
                "value",
                "regional_output",
            ), parameter
            if parameter["from"] == "regional_output":  # a region's health check
                assert entry["kind"] == "health-alarms"
                region = parameter["region"]
                assert parameter["stack"] == naming.regional_stack_name(spec, region)
                assert parameter["stack_set"] == naming.stack_set_name(spec)
                assert parameter["output"] == "HealthCheckId"
            if parameter["from"] == "stack_output":
                writer = naming.regional_stack_name(spec, spec.primary_region)
                expected = writer if parameter["name"] == "WriterDatabaseSecretArn" else global_name
                assert parameter["stack"] == expected
                assert parameter["region"] == spec.primary_region
    for entry in manifest["stacks"][1:]:
        if entry["kind"] == "health-alarms":
            continue  # no record, no zone
        zone = next(p for p in entry["parameters"] if p["name"] == "HostedZoneId")
        if spec.dns.hosted_zone_id:
            assert zone == {
                "name": "HostedZoneId",
                "from": "template_default",
                "value": spec.dns.hosted_zone_id,
            }
        else:
            assert zone == {
                "name": "HostedZoneId",
                "from": "stack_output",
                "stack": global_name,
                "region": spec.primary_region,
                "output": "HostedZoneId",
            }


def test_manifest_stack_set_entry_names_its_instances(manifest, spec):
    (stack_set,) = [entry for entry in manifest["stacks"] if entry["kind"] == "stackset"]
    assert stack_set["instances"] == {
        "regions": [r.name for r in spec.regions],
        "accounts": {"from": "caller_identity"},
    }
    assert stack_set["role_arn"] is None


def test_manifest_regional_entries_run_as_the_execution_role(manifest, spec):
    for entry in manifest["stacks"]:
        if entry["kind"] == "region":
            assert entry["role_arn"] == {
                "from": "stack_output",
                "stack": naming.global_stack_name(spec),
                "region": spec.primary_region,
                "output": "ExecutionRoleArn",
            }


# --- data in every region: bucket replication pass, replica promotion ------------------


def test_the_writer_region_replicates_its_buckets_once_the_others_exist(plan, spec):
    passes = plan.bucket_replication
    assert passes.parameter == "ReplicateBuckets"
    assert passes.stack_name == naming.regional_stack_name(spec, spec.primary_region)
    assert passes.destinations == tuple(
        (naming.regional_stack_name(spec, r.name), r.name) for r in spec.regions[1:]
    )
    # Its parameter has a default (off) in the template: deploy.sh passes it each time.
    writer = by_name(plan, "region", spec.primary_region)
    assert any(p.name == "ReplicateBuckets" for p in writer.parameters)


def test_no_replication_pass_without_anything_to_replicate(spec):
    storage = spec.storage.model_copy(
        update={
            "buckets": [b.model_copy(update={"replicate": False}) for b in spec.storage.buckets]
        }
    )
    # The database's master secret is copied on the same second pass (see database).
    secret_only = spec.model_copy(update={"storage": storage})
    stacks = with_global(secret_only, assemble(secret_only))
    assert plan_deploy(secret_only, stacks, sizes(stacks)).bucket_replication is not None
    database = spec.database.model_copy(update={"replicas": False})
    quiet = spec.model_copy(update={"storage": storage, "database": database})
    stacks = with_global(quiet, assemble(quiet))
    assert plan_deploy(quiet, stacks, sizes(stacks)).bucket_replication is None


def test_promotion_names_the_writer_and_the_replica_regions(plan, spec):
    promotion = plan.promotion
    assert promotion.identifier == naming.database_identifier(spec)
    assert promotion.replica_regions == tuple(r.name for r in spec.regions[1:])
    assert promotion.backup_retention_days == spec.database.backup_retention_days


def test_manifest_records_the_replication_pass_and_the_replicas(manifest, spec):
    replication = manifest["bucket_replication"]
    assert replication["stack"] == naming.regional_stack_name(spec, spec.primary_region)
    assert [d["region"] for d in replication["destinations"]] == [r.name for r in spec.regions[1:]]
    switches = {
        (entry["kind"], entry["region"])
        for entry in manifest["stacks"]
        for p in entry["parameters"]
        if p["from"] == "bucket_replication"
    }
    # deploy.sh sets it in the writer region's stack and on the StackSet; elsewhere: default.
    assert switches == {("region", spec.primary_region), ("stackset", spec.primary_region)}
    replicas = manifest["database_replicas"]
    assert replicas["writer_identifier"] == naming.database_identifier(spec)
    assert replicas["replica_regions"] == [r.name for r in spec.regions[1:]]


def test_manifest_names_the_bootstrap_and_each_stacks_bucket_of_its_region(manifest, spec):
    assert manifest["bootstrap"] == {
        "stack_name": naming.bootstrap_stack_name(spec),
        "template": "bootstrap.json",
        "bucket_output": "TemplateBucketName",
    }
    for entry in manifest["stacks"]:
        if entry["template_bucket"]:
            assert entry["template_bucket"][-1] == {
                "from": "stack_output",
                "stack": naming.bootstrap_stack_name(spec),
                "region": entry["region"],
                "output": "TemplateBucketName",
            }


def test_a_regional_stack_counts_what_its_first_create_takes_from_quotas(plan, assembled):
    regional = next(s for s in assembled if s.kind == "region")
    resources = regional.template.resources.values()
    nat_gateways = sum(r.resource_type == "AWS::EC2::NatGateway" for r in resources)
    assert nat_gateways > 0
    needs = by_name(plan, "region", regional.region).needs
    assert needs == StackNeeds(
        elastic_ips=nat_gateways,  # one per NAT gateway
        nat_gateways=nat_gateways,
        vpcs=1,
        reserved_concurrency=sum(
            r.properties.get("ReservedConcurrentExecutions", 0)
            for r in resources
            if r.resource_type == "AWS::Lambda::Function"
        ),
    )
    assert by_name(plan, "global").needs is None


def test_manifest_lists_the_quota_needs_of_regional_stacks(manifest, plan):
    for entry in manifest["stacks"]:
        if entry["kind"] == "region":
            needs = by_name(plan, "region", entry["region"]).needs
            assert entry["quota_needs"] == needs.to_manifest()
        if entry["kind"] == "global":
            assert "quota_needs" not in entry


def test_a_zone_made_here_and_a_requested_certificate_make_the_run_await_delegation():
    minimal = EXAMPLE_SPEC.parent / "examples" / "minimal" / "infra.yaml"
    files = {f.path: f.content for f in compile_in_memory(minimal).files}
    manifest = json.loads(files["manifest.json"])
    assert manifest["dns_delegation"] == {
        "zone": "minimal.example.org",
        "name_servers": {
            "from": "stack_output",
            "stack": "minimal-dev-global",
            "region": "us-east-1",
            "output": "NameServers",
        },
    }


def test_no_delegation_wait_when_every_region_brings_its_certificate(plan):
    assert plan.delegation is None  # the example spec gives a certificate ARN per region
