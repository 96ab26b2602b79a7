"""The internet-facing Application Load Balancer, its listeners and target group."""

from __future__ import annotations

from troposphere import GetAtt, Output, Ref
from troposphere import elasticloadbalancingv2 as elb

from compiler import naming
from compiler.builders import Built, purpose
from compiler.builders.handles import (
    CertificateHandle,
    LoadBalancerHandle,
    NetworkHandle,
    SecurityGroupsHandle,
    StorageHandle,
)
from compiler.context import RegionContext
from compiler.spec import InfraSpec


def build_load_balancer(
    spec: InfraSpec,
    ctx: RegionContext,
    network: NetworkHandle,
    security_groups: SecurityGroupsHandle,
    storage: StorageHandle,
    access_log_prefix: str,
    certificate: CertificateHandle,
) -> Built[LoadBalancerHandle]:
    alb = purpose(
        elb.LoadBalancer(
            "LoadBalancer",
            Type="application",
            Scheme="internet-facing",
            Subnets=network.public_subnet_ids,
            SecurityGroups=[security_groups.load_balancer],
            LoadBalancerAttributes=[
                # Requests with malformed headers are a request-smuggling vector.
                elb.LoadBalancerAttributes(
                    Key="routing.http.drop_invalid_header_fields.enabled", Value="true"
                ),
                elb.LoadBalancerAttributes(Key="access_logs.s3.enabled", Value="true"),
                elb.LoadBalancerAttributes(Key="access_logs.s3.bucket", Value=storage.logs.name),
                elb.LoadBalancerAttributes(Key="access_logs.s3.prefix", Value=access_log_prefix),
                # A deleted ALB takes its DNS name, which DNS records and clients point
                # at, with it. Deleting the stack then needs this switched off first, as
                # the database's deletion protection already requires. Updates are not
                # hindered: no spec value changes a property that replaces the ALB
                # (type and scheme are fixed here, and it has no explicit name).
                elb.LoadBalancerAttributes(Key="deletion_protection.enabled", Value="true"),
            ],
            # ELB checks that it may write the access logs when the ALB is created.
            DependsOn=[storage.logs_policy_id],
        ),
        "Entry point for web traffic in this region",
    )
    target_group = purpose(
        elb.TargetGroup(
            "AppTargetGroup",
            VpcId=network.vpc_id,
            Protocol="HTTP",
            Port=spec.compute.app_port,
            TargetType="instance",
            HealthCheckProtocol="HTTP",
            HealthCheckPath=spec.load_balancer.health_check_path,
            HealthCheckIntervalSeconds=15,
            HealthyThresholdCount=2,
            UnhealthyThresholdCount=3,
            TargetGroupAttributes=[
                elb.TargetGroupAttribute(Key="deregistration_delay.timeout_seconds", Value="30")
            ],
        ),
        "The Auto Scaling group's instances, health-checked on the spec's path",
    )
    http = purpose(
        elb.Listener(
            "HttpListener",
            LoadBalancerArn=Ref(alb),
            Protocol="HTTP",
            Port=80,
            DefaultActions=[
                elb.Action(
                    Type="redirect",
                    RedirectConfig=elb.RedirectConfig(
                        Protocol="HTTPS", Port="443", StatusCode="HTTP_301"
                    ),
                )
            ],
        ),
        "Redirects every plain HTTP request to HTTPS",
    )
    https = purpose(
        elb.Listener(
            "HttpsListener",
            LoadBalancerArn=Ref(alb),
            Protocol="HTTPS",
            Port=443,
            SslPolicy=spec.load_balancer.ssl_policy,
            Certificates=[elb.Certificate(CertificateArn=certificate.certificate_arn)],
            DefaultActions=[elb.Action(Type="forward", TargetGroupArn=Ref(target_group))],
        ),
        "Terminates TLS 1.2+ and forwards to the instances",
    )
    handle = LoadBalancerHandle(
        arn=Ref(alb),
        full_name=GetAtt(alb, "LoadBalancerFullName"),
        dns_name=GetAtt(alb, "DNSName"),
        canonical_hosted_zone_id=GetAtt(alb, "CanonicalHostedZoneID"),
        target_group_arn=Ref(target_group),
        target_group_full_name=GetAtt(target_group, "TargetGroupFullName"),
    )
    outputs = [
        Output(
            naming.logical_id("load", "balancer", "dns", "name"),
            Description="DNS name of the load balancer",
            Value=GetAtt(alb, "DNSName"),
        )
    ]
    return Built([alb, target_group, http, https], handle, outputs)
