"""The web tier: launch template, instance role, Auto Scaling group and its scaling policy."""

from __future__ import annotations

from troposphere import Base64, GetAtt, Parameter, Ref, Sub, Tag, autoscaling, ec2, iam
from troposphere.policies import AutoScalingRollingUpdate, UpdatePolicy

from compiler import naming
from compiler.builders import Built, purpose
from compiler.builders.handles import (
    ComputeHandle,
    KeyHandle,
    LoadBalancerHandle,
    NetworkHandle,
    SecurityGroupsHandle,
    StorageHandle,
)
from compiler.builders.trust import service_trust_policy
from compiler.context import RegionContext
from compiler.spec import InfraSpec

IMAGE_PARAMETER = "ImageId"
# AWS-managed policies: the SSM agent (Session Manager, Patch Manager) and the CloudWatch
# agent. Both are scoped by AWS and updated as the agents change.
MANAGED_POLICIES = (
    "arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore",
    "arn:${AWS::Partition}:iam::aws:policy/CloudWatchAgentServerPolicy",
)

# How long a new instance has to boot, install and start the application before the
# load balancer's verdict counts: the Auto Scaling health check grace period, and the
# pause between batches of a rolling update (which waits for no signal). A user-data
# script that installs packages and starts a service takes two to four minutes on a
# small instance; ten leave room for a slow package mirror.
BOOT_SECONDS = 600

# What the compiler adds after the user data's shebang line. Kept small: spec/compute.py
# reserves USER_DATA_RESERVED_BYTES of EC2's 16 KB for it.
USER_DATA_HEADER = (
    "# Added by infra compile: the SSM Parameter Store path of this instance's settings.\n"
    "export INFRA_PARAMETER_PATH='{path}'\n"
)


def render_user_data(script: str, parameter_path: str) -> str:
    """The spec's user-data script with `INFRA_PARAMETER_PATH` set right after its shebang,
    so the script (and what it starts) can read its settings in any region and environment."""
    shebang, _, rest = script.partition("\n")
    return f"{shebang}\n{USER_DATA_HEADER.format(path=parameter_path)}{rest}"


