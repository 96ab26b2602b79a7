"""Alarms with the spec's thresholds, the CloudWatch agent that feeds them, the dashboard."""

from __future__ import annotations

import json
import re

import pytest

from compiler.load import load_spec_file
from compiler.spec import validate_spec

from .example import (
    EXAMPLE_SPEC,
    get_att,
    make_spec,
    only,
    ref,
    regional_template,
    resources,
)

# Every threshold differs from its default, so a test cannot pass on defaults alone.
MONITORING = {
    "period_seconds": 300,
    "evaluation_periods": 3,
    "instances": {"cpu_percent": 81, "memory_percent": 82, "disk_percent": 83},
    "database": {
        "cpu_percent": 84,
        "connections": 321,
        "read_iops": 1111,
        "write_iops": 2222,
        "free_storage_gb": 7,
    },
    "load_balancer": {
        "elb_5xx_count": 11,
        "target_5xx_count": 12,
        "response_time_p95_seconds": 0.75,
        "unhealthy_hosts": 2,
    },
    "nat_gateways": {"dropped_packets": 333, "port_allocation_errors": 4},
    "flow_logs": {"rejected_flows": 4444},
}
GIB = 1024**3

# logical ID: (namespace, metric, statistic, threshold, comparison, missing data)
EXPECTED_ALARMS = {
    "InstanceCpuAlarm": ("AWS/EC2", "CPUUtilization", "Average", 81, ">", "missing"),
    # An agent or a database that publishes nothing breaches: silence is not health.
    "InstanceMemoryAlarm": ("CWAgent", "mem_used_percent", "Maximum", 82, ">", "breaching"),
    "InstanceDiskAlarm": ("CWAgent", "disk_used_percent", "Maximum", 83, ">", "breaching"),
    "DatabaseCpuAlarm": ("AWS/RDS", "CPUUtilization", "Average", 84, ">", "breaching"),
    "DatabaseConnectionsAlarm": (
        "AWS/RDS", "DatabaseConnections", "Maximum", 321, ">", "breaching"
    ),
    "DatabaseReadIopsAlarm": ("AWS/RDS", "ReadIOPS", "Average", 1111, ">", "missing"),
    "DatabaseWriteIopsAlarm": ("AWS/RDS", "WriteIOPS", "Average", 2222, ">", "missing"),
    "DatabaseFreeStorageAlarm": (
        "AWS/RDS", "FreeStorageSpace", "Minimum", 7 * GIB, "<", "breaching"
    ),
    "LoadBalancer5xxAlarm": (
        "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "Sum", 11, ">", "notBreaching"
    ),
    "Target5xxAlarm": (
        "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum", 12, ">", "notBreaching"
    ),
    "ResponseTimeAlarm": (
        "AWS/ApplicationELB", "TargetResponseTime", "p95", 0.75, ">", "notBreaching"
    ),
    "UnhealthyHostsAlarm": (
        # Minimum: unhealthy for whole periods, not a new instance still registering.
        "AWS/ApplicationELB", "UnHealthyHostCount", "Minimum", 2, ">=", "missing"
    ),
    "RejectedFlowsAlarm": (
        "storefront-production/VpcFlowLogs", "RejectedFlows", "Sum", 4444, ">", "notBreaching"
    ),
}  # fmt: skip
COMPARISONS = {
    ">": "GreaterThanThreshold",
    ">=": "GreaterThanOrEqualToThreshold",
    "<": "LessThanThreshold",
}


@pytest.fixture(scope="module")
def template():
    return regional_template(make_spec(monitoring=MONITORING))


@pytest.fixture(scope="module")
def alarms(template):
    return {n: r["Properties"] for n, r in resources(template, "AWS::CloudWatch::Alarm").items()}


def dimensions(alarm: dict) -> dict:
    return {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}


def statistic(alarm: dict) -> str:
    return alarm.get("ExtendedStatistic") or alarm["Statistic"]


