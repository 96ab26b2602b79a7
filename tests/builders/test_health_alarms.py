"""Every region's Route 53 health check is alarmed in us-east-1, where its metrics are: the
us-east-1 regional stack alarms its own, the health-alarm stack every other region's."""

from __future__ import annotations

import pytest

from compiler.assemble import HEALTH_ALARMS_KIND, assemble
from compiler.deploy_plan import RegionalOutput, plan_deploy
from compiler.deploy_script import render_deploy_script

from .example import make_spec, regional_template, resources

EAST = {"name": "us-east-1", "cidr": "10.10.0.0/16"}
WEST = {"name": "us-west-2", "cidr": "10.20.0.0/16"}
EU_WEST = {"name": "eu-west-1", "cidr": "10.30.0.0/16"}
EU_CENTRAL = {"name": "eu-central-1", "cidr": "10.40.0.0/16"}
CHATBOT = {"workspace_id": "T0123ABCD", "channel_id": "C0123ABCD"}
WEBHOOK = {"webhook_secret": "storefront/slack-webhook"}


def spec_in(*regions, **sections):
    return make_spec(regions=list(regions), load_balancer={"certificate_arns": {}}, **sections)


def stacks_of(spec) -> dict:
    return {stack.path: stack for stack in assemble(spec)}


def health_alarm_stack(spec):
    (stack,) = [s for s in assemble(spec) if s.kind == HEALTH_ALARMS_KIND]
    return stack


def plan_of(spec):
    stacks = assemble(spec)
    return plan_deploy(spec, stacks, {s.path: (1000, "0" * 64) for s in stacks})


def alarmed_checks(template: dict) -> dict[str, dict]:
    """The Route 53 health-check alarms of `template`, by the dimension's value."""
    found = {}
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        properties = alarm["Properties"]
        if properties.get("MetricName") == "HealthCheckStatus":
            (dimension,) = properties["Dimensions"]
            found[dimension["Value"]["Ref"]] = properties
    return found


@pytest.fixture(scope="module")
def far_spec():
    """Neither a region nor the global stack in us-east-1."""
    spec = spec_in(EU_WEST, EU_CENTRAL)
    assert spec.global_stack_region == "eu-west-1"
    return spec


def test_far_from_us_east_1_every_health_check_is_alarmed_in_us_east_1(far_spec):
    stack = health_alarm_stack(far_spec)
    assert stack.region == "us-east-1"
    template = stack.template.to_dict()
    alarms = alarmed_checks(template)
    assert sorted(alarms) == ["HealthCheckIdEuCentral1", "HealthCheckIdEuWest1"]
    # Each parameter is the HealthCheckId output of its region's stack (or instance).
    sources = {
        p.name: p.source for p in plan_of(far_spec).by_kind(HEALTH_ALARMS_KIND)[0].parameters
    }
    for region in ("eu-west-1", "eu-central-1"):
        source = sources[f"HealthCheckId{region.title().replace('-', '')}"]
        assert isinstance(source, RegionalOutput)
        assert (source.region, source.output) == (region, "HealthCheckId")
        assert source.stack_name == f"storefront-production-{region}"
        # and the regional stack has that output, naming its health check
        output = regional_template(far_spec, region)["Outputs"]["HealthCheckId"]
        assert output["Value"] == {"Ref": "HealthCheck"}
    for alarm in alarms.values():
        assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("LessThanThreshold", 1.0)
        assert alarm["TreatMissingData"] == "breaching"


def test_far_from_us_east_1_the_alarms_notify_a_topic_of_their_own_region(far_spec):
    """An alarm's actions must be in its region: the stack's own topic, which e-mails."""
    template = health_alarm_stack(far_spec).template.to_dict()
    (topic_id, topic) = next(iter(resources(template, "AWS::SNS::Topic").items()))
    assert topic["Properties"]["TopicName"] == "storefront-production-health-alarms"
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": ["HealthAlarmKey", "Arn"]}
    arn = {
        "Fn::Sub": "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:"
        "storefront-production-health-alarms"
    }
    for alarm in alarmed_checks(template).values():
        assert alarm["AlarmActions"] == [arn] and alarm["OKActions"] == [arn]
    emails = {
        s["Properties"]["Endpoint"]
        for s in resources(template, "AWS::SNS::Subscription").values()
        if s["Properties"]["Protocol"] == "email"
    }
    assert emails == set(far_spec.notifications.emails) and emails
    assert all(
        s["Properties"]["TopicArn"] == {"Ref": topic_id}
        for s in resources(template, "AWS::SNS::Subscription").values()
    )
    (policy,) = resources(template, "AWS::SNS::TopicPolicy").values()
    publish = policy["Properties"]["PolicyDocument"]["Statement"][0]
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert publish["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"].endswith(
        ":alarm:storefront-production-health-check-*"
    )


def test_with_a_us_east_1_region_it_alarms_the_others_into_that_regions_topic():
    spec = spec_in(EAST, WEST)
    template = health_alarm_stack(spec).template.to_dict()
    assert sorted(alarmed_checks(template)) == ["HealthCheckIdUsWest2"]
    assert not resources(template, "AWS::SNS::Topic")  # the regional stack's topic instead
    (alarm,) = alarmed_checks(template).values()
    assert alarm["AlarmActions"] == [
        {
            "Fn::Sub": "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:"
            "storefront-production-alarms"
        }
    ]
    # us-east-1's own check is alarmed in its own stack: every check once.
    own = alarmed_checks(regional_template(spec, "us-east-1"))
    assert list(own) == ["HealthCheck"]


