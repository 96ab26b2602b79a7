"""The lint view (`compiler/lint_view.py`): which resources it copies for each region and
which once for several, what each copy names, and that a fault in a copy shared by
several regions is reported for each of them. The example's view and the seeded-fault
equivalence proof are in tests/test_lint_once.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from compiler.lint import lint_template
from compiler.lint_view import held_in_both, is_region_lookup, lint_view
from compiler.render import to_json_bytes

EAST, WEST, NORTH = "us-east-1", "us-west-2", "eu-north-1"


def lookup(key: str) -> dict:
    return {"Fn::FindInMap": ["RegionMap", {"Ref": "AWS::Region"}, key]}


def template(rows: dict[str, dict], resources: dict[str, dict]) -> dict:
    return {"Mappings": {"RegionMap": rows}, "Resources": resources}


def database(instance_class) -> dict:
    """A database whose password names the master secret (a link to another resource
    with lookups), as the example's does."""
    return {
        "Type": "AWS::RDS::DBInstance",
        "Properties": {
            "Engine": "postgres",
            "DBInstanceClass": instance_class,
            "AllocatedStorage": "20",
            "MasterUsername": "dbadmin",
            "MasterUserPassword": {
                "Fn::Sub": "{{resolve:secretsmanager:${Secret}:SecretString:password}}"
            },
            "StorageEncrypted": True,
        },
    }


SECRET = {
    "Type": "AWS::SecretsManager::Secret",
    "Properties": {"ReplicaRegions": [{"Region": lookup("Replica")}]},
}


def by_original(view) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    found: dict[str, list] = {}
    for copy_id, (original, regions) in view.copies.items():
        found.setdefault(original, []).append((copy_id, regions))
    return found


def test_a_linked_resource_of_the_same_values_everywhere_is_copied_once_naming_the_original():
    rows = {
        EAST: {"Replica": WEST, "Class": "db.t3.medium"},
        WEST: {"Replica": EAST, "Class": "db.t3.medium"},
    }
    view = lint_view(template(rows, {"Secret": SECRET, "Database": database(lookup("Class"))}),
                     [EAST, WEST])  # fmt: skip
    copies = by_original(view)
    # The secret's replica region differs: one copy each; the database's values do not.
    assert [regions for _, regions in copies["Secret"]] == [(EAST,), (WEST,)]
    ((database_copy, regions),) = copies["Database"]
    assert regions == (EAST, WEST)
    properties = view.template["Resources"][database_copy]["Properties"]
    assert properties["DBInstanceClass"] == "db.t3.medium"
    # It names the original secret: no region's copy is more its own than another's.
    assert "${Secret}" in properties["MasterUserPassword"]["Fn::Sub"]


def test_resources_a_rule_relates_are_copied_for_each_region_naming_their_regions_copies():
    rows = {EAST: {"Cidr": "10.0.0.0/16", "Az": "a"}, WEST: {"Cidr": "10.0.0.0/16", "Az": "a"}}
    resources = {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": lookup("Cidr")}},
        "Subnet": {
            "Type": "AWS::EC2::Subnet",
            "Properties": {
                "VpcId": {"Ref": "Vpc"},
                "CidrBlock": lookup("Cidr"),
                "AvailabilityZone": lookup("Az"),
            },
        },
    }
    view = lint_view(template(rows, resources), [EAST, WEST])
    copies = by_original(view)
    # The same values in both regions, yet one copy per region: E3059 and E3060 read a
    # subnet with its VPC, and must see one region's values together.
    assert [regions for _, regions in copies["Vpc"]] == [(EAST,), (WEST,)]
    for (subnet, (region,)), (vpc, _) in zip(copies["Subnet"], copies["Vpc"], strict=True):
        assert view.template["Resources"][subnet]["Properties"]["VpcId"] == {"Ref": vpc}
        assert region in (EAST, WEST)