@pytest.mark.parametrize("logical_id", sorted(EXPECTED_ALARMS))
def test_alarm_has_the_spec_threshold_and_notifies_the_topic(template, alarms, logical_id):
    namespace, metric, stat, threshold, comparison, missing = EXPECTED_ALARMS[logical_id]
    alarm = alarms[logical_id]
    topic, _ = only(template, "AWS::SNS::Topic")
    assert (alarm["Namespace"], alarm["MetricName"], statistic(alarm)) == (namespace, metric, stat)
    assert alarm["Threshold"] == threshold
    assert alarm["ComparisonOperator"] == COMPARISONS[comparison]
    assert alarm["TreatMissingData"] == missing
    assert alarm["AlarmActions"] == [ref(topic)]
    assert alarm["OKActions"] == [ref(topic)]
    assert alarm["Period"] == 300
    assert alarm["EvaluationPeriods"] == 3


def test_percentiles_are_extended_statistics(alarms):
    for name, alarm in alarms.items():
        assert not ("Statistic" in alarm and "ExtendedStatistic" in alarm), name
        if "ExtendedStatistic" in alarm:
            assert re.fullmatch(r"p\d+(\.\d+)?", alarm["ExtendedStatistic"]), name


def test_instance_and_database_alarms_watch_this_stacks_group_and_database(template, alarms):
    group, _ = only(template, "AWS::AutoScaling::AutoScalingGroup")
    database, _ = only(template, "AWS::RDS::DBInstance")
    for name in ("InstanceCpuAlarm", "InstanceMemoryAlarm", "InstanceDiskAlarm"):
        assert dimensions(alarms[name]) == {"AutoScalingGroupName": ref(group)}, name
    for name in EXPECTED_ALARMS:
        if name.startswith("Database"):
            assert dimensions(alarms[name]) == {"DBInstanceIdentifier": ref(database)}, name


