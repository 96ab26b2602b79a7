"""The database of a service-managed StackSet: the writer's master secret has a fixed
name, so that a replica region's stack, in any member account, names its copy of it
without a parameter; checked as IAM would decide the instances' requests."""

from __future__ import annotations

import re

import pytest

from compiler import naming
from compiler.context import RegionContext
from tests.iam.deployment import ACCOUNT, Deployment
from tests.iam.policy import Request, evaluate

from .example import make_spec, regional_template, regional_templates

SERVICE_MANAGED = {
    "permission_model": "service_managed",
    "organizational_unit_ids": ["ou-ab12-cd34ef56"],
}
# What Secrets Manager appends to a secret's name in its ARN (six random characters).
SUFFIX = "-AbCdEf"


@pytest.fixture(scope="module")
def spec():
    # Certificate ARNs name one account: a service-managed spec has none.
    return make_spec(stackset=SERVICE_MANAGED, load_balancer={"certificate_arns": {}})


def secret_arn(spec, region: str, name: str | None = None) -> str:
    name = name or naming.database_master_secret_name(spec)
    return f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:{name}{SUFFIX}"


def deployment(spec, region: str) -> Deployment:
    return Deployment(regional_template(spec, region), "StackSet-x-1", region)


def instance_statements(template: dict) -> list[dict]:
    policy = template["Resources"]["InstanceConfigurationPolicy"]["Properties"]
    return policy["PolicyDocument"]["Statement"]


def test_the_name_fits_secrets_manager_rules(spec):
    name = naming.database_master_secret_name(spec)
    assert name == f"{spec.project}-{spec.environment}/database/master"
    assert re.fullmatch(r"[A-Za-z0-9/_+=.@-]{1,512}", name)
    # A name ending in a hyphen and six characters reads as a full ARN's suffix.
    assert not re.fullmatch(r".*-[^-]{6}", name)


def test_the_writer_names_its_secret_and_no_stack_takes_the_writers_arn(spec):
    writer = regional_template(spec, spec.primary_region)
    secret = writer["Resources"]["DatabaseMasterSecret"]
    assert secret["Properties"]["Name"] == naming.database_master_secret_name(spec)
    for path, template in regional_templates(spec).items():
        assert "WriterDatabaseSecretArn" not in template["Parameters"], path


def test_a_self_managed_secret_stays_named_by_cloudformation():
    template = regional_template(make_spec(), make_spec().primary_region)
    assert "Name" not in template["Resources"]["DatabaseMasterSecret"]["Properties"]
    assert "WriterDatabaseSecretArn" in template["Parameters"]


def test_a_replica_region_passes_its_copy_by_partial_arn(spec):
    """GetSecretValue takes an ARN without the random suffix, and the region stays the
    ARN's fourth field (the example app asks that region)."""
    region = spec.regions[1].name
    stack = deployment(spec, region)
    parameter = stack.template["Resources"]["ConfigDatabaseSecretArn"]["Properties"]
    partial = secret_arn(spec, region).removesuffix(SUFFIX)
    assert stack.resolve(parameter["Value"]) == partial
    assert partial.split(":")[3] == region
    assert stack.resolve(stack.template["Outputs"]["DatabaseSecretArn"]["Value"]) == partial


def read(statements: list[dict], arn: str) -> bool:
    return evaluate(statements, Request("secretsmanager:GetSecretValue", arn)).allowed


def test_a_replica_region_may_read_its_copy_and_nothing_else(spec):
    region = spec.regions[1].name
    stack = deployment(spec, region)
    statements = stack.resolve(instance_statements(stack.template))
    assert read(statements, secret_arn(spec, region))
    assert not read(statements, secret_arn(spec, spec.primary_region))  # the writer region's
    assert not read(statements, secret_arn(spec, region, "other/secret"))
    # `??????` is six characters: a longer name that starts the same is another secret.
    longer = naming.database_master_secret_name(spec) + "-old"
    assert not read(statements, secret_arn(spec, region, longer))


def decrypt(statements: list[dict], key: str, region: str, context_arn: str) -> bool:
    request = Request(
        "kms:Decrypt",
        key,
        {
            "kms:ViaService": [f"secretsmanager.{region}.amazonaws.com"],
            "kms:EncryptionContext:SecretARN": [context_arn],
        },
        frozenset({"kms:ViaService", "kms:EncryptionContext:SecretARN"}),
    )
    return evaluate(statements, request).allowed


def test_a_replica_region_decrypts_only_its_secret_through_secrets_manager(spec):
    """The encryption context names the copy's ARN or its primary's (AWS does not say
    which): both, matched by pattern since neither suffix is known to the stack."""
    region = spec.regions[1].name
    stack = deployment(spec, region)
    statements = stack.resolve(instance_statements(stack.template))
    key = stack.resolve({"Fn::GetAtt": ["DataKey", "Arn"]})
    assert decrypt(statements, key, region, secret_arn(spec, region))
    assert decrypt(statements, key, region, secret_arn(spec, spec.primary_region))
    assert not decrypt(statements, key, region, secret_arn(spec, region, "other/secret"))
    assert not decrypt(statements, key, spec.primary_region, secret_arn(spec, region))


def test_the_writer_region_reads_its_own_secret_exactly(spec):
    region = spec.primary_region
    stack = deployment(spec, region)
    statements = stack.resolve(instance_statements(stack.template))
    own = stack.resolve({"Ref": "DatabaseMasterSecret"})
    assert own.startswith(f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:")
    assert read(statements, own)
    assert not read(statements, secret_arn(spec, region, "other/secret"))
    key = stack.resolve({"Fn::GetAtt": ["DataKey", "Arn"]})
    assert decrypt(statements, key, region, own)
    assert not decrypt(statements, key, region, secret_arn(spec, region, "other/secret"))


def test_the_replica_names_its_source_in_the_account_it_runs_in(spec):
    """No account ID in the template: each member account's replica follows its own
    account's writer."""
    ctx = RegionContext.mapped(spec)
    stackset = next(t for p, t in regional_templates(spec).items() if p == "stackset.json")
    source = stackset["Resources"]["Database"]["Properties"]["SourceDBInstanceIdentifier"]
    arn = source["Fn::If"][2]["Fn::Sub"][0]
    assert arn == (
        "arn:${AWS::Partition}:rds:${Region}:${AWS::AccountId}:db:"
        + naming.database_identifier(spec)
    )
    assert ctx.mode == "mapped"
    region = spec.regions[1].name
    resolved = Deployment(stackset, "StackSet-x-1", region).resolve(source)
    assert resolved == f"arn:aws:rds:{spec.primary_region}:{ACCOUNT}:db:shop-prod-db".replace(
        "shop-prod", naming.name_prefix(spec)
    )