def test_the_health_alarm_stack_is_deployed_last_in_both_modes(far_spec):
    plan = plan_of(far_spec)
    assert plan.stacks[-1].kind == HEALTH_ALARMS_KIND
    assert plan.stacks[-1].role_arn is None  # the caller's credentials, like the global stack
    script = render_deploy_script(plan)
    function = "deploy_health_alarms_storefront_production_health_alarms"
    for mode in ("stacks", "stackset"):
        case = script.split(f"    {mode})\n", 1)[1].split(";;", 1)[0]
        assert case.strip().splitlines()[-1].strip() == f"{function} {mode}"
    body = script.split(f"{function}() {{", 1)[1].split("\n}\n", 1)[0]
    assert (
        "stack_instance_output param_HealthCheckIdEuCentral1 storefront-production-regional" in body
    )
    assert "read_output param_HealthCheckIdEuCentral1 storefront-production-eu-central-1" in body
    assert "stack_instance_output() {" in script  # its library is in the script


def test_with_chatbot_the_channel_lists_the_topic_and_the_topic_subscribes_to_it():
    spec = spec_in(EU_WEST, EU_CENTRAL, notifications={"emails": ["ops@example.com"],
                                                       "slack": CHATBOT})  # fmt: skip
    stacks = {s.kind: s.template.to_dict() for s in assemble(spec)}
    (channel,) = resources(stacks["global"], "AWS::Chatbot::SlackChannelConfiguration").values()
    assert {
        "Fn::Sub": "arn:${AWS::Partition}:sns:us-east-1:${AWS::AccountId}:"
        "storefront-production-health-alarms"
    } in channel["Properties"]["SnsTopicArns"]
    endpoints = {
        s["Properties"]["Endpoint"]
        for s in resources(stacks[HEALTH_ALARMS_KIND], "AWS::SNS::Subscription").values()
    }
    assert "https://global.sns-api.chatbot.amazonaws.com" in endpoints


def test_with_the_webhook_the_writer_regions_notifier_receives_the_topic():
    """SNS delivers to a Lambda function in another region; the function's region lets
    that topic, and only it, invoke it."""
    spec = spec_in(EU_WEST, EU_CENTRAL, notifications={"emails": ["ops@example.com"],
                                                       "slack": WEBHOOK})  # fmt: skip
    template = health_alarm_stack(spec).template.to_dict()
    (lambda_subscription,) = [
        s["Properties"]
        for s in resources(template, "AWS::SNS::Subscription").values()
        if s["Properties"]["Protocol"] == "lambda"
    ]
    assert lambda_subscription["Endpoint"] == {
        "Fn::Sub": "arn:${AWS::Partition}:lambda:eu-west-1:${AWS::AccountId}:function:"
        "storefront-production-slack-notifier"
    }
    topic = (
        "arn:${AWS::Partition}:sns:us-east-1:${AWS::AccountId}:storefront-production-health-alarms"
    )
    permissions = resources(regional_template(spec, "eu-west-1"), "AWS::Lambda::Permission")
    assert {"Fn::Sub": topic} in [p["Properties"]["SourceArn"] for p in permissions.values()]


EU_SOUTH = {"name": "eu-south-1", "cidr": "10.50.0.0/16"}  # opt-in (Milan)
AP_EAST = {"name": "ap-east-1", "cidr": "10.60.0.0/16"}  # opt-in (Hong Kong)


def test_an_opt_in_writer_region_leaves_slack_to_a_default_regions_notifier():
    """SNS in us-east-1 delivers to no Lambda function in an opt-in region: the writer's
    notifier would never hear of a failing health check; the first default region's does."""
    spec = spec_in(EU_SOUTH, EU_WEST, notifications={"slack": WEBHOOK})
    template = health_alarm_stack(spec).template.to_dict()
    endpoints = [
        s["Properties"]["Endpoint"]["Fn::Sub"]
        for s in resources(template, "AWS::SNS::Subscription").values()
        if s["Properties"]["Protocol"] == "lambda"
    ]
    assert endpoints == [
        "arn:${AWS::Partition}:lambda:eu-west-1:${AWS::AccountId}:function:"
        "storefront-production-slack-notifier"
    ]


def test_slack_by_webhook_with_only_opt_in_regions_is_refused_at_the_webhook():
    from compiler.errors import SpecError

    with pytest.raises(SpecError) as refused:
        spec_in(EU_SOUTH, AP_EAST, notifications={"slack": WEBHOOK})
    message = str(refused.value)
    assert "notifications.slack.webhook_secret: every region of the spec is an opt-in" in message
    assert "workspace_id" in message
    # With a region enabled by default, or AWS Chatbot, nothing to refuse.
    assert spec_in(EU_SOUTH, EU_WEST, notifications={"slack": WEBHOOK})
    assert spec_in(EU_SOUTH, AP_EAST, notifications={"slack": CHATBOT})
