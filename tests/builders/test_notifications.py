"""The alarm topic: KMS-encrypted, published to by this stack's alarms only, over TLS only."""

from __future__ import annotations

from fnmatch import fnmatchcase

import pytest

from compiler import naming
from compiler.builders.slack import TOPIC_KINDS

from .example import get_att, make_spec, only, ref, regional_template, resources

ACCOUNT = {"Ref": "AWS::AccountId"}


@pytest.fixture(scope="module")
def spec():
    return make_spec(notifications={"emails": ["ops@example.com", "oncall@example.org"]})


@pytest.fixture(scope="module")
def template(spec):
    return regional_template(spec)


@pytest.fixture(scope="module")
def topic(template):
    return only(template, "AWS::SNS::Topic")


def test_topic_is_encrypted_with_the_region_key(template, topic):
    key, _ = only(template, "AWS::KMS::Key")
    assert topic[1]["KmsMasterKeyId"] == get_att(key, "Arn")


def test_key_lets_only_this_accounts_alarms_use_it_for_the_topic(template):
    statements = only(template, "AWS::KMS::Key")[1]["KeyPolicy"]["Statement"]
    (statement,) = [
        s for s in statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert statement["Effect"] == "Allow"
    assert set(statement["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    assert statement["Condition"]["ArnLike"]["aws:SourceArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"
    }


def test_topic_policy_allows_only_cloudwatch_and_rds_of_this_account_to_publish(template, topic):
    _, policy = only(template, "AWS::SNS::TopicPolicy")
    assert policy["Topics"] == [ref(topic[0])]
    statements = policy["PolicyDocument"]["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    # RDS's statement: see test_database_events.
    assert [s["Principal"] for s in allows] == [
        {"Service": "cloudwatch.amazonaws.com"},
        {"Service": "events.rds.amazonaws.com"},
    ]
    for allow in allows:
        assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    allow = allows[0]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Action"] == "sns:Publish"
    assert allow["Resource"] == ref(topic[0])
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}


def test_topic_policy_refuses_publishing_without_tls(template, topic):
    _, policy = only(template, "AWS::SNS::TopicPolicy")
    (deny,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert deny["Principal"] == {"AWS": "*"}
    assert "sns:Publish" in deny["Action"]
    assert deny["Resource"] == ref(topic[0])
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_every_alarm_of_the_stack_may_publish(template):
    """The topic policy names alarms by pattern; an alarm outside it would notify nobody."""
    _, policy = only(template, "AWS::SNS::TopicPolicy")
    (allow,) = [
        s
        for s in policy["PolicyDocument"]["Statement"]
        if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    source = allow["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"]
    prefix = "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:"
    assert source.startswith(prefix)
    pattern = source.removeprefix(prefix)
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    assert alarms
    for name, alarm in alarms.items():
        assert fnmatchcase(alarm["Properties"]["AlarmName"], pattern), name


def test_each_email_subscribes_to_the_topic(spec, template, topic):
    subscriptions = resources(template, "AWS::SNS::Subscription")
    assert sorted(s["Properties"]["Endpoint"] for s in subscriptions.values()) == sorted(
        spec.notifications.emails
    )
    for subscription in subscriptions.values():
        assert subscription["Properties"]["Protocol"] == "email"
        assert subscription["Properties"]["TopicArn"] == ref(topic[0])


def test_a_subscription_keeps_its_logical_id_when_others_are_removed(template):
    """A replaced subscription would have to be confirmed again by its owner."""
    before = {
        s["Properties"]["Endpoint"]: name
        for name, s in resources(template, "AWS::SNS::Subscription").items()
    }
    after_template = regional_template(make_spec(notifications={"emails": ["oncall@example.org"]}))
    (after,) = resources(after_template, "AWS::SNS::Subscription")
    assert after == before["oncall@example.org"]


def test_without_emails_the_topic_still_exists_and_alarms_still_notify_it():
    template = regional_template(make_spec(notifications={"emails": []}))
    topic, _ = only(template, "AWS::SNS::Topic")
    assert not resources(template, "AWS::SNS::Subscription")
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == [ref(topic)]


def test_topic_arn_is_an_output(template, topic):
    outputs = [o["Value"] for o in template["Outputs"].values()]
    assert ref(topic[0]) in outputs


def test_topic_is_named_after_the_stack(topic):
    assert topic[1]["TopicName"] == "storefront-production-alarms"


def test_topic_has_the_fixed_name_the_slack_channel_lists(spec, topic):
    """The global stack's Chatbot channel builds the topic's ARN from its name."""
    assert "alarms" in TOPIC_KINDS
    assert topic[1]["TopicName"] == naming.topic_name(spec, "alarms")


def test_with_slack_the_topic_and_its_email_subscriptions_stay_as_they_are(spec, template):
    with_slack = regional_template(
        make_spec(
            notifications={
                "emails": spec.notifications.emails,
                "slack": {"workspace_id": "T0123ABCD", "channel_id": "C0123ABCD"},
            }
        )
    )
    for name in ("AlarmTopic", "AlarmTopicPolicy"):
        assert with_slack["Resources"][name] == template["Resources"][name]
    emails = {
        name: s
        for name, s in resources(with_slack, "AWS::SNS::Subscription").items()
        if s["Properties"]["Protocol"] == "email"
    }
    assert emails == resources(template, "AWS::SNS::Subscription")
