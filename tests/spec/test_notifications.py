"""`notifications.slack`: AWS Chatbot or a webhook secret, one form, well-formed IDs."""

from __future__ import annotations

import pytest

from tests.spec.helpers import assert_problem, edit, only_problem, validate

EMAILS = "    - ops@example.com\n"
CHATBOT = "  slack:\n    workspace_id: T0123ABCD\n    channel_id: C0123ABCD\n"
WEBHOOK = "  slack:\n    webhook_secret: storefront/slack-webhook\n"


def with_slack(example_text: str, slack: str) -> str:
    return edit(example_text, EMAILS, EMAILS + slack)


def test_slack_is_off_unless_given(example_text):
    assert validate(example_text).notifications.slack is None
    assert validate(with_slack(example_text, "  slack:\n")).notifications.slack is None


def test_chatbot_form(example_text):
    slack = validate(with_slack(example_text, CHATBOT)).notifications.slack
    assert (slack.delivery, slack.workspace_id, slack.channel_id) == (
        "chatbot",
        "T0123ABCD",
        "C0123ABCD",
    )
    assert slack.webhook_secret is None


def test_webhook_form(example_text):
    slack = validate(with_slack(example_text, WEBHOOK)).notifications.slack
    assert (slack.delivery, slack.webhook_secret) == ("webhook", "storefront/slack-webhook")


def test_private_channel_ids_are_accepted(example_text):
    text = with_slack(example_text, CHATBOT.replace("C0123ABCD", "G01ABCDEF"))
    assert validate(text).notifications.slack.channel_id == "G01ABCDEF"


def test_both_forms_at_once_are_refused(example_text):
    text = with_slack(example_text, CHATBOT + "    webhook_secret: storefront/slack-webhook\n")
    assert_problem(
        only_problem(text),
        text,
        "workspace_id: T0123ABCD",
        "notifications.slack",
        "give either workspace_id and channel_id (AWS Chatbot) or webhook_secret (an "
        "incoming webhook), not both",
    )


@pytest.mark.parametrize(
    ("slack", "needle", "missing"),
    [
        ("  slack:\n    workspace_id: T0123ABCD\n", "workspace_id: T0123ABCD", "channel_id"),
        ("  slack:\n    channel_id: C0123ABCD\n", "channel_id: C0123ABCD", "workspace_id"),
    ],
)
def test_chatbot_needs_both_ids(example_text, slack, needle, missing):
    text = with_slack(example_text, slack)
    assert_problem(
        only_problem(text),
        text,
        needle,
        "notifications.slack",
        f"{missing} is missing: AWS Chatbot needs both workspace_id and channel_id",
    )


def test_an_empty_slack_mapping_says_what_to_give(example_text):
    text = with_slack(example_text, "  slack: {}\n")
    assert_problem(
        only_problem(text),
        text,
        "{}",
        "notifications.slack",
        "give workspace_id and channel_id (AWS Chatbot), or webhook_secret (the name of a "
        "Secrets Manager secret holding an incoming-webhook URL)",
    )


@pytest.mark.parametrize(
    ("old", "new", "key", "hint"),
    [
        ("T0123ABCD", "acme-corp", "workspace_id", "use a Slack workspace ID like T0123ABCD"),
        ("T0123ABCD", "t0123abcd", "workspace_id", "use a Slack workspace ID like T0123ABCD"),
        ("C0123ABCD", '"#alerts"', "channel_id", "use a Slack channel ID like C0123ABCD"),
        ("C0123ABCD", "U0123ABCD", "channel_id", "use a Slack channel ID like C0123ABCD"),
    ],
)
def test_slack_ids_are_checked(example_text, old, new, key, hint):
    text = with_slack(example_text, CHATBOT.replace(old, new))
    assert_problem(only_problem(text), text, new, f"notifications.slack.{key}", hint, exact=False)


@pytest.mark.parametrize("name", ["slack webhook", "slack:webhook", "a" * 513])
def test_secret_names_follow_secrets_manager_rules(example_text, name):
    text = with_slack(example_text, WEBHOOK.replace("storefront/slack-webhook", f"'{name}'"))
    assert_problem(
        only_problem(text),
        text,
        f"'{name}'",
        "notifications.slack.webhook_secret",
        "use a Secrets Manager secret name: letters, digits and / _ + = . @ -",
        exact=False,
    )


def test_a_pasted_webhook_url_is_refused_with_the_right_key_named(example_text):
    """The URL is a credential: it belongs in the secret, never in infra.yaml."""
    text = with_slack(
        example_text, "  slack:\n    webhook_url: https://hooks.slack.com/services/T0/B0/x\n"
    )
    assert_problem(
        only_problem(text),
        text,
        "webhook_url",
        "notifications.slack.webhook_url",
        "unknown key 'webhook_url'; did you mean 'webhook_secret'?",
    )
