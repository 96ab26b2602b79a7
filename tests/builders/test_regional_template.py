"""What spans builders in every template `infra compile` writes (per region and StackSet):
a description, references that resolve, only harmless pseudo-parameters, nothing open to
the internet but the load balancer, and no wildcard grants."""

from __future__ import annotations

import re

import pytest

from compiler.spec.audit import AuditSpec
from compiler.spec.network import NetworkSpec
from compiler.spec.waf import WafSpec

from .example import (
    as_list,
    every_template,
    make_spec,
    policy_documents,
    regional_templates,
    resource_policy_documents,
    resources,
    walk,
)

# Pseudo-parameters whose value a template may depend on. NotificationARNs and StackId
# are left out: nothing here needs them, and StackId would make every physical name
# differ between a stack and its replacement. AWS::NoValue drops a property in the
# regions where it does not apply (the writer's or a replica's database properties).
ALLOWED_PSEUDO = {
    "AWS::NoValue",
    "AWS::Region",
    "AWS::AccountId",
    "AWS::Partition",
    "AWS::URLSuffix",
    "AWS::StackName",
}
SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


@pytest.fixture(scope="module")
def spec():
    return make_spec()


@pytest.fixture(scope="module")
def templates(spec):
    return regional_templates(spec)


def references(template: dict):
    """(kind, name) of every Ref, GetAtt, Sub variable, DependsOn and FindInMap."""
    for node in walk(template):
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("Ref"), str):
            yield "Ref", node["Ref"]
        if "Fn::GetAtt" in node:
            yield "GetAtt", node["Fn::GetAtt"][0]
        if "Fn::FindInMap" in node:
            yield "FindInMap", node["Fn::FindInMap"][0]
        if "Fn::Sub" in node:
            text, variables = (
                (node["Fn::Sub"], {}) if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"]
            )
            for name in SUB_VARIABLE.findall(text):
                if name not in variables:
                    yield "Sub", name.split(".")[0] if not name.startswith("AWS::") else name
    for resource in template["Resources"].values():
        for name in as_list(resource.get("DependsOn", [])):
            yield "DependsOn", name


def test_compile_writes_the_regions_and_the_stackset(spec, templates):
    regional = {f"regions/{region.name}.json" for region in spec.regions}
    assert regional <= set(templates)


def test_every_template_has_a_description(spec, templates):
    for path, template in templates.items():
        description = template.get("Description", "")
        assert description.strip(), path
        assert len(description) <= 1024, f"{path}: CloudFormation allows 1024 characters"
        assert spec.project in description and spec.environment in description, path


def test_only_harmless_pseudo_parameters_are_used(templates):
    for path, template in templates.items():
        used = {name for _, name in references(template) if name.startswith("AWS::")}
        assert "AWS::Region" in used, path  # the scan does find pseudo-parameters
        assert used <= ALLOWED_PSEUDO, f"{path}: {sorted(used - ALLOWED_PSEUDO)}"


def test_every_reference_resolves(templates):
    for path, template in templates.items():
        logical = set(template["Resources"]) | set(template.get("Parameters", {}))
        for kind, name in references(template):
            if kind == "FindInMap":
                assert name in template.get("Mappings", {}), f"{path}: no mapping {name}"
            elif kind in ("GetAtt", "DependsOn"):
                assert name in template["Resources"], f"{path}: {kind} {name}"
            elif not name.startswith("AWS::"):
                assert name in logical, f"{path}: {kind} {name}"


def test_logical_ids_are_the_same_in_every_template(templates):
    # Logical IDs never name the region, so regional templates can be diffed and the
    # StackSet instance of a region holds the same resources as its regional stack.
    names = {path: set(t["Resources"]) for path, t in templates.items()}
    first = next(iter(names.values()))
    for path, found in names.items():
        assert found == first, path


def test_no_ingress_from_the_internet_but_the_load_balancer(templates):
    for path, template in templates.items():
        for name, group in resources(template, "AWS::EC2::SecurityGroup").items():
            for rule in group["Properties"].get("SecurityGroupIngress", []):
                if rule.get("CidrIp") == "0.0.0.0/0" or rule.get("CidrIpv6") == "::/0":
                    assert name == "LoadBalancerSecurityGroup", f"{path}: {name}"
                    assert (rule["FromPort"], rule["ToPort"]) in ((80, 80), (443, 443))
        for name, rule in resources(template, "AWS::EC2::SecurityGroupIngress").items():
            rule = rule["Properties"]
            assert rule.get("CidrIp") != "0.0.0.0/0", f"{path}: {name}"
            assert rule.get("CidrIpv6") != "::/0", f"{path}: {name}"


def test_no_policy_allows_every_action_on_every_resource(templates):
    for path, template in templates.items():
        documents = [*policy_documents(template), *resource_policy_documents(template)]
        assert documents
        for where, document in documents:
            for statement in as_list(document["Statement"]):
                if statement["Effect"] != "Allow":
                    continue
                actions = as_list(statement.get("Action", []))
                assert "NotAction" not in statement, f"{path} {where}"
                assert "NotResource" not in statement, f"{path} {where}"
                assert not ("*" in actions and "*" in as_list(statement.get("Resource"))), (
                    f"{path} {where}: Action * on Resource *"
                )


def test_no_iam_policy_uses_wildcard_actions(templates):
    for path, template in templates.items():
        for where, document in policy_documents(template):
            for statement in as_list(document["Statement"]):
                for action in as_list(statement.get("Action", [])):
                    assert "*" not in action, f"{path} {where}: {action}"


def test_no_resource_policy_allows_anyone(templates):
    for path, template in templates.items():
        for where, document in resource_policy_documents(template):
            for statement in as_list(document["Statement"]):
                if statement["Effect"] == "Allow":
                    assert statement.get("Principal") not in ("*", {"AWS": "*"}), (
                        f"{path} {where}: {statement.get('Sid')}"
                    )


# Log groups that are evidence (who talked to what, which requests were blocked, who called
# which API): kept a year by default and retained when the stack goes.
EVIDENCE_LOG_GROUPS = {
    "FlowLogsLogGroup",
    "WebAclLogGroup",
    "TrailLogGroup",
    "DatabasePostgresqlLogGroup",
    "DatabaseUpgradeLogGroup",
}


def test_every_log_group_has_retention_a_key_tags_and_a_deletion_policy():
    # The example has scheduled tasks; the webhook adds the Slack notifier's group.
    spec = make_spec(notifications={"slack": {"webhook_secret": "storefront/slack"}})
    found = {}
    for template in every_template(spec).values():
        found.update(resources(template, "AWS::Logs::LogGroup"))
    assert EVIDENCE_LOG_GROUPS <= set(found)
    for logical_id, group in found.items():
        properties = group["Properties"]
        assert properties["RetentionInDays"] >= 1 and "KmsKeyId" in properties, logical_id
        assert {tag["Key"] for tag in properties["Tags"]} >= {"Environment", "infra:project"}
        # Evidence is kept, except when the create that made it rolls back (a retry must
        # not meet its fixed name); other groups go with their stack.
        expected = (
            ("RetainExceptOnCreate", "Retain")
            if logical_id in EVIDENCE_LOG_GROUPS
            else ("Delete", "Delete")
        )
        assert (group.get("DeletionPolicy"), group.get("UpdateReplacePolicy")) == expected, (
            logical_id
        )


def test_evidence_logs_are_kept_a_year_by_default():
    assert NetworkSpec().flow_logs_retention_days >= 365
    assert WafSpec().log_retention_days >= 365
    assert AuditSpec().log_retention_days >= 365