def test_load_balancer_alarms_use_the_full_names(template, alarms):
    alb, _ = only(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    target_group, _ = only(template, "AWS::ElasticLoadBalancingV2::TargetGroup")
    load_balancer = get_att(alb, "LoadBalancerFullName")
    assert dimensions(alarms["LoadBalancer5xxAlarm"]) == {"LoadBalancer": load_balancer}
    for name in ("Target5xxAlarm", "ResponseTimeAlarm", "UnhealthyHostsAlarm"):
        assert dimensions(alarms[name]) == {
            "LoadBalancer": load_balancer,
            "TargetGroup": get_att(target_group, "TargetGroupFullName"),
        }, name


@pytest.mark.parametrize("mode", ["per_az", "single"])
def test_each_nat_gateway_has_its_own_alarms(mode):
    template = regional_template(make_spec(network={"nat_gateways": mode}, monitoring=MONITORING))
    nats = sorted(resources(template, "AWS::EC2::NatGateway"))
    alarms = resources(template, "AWS::CloudWatch::Alarm").values()
    for metric, threshold in (("PacketsDropCount", 333), ("ErrorPortAllocation", 4)):
        found = [a["Properties"] for a in alarms if a["Properties"]["MetricName"] == metric]
        assert sorted(dimensions(a)["NatGatewayId"]["Ref"] for a in found) == nats
        for alarm in found:
            assert alarm["Namespace"] == "AWS/NATGateway"
            assert alarm["Statistic"] == "Sum"
            assert alarm["Threshold"] == threshold
            assert alarm["TreatMissingData"] == "notBreaching"


def test_rejected_flows_are_counted_from_the_flow_log_group(template, alarms):
    _, flow_log = only(template, "AWS::EC2::FlowLog")
    _, metric_filter = only(template, "AWS::Logs::MetricFilter")
    assert metric_filter["LogGroupName"] == flow_log["LogGroupName"]
    fields = metric_filter["FilterPattern"].strip("[]").split(", ")
    assert len(fields) == 14  # the default flow log format
    assert fields[12] == 'action="REJECT"'
    (transformation,) = metric_filter["MetricTransformations"]
    assert transformation["MetricValue"] == "1"
    alarm = alarms["RejectedFlowsAlarm"]
    assert (alarm["Namespace"], alarm["MetricName"]) == (
        transformation["MetricNamespace"],
        transformation["MetricName"],
    )
    assert "Dimensions" not in alarm  # the filter publishes none


def published_series(config: dict) -> list[tuple[str, str, frozenset[str]]]:
    """(namespace, metric name, dimension names) of the agent's aggregated series.

    The agent names a metric `<plugin>_<measurement>` unless the measurement already
    carries the prefix, and publishes each `aggregation_dimensions` set on its own."""
    metrics = config["metrics"]
    namespace = metrics.get("namespace", "CWAgent")
    series = []
    for plugin, settings in metrics["metrics_collected"].items():
        for measurement in settings["measurement"]:
            name = (
                measurement if measurement.startswith(f"{plugin}_") else f"{plugin}_{measurement}"
            )
            for dimension_set in metrics["aggregation_dimensions"]:
                series.append((namespace, name, frozenset(dimension_set)))
    return series


# The agent's parameter; the app's runtime settings (builders/app_config.py) sit beside it.
AGENT_PARAMETER = "CloudWatchAgentConfig"


def agent_config(template: dict) -> dict:
    parameter = resources(template, "AWS::SSM::Parameter")[AGENT_PARAMETER]
    return json.loads(parameter["Properties"]["Value"])


def test_memory_and_disk_alarms_watch_exactly_what_the_agent_publishes(template, alarms):
    config = agent_config(template)
    published = published_series(config)
    appended = config["metrics"]["append_dimensions"]
    group, _ = only(template, "AWS::AutoScaling::AutoScalingGroup")
    for name in ("InstanceMemoryAlarm", "InstanceDiskAlarm"):
        alarm = alarms[name]
        dims = dimensions(alarm)
        assert (alarm["Namespace"], alarm["MetricName"], frozenset(dims)) in published, name
        # each dimension is filled in by the agent with the instance's group name
        for dimension, value in dims.items():
            assert appended[dimension] == "${aws:AutoScalingGroupName}"
            assert value == ref(group)
    assert config["metrics"]["metrics_collected"]["disk"]["resources"] == ["/"]


def test_agent_parameter_is_named_under_the_project_and_environment(template):
    parameter = resources(template, "AWS::SSM::Parameter")[AGENT_PARAMETER]
    assert parameter["Properties"]["Name"] == "/storefront/production/cloudwatch-agent"
    assert parameter["Properties"]["Type"] == "String"


def test_association_installs_then_configures_the_agent_on_the_groups_instances(template):
    group, _ = only(template, "AWS::AutoScaling::AutoScalingGroup")
    parameter_id = AGENT_PARAMETER
    assert parameter_id in resources(template, "AWS::SSM::Parameter")
    (association,) = resources(template, "AWS::SSM::Association").values()
    properties = association["Properties"]
    assert properties["Targets"] == [
        {"Key": "tag:aws:autoscaling:groupName", "Values": [ref(group)]}
    ]
    assert parameter_id in association["DependsOn"]
    document_id = properties["Name"]["Ref"]
    document = template["Resources"][document_id]["Properties"]
    assert document["DocumentType"] == "Command"
    steps = document["Content"]["mainSteps"]
    assert [s["inputs"]["documentPath"] for s in steps] == [
        "AWS-ConfigureAWSPackage",
        "AmazonCloudWatch-ManageAgent",
    ]
    assert steps[0]["inputs"]["documentParameters"] == {
        "action": "Install",
        "name": "AmazonCloudWatchAgent",
    }
    configure = steps[1]["inputs"]["documentParameters"]
    assert configure["optionalConfigurationSource"] == "ssm"
    parameter_name = template["Resources"][parameter_id]["Properties"]["Name"]
    assert configure["optionalConfigurationLocation"] == parameter_name


def test_instances_may_read_the_agent_parameter_and_nothing_else(template):
    parameter_id = AGENT_PARAMETER
    assert parameter_id in resources(template, "AWS::SSM::Parameter")
    name = template["Resources"][parameter_id]["Properties"]["Name"]
    role, _ = only(template, "AWS::IAM::InstanceProfile")
    policies = [
        p["Properties"]
        for p in resources(template, "AWS::IAM::Policy").values()
        if p["Properties"]["PolicyName"] == "read-cloudwatch-agent-config"
    ]
    (policy,) = policies
    instance_role = template["Resources"][role]["Properties"]["Roles"][0]
    assert policy["Roles"] == [instance_role]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == "ssm:GetParameter"
    assert statement["Resource"]["Fn::Sub"].endswith(f":parameter{name}")


def token(reference: dict) -> str:
    """A reference written as text that can stand inside a JSON string."""
    return "<" + json.dumps(reference, sort_keys=True).replace('"', "'") + ">"


def dashboard(template: dict) -> dict:
    """The dashboard body, each Fn::Sub variable replaced by the `token` of its value."""
    _, properties = only(template, "AWS::CloudWatch::Dashboard")
    text, variables = properties["DashboardBody"]["Fn::Sub"]
    for name, value in variables.items():
        text = text.replace(f"${{{name}}}", token(value))
    return json.loads(text)


def test_dashboard_shows_every_alarm_metric_in_its_region(template, alarms):
    body = dashboard(template)
    shown = set()
    for widget in body["widgets"]:
        # Route 53 publishes its health-check metrics in us-east-1 only.
        route53 = widget["properties"]["metrics"][0][0] == "AWS/Route53"
        expected = token("us-east-1") if route53 else "${AWS::Region}"  # a Sub variable
        assert widget["properties"]["region"] == expected
        for line in widget["properties"]["metrics"]:
            shown.add(tuple(line))
    for name, alarm in alarms.items():
        line = [alarm["Namespace"], alarm["MetricName"]]
        for dimension in alarm.get("Dimensions", []):
            value = dimension["Value"]  # a literal stays itself, a reference a token
            line += [dimension["Name"], value if isinstance(value, str) else token(value)]
        assert tuple(line) in shown, name


def test_dashboard_shows_traffic_nat_bytes_waf_blocks_and_health(template):
    metrics = {
        tuple(line[:2])
        for w in dashboard(template)["widgets"]
        for line in w["properties"]["metrics"]
    }
    assert {
        ("AWS/ApplicationELB", "RequestCount"),
        ("AWS/NATGateway", "BytesOutToDestination"),
        ("AWS/WAFV2", "BlockedRequests"),
        ("AWS/Route53", "HealthCheckStatus"),
    } <= metrics


def test_health_check_alarm_is_made_where_route53_publishes(template):
    alarm = template["Resources"]["HealthCheckAlarm"]
    assert alarm["Condition"] == "InRoute53MetricsRegion"
    assert template["Conditions"]["InRoute53MetricsRegion"] == {
        "Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]
    }
    properties = alarm["Properties"]
    assert (properties["Namespace"], properties["MetricName"]) == (
        "AWS/Route53",
        "HealthCheckStatus",
    )
    assert properties["Dimensions"] == [{"Name": "HealthCheckId", "Value": {"Ref": "HealthCheck"}}]
    assert (properties["ComparisonOperator"], properties["Threshold"]) == ("LessThanThreshold", 1.0)
    assert properties["TreatMissingData"] == "breaching"


def test_each_scheduled_task_alarms_on_errors_and_dead_letters(template, alarms):
    errors = alarms["TaskBucketReportErrorsAlarm"]
    assert errors["Dimensions"] == [
        {"Name": "FunctionName", "Value": "storefront-production-bucket-report"}
    ]
    assert (errors["MetricName"], errors["Threshold"]) == ("Errors", 1.0)
    letters = alarms["TaskBucketReportDeadLettersAlarm"]
    assert letters["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert letters["Dimensions"][0]["Name"] == "QueueName"
    # No run and an empty queue publish nothing: that is not a failure.
    assert errors["TreatMissingData"] == letters["TreatMissingData"] == "notBreaching"


def test_outputs_name_the_dashboard_and_the_health_check(template):
    url = template["Outputs"]["DashboardUrl"]["Value"]["Fn::Sub"]
    assert url[0].endswith("#dashboards:name=${Dashboard}") and url[1] == {
        "Dashboard": {"Ref": "Dashboard"}
    }
    assert template["Outputs"]["HealthCheckId"]["Value"] == {"Ref": "HealthCheck"}


def test_dashboard_is_named_per_region(template):
    # dashboard names are global to an account: two regions must not collide
    _, properties = only(template, "AWS::CloudWatch::Dashboard")
    assert properties["DashboardName"] == {"Fn::Sub": "storefront-production-${AWS::Region}"}


def test_alarm_names_are_unique_and_prefixed(alarms):
    names = [a["AlarmName"] for a in alarms.values()]
    assert len(set(names)) == len(names)
    assert all(n.startswith("storefront-production-") for n in names)


def test_defaults_apply_without_a_monitoring_section():
    loaded = load_spec_file(EXAMPLE_SPEC)
    del loaded.data["monitoring"], loaded.data["notifications"]
    spec = validate_spec(loaded)
    template = regional_template(spec)
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    nats = resources(template, "AWS::EC2::NatGateway")
    # The spec's own alarms, two per NAT gateway and per scheduled task, the replicas'
    # lag alarm and the health-check alarm (made in us-east-1 only).
    tasks = len(spec.scheduled_tasks)
    assert len(alarms) == len(EXPECTED_ALARMS) + 2 * len(nats) + 2 * tasks + 2
    assert alarms["InstanceCpuAlarm"]["Properties"]["Threshold"] == 80
    assert alarms["InstanceCpuAlarm"]["Properties"]["Period"] == 60


def test_replica_lag_is_alarmed_in_replica_regions_only():
    """One conditioned alarm in every regional template; its condition is the replica one."""
    spec = make_spec(database={"replica_lag_alarm_seconds": 120})
    for region in spec.regions:
        template = regional_template(spec, region.name)
        alarm = template["Resources"]["DatabaseReplicaLagAlarm"]
        assert alarm["Condition"] == "IsReplicaRegion"
        assert alarm["Properties"]["MetricName"] == "ReplicaLag"
        assert alarm["Properties"]["Threshold"] == float(spec.database.replica_lag_alarm_seconds)
        assert alarm["Properties"]["TreatMissingData"] == "breaching"
        assert template["Conditions"]["IsReplicaRegion"] == {
            "Fn::Not": [{"Condition": "IsWriterRegion"}]
        }


def test_without_replicas_there_is_no_lag_alarm():
    loaded = load_spec_file(EXAMPLE_SPEC)
    loaded.data["database"] = {**loaded.data.get("database", {}), "replicas": False}
    template = regional_template(validate_spec(loaded))
    assert "DatabaseReplicaLagAlarm" not in template["Resources"]


def test_without_a_stack_in_us_east_1_no_health_check_alarm_is_made():
    # Route 53's metrics exist in us-east-1 only: no stack elsewhere can alarm on them.
    spec = make_spec(
        regions=[
            {"name": "eu-west-1", "cidr": "10.10.0.0/16"},
            {"name": "eu-central-1", "cidr": "10.20.0.0/16"},
        ],
        load_balancer={"certificate_arns": {}},
    )
    template = regional_template(spec)
    assert "HealthCheckAlarm" not in template["Resources"]
    assert "InRoute53MetricsRegion" not in template.get("Conditions", {})
