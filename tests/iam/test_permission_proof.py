"""The permission proof: the deploy roles allow every call CloudFormation's handlers make
for the resources of every compiled spec, and no write to another project's resources.

Specs: the root infra.yaml, every example, and generated ones that turn on what the
examples leave off (a Chatbot channel; the longest project and environment names the spec
allows, with three latency-routed regions), so that StackSet instance stack names are as
long as they get. How the proof works and what it cannot see: tests/iam/proof.py.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path

import pytest
import yaml

from compiler import naming
from compiler.spec.regions import commercial_regions
from tests.builders.example import copy_example
from tests.fixtures.examples import examples
from tests.iam import proof, waivers
from tests.iam.deployment import NAMES
from tests.iam.handlers import SCHEMAS, provider_index

ROOT_SPEC = Path(__file__).resolve().parents[2] / "infra.yaml"


def _variant(name: str, change) -> tuple[str, str]:
    data = yaml.safe_load(ROOT_SPEC.read_text(encoding="utf-8"))
    change(data)
    return name, yaml.safe_dump(data, sort_keys=False)


def _chatbot(data: dict) -> None:
    data["notifications"]["slack"] = {"workspace_id": "T0123ABCD", "channel_id": "C0123ABCD"}


def _longest_names(data: dict) -> None:
    # The global logs bucket `<project>-<environment>-global-logs-<account>-<region>` must
    # fit S3's 63 characters: that bounds the two names together.
    data["project"], data["environment"] = "storefront-web", "production"
    data["dns"]["routing"] = "latency"
    data["regions"] = [
        {"name": "us-east-1", "cidr": "10.10.0.0/16"},
        {"name": "eu-west-1", "cidr": "10.20.0.0/16"},
        {"name": "ap-southeast-2", "cidr": "10.30.0.0/16"},
    ]
    data["load_balancer"].pop("certificate_arns", None)
    data["notifications"]["slack"] = {"webhook_secret": "storefront/slack-webhook"}
    data["audit"]["trail"] = False


GENERATED = [_variant("chatbot", _chatbot), _variant("longest-names", _longest_names)]
SPECS = [e.name for e in examples()] + [name for name, _ in GENERATED]


@cache
def spec_path(name: str, directory: str) -> Path:
    for example in examples():
        if example.name == name:
            return example.spec
    text = dict(GENERATED)[name]
    return copy_example(Path(directory) / name, text)


@pytest.fixture(scope="session")
def spec_dir(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("proof-specs"))


@cache
def proven(name: str, directory: str):
    spec, stacks = proof.compiled(spec_path(name, directory))
    return spec, stacks, proof.deploys(spec, stacks)


@cache
def results(name: str, directory: str):
    return [proof.prove(deploy) for deploy in proven(name, directory)[2]]


@pytest.mark.parametrize("name", SPECS)
def test_deploy_roles_allow_every_handler_call(name, spec_dir):
    findings = [f for found, _ in results(name, spec_dir) for f in found]
    shown = "\n".join(str(f) for f in findings[:40])
    assert not findings, f"{len(findings)} handler calls the deploy roles do not allow:\n{shown}"


@pytest.mark.parametrize("name", SPECS)
def test_no_write_to_another_projects_resources(name, spec_dir):
    spec, _, deploys = proven(name, spec_dir)
    writable = [line for deploy in deploys for line in proof.writable_foreign(deploy, spec)]
    assert not writable, "\n".join(writable[:40])


def test_every_waiver_is_needed(spec_dir):
    used = set()
    for name in SPECS:
        for _, waived in results(name, spec_dir):
            used |= waived
    assert waivers.every_waiver() - used == set(), "waivers no compiled spec needs"


def test_the_proof_covers_stack_set_instances_with_their_real_stack_name(spec_dir):
    spec, _, deploys = proven("longest-names", spec_dir)
    instance = [d for d in deploys if d.path.startswith("StackSet instance")]
    assert len(instance) == len(spec.regions)
    # StackSet-<stack set>-<36-character UUID>: longer than any IAM role name may be.
    assert all(len(d.stack.stack_name) > 64 + 12 for d in instance)
    assert all(len(d.stack.stack_name) == len(naming.stack_set_instance_name_prefix(spec)) + 36
               for d in instance)  # fmt: skip


@pytest.mark.parametrize("name", SPECS)
def test_names_fit_and_are_scoped_by_what_they_really_are(name, spec_dir):
    """Roles and profiles sit under the project's path; names the policies scope by
    (rules, queues, documents) are set by the template and fit the service's limit."""
    spec, _, deploys = proven(name, spec_dir)
    for deploy in deploys:
        for resource in deploy.stack.resources.values():
            props = resource.properties
            if resource.type in ("AWS::IAM::Role", "AWS::IAM::InstanceProfile"):
                assert props.get("Path") == naming.iam_path(spec), resource.logical_id
                assert len(naming.iam_path(spec)) <= 512  # IAM's path limit
            if resource.type in ("AWS::Events::Rule", "AWS::SQS::Queue", "AWS::SSM::Document"):
                prop, limit, _ = NAMES[resource.type]
                assert prop in props, f"{resource.logical_id}: {prop} is generated"
                assert resource.name.startswith(naming.name_prefix(spec) + "-")
                assert len(resource.name) <= limit, resource.logical_id


