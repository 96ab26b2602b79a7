"""The region's VPC: public, private (app) and isolated (database) subnets in each AZ."""

from __future__ import annotations

from troposphere import GetAtt, Ref, ec2, iam, logs

from compiler import naming
from compiler.builders import RETAIN_EXCEPT_ON_CREATE, Built, purpose
from compiler.builders.handles import KeyHandle, NetworkHandle
from compiler.builders.trust import service_trust_policy
from compiler.context import RegionContext
from compiler.spec import InfraSpec


def build_network(spec: InfraSpec, ctx: RegionContext, key: KeyHandle) -> Built[NetworkHandle]:
    azs = range(spec.network.availability_zones)
    resources: list = []

    vpc = purpose(
        ec2.VPC("Vpc", CidrBlock=ctx.vpc_cidr(), EnableDnsSupport=True, EnableDnsHostnames=True),
        "The region's network",
    )
    igw = purpose(ec2.InternetGateway("InternetGateway"), "Internet access for public subnets")
    igw_attachment = ec2.VPCGatewayAttachment(
        "InternetGatewayAttachment", VpcId=Ref(vpc), InternetGatewayId=Ref(igw)
    )
    resources += [vpc, igw, igw_attachment]

    def subnet(tier: str, az: int, public: bool) -> ec2.Subnet:
        return purpose(
            ec2.Subnet(
                naming.logical_id(tier, "subnet", az),
                VpcId=Ref(vpc),
                CidrBlock=ctx.subnet_cidr(tier, az),
                AvailabilityZone=ctx.availability_zone(az),
                MapPublicIpOnLaunch=False,  # only the ALB and NAT gateways face the internet
            ),
            f"{tier} tier subnet in AZ {az + 1}"
            + (" (route to the internet gateway)" if public else ""),
        )

    public = [subnet("public", az, True) for az in azs]
    private = [subnet("private", az, False) for az in azs]
    database = [subnet("database", az, False) for az in azs]
    resources += public + private + database

    public_routes = purpose(
        ec2.RouteTable("PublicRouteTable", VpcId=Ref(vpc)), "Public subnets' routes"
    )
    resources += [
        public_routes,
        ec2.Route(
            "PublicDefaultRoute",
            DependsOn=igw_attachment.title,
            RouteTableId=Ref(public_routes),
            DestinationCidrBlock="0.0.0.0/0",
            GatewayId=Ref(igw),
        ),
    ]
    resources += [
        ec2.SubnetRouteTableAssociation(
            naming.logical_id("public", "subnet", az, "routes"),
            SubnetId=Ref(public[az]),
            RouteTableId=Ref(public_routes),
        )
        for az in azs
    ]

    nat_count = len(azs) if spec.network.nat_gateways == "per_az" else 1
    nats = []
    for az in range(nat_count):
        eip = purpose(
            ec2.EIP(
                naming.logical_id("nat", az, "address"),
                Domain="vpc",
                DependsOn=igw_attachment.title,
            ),
            f"Public address of NAT gateway {az + 1}",
        )
        nat = purpose(
            ec2.NatGateway(
                naming.logical_id("nat", "gateway", az),
                AllocationId=GetAtt(eip, "AllocationId"),
                SubnetId=Ref(public[az]),
            ),
            f"Outbound internet for private subnets (AZ {az + 1})",
        )
        nats.append(nat)
        resources += [eip, nat]

    for az in azs:
        routes = purpose(
            ec2.RouteTable(naming.logical_id("private", "route", "table", az), VpcId=Ref(vpc)),
            f"Private subnet {az + 1} routes: out through a NAT gateway",
        )
        resources += [
            routes,
            ec2.Route(
                naming.logical_id("private", "default", "route", az),
                RouteTableId=Ref(routes),
                DestinationCidrBlock="0.0.0.0/0",
                NatGatewayId=Ref(nats[az % nat_count]),
            ),
            ec2.SubnetRouteTableAssociation(
                naming.logical_id("private", "subnet", az, "routes"),
                SubnetId=Ref(private[az]),
                RouteTableId=Ref(routes),
            ),
        ]

    # The database tier's table has only the implicit local route: no way to the internet.
    database_routes = purpose(
        ec2.RouteTable("DatabaseRouteTable", VpcId=Ref(vpc)),
        "Database subnets' routes: VPC-local only",
    )
    resources.append(database_routes)
    resources += [
        ec2.SubnetRouteTableAssociation(
            naming.logical_id("database", "subnet", az, "routes"),
            SubnetId=Ref(database[az]),
            RouteTableId=Ref(database_routes),
        )
        for az in azs
    ]

    resources += _flow_logs(spec, vpc, key)
    handle = NetworkHandle(
        vpc_id=Ref(vpc),
        public_subnet_ids=[Ref(s) for s in public],
        private_subnet_ids=[Ref(s) for s in private],
        database_subnet_ids=[Ref(s) for s in database],
        nat_gateway_ids=[Ref(n) for n in nats],
        flow_log_group_name=Ref("FlowLogsLogGroup"),  # the log group of _flow_logs
    )
    return Built(resources, handle)


def _flow_logs(spec: InfraSpec, vpc: ec2.VPC, key: KeyHandle) -> list:
    log_group = purpose(
        logs.LogGroup(
            "FlowLogsLogGroup",
            LogGroupName=naming.log_group_name(spec, "vpc-flow-logs"),
            RetentionInDays=spec.network.flow_logs_retention_days,
            KmsKeyId=key.key_arn,
        ),
        "VPC flow logs, encrypted with the data key",
    )
    log_group.DeletionPolicy = RETAIN_EXCEPT_ON_CREATE  # audit evidence outlives the stack
    log_group.UpdateReplacePolicy = "Retain"
    role = purpose(
        iam.Role(
            "FlowLogsRole",
            AssumeRolePolicyDocument=service_trust_policy(
                "vpc-flow-logs.amazonaws.com", this_account_only=True
            ),
            Policies=[
                iam.Policy(
                    PolicyName="write-flow-logs",
                    PolicyDocument={
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": [
                                    "logs:CreateLogStream",
                                    "logs:PutLogEvents",
                                    "logs:DescribeLogStreams",
                                ],
                                # the group's Arn attribute ends in ":*": its streams
                                "Resource": GetAtt(log_group, "Arn"),
                            }
                        ],
                    },
                )
            ],
        ),
        "Lets the VPC flow logs service write to its log group only",
    )
    flow_log = purpose(
        ec2.FlowLog(
            "VpcFlowLog",
            ResourceId=Ref(vpc),
            ResourceType="VPC",
            TrafficType="ALL",
            LogDestinationType="cloud-watch-logs",
            LogGroupName=Ref(log_group),
            DeliverLogsPermissionArn=GetAtt(role, "Arn"),
        ),
        "Records accepted and rejected traffic of the whole VPC",
    )
    return [log_group, role, flow_log]