def bucket_read_policy(storage: StorageHandle, key: KeyHandle) -> dict | None:
    if not storage.buckets:
        return None
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ListOwnBuckets",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": [b.arn for b in storage.buckets],
            },
            {
                "Sid": "ReadOwnBuckets",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": [Sub("${Arn}/*", Arn=b.arn) for b in storage.buckets],
            },
            {
                # Objects are SSE-KMS encrypted; decryption only when S3 asks on our behalf.
                "Sid": "DecryptObjectsThroughS3",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": key.key_arn,
                "Condition": {
                    "StringEquals": {"kms:ViaService": Sub("s3.${AWS::Region}.amazonaws.com")}
                },
            },
        ],
    }


def build_compute(
    spec: InfraSpec,
    ctx: RegionContext,
    network: NetworkHandle,
    security_groups: SecurityGroupsHandle,
    load_balancer: LoadBalancerHandle,
    storage: StorageHandle,
    key: KeyHandle,
) -> Built[ComputeHandle]:
    compute = spec.compute
    image = Parameter(
        IMAGE_PARAMETER,
        Type="AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
        Default=compute.image_parameter,
        Description="SSM public parameter naming the AMI; resolved at each deploy",
    )
    policies = []
    read_policy = bucket_read_policy(storage, key)
    if read_policy:
        policies.append(iam.Policy(PolicyName="read-own-buckets", PolicyDocument=read_policy))
    role = purpose(
        iam.Role(
            "InstanceRole",
            AssumeRolePolicyDocument=service_trust_policy("ec2.amazonaws.com"),
            ManagedPolicyArns=[Sub(arn) for arn in MANAGED_POLICIES],
            Policies=policies,
        ),
        "Instance identity: SSM, CloudWatch agent, and read of this stack's buckets only",
    )
    profile = iam.InstanceProfile("InstanceProfile", Roles=[Ref(role)])
    # Inlined, not fetched: the script is part of the spec and changes with it (a new
    # launch template version, then a rolling update).
    user_data = (
        {
            "UserData": Base64(
                render_user_data(compute.user_data_script, naming.parameter_path(spec))
            )
        }
        if compute.user_data
        else {}
    )
    launch_template = purpose(
        ec2.LaunchTemplate(
            "LaunchTemplate",
            LaunchTemplateData=ec2.LaunchTemplateData(
                ImageId=Ref(image),
                InstanceType=compute.instance_type,
                IamInstanceProfile=ec2.IamInstanceProfile(Arn=GetAtt(profile, "Arn")),
                SecurityGroupIds=[security_groups.app],
                # IMDSv2 only: a session token defeats SSRF-based credential theft.
                MetadataOptions=ec2.MetadataOptions(
                    HttpTokens="required", HttpEndpoint="enabled", HttpPutResponseHopLimit=1
                ),
                BlockDeviceMappings=[
                    ec2.LaunchTemplateBlockDeviceMapping(
                        DeviceName="/dev/xvda",
                        Ebs=ec2.EBSBlockDevice(
                            VolumeSize=compute.root_volume_gb,
                            VolumeType="gp3",
                            Encrypted=True,
                            DeleteOnTermination=True,
                        ),
                    )
                ],
                Monitoring=ec2.Monitoring(Enabled=True),
                **user_data,
                TagSpecifications=[
                    ec2.TagSpecifications(
                        ResourceType=kind,
                        Tags=[Tag(k, v) for k, v in naming.standard_tags(spec).items()],
                    )
                    for kind in ("instance", "volume")
                ],
            ),
            # The template itself carries the project tag too: the deploy roles change
            # only EC2 resources that do (see deploy_permissions.network).
            TagSpecifications=[
                ec2.TagSpecifications(
                    ResourceType="launch-template",
                    Tags=[Tag(k, v) for k, v in naming.standard_tags(spec).items()],
                )
            ],
        ),
        "How instances are launched: hardened metadata service, encrypted disk, user data",
    )
    patch_group = naming.resource_name(spec, "web")
    group = purpose(
        autoscaling.AutoScalingGroup(
            "AutoScalingGroup",
            MinSize=str(compute.min_size),
            MaxSize=str(compute.max_size),
            DesiredCapacity=str(compute.desired_capacity),
            VPCZoneIdentifier=network.private_subnet_ids,
            LaunchTemplate=autoscaling.LaunchTemplateSpecification(
                LaunchTemplateId=Ref(launch_template),
                Version=GetAtt(launch_template, "LatestVersionNumber"),
            ),
            TargetGroupARNs=[load_balancer.target_group_arn],
            HealthCheckType="ELB",
            HealthCheckGracePeriod=BOOT_SECONDS,
            MetricsCollection=[autoscaling.MetricsCollection(Granularity="1Minute")],
            # Patch Manager picks an instance's patch baseline by this tag (see patching).
            Tags=[autoscaling.Tag("PatchGroup", patch_group, True)],
        ),
        "Web instances in the private subnets, replaced when the ALB finds them unhealthy",
    )
    # Replace instances a few at a time on launch template changes, never below min size.
    # CloudFormation requires MinInstancesInService < MaxSize: with min == max, one
    # instance at a time is taken out.
    group.UpdatePolicy = UpdatePolicy(
        AutoScalingRollingUpdate=AutoScalingRollingUpdate(
            MinInstancesInService=min(compute.min_size, compute.max_size - 1),
            MaxBatchSize=1,
            PauseTime=f"PT{BOOT_SECONDS // 60}M",
            WaitOnResourceSignals=False,
        )
    )
    scaling = purpose(
        autoscaling.ScalingPolicy(
            "CpuTargetTracking",
            AutoScalingGroupName=Ref(group),
            PolicyType="TargetTrackingScaling",
            TargetTrackingConfiguration=autoscaling.TargetTrackingConfiguration(
                PredefinedMetricSpecification=autoscaling.PredefinedMetricSpecification(
                    PredefinedMetricType="ASGAverageCPUUtilization"
                ),
                TargetValue=float(compute.cpu_target_percent),
            ),
        ),
        "Keeps average CPU near the spec's target",
    )
    handle = ComputeHandle(
        auto_scaling_group_name=Ref(group), instance_role_name=Ref(role), patch_group=patch_group
    )
    resources = [role, profile, launch_template, group]
    # A fixed-size group (min = max) has nothing to scale; Auto Scaling refuses a
    # target-tracking policy on it (cfn-lint E3712).
    if compute.min_size < compute.max_size:
        resources.append(scaling)
    return Built(resources, handle, parameters=[image])