def test_a_resource_whose_primary_identifier_names_another_is_copied_for_each_region():
    """E3019 compares primary identifiers between resources: a name made of another
    resource's name must name what the other copies of its region name."""
    rows = {EAST: {"Cidr": "10.0.0.0/16"}, WEST: {"Cidr": "10.0.0.0/16"}}
    resources = {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": lookup("Cidr")}},
        "Subnet": {
            "Type": "AWS::EC2::Subnet",
            "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": lookup("Cidr")},
        },
        # No rule reads a VPC with a bucket; its name is made of the VPC's.
        "Bucket": {
            "Type": "AWS::S3::Bucket",
            "Properties": {
                "BucketName": {"Fn::Sub": "${Vpc}-logs"},
                "Tags": [{"Key": "cidr", "Value": lookup("Cidr")}],
            },
        },
    }
    view = lint_view(template(rows, resources), [EAST, WEST])
    copies = by_original(view)
    assert [regions for _, regions in copies["Bucket"]] == [(EAST,), (WEST,)]
    for (bucket_copy, _), (vpc_copy, _) in zip(copies["Bucket"], copies["Vpc"], strict=True):
        name = view.template["Resources"][bucket_copy]["Properties"]["BucketName"]
        assert name == {"Fn::Sub": f"${{{vpc_copy}}}-logs"}
    # Named elsewhere than in its identifier, the VPC leaves the bucket one copy.
    del resources["Bucket"]["Properties"]["BucketName"]
    resources["Bucket"]["Properties"]["Tags"].append({"Key": "vpc", "Value": {"Ref": "Vpc"}})
    shared = by_original(lint_view(template(rows, resources), [EAST, WEST]))["Bucket"]
    assert [regions for _, regions in shared] == [(EAST, WEST)]


def test_a_link_to_a_nested_stack_keeps_the_copies_per_region():
    """cfn-lint reads a nested stack's TemplateURL for the attributes a Fn::GetAtt to it
    may name: what names it must name the same region's copy."""
    rows = {EAST: {"Url": "https://a/e.json"}, WEST: {"Url": "https://a/w.json"}}
    stack = {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": lookup("Url")}}
    topic = {
        "Type": "AWS::SNS::Topic",
        "Properties": {
            "DisplayName": {"Fn::GetAtt": ["Nested", "Outputs.Name"]},
            "Tags": [{"Key": "k", "Value": lookup("Url")}],
        },
    }
    rows[WEST]["Url"] = rows[EAST]["Url"]  # the same values: shared, were it not for the link
    view = lint_view(template(rows, {"Nested": stack, "Topic": topic}), [EAST, WEST])
    assert [regions for _, regions in by_original(view)["Topic"]] == [(EAST,), (WEST,)]


def test_two_views_of_halves_of_the_regions_hold_each_shared_copy_alike():
    """The shared runs of a StackSet lint (`lint._shared_parts`) each hold some of the
    regions' copies; a copy shared by regions of both halves is in both, of the same ID
    and for all its regions, so the runs' claims validate it once."""
    rows = {region: {"Replica": EAST, "Class": "db.t3.medium"} for region in (EAST, WEST, NORTH)}
    whole = template(rows, {"Secret": SECRET, "Database": database(lookup("Class"))})
    first = lint_view(whole, [EAST, WEST, NORTH], [EAST, WEST]).copies
    second = lint_view(whole, [EAST, WEST, NORTH], [NORTH]).copies
    assert first == second == lint_view(whole, [EAST, WEST, NORTH]).copies
    assert set(first.values()) == {
        ("Secret", (EAST, WEST, NORTH)),
        ("Database", (EAST, WEST, NORTH)),
    }


def test_a_region_outside_the_mapping_has_no_copies():
    rows = {EAST: {"Replica": WEST}}
    view = lint_view(template(rows, {"Secret": SECRET}), [EAST, WEST])
    assert list(view.copies.values()) == [("Secret", (EAST,))]


def test_a_fault_in_a_shared_copy_is_reported_for_each_region_it_holds(tmp_path):
    """The database's class is invalid in two of three regions; the lookup passes plain
    cfn-lint (one row is valid). The view copies the database once for the two regions
    (and once for the third), and the fault is reported for each of the two."""
    rows = {
        EAST: {"Replica": WEST, "Class": "db.t3.gigantic"},
        WEST: {"Replica": EAST, "Class": "db.t3.medium"},
        NORTH: {"Replica": EAST, "Class": "db.t3.gigantic"},
    }
    path = tmp_path / "stackset.json"
    whole = template(rows, {"Secret": SECRET, "Database": database(lookup("Class"))})
    path.write_bytes(to_json_bytes(whole))
    copies = by_original(lint_view(whole, [EAST, WEST, NORTH]))["Database"]
    assert [regions for _, regions in copies] == [(EAST, NORTH), (WEST,)]
    findings = [f for f in lint_template(path, [EAST, WEST, NORTH]) if f.path[1] == "Database"]
    faulty = {(f.path[:4], f.region) for f in findings}
    class_path = ("Resources", "Database", "Properties", "DBInstanceClass")
    assert faulty == {(class_path, EAST), (class_path, NORTH)}
    assert all("gigantic" in f.message for f in findings)
    line = path.read_text().splitlines()[findings[0].line - 1]
    assert line == '    "Database": {'  # at the original: the copy is in no file


TAGS = [{"Key": "Team", "Value": "platform"}]


def test_a_copy_leaves_out_tags_without_lookups_where_cfn_lint_checks_tags_alone():
    rows = {EAST: {"Cidr": "10.0.0.0/16", "Team": "a"}, WEST: {"Cidr": "10.1.0.0/16", "Team": "b"}}
    resources = {
        # Tags without a lookup, of a type whose Tags cfn-lint checks on their own: left out.
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": lookup("Cidr"), "Tags": TAGS}},
        # Tags with a lookup: kept, with the region's value.
        "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {
            "BucketName": lookup("Team"), "Tags": [{"Key": "Team", "Value": lookup("Team")}]}},
        # A type not reviewed: its copies keep their Tags.
        "Stream": {"Type": "AWS::Kinesis::Stream", "Properties": {
            "Name": lookup("Team"), "ShardCount": 1, "Tags": TAGS}},
    }  # fmt: skip
    whole = template(rows, resources)
    view = lint_view(whole, [EAST, WEST])
    copies = by_original(view)
    properties = {
        (original, regions): view.template["Resources"][copy]["Properties"]
        for original, made in copies.items()
        for copy, regions in made
    }
    assert properties[("Vpc", (EAST,))] == {"CidrBlock": "10.0.0.0/16"}
    assert properties[("Bucket", (WEST,))]["Tags"] == [{"Key": "Team", "Value": "b"}]
    assert properties[("Stream", (EAST,))]["Tags"] == TAGS
    assert whole["Resources"]["Vpc"]["Properties"]["Tags"] == TAGS  # the original keeps them


