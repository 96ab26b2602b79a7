"""The instances' runtime configuration: SSM parameters under /<project>/<environment>/,
readable by the instance role alone, with the database secret and nothing more."""

from __future__ import annotations

import pytest
from troposphere import GetAtt, Ref

from compiler.builders.app_config import build_app_config
from compiler.builders.handles import BucketRef, ComputeHandle, DatabaseHandle, StorageHandle
from compiler.conditions import condition_values, resolve_conditions
from compiler.context import RegionContext

from .example import (
    as_list,
    get_att,
    make_spec,
    policy_documents,
    ref,
    regional_template,
    regional_templates,
    resources,
)

PATH = "/storefront/production/"


@pytest.fixture(scope="module")
def spec():
    return make_spec(storage={"buckets": [{"name": "assets"}, {"name": "uploads"}]})


def deployed(spec, region: str) -> dict:
    """The region's template as CloudFormation deploys it there: its conditions decided."""
    template = regional_template(spec, region)
    return resolve_conditions(template, condition_values(template, region))


@pytest.fixture(scope="module")
def template(spec):
    """The writer region's (the first)."""
    return deployed(spec, spec.primary_region)


@pytest.fixture(scope="module")
def replica_template(spec):
    """A region whose database is a read replica of the writer region's."""
    return deployed(spec, spec.regions[1].name)


def parameters(template: dict) -> dict[str, dict]:
    """Parameter name -> properties, for the configuration parameters (the CloudWatch
    agent's configuration, another builder's, lives under the same path)."""
    found = {}
    for logical_id, resource in resources(template, "AWS::SSM::Parameter").items():
        properties = resource["Properties"]
        assert properties["Name"].startswith(PATH)
        if logical_id.startswith("Config"):
            found[properties["Name"]] = properties
    return found


def test_every_setting_is_a_plain_string_parameter_under_the_path(template):
    found = parameters(template)
    assert set(found) == {
        f"{PATH}{name}"
        for name in (
            "region", "app/port", "database/host", "database/port", "database/name",
            "database/secret-arn", "database/role", "buckets/assets", "buckets/uploads",
        )
    }  # fmt: skip
    for properties in found.values():
        assert properties["Type"] == "String"
        assert properties["Description"]


def test_parameters_name_where_things_are_never_a_secret(template):
    found = parameters(template)
    value = {name.removeprefix(PATH): p["Value"] for name, p in found.items()}
    assert value["database/host"] == get_att("Database", "Endpoint.Address")
    assert value["database/port"] == get_att("Database", "Endpoint.Port")
    assert value["database/secret-arn"] == ref("DatabaseMasterSecret")
    assert value["database/name"] == "app"
    assert value["database/role"] == "writer"
    assert value["region"] == ref("AWS::Region")
    assert value["app/port"] == "80"
    assert value["buckets/uploads"] == ref("UploadsBucket")


def test_the_path_follows_project_and_environment():
    spec = make_spec(project="shop", environment="staging")
    names = set(parameters_of(regional_template(spec), "/shop/staging/"))
    assert "/shop/staging/database/host" in names


def parameters_of(template: dict, path: str) -> list[str]:
    return [
        r["Properties"]["Name"]
        for r in resources(template, "AWS::SSM::Parameter").values()
        if r["Properties"]["Name"].startswith(path)
    ]


def instance_statements(template: dict) -> dict[str, dict]:
    policy = template["Resources"]["InstanceConfigurationPolicy"]["Properties"]
    assert policy["Roles"] == [ref("InstanceRole")]
    return {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}


def test_instance_role_reads_exactly_its_path(template):
    read = instance_statements(template)["ReadOwnConfiguration"]
    assert read["Action"] == ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"]
    prefix = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter"
    assert [r["Fn::Sub"] for r in read["Resource"]] == [
        f"{prefix}/storefront/production",
        f"{prefix}/storefront/production/*",
    ]


def test_instance_role_reads_only_the_database_secret_and_decrypts_only_through_it(template):
    statements = instance_statements(template)
    secret = ref("DatabaseMasterSecret")  # the writer's: not RDS-managed (see database)
    read = statements["ReadTheDatabaseSecret"]
    assert (read["Action"], read["Resource"]) == ("secretsmanager:GetSecretValue", secret)
    decrypt = statements["DecryptTheSecretThroughSecretsManager"]
    assert (decrypt["Action"], decrypt["Resource"]) == ("kms:Decrypt", get_att("DataKey", "Arn"))
    assert decrypt["Condition"] == {
        "StringEquals": {
            "kms:ViaService": {"Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"},
            "kms:EncryptionContext:SecretARN": [secret],
        }
    }
    assert set(statements) == {
        "ReadOwnConfiguration", "ReadTheDatabaseSecret", "DecryptTheSecretThroughSecretsManager",
    }  # fmt: skip


def test_no_other_policy_of_the_template_reads_secrets(template):
    for where, document in policy_documents(template):
        if where == "InstanceConfigurationPolicy":
            continue
        for statement in as_list(document["Statement"]):
            actions = as_list(statement.get("Action", []))
            assert not any(a.startswith("secretsmanager:Get") for a in actions), where


def test_outputs_name_the_secret_and_the_port(template):
    outputs = template["Outputs"]
    assert outputs["DatabaseSecretArn"]["Value"] == ref("DatabaseMasterSecret")
    assert outputs["DatabasePort"]["Value"] == get_att("Database", "Endpoint.Port")


