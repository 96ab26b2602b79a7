"""Security groups: internet -> ALB (80/443) -> app (80/443, app port) -> database (5432).

Rules that reference another group are separate resources, so groups can point at each
other without a dependency cycle.
"""

from __future__ import annotations

from troposphere import GetAtt, ec2

from compiler import naming
from compiler.builders import Built, purpose, skip_check
from compiler.builders.handles import NetworkHandle, SecurityGroupsHandle
from compiler.context import RegionContext
from compiler.spec import InfraSpec

POSTGRES_PORT = 5432
HTTPS = 443
HTTP = 80

# The common idiom for "no egress at all": AWS adds allow-all when a group lists no
# egress rule, so one rule that matches nothing replaces it.
NO_EGRESS = ec2.SecurityGroupRule(
    CidrIp="255.255.255.255/32", IpProtocol="icmp", FromPort=252, ToPort=86,
    Description="Disallow all outbound traffic",
)  # fmt: skip


def app_ports(spec: InfraSpec) -> list[int]:
    """Ports the ALB may reach on instances: 80 and 443, plus the app port if different."""
    return sorted({HTTP, HTTPS, spec.compute.app_port})


def build_security_groups(
    spec: InfraSpec, ctx: RegionContext, network: NetworkHandle
) -> Built[SecurityGroupsHandle]:
    alb = purpose(
        ec2.SecurityGroup(
            "LoadBalancerSecurityGroup",
            GroupDescription="Internet-facing load balancer: HTTP and HTTPS from anywhere",
            VpcId=network.vpc_id,
            SecurityGroupIngress=[
                ec2.SecurityGroupRule(
                    IpProtocol="tcp",
                    FromPort=port,
                    ToPort=port,
                    CidrIp="0.0.0.0/0",
                    Description=f"{name} from the internet",
                )  # fmt: skip
                for port, name in ((HTTP, "HTTP (redirected to HTTPS)"), (HTTPS, "HTTPS"))
            ],
            SecurityGroupEgress=[NO_EGRESS],
        ),
        "Load balancer firewall; the only group open to 0.0.0.0/0",
    )
    skip_check(
        alb,
        "CKV_AWS_260",
        "Port 80 is open to the internet on purpose: the ALB's HTTP listener only answers "
        "with a 301 redirect to HTTPS, so plain-HTTP visitors reach the site; it forwards nothing.",
    )
    app = purpose(
        ec2.SecurityGroup(
            "AppSecurityGroup",
            GroupDescription="Application instances: web traffic from the load balancer only",
            VpcId=network.vpc_id,
            SecurityGroupIngress=[
                ec2.SecurityGroupRule(
                    IpProtocol="tcp",
                    FromPort=22,
                    ToPort=22,
                    CidrIp=cidr,
                    Description="SSH from the management network",
                )  # fmt: skip
                for cidr in spec.compute.ssh_cidrs
            ],
            SecurityGroupEgress=[
                # Instances reach SSM, CloudWatch and package repositories over HTTPS
                # through the NAT gateways; those endpoints have no fixed addresses.
                ec2.SecurityGroupRule(
                    IpProtocol="tcp",
                    FromPort=HTTPS,
                    ToPort=HTTPS,
                    CidrIp="0.0.0.0/0",
                    Description="HTTPS to AWS APIs and package repositories via NAT",
                )  # fmt: skip
            ],
        ),
        "Application instance firewall",
    )
    database = purpose(
        ec2.SecurityGroup(
            "DatabaseSecurityGroup",
            GroupDescription="PostgreSQL: connections from the application instances only",
            VpcId=network.vpc_id,
            SecurityGroupEgress=[NO_EGRESS],
        ),
        "Database firewall",
    )
    rules: list = []
    for port in app_ports(spec):
        rules.append(
            ec2.SecurityGroupIngress(
                naming.logical_id("app", "from", "load", "balancer", str(port)),
                GroupId=GetAtt(app, "GroupId"),
                IpProtocol="tcp",
                FromPort=port,
                ToPort=port,
                SourceSecurityGroupId=GetAtt(alb, "GroupId"),
                Description=f"Port {port} from the load balancer",
            )  # fmt: skip
        )
        rules.append(
            ec2.SecurityGroupEgress(
                naming.logical_id("load", "balancer", "to", "app", str(port)),
                GroupId=GetAtt(alb, "GroupId"),
                IpProtocol="tcp",
                FromPort=port,
                ToPort=port,
                DestinationSecurityGroupId=GetAtt(app, "GroupId"),
                Description=f"Port {port} to the application instances",
            )  # fmt: skip
        )
    rules += [
        ec2.SecurityGroupIngress(
            "DatabaseFromApp",
            GroupId=GetAtt(database, "GroupId"),
            IpProtocol="tcp", FromPort=POSTGRES_PORT, ToPort=POSTGRES_PORT,
            SourceSecurityGroupId=GetAtt(app, "GroupId"),
            Description="PostgreSQL from the application instances",
        ),
        ec2.SecurityGroupEgress(
            "AppToDatabase",
            GroupId=GetAtt(app, "GroupId"),
            IpProtocol="tcp", FromPort=POSTGRES_PORT, ToPort=POSTGRES_PORT,
            DestinationSecurityGroupId=GetAtt(database, "GroupId"),
            Description="PostgreSQL to the database",
        ),
    ]  # fmt: skip
    handle = SecurityGroupsHandle(
        load_balancer=GetAtt(alb, "GroupId"),
        app=GetAtt(app, "GroupId"),
        database=GetAtt(database, "GroupId"),
    )
    return Built([alb, app, database, *rules], handle)
