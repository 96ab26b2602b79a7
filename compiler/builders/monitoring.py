"""The region's alarms and dashboard, and the CloudWatch agent that feeds the instance alarms.

Every alarm is declared once as a `Watch`; the alarms and the dashboard are both made
from that list, so the dashboard always shows what the alarms judge.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from troposphere import (
    AWSHelperFn,
    Equals,
    Output,
    Ref,
    Sub,
    cloudwatch,
    encode_to_dict,
    iam,
    logs,
    ssm,
)

from compiler import naming
from compiler.builders import Built, purpose
from compiler.builders.handles import (
    ComputeHandle,
    DatabaseHandle,
    DnsHandle,
    LoadBalancerHandle,
    NetworkHandle,
    NotificationsHandle,
    ScheduledTasksHandle,
    WafHandle,
)
from compiler.context import ROUTE53_METRICS_REGION, RegionContext
from compiler.spec import InfraSpec

AGENT_NAMESPACE = "CWAgent"
ASG = "AutoScalingGroupName"
GIB = 1024**3
# VPC flow logs' default format: the 13th of its 14 space-separated fields is the action.
FLOW_LOG_FIELDS = (
    "version account eni source destination srcport destport protocol packets bytes "
    "windowstart windowend action flowlogstatus"
).split()
REJECTED_FLOWS_PATTERN = (
    "["
    + ", ".join('action="REJECT"' if field == "action" else field for field in FLOW_LOG_FIELDS)
    + "]"
)
REJECTED_FLOWS_METRIC = "RejectedFlows"
# The stack in Route 53's metrics region (context.ROUTE53_METRICS_REGION) alarms on them.
IN_ROUTE53_METRICS_REGION = "InRoute53MetricsRegion"


def agent_config_parameter_name(spec: InfraSpec) -> str:
    return "/" + "/".join((spec.project, spec.environment, "cloudwatch-agent"))


def flow_logs_namespace(spec: InfraSpec) -> str:
    return f"{naming.name_prefix(spec)}/VpcFlowLogs"


def agent_config() -> dict:
    """Memory and root-disk use, published once per group: `aggregation_dimensions` adds a
    series with the AutoScalingGroupName dimension alone (no host, path, device, fstype),
    which is exactly the dimension set the alarms below ask for."""
    return {
        "agent": {"metrics_collection_interval": 60, "run_as_user": "cwagent"},
        "metrics": {
            "namespace": AGENT_NAMESPACE,
            "append_dimensions": {ASG: "${aws:AutoScalingGroupName}"},
            "aggregation_dimensions": [[ASG]],
            "metrics_collected": {
                "mem": {"measurement": ["mem_used_percent"]},
                "disk": {"measurement": ["used_percent"], "resources": ["/"], "drop_device": True},
            },
        },
    }


def agent_document(parameter_name: str) -> dict:
    """Install the agent, then load its configuration from the parameter, in this order
    (two separate associations would race on a new instance)."""
    return {
        "schemaVersion": "2.2",
        "description": "Installs the CloudWatch agent and applies this stack's configuration.",
        "mainSteps": [
            {
                "action": "aws:runDocument",
                "name": "installAgent",
                "inputs": {
                    "documentType": "SSMDocument",
                    "documentPath": "AWS-ConfigureAWSPackage",
                    "documentParameters": {"action": "Install", "name": "AmazonCloudWatchAgent"},
                },
            },
            {
                "action": "aws:runDocument",
                "name": "configureAgent",
                "inputs": {
                    "documentType": "SSMDocument",
                    "documentPath": "AmazonCloudWatch-ManageAgent",
                    "documentParameters": {
                        "action": "configure",
                        "mode": "ec2",
                        "optionalConfigurationSource": "ssm",
                        "optionalConfigurationLocation": parameter_name,
                        "optionalRestart": "yes",
                    },
                },
            },
        ],
    }


class Watch(NamedTuple):
    """One alarm: a metric, how it is summarised, and when it is bad."""

    key: str  # names the alarm, e.g. "database free storage"
    title: str  # the dashboard widget; watches sharing a title share a widget
    namespace: str
    metric: str
    dimensions: tuple[tuple[str, Any], ...]
    statistic: str  # a CloudWatch statistic, or a percentile like "p95"
    comparison: str
    threshold: float | None  # None: a graph on the dashboard, no alarm
    missing_data: str  # TreatMissingData
    description: str
    # Where the metric is published (a region value in a StackSet); None: the stack's region.
    region: str | AWSHelperFn | None = None


def watches(
    spec: InfraSpec,
    network: NetworkHandle,
    compute: ComputeHandle,
    database: DatabaseHandle,
    load_balancer: LoadBalancerHandle,
) -> list[Watch]:
    m = spec.monitoring
    above, at_least, below = (
        "GreaterThanThreshold",
        "GreaterThanOrEqualToThreshold",
        "LessThanThreshold",
    )
    group = ((ASG, compute.auto_scaling_group_name),)
    db = (("DBInstanceIdentifier", database.instance_id),)
    alb = (("LoadBalancer", load_balancer.full_name),)
    target_group = (*alb, ("TargetGroup", load_balancer.target_group_full_name))
    found = [
        # EC2 publishes CPU for the group while it has instances; a rolling replacement
        # briefly interrupts the series: missing data keeps the alarm's state.
        Watch("instance cpu", "Web instances: CPU %", "AWS/EC2", "CPUUtilization", group,
              "Average", above, m.instances.cpu_percent, "missing",
              "Average CPU of the web instances is high; scaling may be at its maximum"),
        # The agent's metrics breach when missing: an agent that never installed or
        # stopped would otherwise leave these alarms silent for ever.
        Watch("instance memory", "Web instances: memory used % (busiest)", AGENT_NAMESPACE,
              "mem_used_percent", group, "Maximum", above, m.instances.memory_percent,
              "breaching", "A web instance is running out of memory (or its agent is silent)"),
        Watch("instance disk", "Web instances: root disk used % (fullest)", AGENT_NAMESPACE,
              "disk_used_percent", group, "Maximum", above, m.instances.disk_percent,
              "breaching",
              "A web instance's root file system is filling up (or its agent is silent)"),
        # RDS publishes every minute while the instance runs: no data means it does not.
        Watch("database cpu", "Database: CPU %", "AWS/RDS", "CPUUtilization", db, "Average",
              above, m.database.cpu_percent, "breaching",
              "Database CPU is high (or the database publishes nothing)"),
        Watch("database connections", "Database: connections", "AWS/RDS",
              "DatabaseConnections", db, "Maximum", above, m.database.connections,
              "breaching", "The database has many open connections (or publishes nothing)"),
        # One database alarm on silence is enough: the I/O alarms keep their state.
        Watch("database read iops", "Database: read IOPS", "AWS/RDS", "ReadIOPS", db,
              "Average", above, m.database.read_iops, "missing", "Database reads are high"),
        Watch("database write iops", "Database: write IOPS", "AWS/RDS", "WriteIOPS", db,
              "Average", above, m.database.write_iops, "missing", "Database writes are high"),
        Watch("database free storage", "Database: free storage (bytes)", "AWS/RDS",
              "FreeStorageSpace", db, "Minimum", below, m.database.free_storage_gb * GIB,
              "breaching", "The database is running out of storage (or publishes nothing)"),
        # No requests means no 5xx and no latency: missing data is good news.
        Watch("load balancer 5xx", "Load balancer: its own 5xx", "AWS/ApplicationELB",
              "HTTPCode_ELB_5XX_Count", alb, "Sum", above, m.load_balancer.elb_5xx_count,
              "notBreaching", "The load balancer answers 5xx itself (no healthy target?)"),
        Watch("target 5xx", "Load balancer: instances' 5xx", "AWS/ApplicationELB",
              "HTTPCode_Target_5XX_Count", target_group, "Sum", above,
              m.load_balancer.target_5xx_count, "notBreaching",
              "The web instances answer with 5xx errors"),
        Watch("response time", "Load balancer: response time p95 (s)", "AWS/ApplicationELB",
              "TargetResponseTime", target_group, "p95", above,
              m.load_balancer.response_time_p95_seconds, "notBreaching",
              "The 95th percentile of response time is slow"),
        # Minimum: a target unhealthy for the whole period, every period in a row. A
        # planned replacement (deploy, patching, scale-in) has a new instance unhealthy
        # only until it passes its checks, and the old one draining, never unhealthy.
        # No data: the target group has no targets at all, which the 5xx alarms report.
        Watch("unhealthy hosts", "Load balancer: unhealthy targets", "AWS/ApplicationELB",
              "UnHealthyHostCount", target_group, "Minimum", at_least,
              m.load_balancer.unhealthy_hosts, "missing",
              "Web instances fail the load balancer's health check for several periods"),
    ]  # fmt: skip
    for index, nat in enumerate(network.nat_gateway_ids):
        gateway = (("NatGatewayId", nat),)
        found += [
            # A NAT gateway without traffic publishes nothing: that is not a failure.
            Watch(f"nat {index + 1} dropped packets", "NAT gateways: dropped packets",
                  "AWS/NATGateway", "PacketsDropCount", gateway, "Sum", above,
                  m.nat_gateways.dropped_packets, "notBreaching",
                  f"NAT gateway {index + 1} drops packets"),
            Watch(f"nat {index + 1} port allocation errors",
                  "NAT gateways: port allocation errors", "AWS/NATGateway",
                  "ErrorPortAllocation", gateway, "Sum", at_least,
                  m.nat_gateways.port_allocation_errors, "notBreaching",
                  f"NAT gateway {index + 1} ran out of source ports for new connections"),
        ]  # fmt: skip
    found.append(
        # The metric filter publishes only when a REJECT record arrives.
        Watch("rejected flows", "VPC: rejected flows", flow_logs_namespace(spec),
              REJECTED_FLOWS_METRIC, (), "Sum", above, m.flow_logs.rejected_flows,
              "notBreaching", "Much traffic is rejected in the VPC (a scan or a misconfiguration)")
    )  # fmt: skip
    return found


def alarm(spec: InfraSpec, watch: Watch, topic: AWSHelperFn) -> cloudwatch.Alarm:
    statistic = (
        {"ExtendedStatistic": watch.statistic}
        if watch.statistic.startswith("p")
        else {"Statistic": watch.statistic}
    )
    dimensions = (
        {"Dimensions": [cloudwatch.MetricDimension(Name=n, Value=v) for n, v in watch.dimensions]}
        if watch.dimensions
        else {}
    )
    return purpose(
        cloudwatch.Alarm(
            naming.logical_id(watch.key, "alarm"),
            AlarmName=naming.resource_name(spec, *watch.key.split()),
            AlarmDescription=watch.description,
            Namespace=watch.namespace,
            MetricName=watch.metric,
            Period=spec.monitoring.period_seconds,
            EvaluationPeriods=spec.monitoring.evaluation_periods,
            ComparisonOperator=watch.comparison,
            Threshold=float(watch.threshold),
            TreatMissingData=watch.missing_data,
            AlarmActions=[topic],
            OKActions=[topic],
            **statistic,
            **dimensions,
        ),
        f"Alarm: {watch.description.lower()}",
    )


def task_watches(tasks: ScheduledTasksHandle) -> list[Watch]:
    """A failed run and a dead-lettered event of each scheduled task. No invocation and an
    empty queue publish nothing (an idle queue stops after six hours): not breaching."""
    found = []
    for task in tasks.tasks:
        found += [
            Watch(f"task {task.name} errors", "Scheduled tasks: errors", "AWS/Lambda",
                  "Errors", (("FunctionName", task.function_name),), "Sum",
                  "GreaterThanOrEqualToThreshold", 1, "notBreaching",
                  f"Scheduled task '{task.name}' failed a run"),
            Watch(f"task {task.name} dead letters", "Scheduled tasks: dead-letter queue depth",
                  "AWS/SQS", "ApproximateNumberOfMessagesVisible",
                  (("QueueName", task.dead_letter_queue_name),), "Maximum",
                  "GreaterThanOrEqualToThreshold", 1, "notBreaching",
                  f"Scheduled task '{task.name}' failed every retry of a run (see its queue)"),
        ]  # fmt: skip
    return found


def health_check_watch(dns: DnsHandle, region: str | AWSHelperFn) -> Watch:
    """Route 53's verdict on this region's ALB. Its metrics exist in us-east-1 only, so
    the alarm is made in that region's stack (condition IN_ROUTE53_METRICS_REGION), and
    every other region's in the us-east-1 health-alarm stack (health_alarms.py); the
    dashboard of every region shows the status. Missing data breaches: a deleted or
    never-published check is no proof of health."""
    return Watch(
        "health check", "Route 53: health check status (1 healthy)", "AWS/Route53",
        "HealthCheckStatus", (("HealthCheckId", dns.health_check_id),), "Minimum",
        "LessThanThreshold", 1, "breaching",
        "Route 53 finds this region's load balancer unhealthy: DNS answers another region",
        region=region,
    )  # fmt: skip


def traffic_graphs(
    network: NetworkHandle, load_balancer: LoadBalancerHandle, waf: WafHandle
) -> list[Watch]:
    """What the dashboard shows beside the alarms: traffic, NAT bytes and WAF blocks."""
    graphs = [
        Watch("requests", "Load balancer: requests", "AWS/ApplicationELB", "RequestCount",
              (("LoadBalancer", load_balancer.full_name),), "Sum", "", None, "", ""),
        Watch("waf blocked", "WAF: blocked requests", "AWS/WAFV2", "BlockedRequests",
              (("WebACL", waf.web_acl_name), ("Region", Ref("AWS::Region")), ("Rule", "ALL")),
              "Sum", "", None, "", ""),
    ]  # fmt: skip
    graphs += [
        Watch(f"nat {index + 1} bytes out", "NAT gateways: bytes to the internet",
              "AWS/NATGateway", "BytesOutToDestination", (("NatGatewayId", nat),), "Sum", "",
              None, "", "")
        for index, nat in enumerate(network.nat_gateway_ids)
    ]  # fmt: skip
    return graphs


def dashboard_body(spec: InfraSpec, found: list[Watch]) -> Sub:
    """The dashboard JSON, with references as `${...}` variables of one Fn::Sub."""
    # A region value is a variable even as a literal: the StackSet's lookup then stands
    # where the per-region template's literal does, and neither names a region inline.
    variables: dict[str, AWSHelperFn | str] = {}
    encoded: list[tuple[str, Any]] = []  # each variable's value as plain data, encoded once

    def variable(value: AWSHelperFn | str) -> str:
        plain = encode_to_dict(value)
        for name, known in encoded:
            if known == plain:
                return f"${{{name}}}"
        name = f"V{len(variables) + 1}"
        variables[name] = value
        encoded.append((name, plain))
        return f"${{{name}}}"

    def value(dimension: Any) -> str:
        return dimension if isinstance(dimension, str) else variable(dimension)

    titles = list(dict.fromkeys(watch.title for watch in found))
    widgets = []
    for index, title in enumerate(titles):
        members = [watch for watch in found if watch.title == title]
        metrics = [
            [w.namespace, w.metric, *[p for n, v in w.dimensions for p in (n, value(v))]]
            for w in members
        ]
        properties: dict[str, Any] = {
            "title": title,
            "region": "${AWS::Region}"
            if members[0].region is None
            else variable(members[0].region),
            "view": "timeSeries",
            "stat": members[0].statistic,
            "period": spec.monitoring.period_seconds,
            "metrics": metrics,
        }
        if members[0].threshold is not None:
            properties["annotations"] = {
                "horizontal": [{"label": "alarm", "value": members[0].threshold}]
            }
        widgets.append(
            {
                "type": "metric",
                "x": (index % 3) * 8,
                "y": (index // 3) * 6,
                "width": 8,
                "height": 6,
                "properties": properties,
            }
        )
    return Sub(json.dumps({"widgets": widgets}, separators=(",", ":")), **variables)


def replica_lag_watch(spec: InfraSpec, database: DatabaseHandle) -> Watch:
    """How far this region's replica is behind the writer: the data lost if it were
    promoted now. Missing data breaches: a replica that stopped replicating (or a broken
    source) stops publishing the metric."""
    return Watch(
        "database replica lag", "Database: replica lag (s)", "AWS/RDS", "ReplicaLag",
        (("DBInstanceIdentifier", database.instance_id),), "Maximum", "GreaterThanThreshold",
        spec.database.replica_lag_alarm_seconds, "breaching",
        "The read replica is behind the writer database (its RPO if promoted now)",
    )  # fmt: skip


def replica_lag_alarm(
    spec: InfraSpec, watch: Watch, database: DatabaseHandle, notifications: NotificationsHandle
) -> cloudwatch.Alarm:
    lag = alarm(spec, watch, notifications.alarm_topic_arn)
    lag.Condition = database.replica_condition  # only a replica publishes ReplicaLag
    return lag


def build_monitoring(
    spec: InfraSpec,
    ctx: RegionContext,
    network: NetworkHandle,
    compute: ComputeHandle,
    database: DatabaseHandle,
    load_balancer: LoadBalancerHandle,
    notifications: NotificationsHandle,
    dns: DnsHandle,
    waf: WafHandle,
    tasks: ScheduledTasksHandle,
) -> Built[None]:
    resources: list = [*_agent(spec, compute)]
    resources.append(
        purpose(
            logs.MetricFilter(
                "RejectedFlowsMetricFilter",
                LogGroupName=network.flow_log_group_name,
                FilterPattern=REJECTED_FLOWS_PATTERN,
                MetricTransformations=[
                    logs.MetricTransformation(
                        MetricNamespace=flow_logs_namespace(spec),
                        MetricName=REJECTED_FLOWS_METRIC,
                        MetricValue="1",
                        Unit="Count",
                    )
                ],
            ),
            "Counts flow log records of rejected traffic for the rejected-flows alarm",
        )
    )
    found = watches(spec, network, compute, database, load_balancer) + task_watches(tasks)
    resources += [alarm(spec, watch, notifications.alarm_topic_arn) for watch in found]
    if database.replica_condition:
        lag = replica_lag_watch(spec, database)
        resources.append(replica_lag_alarm(spec, lag, database, notifications))
        found = [*found, lag]  # on the dashboard too (the writer shows no data)
    route53_region = ctx.route53_metrics_region()
    health = health_check_watch(dns, route53_region or ROUTE53_METRICS_REGION)
    conditions = {}
    if route53_region is not None:  # else no stack of the spec is where the metrics are
        health_alarm = alarm(spec, health, notifications.alarm_topic_arn)
        health_alarm.Condition = IN_ROUTE53_METRICS_REGION
        resources.append(health_alarm)
        conditions[IN_ROUTE53_METRICS_REGION] = Equals(Ref("AWS::Region"), route53_region)
    dashboard = purpose(
        cloudwatch.Dashboard(
            "Dashboard",
            # Dashboard names are global to the account: the region keeps them apart.
            DashboardName=Sub(f"{naming.name_prefix(spec)}-${{AWS::Region}}"),
            DashboardBody=dashboard_body(
                spec, [*found, health, *traffic_graphs(network, load_balancer, waf)]
            ),
        ),
        "The metrics behind this region's alarms, with their thresholds, and its traffic",
    )
    resources.append(dashboard)
    outputs = [
        Output(
            "DashboardUrl",
            Description="This region's CloudWatch dashboard",
            # The commercial partition's console; GovCloud and China have their own.
            Value=Sub(
                "https://${AWS::Region}.console.aws.amazon.com/cloudwatch/home?region="
                "${AWS::Region}#dashboards:name=${Dashboard}",
                Dashboard=Ref(dashboard),
            ),
        )
    ]
    return Built(resources, None, outputs, conditions=conditions)


def _agent(spec: InfraSpec, compute: ComputeHandle) -> list:
    name = agent_config_parameter_name(spec)
    parameter = purpose(
        ssm.Parameter(
            "CloudWatchAgentConfig",
            Name=name,
            Type="String",  # CloudFormation cannot create SecureString; nothing secret here
            Tier="Standard",
            Description="CloudWatch agent configuration for the web instances",
            Value=json.dumps(agent_config(), separators=(",", ":"), sort_keys=True),
        ),
        "What the CloudWatch agent on the web instances collects",
    )
    # The agent's managed policy reads only parameters named AmazonCloudWatch-*.
    read = purpose(
        iam.PolicyType(
            "CloudWatchAgentConfigRead",
            PolicyName="read-cloudwatch-agent-config",
            Roles=[compute.instance_role_name],
            PolicyDocument={
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "ssm:GetParameter",
                        "Resource": Sub(
                            "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}"
                            f":parameter{name}"
                        ),
                    }
                ],
            },
        ),
        "Lets the web instances read the agent configuration parameter, and no other",
    )
    document = purpose(
        ssm.Document(
            "CloudWatchAgentDocument",
            # Named, so that the deploy roles scope documents by the project's prefix.
            Name=naming.resource_name(spec, "cloudwatch-agent"),
            DocumentType="Command",
            DocumentFormat="JSON",
            TargetType="/AWS::EC2::Instance",
            Content=agent_document(name),
            # A changed Content replaces the document by default, which CloudFormation
            # refuses for a named resource ("cannot update a stack when a custom-named
            # resource requires replacing"); a new version, made the default, instead.
            UpdateMethod="NewVersion",
        ),
        "Installs, then configures, the CloudWatch agent",
    )
    association = purpose(
        ssm.Association(
            "CloudWatchAgentAssociation",
            DependsOn=[parameter.title, read.title],
            Name=Ref(document),
            AssociationName=naming.resource_name(spec, "cloudwatch-agent"),
            # Auto Scaling tags each instance with its group: new instances are found too.
            Targets=[
                ssm.Targets(
                    Key="tag:aws:autoscaling:groupName",
                    Values=[compute.auto_scaling_group_name],
                )
            ],
            # Daily re-application also updates the agent and repairs a changed setup.
            ScheduleExpression="rate(1 day)",
        ),
        "Applies the agent document to every instance of the Auto Scaling group",
    )
    return [parameter, read, document, association]
