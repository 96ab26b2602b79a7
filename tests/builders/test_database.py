"""RDS PostgreSQL: Multi-AZ, encrypted, TLS-only, private, password never in the template."""

from __future__ import annotations

import fnmatch
import json

import pytest

from compiler.builders.database import parameter_group_family
from compiler.diff import condition_values, resolve_conditions

from .example import get_att, make_spec, only, ref, regional_template, tier_subnets, walk


@pytest.fixture(scope="module")
def spec():
    return make_spec(database={"engine_version": "16.15", "backup_retention_days": 14})


@pytest.fixture(scope="module")
def template(spec):
    return regional_template(spec)


def as_in_region(template: dict, region: str) -> dict:
    """The template as CloudFormation sees it in `region`: region conditions resolved."""
    return resolve_conditions(template, condition_values(template, region))


@pytest.fixture(scope="module")
def database(spec, template):
    return only(as_in_region(template, spec.primary_region), "AWS::RDS::DBInstance")[1]


def test_engine_is_the_specs_postgres(database):
    assert database["Engine"] == "postgres"
    assert database["EngineVersion"] == "16.15"


def test_storage_is_encrypted_with_the_data_key(template, database):
    key, _ = only(template, "AWS::KMS::Key")
    assert database["StorageEncrypted"] is True
    assert database["KmsKeyId"] == get_att(key, "Arn")


def test_availability_and_recovery_settings_follow_the_spec(spec, database):
    assert database["MultiAZ"] is True
    assert database["BackupRetentionPeriod"] == 14
    assert database["DeletionProtection"] is True


def test_single_az_when_the_spec_says_so():
    template = regional_template(make_spec(database={"multi_az": False}))
    assert only(template, "AWS::RDS::DBInstance")[1]["MultiAZ"] is False


def test_database_is_kept_as_a_snapshot_when_deleted_or_replaced(template):
    name, _ = only(template, "AWS::RDS::DBInstance")
    assert template["Resources"][name]["DeletionPolicy"] == "Snapshot"
    assert template["Resources"][name]["UpdateReplacePolicy"] == "Snapshot"


def test_rds_manages_the_master_password_of_a_database_without_replicas():
    template = regional_template(make_spec(database={"replicas": False}))
    database = only(template, "AWS::RDS::DBInstance")[1]
    assert database["ManageMasterUserPassword"] is True
    assert database["MasterUserSecret"]["KmsKeyId"] == get_att("DataKey", "Arn")
    for node in walk(template):
        if isinstance(node, dict):
            assert "MasterUserPassword" not in node
    assert "AWS::SecretsManager::Secret" not in {r["Type"] for r in template["Resources"].values()}
    for name in template.get("Parameters", {}):
        assert "password" not in name.lower()


