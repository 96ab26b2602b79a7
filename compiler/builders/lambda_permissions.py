"""IAM statements every function in the VPC needs: its network interfaces and X-Ray.

Shared by the builders that emit Lambda functions (scheduled tasks, the Slack webhook);
not a builder itself, so importing it keeps builders independent of each other.
"""

from __future__ import annotations

from troposphere import Sub

# Lambda creates, describes and deletes the function's network interfaces in the VPC with
# the function's role (as the managed AWSLambdaVPCAccessExecutionRole policy grants). The
# interfaces do not exist before Lambda makes them, so the changing actions are scoped to
# this account and region (AWS's documented form `ec2:<region>:<account>:*/*`), and the
# Describe actions support no resource-level permissions at all: they need `Resource: *`.
VPC_NETWORK_INTERFACE_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
]
VPC_DESCRIBE_ACTIONS = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]
# X-Ray has no resource-level permissions: sending traces needs `Resource: *`.
XRAY_WRITE_ACTIONS = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]


def vpc_function_statements() -> list[dict]:
    """Network interfaces in this region, plus the two families AWS only grants on `*`."""
    return [
        {
            "Sid": "ManageVpcNetworkInterfacesInThisRegion",
            "Effect": "Allow",
            "Action": VPC_NETWORK_INTERFACE_ACTIONS,
            "Resource": Sub("arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:*/*"),
        },
        {
            "Sid": "AwsRequiresStarForDescribingNetworkInterfaces",
            "Effect": "Allow",
            "Action": VPC_DESCRIBE_ACTIONS,
            "Resource": "*",
        },
        {
            "Sid": "AwsRequiresStarForXrayTraces",
            "Effect": "Allow",
            "Action": XRAY_WRITE_ACTIONS,
            "Resource": "*",
        },
    ]
