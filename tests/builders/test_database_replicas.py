"""The writer database in the first region, a cross-region read replica of it elsewhere:
one resource whose region decides, checked as CloudFormation sees it in each region."""

from __future__ import annotations

import pytest

from compiler import naming
from compiler.diff import condition_values, resolve_conditions

from .example import get_att, make_spec, only, ref, regional_template, regional_templates

# CloudFormation refuses these on a replica (its schema's dependentExcluded and the
# SourceDBInstanceIdentifier notes): the replica inherits them from its source.
NOT_ON_A_REPLICA = (
    "MasterUsername",
    "MasterUserPassword",
    "ManageMasterUserPassword",
    "MasterUserSecret",
    "DBName",
    "StorageEncrypted",
    "BackupRetentionPeriod",
    "PreferredBackupWindow",
    "Engine",
    "DBSnapshotIdentifier",
)


def deployed(template: dict, region: str) -> dict:
    return resolve_conditions(template, condition_values(template, region))


def database_in(spec, region: str) -> dict:
    return only(deployed(regional_template(spec, region), region), "AWS::RDS::DBInstance")[1]


@pytest.fixture(scope="module")
def spec():
    return make_spec()


@pytest.fixture(scope="module")
def writer(spec):
    return database_in(spec, spec.regions[0].name)


@pytest.fixture(scope="module")
def replica(spec):
    return database_in(spec, spec.regions[1].name)


def test_the_writer_is_created_empty_with_a_fixed_identifier(spec, writer):
    assert writer["DBInstanceIdentifier"] == f"{spec.project}-{spec.environment}-db"
    assert writer["MasterUsername"] == spec.database.master_username
    # Not RDS-managed: RDS creates no replica of an instance whose password it manages.
    assert "ManageMasterUserPassword" not in writer
    assert "DatabaseMasterSecret" in writer["MasterUserPassword"]["Fn::Sub"]
    assert writer["StorageEncrypted"] is True
    assert writer["BackupRetentionPeriod"] == spec.database.backup_retention_days
    assert "SourceDBInstanceIdentifier" not in writer and "SourceRegion" not in writer


def test_the_identifier_fits_rds_rules(spec):
    identifier = naming.database_identifier(spec)
    assert len(identifier) <= naming.DB_INSTANCE_IDENTIFIER_MAX
    assert identifier[0].isalpha() and "--" not in identifier and not identifier.endswith("-")


def test_a_replica_names_the_writer_by_arn_in_the_writer_region(spec, replica):
    writer_region = spec.regions[0].name
    assert replica["SourceRegion"] == writer_region
    assert replica["SourceDBInstanceIdentifier"] == {
        "Fn::Sub": [
            "arn:${AWS::Partition}:rds:${Region}:${AWS::AccountId}:db:"
            + naming.database_identifier(spec),
            {"Region": writer_region},
        ]
    }


def test_a_replica_sets_nothing_cloudformation_refuses_on_one(replica):
    assert not [name for name in NOT_ON_A_REPLICA if name in replica]


def test_a_replica_has_a_fixed_name_made_from_its_writers(spec, replica):
    """Fixed, so that its log groups are made before it; made from the writer's, so that
    it changes when the source does (CloudFormation cannot replace a custom-named resource
    by one of the same name, and a replica is replaced when its source moves)."""
    identifier = replica["DBInstanceIdentifier"]
    assert identifier == naming.replica_database_identifier(spec)
    assert identifier.startswith(f"{naming.database_identifier(spec)}-")
    assert len(identifier) <= naming.DB_INSTANCE_IDENTIFIER_MAX
    assert identifier[0].isalpha() and "--" not in identifier and not identifier.endswith("-")


def promoted_spec(identifier: str, source_region: str = "us-east-1"):
    first, second = ("us-west-2", "us-east-1") if source_region == "us-east-1" else (
        "us-east-1", "us-west-2")  # fmt: skip
    return make_spec(
        regions=[
            {"name": first, "cidr": "10.20.0.0/16"},
            {"name": second, "cidr": "10.10.0.0/16"},
        ],
        database={"promoted": {"identifier": identifier, "source_region": source_region}},
        load_balancer={"certificate_arns": {}},
    )


def test_every_failover_renames_every_replica_and_keeps_the_promoted_writers_name(spec):
    """Promote us-west-2, then fail back to us-east-1: at each step the promoted writer
    keeps the name it had as a replica (no replacement), and each replica (re-created
    from a new source) gets a name no instance of its region had before."""
    names = {region.name: {database_in(spec, region.name)["DBInstanceIdentifier"]}
             for region in spec.regions}  # fmt: skip
    current = spec
    for promoted_region, old_writer in (("us-west-2", "us-east-1"), ("us-east-1", "us-west-2")):
        promoted_name = database_in(current, promoted_region)["DBInstanceIdentifier"]
        current = promoted_spec(promoted_name, source_region=old_writer)
        assert database_in(current, promoted_region)["DBInstanceIdentifier"] == promoted_name
        replica_name = database_in(current, old_writer)["DBInstanceIdentifier"]
        assert replica_name not in names[old_writer]
        names[old_writer].add(replica_name)


def test_a_replica_has_its_regions_key_subnets_and_parameters(spec, replica):
    assert replica["KmsKeyId"] == get_att("DataKey", "Arn")  # its own region's key
    assert replica["DBSubnetGroupName"] == ref("DatabaseSubnetGroup")
    assert replica["DBParameterGroupName"] == ref("DatabaseParameterGroup")
    assert replica["MultiAZ"] is spec.database.multi_az
    assert replica["DeletionProtection"] is True
    assert replica["PubliclyAccessible"] is False