def test_a_fault_in_tags_left_out_of_the_copies_is_still_found(tmp_path):
    """An invalid tag (a key in the reserved `aws:` space) on a resource whose other
    values differ by region: cfn-lint finds it on the original, without a region, as it
    would in each region's copy."""
    rows = {EAST: {"Cidr": "10.0.0.0/16"}, WEST: {"Cidr": "10.1.0.0/16"}}
    bad_tags = [{"Key": "aws:team", "Value": "platform"}]
    vpc = {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": lookup("Cidr"), "Tags": bad_tags}}
    path = tmp_path / "stackset.json"
    path.write_bytes(to_json_bytes(template(rows, {"Vpc": vpc})))
    findings = lint_template(path, [EAST, WEST])
    tag_findings = [(f.rule, f.path[:4], f.region) for f in findings if "Tags" in f.path]
    assert tag_findings == [("E3024", ("Resources", "Vpc", "Properties", "Tags"), None)]


def statement(sid: str, principal) -> dict:
    return {"Sid": sid, "Effect": "Allow", "Principal": {"AWS": principal},
            "Action": "s3:PutObject", "Resource": "arn:aws:s3:::logs/*"}  # fmt: skip


def bucket_policy(*statements) -> dict:
    return {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {
            "Bucket": "logs",
            "PolicyDocument": {"Version": "2012-10-17", "Statement": list(statements)},
        },
    }


def test_a_copy_of_a_policy_holds_only_the_statements_that_differ_by_region():
    rows = {EAST: {"Account": "127311923021"}, WEST: {"Account": "797873946194"}}
    policy = bucket_policy(
        statement("Tls", "*"),
        statement("Elb", lookup("Account")),
        statement("Logs", "*"),
    )
    view = lint_view(template(rows, {"Policy": policy}), [EAST, WEST])
    statements = ("Properties", "PolicyDocument", "Statement")
    for copy, (_original, (region,)) in view.copies.items():
        held = view.template["Resources"][copy]["Properties"]["PolicyDocument"]
        assert held["Version"] == "2012-10-17"
        assert held["Statement"] == [statement("Elb", rows[region]["Account"])]
        assert view.renumbered[copy] == {statements: (1,)}  # the original's second
    assert len(policy["Properties"]["PolicyDocument"]["Statement"]) == 3  # not changed


def test_a_copy_of_a_policy_keeps_every_statement_when_a_differing_one_changes_its_sid():
    """`Sid`s must be unique across a document's statements, which cfn-lint checks on the
    original: a `Sid` that differs by region is checked with all the others, in the copy."""
    rows = {EAST: {"Sid": "East", "Account": "127311923021"},
            WEST: {"Sid": "West", "Account": "797873946194"}}  # fmt: skip
    differing_sid = dict(statement("x", lookup("Account")), Sid=lookup("Sid"))
    view = lint_view(template(rows, {"Policy": bucket_policy(statement("Tls", "*"), differing_sid)}),
                     [EAST, WEST])  # fmt: skip
    assert not view.renumbered
    for copy in view.copies:
        assert (
            len(view.template["Resources"][copy]["Properties"]["PolicyDocument"]["Statement"]) == 2
        )


def test_a_copy_of_a_role_holds_only_the_differing_statements_of_each_inline_policy():
    rows = {EAST: {"Replica": "us-west-2"}, WEST: {"Replica": "us-east-1"}}
    replica = {"Fn::Sub": ["arn:aws:s3:::assets-${Region}/*", {"Region": lookup("Replica")}]}
    role = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                 "Action": "sts:AssumeRole"}]},
            "Policies": [{"PolicyName": "replicate", "PolicyDocument": {
                "Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::assets"},
                    {"Effect": "Allow", "Action": "s3:ReplicateObject", "Resource": replica}]}}],
        },
    }  # fmt: skip
    view = lint_view(template(rows, {"Role": role}), [EAST, WEST])
    inline = ("Properties", "Policies", 0, "PolicyDocument", "Statement")
    for copy, (_, (region,)) in view.copies.items():
        held = view.template["Resources"][copy]["Properties"]
        assert held["Policies"][0]["PolicyDocument"]["Statement"] == [{
            "Effect": "Allow", "Action": "s3:ReplicateObject",
            "Resource": {"Fn::Sub": ["arn:aws:s3:::assets-${Region}/*",
                                     {"Region": rows[region]["Replica"]}]}}]  # fmt: skip
        # The trust policy holds no lookup: the whole of it, as the original's.
        assert held["AssumeRolePolicyDocument"] == role["Properties"]["AssumeRolePolicyDocument"]
        assert view.renumbered[copy] == {inline: (1,)}


