"""The regional WAFv2 web ACL in front of the load balancer, and its encrypted logs."""

from __future__ import annotations

from troposphere import GetAtt, Output, Ref, Sub, logs, wafv2

from compiler import naming
from compiler.builders import RETAIN_EXCEPT_ON_CREATE, Built, purpose
from compiler.builders.handles import KeyHandle, LoadBalancerHandle, WafHandle
from compiler.context import RegionContext
from compiler.spec import InfraSpec

WEB_ACL_ID = "WebAcl"
# WAF writes only to log groups whose name starts with this (WAF developer guide).
WAF_LOG_GROUP_PREFIX = "aws-waf-logs-"
# WAF logs carry every request header; these hold credentials and session tokens.
REDACTED_HEADERS = ("authorization", "cookie")
RATE_LIMIT_WINDOW_SECONDS = 300


def _visibility(metric_name: str) -> wafv2.VisibilityConfig:
    return wafv2.VisibilityConfig(
        CloudWatchMetricsEnabled=True, MetricName=metric_name, SampledRequestsEnabled=True
    )


def _block_rule(name: str, priority: int, statement: wafv2.Statement) -> wafv2.WebACLRule:
    return wafv2.WebACLRule(
        Name=name,
        Priority=priority,
        Action=wafv2.RuleAction(Block=wafv2.BlockAction()),
        Statement=statement,
        VisibilityConfig=_visibility(name),
    )


def _managed_group_rule(group: str, priority: int) -> wafv2.WebACLRule:
    return wafv2.WebACLRule(
        Name=group,
        Priority=priority,
        # `None` keeps the group's own actions (Block); `Count` would only observe.
        OverrideAction=wafv2.OverrideAction(**{"None": {}}),
        Statement=wafv2.Statement(
            ManagedRuleGroupStatement=wafv2.ManagedRuleGroupStatement(VendorName="AWS", Name=group)
        ),
        VisibilityConfig=_visibility(group),
    )


def web_acl_rules(spec: InfraSpec) -> list[wafv2.WebACLRule]:
    """Country block, then the per-IP rate limit, then the managed groups in spec order."""
    waf = spec.waf
    rules = []
    if waf.blocked_countries:
        rules.append(
            _block_rule(
                "BlockedCountries",
                len(rules),
                wafv2.Statement(
                    GeoMatchStatement=wafv2.GeoMatchStatement(CountryCodes=waf.blocked_countries)
                ),
            )
        )
    rules.append(
        _block_rule(
            "RateLimitPerIp",
            len(rules),
            wafv2.Statement(
                RateBasedStatement=wafv2.RateBasedStatement(
                    # The ALB is the edge here, so the source address is the client's.
                    AggregateKeyType="IP",
                    Limit=waf.rate_limit_per_5_minutes,
                    EvaluationWindowSec=RATE_LIMIT_WINDOW_SECONDS,
                )
            ),
        )
    )
    for group in waf.managed_rule_groups:
        rules.append(_managed_group_rule(group, len(rules)))
    return rules


def build_waf(
    spec: InfraSpec, ctx: RegionContext, key: KeyHandle, load_balancer: LoadBalancerHandle
) -> Built[WafHandle]:
    web_acl_name = naming.resource_name(spec, "web-acl")
    web_acl = purpose(
        wafv2.WebACL(
            WEB_ACL_ID,
            Name=web_acl_name,
            Scope="REGIONAL",
            Description=f"{naming.name_prefix(spec)}: filters requests to the load balancer",
            # Requests that no rule blocks reach the application.
            DefaultAction=wafv2.DefaultAction(Allow=wafv2.AllowAction()),
            Rules=web_acl_rules(spec),
            VisibilityConfig=_visibility(web_acl_name),
        ),
        "Blocks common exploits, abusive request rates and chosen countries before the ALB",
    )
    association = purpose(
        wafv2.WebACLAssociation(
            naming.logical_id(WEB_ACL_ID, "association"),
            ResourceArn=load_balancer.arn,
            WebACLArn=GetAtt(web_acl, "Arn"),
        ),
        "Puts the web ACL in front of this region's load balancer",
    )
    log_group = purpose(
        logs.LogGroup(
            naming.logical_id(WEB_ACL_ID, "log", "group"),
            LogGroupName=WAF_LOG_GROUP_PREFIX + naming.name_prefix(spec),
            RetentionInDays=spec.waf.log_retention_days,
            KmsKeyId=key.key_arn,
        ),
        "WAF request logs (blocked and allowed), encrypted with the data key",
    )
    log_group.DeletionPolicy = RETAIN_EXCEPT_ON_CREATE  # audit evidence outlives the stack
    log_group.UpdateReplacePolicy = "Retain"
    logging = purpose(
        wafv2.LoggingConfiguration(
            naming.logical_id(WEB_ACL_ID, "logging"),
            ResourceArn=GetAtt(web_acl, "Arn"),
            # WAF wants the bare log group ARN; the group's Arn attribute ends in ":*",
            # which WAF rejects. WAF adds the log group's resource policy itself.
            LogDestinationConfigs=[
                Sub(
                    "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}"
                    ":log-group:${Group}",
                    Group=Ref(log_group),
                )
            ],
            RedactedFields=[
                wafv2.LoggingConfigurationFieldToMatch(SingleHeader=wafv2.SingleHeader(Name=h))
                for h in REDACTED_HEADERS
            ],
        ),
        "Sends the web ACL's request logs to its log group, credentials redacted",
    )
    handle = WafHandle(
        web_acl_arn=GetAtt(web_acl, "Arn"),
        web_acl_name=web_acl_name,
        log_group_name=Ref(log_group),
    )
    outputs = [
        Output(
            naming.logical_id(WEB_ACL_ID, "arn"),
            Description="ARN of the WAF web ACL in front of the load balancer",
            Value=GetAtt(web_acl, "Arn"),
        )
    ]
    return Built([web_acl, association, log_group, logging], handle, outputs)
