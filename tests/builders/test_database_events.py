"""The database's events go to the region's alarm topic, in the writer region and where
the database is a cross-region replica, and RDS may publish them to the encrypted topic."""

from __future__ import annotations

from fnmatch import fnmatchcase

import pytest

from compiler import naming
from compiler.builders.database_events import EVENT_CATEGORIES, subscription_name
from compiler.diff import condition_values, resolve_conditions

from .example import make_spec, only, ref, regional_template

ACCOUNT = {"Ref": "AWS::AccountId"}
RDS_EVENTS = {"Service": "events.rds.amazonaws.com"}
THIS_REGIONS_DATABASES = {
    "Fn::Sub": "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*"
}


@pytest.fixture(scope="module")
def spec():
    return make_spec()


def deployed(spec, region: str) -> dict:
    """The region's template as CloudFormation creates it there (conditions resolved)."""
    template = regional_template(spec, region)
    return resolve_conditions(template, condition_values(template, region))


@pytest.fixture(scope="module", params=["writer", "replica"])
def template(request, spec):
    assert len(spec.regions) > 1, "the example must have a replica region"
    index = 0 if request.param == "writer" else 1
    return deployed(spec, spec.regions[index].name)


def test_the_regions_database_sends_its_events_to_the_alarm_topic(template):
    database, _ = only(template, "AWS::RDS::DBInstance")
    topic, _ = only(template, "AWS::SNS::Topic")
    _, subscription = only(template, "AWS::RDS::EventSubscription")
    assert subscription["SnsTopicArn"] == ref(topic)
    assert subscription["SourceType"] == "db-instance"
    # By Ref: a replica's identifier is one CloudFormation generates.
    assert subscription["SourceIds"] == [ref(database)]
    assert subscription["Enabled"] is True


def test_the_subscription_waits_for_the_topic_policy_that_lets_rds_publish(template):
    subscription_id, _ = only(template, "AWS::RDS::EventSubscription")
    policy_id, _ = only(template, "AWS::SNS::TopicPolicy")
    assert policy_id in template["Resources"][subscription_id]["DependsOn"]


def test_the_events_that_need_someone_are_subscribed_and_daily_backups_are_not(template):
    _, subscription = only(template, "AWS::RDS::EventSubscription")
    categories = set(subscription["EventCategories"])
    assert categories == set(EVENT_CATEGORIES)
    assert {
        "failover", "failure", "low storage", "maintenance", "notification", "recovery",
        "configuration change", "availability", "read replica",
    } <= categories  # fmt: skip
    assert "backup" not in categories


def test_the_subscription_name_fits_rds_and_the_deploy_roles_pattern(spec):
    name = subscription_name(spec)
    assert len(name) < 255
    # What the deploy roles may manage: `es:<project>-<environment>-*`.
    assert fnmatchcase(name, f"{naming.name_prefix(spec)}-*")
    _, subscription = only(regional_template(spec), "AWS::RDS::EventSubscription")
    assert subscription["SubscriptionName"] == name


def test_the_alarm_topic_lets_this_accounts_databases_publish(template):
    topic, _ = only(template, "AWS::SNS::Topic")
    _, policy = only(template, "AWS::SNS::TopicPolicy")
    (statement,) = [
        s for s in policy["PolicyDocument"]["Statement"] if s["Principal"] == RDS_EVENTS
    ]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sns:Publish"
    assert statement["Resource"] == ref(topic)
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": THIS_REGIONS_DATABASES},
    }


def test_rds_may_use_the_key_of_the_encrypted_topic_for_this_accounts_databases(template):
    statements = only(template, "AWS::KMS::Key")[1]["KeyPolicy"]["Statement"]
    (statement,) = [s for s in statements if s["Principal"] == RDS_EVENTS]
    assert statement["Effect"] == "Allow"
    # What SNS asks of a publishing service for an encrypted topic: no more.
    assert set(statement["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": THIS_REGIONS_DATABASES},
    }
