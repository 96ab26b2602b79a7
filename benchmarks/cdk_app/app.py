"""A CDK v2 Python app of the example spec's resource mix, for the benchmark's CDK rows.

Not part of the compiler: `benchmarks/compile_bench.py` times `cdk synth` of this app
beside `infra compile` of `infra.yaml`, with the regions of the generated specs
(`-c regions=N`, default 2; `-c azs=K`, default 3). It builds what the example builds, the idiomatic CDK way
(L2 constructs, one stack per region plus a global stack), so the comparison is what a
team would otherwise write: per region a VPC over three AZs with a NAT gateway each and
flow logs, an HTTPS ALB with a WAF web ACL, an Auto Scaling group with a launch template,
a PostgreSQL instance, buckets, a scheduled Lambda task, patching, an alarm topic with
alarms and a dashboard, a Route 53 health check and record; globally a hosted zone, a
deployment role, a CloudTrail trail and their buckets and keys. No AWS account is
queried: availability zones, the hosted zone and the certificates are given.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import (
    aws_autoscaling as autoscaling,
)
from aws_cdk import (
    aws_certificatemanager as acm,
)
from aws_cdk import (
    aws_cloudtrail as cloudtrail,
)
from aws_cdk import (
    aws_cloudwatch as cloudwatch,
)
from aws_cdk import (
    aws_cloudwatch_actions as cw_actions,
)
from aws_cdk import (
    aws_ec2 as ec2,
)
from aws_cdk import (
    aws_elasticloadbalancingv2 as elbv2,
)
from aws_cdk import (
    aws_events as events,
)
from aws_cdk import (
    aws_events_targets as targets,
)
from aws_cdk import (
    aws_iam as iam,
)
from aws_cdk import (
    aws_kms as kms,
)
from aws_cdk import (
    aws_lambda as lambda_,
)
from aws_cdk import (
    aws_logs as logs,
)
from aws_cdk import (
    aws_rds as rds,
)
from aws_cdk import (
    aws_route53 as route53,
)
from aws_cdk import (
    aws_s3 as s3,
)
from aws_cdk import (
    aws_sns as sns,
)
from aws_cdk import (
    aws_sns_subscriptions as subscriptions,
)
from aws_cdk import (
    aws_ssm as ssm,
)
from aws_cdk import (
    aws_wafv2 as wafv2,
)
from constructs import Construct

ACCOUNT = "123456789012"
# The benchmark's region order (compile_bench.REGIONS); CIDRs are 10.<index>.0.0/16.
REGIONS = (
    "us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1", "ap-northeast-1",
    "us-east-2", "eu-west-2", "ap-southeast-2", "ca-central-1", "eu-north-1", "ap-south-1",
    "sa-east-1", "eu-west-3", "ap-northeast-2", "us-west-1",
)  # fmt: skip
MANAGED_RULE_GROUPS = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
)
TASK_CODE = "import os\n\ndef handler(event, context):\n    return os.environ['TASK_BUCKETS']\n"


class GlobalStack(cdk.Stack):
    def __init__(self, scope: Construct, name: str, **kwargs) -> None:
        super().__init__(scope, name, **kwargs)
        self.zone = route53.PublicHostedZone(self, "Zone", zone_name="example.com")
        key = kms.Key(self, "TrailKey", enable_key_rotation=True, alias="storefront-trail")
        logs_bucket = s3.Bucket(
            self, "AccessLogs", encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL, enforce_ssl=True,
        )  # fmt: skip
        trail_bucket = s3.Bucket(
            self, "TrailBucket", encryption=s3.BucketEncryption.KMS, encryption_key=key,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL, enforce_ssl=True,
            server_access_logs_bucket=logs_bucket, versioned=True,
        )  # fmt: skip
        cloudtrail.Trail(
            self, "Trail", bucket=trail_bucket, encryption_key=key,
            is_multi_region_trail=True, include_global_service_events=True,
        )  # fmt: skip
        deployer = iam.Role(
            self, "DeployRole",
            assumed_by=iam.ArnPrincipal(f"arn:aws:iam::{ACCOUNT}:role/platform-team"),
        )  # fmt: skip
        for index, service in enumerate(("ec2", "elasticloadbalancing", "rds", "s3")):
            iam.ManagedPolicy(
                self, f"Deploy{index}", roles=[deployer],
                statements=[iam.PolicyStatement(
                    actions=[f"{service}:Describe*", f"{service}:Create*"], resources=["*"],
                )],
            )  # fmt: skip
        for name in ("StackSetAdmin", "StackSetExecution", "Readonly"):
            iam.Role(self, name, assumed_by=iam.ServicePrincipal("cloudformation.amazonaws.com"))


class RegionStack(cdk.Stack):
    @property
    def availability_zones(self) -> list[str]:
        # Given, as the spec's AZ count is: the default asks the account (a context lookup).
        return [f"{self.region}{zone}" for zone in "abcdef"[: self.zone_count]]

    def __init__(
        self,
        scope: Construct,
        name: str,
        *,
        index: int,
        zone_id: str,
        primary: bool,
        zone_count: int,
        **kwargs,
    ) -> None:
        self.zone_count = zone_count
        super().__init__(scope, name, **kwargs)
        region = self.region
        key = kms.Key(self, "DataKey", enable_key_rotation=True)
        flow_logs = logs.LogGroup(
            self, "FlowLogs", retention=logs.RetentionDays.THREE_MONTHS, encryption_key=key
        )
        vpc = ec2.Vpc(
            self, "Vpc", ip_addresses=ec2.IpAddresses.cidr(f"10.{index}.0.0/16"),
            availability_zones=self.availability_zones, nat_gateways=zone_count,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC),
                ec2.SubnetConfiguration(
                    name="Private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
                ),
                ec2.SubnetConfiguration(
                    name="Database", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED
                ),
            ],
            flow_logs={"All": ec2.FlowLogOptions(
                destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs)
            )},
        )  # fmt: skip
        logs_bucket = s3.Bucket(
            self, "Logs", encryption=s3.BucketEncryption.S3_MANAGED, enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        )  # fmt: skip
        assets = s3.Bucket(
            self, "Assets", encryption=s3.BucketEncryption.KMS, encryption_key=key,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL, enforce_ssl=True,
            versioned=True, server_access_logs_bucket=logs_bucket,
            lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=cdk.Duration.days(90))],
        )  # fmt: skip

        alb = elbv2.ApplicationLoadBalancer(self, "Alb", vpc=vpc, internet_facing=True)
        alb.log_access_logs(logs_bucket)
        certificate = acm.Certificate.from_certificate_arn(
            self, "Certificate",
            f"arn:aws:acm:{region}:{ACCOUNT}:certificate/0a1b2c3d-1111-4e5f-8a9b-{index:012d}",
        )  # fmt: skip
        image = ec2.MachineImage.from_ssm_parameter(
            "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
        )
        web_group = ec2.SecurityGroup(self, "WebSg", vpc=vpc, allow_all_outbound=True)
        template = ec2.LaunchTemplate(
            self, "LaunchTemplate", instance_type=ec2.InstanceType("t3.small"),
            security_group=web_group,
            machine_image=image, require_imdsv2=True,
            role=iam.Role(self, "InstanceRole",
                          assumed_by=iam.ServicePrincipal("ec2.amazonaws.com")),
            user_data=ec2.UserData.for_linux(),
            block_devices=[ec2.BlockDevice(device_name="/dev/xvda", volume=ec2.BlockDeviceVolume.ebs(
                20, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3))],
        )  # fmt: skip
        group = autoscaling.AutoScalingGroup(
            self, "Web", vpc=vpc, launch_template=template, min_capacity=2, max_capacity=10,
            desired_capacity=2,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
        )  # fmt: skip
        group.scale_on_cpu_utilization("Cpu", target_utilization_percent=60)
        group.connections.allow_from(ec2.Peer.ipv4("10.255.0.0/24"), ec2.Port.tcp(22))
        listener = alb.add_listener("Https", port=443, certificates=[certificate])
        listener.add_targets(
            "App", port=80, targets=[group],
            health_check=elbv2.HealthCheck(path="/health"),
        )  # fmt: skip
        alb.add_redirect()

        acl = wafv2.CfnWebACL(
            self, "WebAcl", scope="REGIONAL", default_action={"allow": {}},
            visibility_config={"cloudWatchMetricsEnabled": True, "metricName": "acl",
                               "sampledRequestsEnabled": True},
            rules=[
                {"name": group_name, "priority": priority, "overrideAction": {"none": {}},
                 "statement": {"managedRuleGroupStatement": {
                     "vendorName": "AWS", "name": group_name}},
                 "visibilityConfig": {"cloudWatchMetricsEnabled": True,
                                      "metricName": group_name, "sampledRequestsEnabled": True}}
                for priority, group_name in enumerate(MANAGED_RULE_GROUPS)
            ] + [
                {"name": "RateLimit", "priority": len(MANAGED_RULE_GROUPS),
                 "action": {"block": {}},
                 "statement": {"rateBasedStatement": {"limit": 2000, "aggregateKeyType": "IP"}},
                 "visibilityConfig": {"cloudWatchMetricsEnabled": True,
                                      "metricName": "rate", "sampledRequestsEnabled": True}},
            ],
        )  # fmt: skip
        wafv2.CfnWebACLAssociation(
            self, "WebAclAlb", resource_arn=alb.load_balancer_arn, web_acl_arn=acl.attr_arn
        )
        waf_logs = logs.LogGroup(
            self, "WafLogs", log_group_name=f"aws-waf-logs-storefront-production-{region}",
            retention=logs.RetentionDays.THREE_MONTHS, encryption_key=key,
        )  # fmt: skip
        wafv2.CfnLoggingConfiguration(
            self, "WafLogging", resource_arn=acl.attr_arn,
            log_destination_configs=[waf_logs.log_group_arn],
        )  # fmt: skip

        database = rds.DatabaseInstance(
            self, "Database",
            engine=rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.of("17.5", "17")),
            instance_type=ec2.InstanceType("t3.medium"), vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            allocated_storage=50, max_allocated_storage=200, multi_az=True,
            backup_retention=cdk.Duration.days(7), storage_encrypted=True, storage_encryption_key=key,
            parameter_group=rds.ParameterGroup(
                self, "DbParameters",
                engine=rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.of("17.5", "17")),
                parameters={"rds.force_ssl": "1"},
            ),
        )  # fmt: skip
        database.connections.allow_default_port_from(group)
        ssm.StringParameter(
            self, "DatabaseRole", parameter_name="/storefront/production/database/role",
            string_value="writer" if primary else "replica",
        )  # fmt: skip

        task = lambda_.Function(
            self, "BucketReport", runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler",
            code=lambda_.Code.from_inline(TASK_CODE), timeout=cdk.Duration.seconds(120),
            memory_size=256, reserved_concurrent_executions=1,
            environment={"TASK_BUCKETS": assets.bucket_name, "REPORT_NAME": "bucket-usage"},
            log_group=logs.LogGroup(self, "TaskLogs", retention=logs.RetentionDays.THREE_MONTHS),
        )  # fmt: skip
        assets.grant_read(task)
        events.Rule(
            self, "TaskSchedule", schedule=events.Schedule.expression("cron(0 6 * * ? *)"),
            targets=[targets.LambdaFunction(task)],
        )  # fmt: skip

        baseline = ssm.CfnPatchBaseline(
            self, "PatchBaseline", name=f"storefront-production-{region}",
            operating_system="AMAZON_LINUX_2023",
            approval_rules={"patchRules": [{"approveAfterDays": 7, "patchFilterGroup": {
                "patchFilters": [{"key": "CLASSIFICATION", "values": ["Security", "Bugfix"]},
                                 {"key": "SEVERITY", "values": ["Critical", "Important"]}]}}]},
        )  # fmt: skip
        window = ssm.CfnMaintenanceWindow(
            self, "PatchWindow", name="storefront-patching", schedule="cron(0 3 ? * SUN *)",
            duration=3, cutoff=1, allow_unassociated_targets=False,
        )  # fmt: skip
        ssm.CfnMaintenanceWindowTask(
            self, "PatchTask", window_id=window.ref, task_arn="AWS-RunPatchBaseline",
            task_type="RUN_COMMAND", priority=1, max_concurrency="50%", max_errors="1",
            targets=[{"key": "WindowTargetIds", "values": [baseline.ref]}],
        )  # fmt: skip
        ssm.CfnAssociation(
            self, "Agent", name="AWS-ConfigureAWSPackage",
            targets=[{"key": "tag:aws:autoscaling:groupName",
                      "values": [group.auto_scaling_group_name]}],
        )  # fmt: skip

        topic = sns.Topic(self, "Alarms", master_key=key)
        topic.add_subscription(subscriptions.EmailSubscription("ops@example.com"))
        metrics = [
            group.metric("CPUUtilization") if hasattr(group, "metric") else None,
            database.metric_cpu_utilization(),
            database.metric_database_connections(),
            database.metric_read_iops(),
            database.metric_write_iops(),
            database.metric_free_storage_space(),
            alb.metrics.http_code_elb(elbv2.HttpCodeElb.ELB_5XX_COUNT),
            alb.metrics.http_code_target(elbv2.HttpCodeTarget.TARGET_5XX_COUNT),
            alb.metrics.target_response_time(statistic="p95"),
            alb.metrics.rejected_connection_count(),
        ]
        widgets = []
        for number, metric in enumerate(m for m in metrics if m is not None):
            alarm = metric.create_alarm(
                self, f"Alarm{number}", threshold=80, evaluation_periods=5,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )  # fmt: skip
            alarm.add_alarm_action(cw_actions.SnsAction(topic))
            widgets.append(cloudwatch.AlarmWidget(alarm=alarm, title=f"alarm {number}"))
        for zone in range(3):
            for metric_name in (
                "PacketsDropCount",
                "ErrorPortAllocation",
                "ConnectionEstablishedCount",
            ):
                alarm = cloudwatch.Metric(
                    namespace="AWS/NATGateway",
                    metric_name=metric_name,
                    dimensions_map={"NatGatewayId": f"nat-{zone}"},
                ).create_alarm(self, f"Nat{zone}{metric_name}", threshold=100, evaluation_periods=5)
                alarm.add_alarm_action(cw_actions.SnsAction(topic))
        cloudwatch.Dashboard(self, "Dashboard", widgets=[widgets])

        check = route53.CfnHealthCheck(
            self, "HealthCheck", health_check_config={
                "type": "HTTPS", "fullyQualifiedDomainName": alb.load_balancer_dns_name,
                "resourcePath": "/health", "requestInterval": 30, "failureThreshold": 3},
        )  # fmt: skip
        route53.CfnRecordSet(
            self, "Record", hosted_zone_id=zone_id, name="shop.example.com", type="A",
            set_identifier=region, region=region, health_check_id=check.attr_health_check_id,
            alias_target={"dnsName": alb.load_balancer_dns_name,
                          "hostedZoneId": alb.load_balancer_canonical_hosted_zone_id,
                          "evaluateTargetHealth": True},
        )  # fmt: skip


def main() -> None:
    app = cdk.App()
    count = int(app.node.try_get_context("regions") or 2)
    # As many AZs as the spec gets (compile_bench.example_in_regions): three at most.
    zone_count = int(app.node.try_get_context("azs") or 3)
    regions = REGIONS[:count]
    global_stack = GlobalStack(
        app, "storefront-production-global", env=cdk.Environment(account=ACCOUNT, region=regions[0])
    )
    for index, region in enumerate(regions):
        RegionStack(
            app, f"storefront-production-{region}", index=index, primary=index == 0,
            zone_id="Z0123456789EXAMPLE", zone_count=zone_count,
            env=cdk.Environment(account=ACCOUNT, region=region),
        )  # fmt: skip
    del global_stack
    app.synth()


if __name__ == "__main__":
    main()