def test_multi_az_follows_the_spec_on_replicas_too():
    spec = make_spec(database={"multi_az": False})
    assert database_in(spec, spec.regions[1].name)["MultiAZ"] is False


def test_every_template_of_the_regional_stack_has_one_shape(spec):
    """The per-region templates and the StackSet's carry the same conditioned resource, so
    the StackSet template stays one template for every region."""
    shapes = {
        path: only(template, "AWS::RDS::DBInstance")[1]
        for path, template in regional_templates(spec).items()
    }
    writer_of = {
        path: t["Conditions"]["IsWriterRegion"] for path, t in regional_templates(spec).items()
    }
    assert all(
        condition["Fn::Equals"][0] == {"Ref": "AWS::Region"} for condition in writer_of.values()
    )
    assert len({str(sorted(shape)) for shape in shapes.values()}) == 1


def test_a_promoted_writer_keeps_its_replica_shape():
    """After a failover the writer is a promoted replica: adding the create-only writer
    properties (or another identifier) would make CloudFormation replace it with an empty
    one."""
    spec = promoted_spec("promoted-db-1")
    writer = database_in(spec, "us-west-2")
    for create_only in ("MasterUsername", "DBName", "StorageEncrypted"):
        assert create_only not in writer
    assert writer["DBInstanceIdentifier"] == "promoted-db-1"  # the one it had as a replica
    assert writer["SourceRegion"] == "us-east-1"  # as it was created: unchanged
    assert "SourceDBInstanceIdentifier" not in writer  # no longer a replica
    # Its password becomes the new writer region's secret's (promote leaves it unmanaged).
    assert "DatabaseMasterSecret" in writer["MasterUserPassword"]["Fn::Sub"]
    assert "ManageMasterUserPassword" not in writer
    assert writer["BackupRetentionPeriod"] == spec.database.backup_retention_days
    old_writer = database_in(spec, "us-east-1")  # now a replica of the promoted one
    assert old_writer["SourceRegion"] == "us-west-2"
    assert old_writer["SourceDBInstanceIdentifier"]["Fn::Sub"][0].endswith(":db:promoted-db-1")


def test_without_replicas_each_region_has_its_own_writer():
    spec = make_spec(database={"replicas": False})
    for region in spec.regions:
        template = regional_template(spec, region.name)
        database = only(template, "AWS::RDS::DBInstance")[1]
        assert database["MasterUsername"] == spec.database.master_username
        assert "SourceDBInstanceIdentifier" not in database
        # The same in every region: identifiers are unique per region.
        assert database["DBInstanceIdentifier"] == naming.database_identifier(spec)
        assert "DatabaseReplicaLagAlarm" not in template["Resources"]


def master_secret_in(spec, region: str, replicate: bool) -> dict | None:
    """The writer's master secret as deployed in `region` with the replication switch set."""
    template = regional_template(spec, region)
    values = {**condition_values(template, region)}
    values["ReplicatesBuckets"] = values["IsWriterRegion"] and replicate
    secret = resolve_conditions(template, values)["Resources"]["DatabaseMasterSecret"]
    return secret["Properties"] if values[secret["Condition"]] else None


def test_the_master_secret_is_copied_to_every_other_region_with_its_data_key():
    """A replica region's instances read their own region's copy: it answers while the
    writer region is down. Each copy is encrypted with that region's data key, named by the
    alias that region's stack creates."""
    spec = make_spec(
        regions=[
            {"name": "us-east-1", "cidr": "10.10.0.0/16"},
            {"name": "us-west-2", "cidr": "10.20.0.0/16"},
            {"name": "eu-west-1", "cidr": "10.30.0.0/16"},
        ],
        dns={"routing": "latency"},
        load_balancer={"certificate_arns": {}},
    )
    secret = master_secret_in(spec, "us-east-1", replicate=True)
    alias = naming.data_key_alias(spec)
    assert secret["ReplicaRegions"] == [
        {"Region": "us-west-2", "KmsKeyId": alias},
        {"Region": "eu-west-1", "KmsKeyId": alias},
    ]
    assert master_secret_in(spec, "us-west-2", replicate=True) is None  # the writer's only


def test_the_copies_wait_for_the_other_regions_keys():
    """On a first deploy the writer's stack runs before the other regions' (their replicas
    need its database) and their key aliases do not exist yet: no copies in that pass."""
    spec = make_spec()
    assert "ReplicaRegions" not in master_secret_in(spec, spec.primary_region, replicate=False)


def test_a_spec_without_replicated_buckets_still_has_the_switch_for_the_secret():
    """The switch deploy.sh sets on its second pass is the buckets'; without any bucket to
    replicate the database brings it, once."""
    spec = make_spec(storage={"buckets": [{"name": "assets", "replicate": False}]})
    template = regional_template(spec, spec.primary_region)
    assert "ReplicateBuckets" in template["Parameters"]
    secret = template["Resources"]["DatabaseMasterSecret"]["Properties"]
    assert secret["ReplicaRegions"]["Fn::If"][0] == "ReplicatesBuckets"
    with_buckets = regional_template(make_spec(), make_spec().primary_region)
    assert list(with_buckets["Parameters"]).count("ReplicateBuckets") == 1
