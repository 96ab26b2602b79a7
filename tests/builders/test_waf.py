"""The regional web ACL: managed groups, rate limit, country block, ALB association, logs."""

from __future__ import annotations

import re

import pytest
from troposphere import GetAtt, Ref

from compiler.builders.handles import LoadBalancerHandle
from compiler.builders.waf import build_waf
from compiler.context import RegionContext
from compiler.spec.waf import DEFAULT_RULE_GROUPS

from .example import KEY, get_att, make_spec, only, props, ref, regional_template

# WAFv2 API patterns for rule and metric names.
RULE_NAME = re.compile(r"^[\w\-]{1,128}$")
METRIC_NAME = re.compile(r"^[\w#:.\-/]{1,255}$")


@pytest.fixture(scope="module")
def spec():
    return make_spec(waf={"rate_limit_per_5_minutes": 1500, "log_retention_days": 365})


@pytest.fixture(scope="module")
def template(spec):
    return regional_template(spec)


def web_acl(template: dict) -> dict:
    return only(template, "AWS::WAFv2::WebACL")[1]


def rules_by_name(template: dict) -> dict[str, dict]:
    return {rule["Name"]: rule for rule in web_acl(template)["Rules"]}


def test_web_acl_is_regional_and_allows_what_no_rule_blocks(template):
    acl = web_acl(template)
    assert acl["Scope"] == "REGIONAL"
    assert acl["DefaultAction"] == {"Allow": {}}


def test_web_acl_runs_the_default_managed_groups_with_their_own_block_actions(template):
    rules = web_acl(template)["Rules"]
    managed = [r for r in rules if "ManagedRuleGroupStatement" in r["Statement"]]
    assert [r["Statement"]["ManagedRuleGroupStatement"]["Name"] for r in managed] == list(
        DEFAULT_RULE_GROUPS
    )
    for rule in managed:
        assert rule["Statement"]["ManagedRuleGroupStatement"]["VendorName"] == "AWS"
        # `None` keeps the group's Block actions; `Count` would only watch
        assert rule["OverrideAction"] == {"None": {}}
        assert "Action" not in rule


def test_rate_rule_blocks_each_ip_over_the_spec_limit_per_5_minutes(template):
    rule = rules_by_name(template)["RateLimitPerIp"]
    assert rule["Action"] == {"Block": {}}
    assert rule["Statement"]["RateBasedStatement"] == {
        "AggregateKeyType": "IP",
        "Limit": 1500,
        "EvaluationWindowSec": 300,
    }


def test_rule_priorities_are_unique_and_in_order(template):
    rules = web_acl(template)["Rules"]
    assert [r["Priority"] for r in rules] == list(range(len(rules)))
    assert len({r["Name"] for r in rules}) == len(rules)
    assert all(RULE_NAME.match(r["Name"]) for r in rules)


def test_metrics_and_sampling_are_on_for_the_acl_and_every_rule(template):
    acl = web_acl(template)
    configs = [acl["VisibilityConfig"]] + [r["VisibilityConfig"] for r in acl["Rules"]]
    for config in configs:
        assert config["CloudWatchMetricsEnabled"] is True
        assert config["SampledRequestsEnabled"] is True
        assert METRIC_NAME.match(config["MetricName"]), config["MetricName"]
    assert len({c["MetricName"] for c in configs}) == len(configs)


def test_no_country_rule_unless_countries_are_blocked(template):
    rules = web_acl(template)["Rules"]
    assert not [r for r in rules if "GeoMatchStatement" in r["Statement"]]


def test_blocked_countries_are_blocked_first():
    template = regional_template(make_spec(waf={"blocked_countries": ["KP", "IR"]}))
    first = web_acl(template)["Rules"][0]
    assert first["Priority"] == 0
    assert first["Action"] == {"Block": {}}
    assert first["Statement"] == {"GeoMatchStatement": {"CountryCodes": ["KP", "IR"]}}
    assert first["VisibilityConfig"]["CloudWatchMetricsEnabled"] is True


def test_managed_groups_follow_the_spec_order():
    groups = [
        "AWSManagedRulesSQLiRuleSet",
        "AWSManagedRulesLinuxRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesCommonRuleSet",
    ]
    template = regional_template(make_spec(waf={"managed_rule_groups": groups}))
    names = [
        r["Statement"]["ManagedRuleGroupStatement"]["Name"]
        for r in web_acl(template)["Rules"]
        if "ManagedRuleGroupStatement" in r["Statement"]
    ]
    assert names == groups


def test_web_acl_is_associated_with_the_load_balancer(template):
    alb, _ = only(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    acl, _ = only(template, "AWS::WAFv2::WebACL")
    _, association = only(template, "AWS::WAFv2::WebACLAssociation")
    assert association["ResourceArn"] == ref(alb)
    assert association["WebACLArn"] == get_att(acl, "Arn")


def test_logs_go_to_an_aws_waf_logs_group_by_its_bare_arn(template):
    acl, _ = only(template, "AWS::WAFv2::WebACL")
    group, _ = only_waf_log_group(template)
    _, logging = only(template, "AWS::WAFv2::LoggingConfiguration")
    assert logging["ResourceArn"] == get_att(acl, "Arn")
    (destination,) = logging["LogDestinationConfigs"]
    pattern, variables = destination["Fn::Sub"]
    # WAF refuses the log group's Arn attribute, which ends in ":*"
    assert pattern == (
        "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${Group}"
    )
    assert variables == {"Group": ref(group)}


def test_logs_leave_out_credentials(template):
    _, logging = only(template, "AWS::WAFv2::LoggingConfiguration")
    redacted = {field["SingleHeader"]["Name"] for field in logging["RedactedFields"]}
    assert redacted == {"authorization", "cookie"}


def only_waf_log_group(template: dict) -> tuple[str, dict]:
    groups = [
        (name, resource)
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Logs::LogGroup"
        # the database's groups are named by a condition (writer or replica): not WAF's
        and str(resource["Properties"]["LogGroupName"]).startswith("aws-waf-logs-")
    ]
    assert len(groups) == 1, groups
    return groups[0]


def test_log_group_is_named_for_waf_encrypted_and_kept(spec, template):
    name, group = only_waf_log_group(template)
    assert group["Properties"]["LogGroupName"] == "aws-waf-logs-storefront-production"
    assert group["Properties"]["RetentionInDays"] == 365
    assert group["Properties"]["KmsKeyId"] == get_att("DataKey", "Arn")
    assert group["DeletionPolicy"] == "RetainExceptOnCreate"
    assert props(template, name)["LogGroupName"].startswith("aws-waf-logs-")


def test_builder_alone_uses_only_its_handles():
    spec = make_spec()
    alb = LoadBalancerHandle(
        arn=Ref("SomeAlb"),
        full_name=GetAtt("SomeAlb", "LoadBalancerFullName"),
        dns_name=GetAtt("SomeAlb", "DNSName"),
        canonical_hosted_zone_id=GetAtt("SomeAlb", "CanonicalHostedZoneID"),
        target_group_arn=Ref("SomeTargetGroup"),
        target_group_full_name=GetAtt("SomeTargetGroup", "TargetGroupFullName"),
    )
    built = build_waf(spec, RegionContext.mapped(spec), KEY, alb)
    resources = {r.title: r.to_dict() for r in built.resources}
    association = next(r for r in resources.values() if r["Type"].endswith("WebACLAssociation"))
    assert association["Properties"]["ResourceArn"] == ref("SomeAlb")
    assert all(r["Metadata"]["Purpose"] for r in resources.values())
    assert built.handle.web_acl_name == "storefront-production-web-acl"