def test_a_fault_in_a_statement_of_a_shortened_policy_is_reported_where_the_original_has_it(
    tmp_path,
):
    """The load balancer's log account is not an account ID in one region: reported at the
    original's second statement, for that region only."""
    rows = {EAST: {"Account": "127311923021"}, WEST: {"Account": "not-an-account"}}
    policy = bucket_policy(statement("Tls", "*"), statement("Elb", lookup("Account")))
    path = tmp_path / "stackset.json"
    path.write_bytes(to_json_bytes(template(rows, {"Policy": policy})))
    findings = [f for f in lint_template(path, [EAST, WEST]) if "Statement" in f.path]
    assert {(f.path[:6], f.region) for f in findings} == {
        (("Resources", "Policy", "Properties", "PolicyDocument", "Statement", 1), WEST)
    }
    assert any("'not-an-account' does not match" in f.message for f in findings)


@pytest.mark.parametrize(
    "path", sorted(Path(__file__).parent.glob("fixtures/golden/*/stackset.json"))
)
def test_what_two_views_of_halves_of_the_regions_share_is_known_from_one(path):
    whole = json.loads(path.read_text(encoding="utf-8"))
    regions = list(whole["Mappings"]["RegionMap"])
    for cut in range(1, len(regions)):
        mine, others = regions[:cut], regions[cut:]
        view, other = lint_view(whole, regions, mine), lint_view(whole, regions, others)
        shared = frozenset(view.template["Resources"]) & frozenset(other.template["Resources"])
        assert held_in_both(whole, view, others) == shared
        assert held_in_both(whole, other, mine) == shared


def test_what_two_views_share_counts_a_copy_shared_by_regions_of_both_halves():
    rows = {
        EAST: {"Replica": WEST, "Class": "db.t3.medium"},
        WEST: {"Replica": EAST, "Class": "db.t3.medium"},
        NORTH: {"Replica": EAST, "Class": "db.t3.large"},
    }
    whole = template(rows, {"Secret": SECRET, "Database": database(lookup("Class"))})
    regions = [EAST, WEST, NORTH]
    view = lint_view(whole, regions, [EAST])
    shared = held_in_both(whole, view, [WEST, NORTH])
    (database_copy,) = [c for c, (o, covered) in view.copies.items() if o == "Database"]
    assert database_copy in shared  # east's and west's values make one copy
    assert not any(c in shared for c, (o, _) in view.copies.items() if o == "Secret")
    assert {"Secret", "Database"} <= shared