def test_a_writer_with_replicas_takes_its_password_from_a_secret_of_the_stack(
    spec, template, database
):
    """RDS creates no read replica of an instance whose master password it manages in
    Secrets Manager (a documented limitation, every engine but SQL Server), so the writer
    of a spec with replicas gets a generated password through a dynamic reference."""
    assert "ManageMasterUserPassword" not in database and "MasterUserSecret" not in database
    assert database["MasterUserPassword"] == {
        "Fn::Sub": "{{resolve:secretsmanager:${DatabaseMasterSecret}:SecretString:password}}"
    }
    secret = template["Resources"]["DatabaseMasterSecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert secret["Condition"] == "IsWriterRegion"  # the writer region's alone
    # Outlives the stack's use of it, like the database it opens (snapshot, protection).
    # Kept when the stack goes, but not left behind by a failed first create.
    assert (secret["DeletionPolicy"], secret["UpdateReplacePolicy"]) == (
        "RetainExceptOnCreate",
        "Retain",
    )
    properties = secret["Properties"]
    assert properties["KmsKeyId"] == get_att("DataKey", "Arn")
    generated = properties["GenerateSecretString"]
    assert json.loads(generated["SecretStringTemplate"]) == {
        "username": spec.database.master_username
    }
    assert generated["GenerateStringKey"] == "password"
    # Characters RDS refuses in a master password ('/', '"', '@', space) never appear.
    assert generated["ExcludePunctuation"] is True and generated["PasswordLength"] >= 16
    for name in template.get("Parameters", {}):
        assert "password" not in name.lower()


def test_database_is_private(template, database):
    assert database["PubliclyAccessible"] is False
    assert database["VPCSecurityGroups"] == [get_att("DatabaseSecurityGroup", "GroupId")]


def test_subnet_group_is_the_database_subnets(template, database):
    name, group = only(template, "AWS::RDS::DBSubnetGroup")
    assert database["DBSubnetGroupName"] == ref(name)
    assert group["SubnetIds"] == [ref(s) for s in tier_subnets(template, "Database")]


def test_parameter_group_forces_tls_with_the_major_version_family(template, database):
    name, group = only(template, "AWS::RDS::DBParameterGroup")
    assert database["DBParameterGroupName"] == ref(name)
    assert group["Family"] == "postgres16"
    assert group["Parameters"]["rds.force_ssl"] == "1"


@pytest.mark.parametrize(
    "version, family", [("13.20", "postgres13"), ("16.15", "postgres16"), ("17.5", "postgres17")]
)
def test_parameter_group_family(version, family):
    assert parameter_group_family(version) == family


# --- the log groups of the exported logs ------------------------------------------------


def log_groups_in(template: dict, region: str) -> dict[str, dict]:
    deployed = as_in_region(template, region)["Resources"]
    return {
        name: resource
        for name, resource in deployed.items()
        if resource["Type"] == "AWS::Logs::LogGroup"
        and resource["Properties"]["LogGroupName"].startswith("/aws/rds/instance/")
    }


@pytest.mark.parametrize("role", ["writer", "replica"])
def test_each_exported_log_has_its_group_made_before_the_database(spec, template, role):
    """RDS writes `/aws/rds/instance/<identifier>/<log type>` and makes the group itself
    (no retention, key or tags) when it is missing: the stack makes it first."""
    region = spec.regions[0 if role == "writer" else 1].name
    regional = regional_template(spec, region)
    deployed = as_in_region(regional, region)["Resources"]
    database = deployed["Database"]
    identifier = database["Properties"]["DBInstanceIdentifier"]
    groups = log_groups_in(regional, region)
    exported = database["Properties"]["EnableCloudwatchLogsExports"]
    assert exported == ["postgresql", "upgrade"]
    assert sorted(g["Properties"]["LogGroupName"] for g in groups.values()) == [
        f"/aws/rds/instance/{identifier}/{log_type}" for log_type in exported
    ]
    assert sorted(database["DependsOn"]) == sorted(groups)


def test_the_database_log_groups_are_kept_a_year_encrypted_tagged_and_retained(template):
    key, _ = only(template, "AWS::KMS::Key")
    for resource in log_groups_in(template, "us-east-1").values():
        properties = resource["Properties"]
        assert properties["RetentionInDays"] == 365
        assert properties["KmsKeyId"] == get_att(key, "Arn")
        assert {"Key": "infra:project", "Value": "storefront-production"} in properties["Tags"]
        assert resource["DeletionPolicy"] == "RetainExceptOnCreate"
        assert resource["UpdateReplacePolicy"] == "Retain"


def test_the_database_log_retention_follows_the_spec():
    spec = make_spec(database={"log_retention_days": 731, "replicas": False})
    template = regional_template(spec)
    groups = log_groups_in(template, spec.primary_region)
    assert {g["Properties"]["RetentionInDays"] for g in groups.values()} == {731}
    assert {g["Properties"]["LogGroupName"] for g in groups.values()} == {
        "/aws/rds/instance/storefront-production-db/postgresql",
        "/aws/rds/instance/storefront-production-db/upgrade",
    }


def test_the_data_key_lets_cloudwatch_logs_encrypt_the_database_log_groups(template):
    """The key policy's encryption-context condition must match the groups' ARNs."""
    _, key = only(template, "AWS::KMS::Key")
    (statement,) = [
        s for s in key["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}}
    ]  # fmt: skip
    pattern = statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]["Fn::Sub"]
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/rds/instance/x-db/postgresql"
    assert fnmatch.fnmatchcase(
        arn,
        pattern.replace("${AWS::Partition}", "aws")
        .replace("${AWS::Region}", "us-east-1")
        .replace("${AWS::AccountId}", "123456789012"),
    )