# What deploy.sh gives a replica region's stack: the writer stack's DatabaseSecretArn.
WRITER_SECRET_ARN = (
    "arn:aws:secretsmanager:us-east-1:111122223333:secret:DatabaseMasterSecret-a1B2c3"
)


def resolved(template: dict, region: str, value):
    """`value` as CloudFormation computes it in `region`, given the writer's secret ARN."""
    from tests.iam.deployment import Deployment

    deployment = Deployment(
        template, "stack", region, {"WriterDatabaseSecretArn": WRITER_SECRET_ARN}
    )
    return deployment.resolve(value)


def test_a_replica_region_names_its_own_copy_of_the_writers_secret(spec, replica_template):
    """A read replica has no master secret (RDS manages none for it): its credentials are
    the writer's, whose secret Secrets Manager copies to this region; the copy's ARN is
    the writer's (a parameter: only the writer's stack knows it) with this region in it."""
    region = spec.regions[1].name
    value = {
        name.removeprefix(PATH): p["Value"] for name, p in parameters(replica_template).items()
    }
    copy = WRITER_SECRET_ARN.replace(":us-east-1:", f":{region}:")
    assert resolved(replica_template, region, value["database/secret-arn"]) == copy
    output = replica_template["Outputs"]["DatabaseSecretArn"]["Value"]
    assert resolved(replica_template, region, output) == copy
    assert replica_template["Parameters"]["WriterDatabaseSecretArn"]["Type"] == "String"
    assert not any(
        "DatabaseMasterSecret" in str(node) for node in (replica_template["Outputs"], value)
    )


def test_a_replica_region_reads_and_decrypts_its_copy_in_its_own_region(spec, replica_template):
    """The copy answers while the writer region is down: nothing of the writer region's is
    named, the key is this region's (the copy is encrypted with it), and only for this
    secret (the copy's ARN or its primary's: AWS does not say which the context names)."""
    region = spec.regions[1].name
    copy = WRITER_SECRET_ARN.replace(":us-east-1:", f":{region}:")
    statements = instance_statements(replica_template)
    read = statements["ReadTheDatabaseSecret"]
    assert read["Action"] == "secretsmanager:GetSecretValue"
    assert resolved(replica_template, region, read["Resource"]) == copy
    decrypt = statements["DecryptTheSecretThroughSecretsManager"]
    assert decrypt["Resource"] == get_att("DataKey", "Arn")
    condition = resolved(replica_template, region, decrypt["Condition"])
    assert condition == {
        "StringEquals": {
            "kms:ViaService": f"secretsmanager.{region}.amazonaws.com",
            "kms:EncryptionContext:SecretARN": [copy, WRITER_SECRET_ARN],
        }
    }


def test_the_writer_region_resolves_its_unused_copy_name_without_error(spec, template):
    """deploy.sh gives the writer region an empty WriterDatabaseSecretArn: the copy's ARN
    (in the branch not taken) still computes, so no Fn::Select is out of range."""
    from troposphere import Template

    from compiler.builders.database import local_copy_arn
    from tests.iam.deployment import Deployment

    computed = Template().to_dict()  # an empty template: only the function is resolved
    value = local_copy_arn(Ref("WriterDatabaseSecretArn")).to_dict()
    empty = Deployment(computed, "stack", "us-east-1", {"WriterDatabaseSecretArn": ""})
    assert empty.resolve(value) == "arn:aws:secretsmanager:us-east-1:111122223333:secret:"


def test_without_replicas_each_region_reads_its_own_secret_through_its_own_service():
    single = make_spec(database={"replicas": False})
    for region in single.regions:
        template = deployed(single, region.name)
        assert "WriterDatabaseSecretArn" not in template.get("Parameters", {})
        read = instance_statements(template)["ReadTheDatabaseSecret"]
        assert read["Resource"] == get_att("Database", "MasterUserSecret.SecretArn")
        decrypt = instance_statements(template)["DecryptTheSecretThroughSecretsManager"]
        assert decrypt["Resource"] == get_att("DataKey", "Arn")
        assert decrypt["Condition"]["StringEquals"]["kms:ViaService"] == {
            "Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"
        }


def test_every_regional_template_configures_its_instances(spec):
    for path, template in regional_templates(spec).items():
        assert len(parameters(template)) == 9, path


def test_a_replica_region_can_say_so(spec):
    """The role comes from the database handle, so a region whose database follows
    another's (a later builder change) sets "replica" without touching this builder."""
    database = DatabaseHandle(
        Ref("Database"), GetAtt("Database", "Endpoint.Address"),
        GetAtt("Database", "Endpoint.Port"), "app", Ref("Secret"), Ref("Key"), "replica",
    )  # fmt: skip
    compute = ComputeHandle(Ref("Group"), Ref("InstanceRole"), "web")
    logs = BucketRef("logs", Ref("LogsBucket"), GetAtt("LogsBucket", "Arn"))
    storage = StorageHandle([], logs, "LogsPolicy", "patching")
    built = build_app_config(
        spec, RegionContext.literal(spec, spec.primary_region), compute, database, storage
    )
    (role,) = [r for r in built.resources if r.properties.get("Name") == f"{PATH}database/role"]
    assert role.properties["Value"] == "replica"
    assert built.handle.parameter_path == PATH
