"""Route 53 in each regional stack: the hosted zone parameter, a health check on the
region's ALB, and this region's alias record for `dns.record_name`.

Every region adds its own record to the one name; Route 53 answers with a healthy one.
`failover`: the first region's record is PRIMARY and the second's SECONDARY, so traffic
moves to the second only while the first is unhealthy. `latency`: each region's record
carries the region, and a user gets the nearest healthy one.
"""

from __future__ import annotations

from troposphere import Output, Parameter, Ref, Sub, Tags, route53

from compiler import naming
from compiler.builders import Built, purpose
from compiler.builders.handles import DnsHandle, HostedZoneHandle, LoadBalancerHandle
from compiler.context import RegionContext
from compiler.spec import InfraSpec

# The regional template's parameter for the hosted zone. Without `dns.hosted_zone_id` its
# value is the global stack's output of the same name (the zone it creates); with it, the
# parameter defaults to that ID. The deploy manifest tells the two apart by
# `HostedZoneHandle.given_in_spec`.
HOSTED_ZONE_PARAMETER = "HostedZoneId"
# A service-managed StackSet's record name, per member account (compiler/assemble.py).
RECORD_NAME_PARAMETER = "RecordName"
HEALTH_CHECK_ID = "HealthCheck"
RECORD_SET_ID = "RecordSet"
HTTPS_PORT = 443


def build_hosted_zone(spec: InfraSpec, ctx: RegionContext) -> Built[HostedZoneHandle]:
    """The hosted zone ID as a template parameter, so a zone made by the global stack can
    be passed in and the regional templates stay the same either way."""
    given = spec.dns.hosted_zone_id
    options = {"Default": given} if given else {}
    parameter = Parameter(
        HOSTED_ZONE_PARAMETER,
        # CloudFormation checks that a zone with this ID exists before it creates anything.
        Type="AWS::Route53::HostedZone::Id",
        Description=f"Public hosted zone of {spec.dns.zone_name}"
        + (" (from infra.yaml)" if given else " (output HostedZoneId of the global stack)"),
        **options,
    )
    handle = HostedZoneHandle(
        hosted_zone_id=Ref(parameter),
        parameter_name=HOSTED_ZONE_PARAMETER,
        given_in_spec=given is not None,
    )
    return Built([], handle, parameters=[parameter])


def build_dns(
    spec: InfraSpec,
    ctx: RegionContext,
    zone: HostedZoneHandle,
    load_balancer: LoadBalancerHandle,
) -> Built[DnsHandle]:
    dns = spec.dns
    health_check = purpose(
        route53.HealthCheck(
            HEALTH_CHECK_ID,
            HealthCheckConfig=route53.HealthCheckConfig(
                Type="HTTPS",
                # The ALB's own name, not record_name: Route 53 resolves this name, and
                # record_name would resolve to whichever region is answering right now.
                FullyQualifiedDomainName=load_balancer.dns_name,
                Port=HTTPS_PORT,
                ResourcePath=dns.health_check_path or spec.load_balancer.health_check_path,
                RequestInterval=dns.health_check_interval_seconds,
                FailureThreshold=dns.failure_threshold,
                # No SNI: the ALB's certificate is for record_name, not for its own DNS
                # name, and the listener serves that certificate without SNI. Route 53
                # does not fail a check over a name mismatch (with SNI on, its checkers
                # retry the handshake without the name), so SNI would only cost a retry.
                EnableSNI=False,
                # Latency graphs in the Route 53 console; create-only, so set from the start.
                MeasureLatency=True,
            ),
            # Health checks are global: the Name tag is what the Route 53 console lists.
            HealthCheckTags=Tags(Name=Sub(f"{naming.name_prefix(spec)}-${{AWS::Region}}")),
        ),
        "Route 53 checks this region's ALB over HTTPS; an unhealthy region stops being "
        f"answered for {dns.record_name}",
    )
    routing: dict[str, object] = {"SetIdentifier": Ref("AWS::Region")}
    if dns.routing == "failover":
        routing["Failover"] = ctx.failover_role()
    else:
        routing["Region"] = Ref("AWS::Region")
    record = purpose(
        route53.RecordSetType(
            RECORD_SET_ID,
            HostedZoneId=zone.hosted_zone_id,
            Name=dns.record_name,
            Type="A",
            AliasTarget=route53.AliasTarget(
                DNSName=load_balancer.dns_name,
                HostedZoneId=load_balancer.canonical_hosted_zone_id,
                EvaluateTargetHealth=True,
            ),
            HealthCheckId=Ref(health_check),
            **routing,
        ),
        f"This region's answer for {dns.record_name} ({dns.routing} routing)",
    )
    handle = DnsHandle(health_check_id=Ref(health_check), record_name=dns.record_name)
    outputs = [
        Output(
            "HealthCheckId",
            Description="Route 53 health check of this region's load balancer",
            Value=Ref(health_check),
        )
    ]
    return Built([health_check, record], handle, outputs)
