"""The writer region's buckets replicate to the same buckets in every other region,
re-encrypted with each region's key, delete markers included, through a role that may do
that and nothing more; switched on by a parameter once the destinations exist."""

from __future__ import annotations

import pytest

from compiler import naming
from compiler.builders.bucket_replication import REPLICATION_PARAMETER
from compiler.diff import condition_values, resolve_conditions

from .example import make_spec, regional_template, walk

REGIONS = [
    {"name": "us-east-1", "cidr": "10.10.0.0/16"},
    {"name": "us-west-2", "cidr": "10.20.0.0/16"},
    {"name": "eu-west-1", "cidr": "10.30.0.0/16"},
]


@pytest.fixture(scope="module")
def spec():
    return make_spec(
        regions=REGIONS,
        load_balancer={"certificate_arns": {}},
        dns={"routing": "latency"},
        storage={"buckets": [{"name": "assets"}, {"name": "scratch", "replicate": False}]},
    )


def as_deployed(template: dict, region: str, replicate: str) -> dict:
    """The template in `region` with the replication parameter set to `replicate`."""
    values = condition_values(template, region)
    writer = values["IsWriterRegion"]
    values["ReplicatesBuckets"] = writer and replicate == "true"
    resources = {
        name: resource
        for name, resource in template["Resources"].items()
        if values.get(resource.get("Condition"), True)
    }
    return resolve_conditions({**template, "Resources": resources}, values)


@pytest.fixture(scope="module")
def writer(spec):
    return as_deployed(regional_template(spec, "us-east-1"), "us-east-1", "true")


def test_one_rule_per_other_region_reencrypted_with_its_key(spec, writer):
    replication = writer["Resources"]["AssetsBucket"]["Properties"]["ReplicationConfiguration"]
    rules = replication["Rules"]
    assert [r["Priority"] for r in rules] == [1, 2]
    for rule, region in zip(rules, ["us-west-2", "eu-west-1"], strict=True):
        assert rule["Status"] == "Enabled"
        assert rule["Filter"] == {"Prefix": ""}
        assert rule["DeleteMarkerReplication"] == {"Status": "Enabled"}
        assert rule["SourceSelectionCriteria"] == {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
        destination = rule["Destination"]
        name = destination["Bucket"]["Fn::Sub"][1]["Name"]["Fn::Sub"]
        assert name[0].startswith(f"{naming.name_prefix(spec)}-assets-${{AWS::AccountId}}-")
        assert name[1] == {"Region": region}
        key = destination["EncryptionConfiguration"]["ReplicaKmsKeyID"]["Fn::Sub"]
        assert key[0].endswith(":" + naming.data_key_alias(spec)) and key[1] == {"Region": region}
    assert replication["Role"] == {"Fn::GetAtt": ["BucketReplicationRole", "Arn"]}


def test_a_bucket_with_replicate_false_stays_in_its_region(writer):
    assert "ReplicationConfiguration" not in writer["Resources"]["ScratchBucket"]["Properties"]


def test_other_regions_and_a_first_deploy_replicate_nothing(spec):
    for region in ("us-west-2", "eu-west-1"):
        template = as_deployed(regional_template(spec, region), region, "true")
        assert "BucketReplicationRole" not in template["Resources"]
        assert "ReplicationConfiguration" not in template["Resources"]["AssetsBucket"]["Properties"]
    first = as_deployed(regional_template(spec, "us-east-1"), "us-east-1", "false")
    assert "BucketReplicationRole" not in first["Resources"]
    assert "ReplicationConfiguration" not in first["Resources"]["AssetsBucket"]["Properties"]


def test_the_switch_is_off_unless_deploy_sh_turns_it_on(spec):
    parameter = regional_template(spec, "us-east-1")["Parameters"][REPLICATION_PARAMETER]
    assert parameter["Default"] == "false"
    assert parameter["AllowedValues"] == ["true", "false"]


def test_the_role_may_replicate_these_buckets_only(spec, writer):
    role = writer["Resources"]["BucketReplicationRole"]["Properties"]
    trust = role["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "s3.amazonaws.com"}]
    statements = {s["Sid"]: s for s in role["Policies"][0]["PolicyDocument"]["Statement"]}
    actions = [
        a
        for s in statements.values()
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    assert not [a for a in actions if "*" in a]
    assert set(statements["WriteReplicas"]["Action"]) == {
        "s3:ReplicateObject",
        "s3:ReplicateDelete",
        "s3:ReplicateTags",
    }
    # Only the replicated bucket, in the writer region and in each destination.
    text = str(role)
    assert "scratch" not in text
    assert len(statements["WriteReplicas"]["Resource"]) == 2
    encrypt = statements["EncryptReplicasThroughS3"]
    assert encrypt["Condition"]["ForAnyValue:StringEquals"] == {
        "kms:ResourceAliases": naming.data_key_alias(spec)
    }
    assert statements["DecryptSourceThroughS3"]["Resource"] == {"Fn::GetAtt": ["DataKey", "Arn"]}
    assert all(value != "*" for s in statements.values() for value in walk(s["Resource"]))


def test_no_replication_without_buckets_to_replicate():
    spec = make_spec(storage={"buckets": [{"name": "assets", "replicate": False}]})
    template = regional_template(spec)
    assert "BucketReplicationRole" not in template["Resources"]
    # The switch stays for the database secret's copies (test_database_replicas), unless
    # nothing replicates at all.
    alone = make_spec(
        storage={"buckets": [{"name": "assets", "replicate": False}]},
        database={"replicas": False},
    )
    assert REPLICATION_PARAMETER not in regional_template(alone).get("Parameters", {})