def test_the_view_is_deterministic():
    rows = {EAST: {"Replica": WEST, "Class": "db.t3.medium"}, WEST: {"Replica": EAST, "Class": "x"}}
    whole = template(rows, {"Secret": SECRET, "Database": database(lookup("Class"))})
    first, second = (
        lint_view(whole, [EAST, WEST]),
        lint_view(json.loads(json.dumps(whole)), [EAST, WEST]),
    )
    assert to_json_bytes(first.template) == to_json_bytes(second.template)
    assert first.copies == second.copies


def test_a_copy_names_its_regions_copy_in_each_form_of_reference():
    """`Ref`, both forms of `Fn::GetAtt` ("Vpc.CidrBlock" too, which troposphere never
    writes but a hand-edited template may) and `${Vpc}` in `Fn::Sub` name the same
    region's copy of a resource copied for each region."""
    rows = {EAST: {"Vpc": "10.0.0.0/16", "Net": "10.0.0.0/24"},
            WEST: {"Vpc": "10.1.0.0/16", "Net": "10.1.0.0/24"}}  # fmt: skip
    subnet = {
        "Type": "AWS::EC2::Subnet",
        "Properties": {
            "VpcId": {"Ref": "Vpc"},
            "CidrBlock": lookup("Net"),
            "Tags": [
                {"Key": "list", "Value": {"Fn::GetAtt": ["Vpc", "CidrBlock"]}},
                {"Key": "string", "Value": {"Fn::GetAtt": "Vpc.CidrBlock"}},
                {"Key": "sub", "Value": {"Fn::Sub": "${Vpc}/${Vpc.CidrBlock}"}},
            ],
        },
    }
    vpc = {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": lookup("Vpc")}}
    view = lint_view(template(rows, {"Vpc": vpc, "Subnet": subnet}), [EAST, WEST])
    for region, suffix in ((EAST, "LintUsEast1"), (WEST, "LintUsWest2")):
        copy = view.template["Resources"][f"Subnet{suffix}"]["Properties"]
        assert copy["VpcId"] == {"Ref": f"Vpc{suffix}"}
        assert [tag["Value"] for tag in copy["Tags"]] == [
            {"Fn::GetAtt": [f"Vpc{suffix}", "CidrBlock"]},
            {"Fn::GetAtt": f"Vpc{suffix}.CidrBlock"},
            {"Fn::Sub": f"${{Vpc{suffix}}}/${{Vpc{suffix}.CidrBlock}}"},
        ]
        assert copy["CidrBlock"] == rows[region]["Net"]


GOLDEN_STACKSETS = sorted(Path(__file__).parent.glob("fixtures/golden/*/stackset.json"))


def _lookups(node, path=()):
    if is_region_lookup(node):
        yield path
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _lookups(value, (*path, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _lookups(item, (*path, index))


@pytest.mark.parametrize("path", GOLDEN_STACKSETS, ids=lambda path: path.parent.name)
def test_outside_resources_a_lookup_is_only_a_condition_naming_a_region(path):
    """The view copies resources: a region lookup elsewhere is not checked region by
    region. The builders put them only in conditions of the form `Fn::Equals [Ref
    AWS::Region, lookup]` ("is this the writer region"), whose values are the spec's
    region names; a lookup anywhere else (an output, another condition) needs the view
    to grow first."""
    template = json.loads(path.read_text(encoding="utf-8"))
    assert GOLDEN_STACKSETS and "RegionMap" in template["Mappings"]
    for section, body in template.items():
        if section == "Resources":
            continue
        for where in _lookups(body):
            assert section == "Conditions" and len(where) == 3, (section, where)
            name, function, index = where
            equals = body[name][function]
            assert (function, index, equals[0]) == ("Fn::Equals", 1, {"Ref": "AWS::Region"})
            rows = template["Mappings"]["RegionMap"].values()
            key = equals[1]["Fn::FindInMap"][2]
            assert all(re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", row[key]) for row in rows)