def _without_action(template: dict, action: str) -> dict:
    changed = copy.deepcopy(template)
    removed = 0
    for resource in changed["Resources"].values():
        if resource["Type"] == "AWS::IAM::ManagedPolicy":
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                actions = statement.get("Action", [])
                if action in actions:
                    actions.remove(action)
                    removed += 1
    assert removed, f"{action} is in no execution policy"
    return changed


@pytest.mark.parametrize("action", ["autoscaling:EnableMetricsCollection", "ec2:CreateVpc"])
def test_a_seeded_regression_is_caught(action, spec_dir):
    """Remove one action from the deploy roles' policies: the proof names the resource,
    the handler and the action, for the regional stacks and the StackSet instances."""
    spec, stacks, _ = proven("root", spec_dir)
    global_template = next(s for s in stacks if s.kind == "global").template.to_dict()
    changed = _without_action(global_template, action)
    findings = [f for d in proof.deploys(spec, stacks, changed) for f in proof.prove(d)[0]]
    assert findings
    assert {f.call.action for f in findings} == {action}
    text = str(findings[0])
    assert action in text and "create handler" in text
    kinds = {f.path.split()[0] for f in findings}
    assert kinds == {"regional", "StackSet"}
    logical_ids = {f.call.resource.logical_id for f in findings}
    assert logical_ids == ({"AutoScalingGroup"} if action.startswith("autoscaling") else {"Vpc"})


def test_another_projects_resource_is_writable_without_the_tag_conditions(spec_dir):
    """The negative check can fail: drop the tag conditions and another project's VPC is
    writable again."""
    spec, stacks, _ = proven("root", spec_dir)
    global_template = next(s for s in stacks if s.kind == "global").template.to_dict()
    changed = copy.deepcopy(global_template)
    for resource in changed["Resources"].values():
        if resource["Type"] == "AWS::IAM::ManagedPolicy":
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                for operator in statement.get("Condition", {}).values():
                    for key in [k for k in operator if "Tag/" in k]:
                        del operator[key]
    deploy = proof.deploys(spec, stacks, changed)[0]
    writable = proof.writable_foreign(deploy, spec)
    assert any("ec2:DeleteVpc" in line for line in writable)
    assert any("kms:ScheduleKeyDeletion" in line for line in writable)
    assert any("rds:DeleteDBInstance" in line for line in writable)


def test_regions_of_generated_specs_exist():
    data = yaml.safe_load(dict(GENERATED)["longest-names"])
    assert {r["name"] for r in data["regions"]} <= set(commercial_regions())


def test_name_limits_agree_with_cloudformations_schemas():
    """The model's name limits (role 64, path 512, rule 64...) are the schemas' where they
    state one; the others come from the services' API references."""
    stated = 0
    for resource_type, (prop, limit, _) in NAMES.items():
        schema_id = provider_index("us-east-1")[resource_type]
        schema = json.loads((SCHEMAS / "resources" / f"{schema_id}.json").read_text())
        maximum = schema["properties"].get(prop, {}).get("maxLength")
        if maximum is not None:
            assert limit == maximum, resource_type
            stated += 1
        if resource_type == "AWS::IAM::Role":
            assert schema["properties"]["Path"]["maxLength"] == 512
    assert stated >= 12


def test_a_waiver_does_not_cover_a_resource_that_takes_the_waived_path():
    """A bucket with a ReplicationConfiguration calls PutReplicationConfiguration: the
    waiver for buckets without one must not hide that call from the proof."""
    plain = waivers.waived("AWS::S3::Bucket", "s3:PutReplicationConfiguration", {})
    assert plain == ("AWS::S3::Bucket", "s3:PutReplicationConfiguration")
    replicated = {"ReplicationConfiguration": {"Role": "arn", "Rules": []}}
    assert waivers.waived("AWS::S3::Bucket", "s3:PutReplicationConfiguration", replicated) is None
