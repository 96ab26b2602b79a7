"""How each resource type is shown: the one table to extend when a builder adds a type.

`KINDS` are drawn, `HIDDEN` are plumbing shown through the nodes they serve, and any
other type is counted in its stack's "other resources" node. `EDGE_RULES` turn a
reference in a template into an edge.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from compiler.graph.model import EdgeKind, Shape
from compiler.graph.template_values import Resources, prop, readable, ref_id

Detail = Callable[[str, dict, Resources], list[str]]


def _asg(logical_id: str, resource: dict, resources: Resources) -> list[str]:
    sizes = f"{readable(prop(resource, 'MinSize'))}-{readable(prop(resource, 'MaxSize'))} instances"
    template_ref = prop(resource, "LaunchTemplate.LaunchTemplateId")
    launch = resources.get(ref_id(template_ref) or "", {})
    instance_type = prop(launch, "LaunchTemplateData.InstanceType")
    return [sizes + (f" · {readable(instance_type)}" if instance_type else "")]


def _database(logical_id: str, resource: dict, resources: Resources) -> list[str]:
    engine = " ".join(
        readable(prop(resource, k)) for k in ("Engine", "EngineVersion") if prop(resource, k)
    )
    size = readable(prop(resource, "DBInstanceClass", ""))
    multi_az = "Multi-AZ" if prop(resource, "MultiAZ") is True else "single AZ"
    return [line for line in (engine, f"{size} · {multi_az}" if size else multi_az) if line]


def _record(logical_id: str, resource: dict, resources: Resources) -> list[str]:
    name = readable(prop(resource, "Name", "")).rstrip(".")
    lines = [f"{name} {readable(prop(resource, 'Type', ''))}".strip()]
    if prop(resource, "Failover"):
        lines.append(f"failover {readable(prop(resource, 'Failover'))}")
    elif prop(resource, "Region"):
        lines.append(f"latency {readable(prop(resource, 'Region'))}")
    return lines


def _health_check(logical_id: str, resource: dict, resources: Resources) -> list[str]:
    config = prop(resource, "HealthCheckConfig", {})
    path = config.get("ResourcePath", "")
    return [f"{readable(config.get('Type', ''))} {readable(path)}".strip()]


def _named_by(key: str) -> Detail:
    def detail(logical_id: str, resource: dict, resources: Resources) -> list[str]:
        value = prop(resource, key)
        return [readable(value).rstrip(".") if value is not None else logical_id]

    return detail


def _logical_id(logical_id: str, resource: dict, resources: Resources) -> list[str]:
    return [logical_id]


def _rule(logical_id: str, resource: dict, resources: Resources) -> list[str]:
    schedule = prop(resource, "ScheduleExpression")
    if schedule:
        return [readable(schedule)]
    sources = prop(resource, "EventPattern.source", [])
    return [f"events from {', '.join(map(readable, sources))}" if sources else logical_id]


def _trail(logical_id: str, resource: dict, resources: Resources) -> list[str]:
    return ["multi-region" if prop(resource, "IsMultiRegionTrail") else "this region"]


@dataclass(frozen=True)
class Kind:
    label: str
    shape: Shape = "box"
    # "each": one node per resource; "count": one node per stack and place, with the
    # number; "unused": only those no resource of the stack runs as or with (roles
    # for people and deployments; an instance or function role belongs to its node).
    show: Literal["each", "count", "unused"] = "each"
    detail: Detail | None = None


# What refers to a role without running as it: policies attached to it, and roles
# whose trust policy names it.
NOT_USERS = frozenset({"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role"})

# In the order a request meets them, then data, then operations: nodes of one place
# are listed in this order, which is how the layout starts out.
KINDS: dict[str, Kind] = {
    "AWS::Route53::HostedZone": Kind("Route 53 hosted zone", detail=_named_by("Name")),
    "AWS::Route53::RecordSet": Kind("Route 53 record", detail=_record),
    "AWS::Route53::RecordSetGroup": Kind("Route 53 records", detail=_logical_id),
    "AWS::Route53::HealthCheck": Kind("Route 53 health check", detail=_health_check),
    "AWS::WAFv2::WebACL": Kind("WAF web ACL"),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": Kind(
        "Application Load Balancer", detail=_named_by("Scheme")
    ),
    "AWS::EC2::NatGateway": Kind("NAT gateway", show="count"),
    "AWS::AutoScaling::AutoScalingGroup": Kind("Auto Scaling group", detail=_asg),
    "AWS::Events::Rule": Kind("EventBridge rule", "event", detail=_rule),
    "AWS::Lambda::Function": Kind("Lambda function", detail=_logical_id),
    "AWS::RDS::DBInstance": Kind("RDS database", "store", detail=_database),
    "AWS::RDS::DBCluster": Kind("RDS cluster", "store", detail=_database),
    "AWS::S3::Bucket": Kind("S3 bucket", "store", detail=_logical_id),
    "AWS::CloudWatch::Alarm": Kind("CloudWatch alarm", "event", show="count"),
    "AWS::SNS::Topic": Kind("SNS topic", "event", detail=_logical_id),
    "AWS::Chatbot::SlackChannelConfiguration": Kind(
        "Slack channel", "external", detail=_named_by("ConfigurationName")
    ),
    "AWS::SSM::MaintenanceWindow": Kind("Patch window", "event", detail=_named_by("Schedule")),
    "AWS::CloudTrail::Trail": Kind("CloudTrail trail", detail=_trail),
    "AWS::IAM::Role": Kind("IAM role", show="unused", detail=_logical_id),
}

# Plumbing: shown through the nodes above (subnets as their tier, security groups as
# the traffic they allow, a launch template as its Auto Scaling group's instance type).
HIDDEN = frozenset(
    {
        "AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::InternetGateway",
        "AWS::EC2::VPCGatewayAttachment", "AWS::EC2::RouteTable", "AWS::EC2::Route",
        "AWS::EC2::SubnetRouteTableAssociation", "AWS::EC2::EIP", "AWS::EC2::FlowLog",
        "AWS::EC2::SecurityGroup", "AWS::EC2::SecurityGroupIngress",
        "AWS::EC2::SecurityGroupEgress", "AWS::EC2::LaunchTemplate",
        "AWS::AutoScaling::ScalingPolicy", "AWS::ElasticLoadBalancingV2::Listener",
        "AWS::ElasticLoadBalancingV2::ListenerRule", "AWS::ElasticLoadBalancingV2::TargetGroup",
        "AWS::WAFv2::WebACLAssociation", "AWS::WAFv2::LoggingConfiguration",
        "AWS::IAM::InstanceProfile", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy",
        "AWS::KMS::Key", "AWS::KMS::Alias", "AWS::Logs::LogGroup", "AWS::Logs::MetricFilter",
        "AWS::Logs::ResourcePolicy", "AWS::RDS::DBSubnetGroup", "AWS::RDS::DBParameterGroup",
        "AWS::RDS::DBClusterParameterGroup", "AWS::S3::BucketPolicy", "AWS::SNS::Subscription",
        "AWS::SNS::TopicPolicy", "AWS::SQS::Queue", "AWS::SQS::QueuePolicy",
        "AWS::Lambda::Permission", "AWS::SSM::Association", "AWS::SSM::Document",
        "AWS::SSM::MaintenanceWindowTarget", "AWS::SSM::MaintenanceWindowTask",
        "AWS::SSM::Parameter", "AWS::SSM::PatchBaseline", "AWS::CloudWatch::Dashboard",
        "AWS::CertificateManager::Certificate",
    }
)  # fmt: skip


@dataclass(frozen=True)
class EdgeRule:
    """An edge from a reference in a template: `source` and `target` are property paths
    (None: the resource itself); each must name a resource that is shown."""

    resource_type: str
    source: str | None
    target: str | None
    label: str | Callable[[dict], str]
    kind: EdgeKind
    ranked: bool = True


def _routing(resource: dict) -> str:
    failover = prop(resource, "Failover")
    if failover:
        return str(failover)
    region = prop(resource, "Region")
    return f"latency {region}" if region else "alias"


EDGE_RULES = (
    EdgeRule("AWS::WAFv2::WebACLAssociation", "WebACLArn", "ResourceArn", "filters", "traffic"),
    EdgeRule("AWS::CloudWatch::Alarm", None, "AlarmActions", "alarm", "notification"),
    EdgeRule("AWS::CloudWatch::Alarm", None, "OKActions", "alarm", "notification"),
    EdgeRule("AWS::Events::Rule", None, "Targets.Arn", "triggers", "notification"),
    EdgeRule(
        "AWS::Chatbot::SlackChannelConfiguration", "SnsTopicArns", None, "notifies", "notification"
    ),
    EdgeRule("AWS::Route53::RecordSet", None, "AliasTarget.DNSName", _routing, "dns"),
    # a record and its health check are peers: both point at the load balancer
    EdgeRule("AWS::Route53::RecordSet", None, "HealthCheckId", "evaluates", "dns", ranked=False),
    EdgeRule(
        "AWS::Route53::HealthCheck", None, "HealthCheckConfig.FullyQualifiedDomainName",
        "checks", "dns",
    ),
    EdgeRule(
        "AWS::ElasticLoadBalancingV2::LoadBalancer", None, "LoadBalancerAttributes.Value",
        "access logs", "logs",
    ),
    EdgeRule(
        "AWS::S3::Bucket", None, "LoggingConfiguration.DestinationBucketName", "access logs", "logs"
    ),
    EdgeRule("AWS::CloudTrail::Trail", None, "S3BucketName", "logs", "logs"),
    EdgeRule("AWS::Lambda::Function", None, "Environment.Variables", "uses", "traffic"),
)  # fmt: skip
