"""The Slack notifier compiler/functions/slack_webhook.py, run against fakes of Secrets
Manager and of urllib's urlopen: what it posts, and that the webhook URL never leaks."""

from __future__ import annotations

import ast
import importlib.util
import io
import json
from pathlib import Path
from urllib.error import HTTPError, URLError

import pytest

from compiler.functions import SLACK_WEBHOOK_SOURCE

SOURCE = Path(__file__).resolve().parents[2] / "compiler" / "functions" / "slack_webhook.py"
URL = "https://hooks.slack.com/services/T0000/B0000/not-a-real-token"
SECRET = "storefront/slack-webhook"
ENVIRON = {"SLACK_WEBHOOK_SECRET": SECRET}


@pytest.fixture
def notifier():
    """A fresh copy per test, as a new Lambda execution environment: no cached URL."""
    spec = importlib.util.spec_from_file_location("slack_webhook", SOURCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeSecrets:
    def __init__(self, value: str = URL):
        self.value = value
        self.calls: list[dict] = []

    def get_secret_value(self, **kwargs):
        self.calls.append(kwargs)
        return {"Name": kwargs["SecretId"], "SecretString": self.value}


class FakeResponse(io.BytesIO):
    status = 200


class FakeUrlopen:
    """Records each request; answers 200 "ok", or raises `error` when given one."""

    def __init__(self, error: Exception | None = None):
        self.error = error
        self.requests: list[tuple[object, float]] = []

    def __call__(self, request, timeout):
        self.requests.append((request, timeout))
        if self.error:
            raise self.error
        return FakeResponse(b"ok")

    def texts(self) -> list[str]:
        return [json.loads(request.data)["text"] for request, _ in self.requests]


def sns_event(*messages: str, subject: str | None = None) -> dict:
    return {
        "Records": [
            {"EventSource": "aws:sns", "Sns": {"Message": message, "Subject": subject}}
            for message in messages
        ]
    }


CHANGE = json.dumps(
    {
        "version": "1.0",
        "source": "custom",
        "content": {
            "textType": "client-markdown",
            "title": "CloudFormation: UPDATE_COMPLETE",
            "description": "Stack `storefront-production-us-east-1` is *UPDATE_COMPLETE*",
        },
    }
)
ALARM = json.dumps(
    {
        "AlarmName": "storefront-production-instance-cpu",
        "AlarmDescription": "Average CPU of the web instances is high",
        "NewStateValue": "ALARM",
        "NewStateReason": "Threshold Crossed: 1 datapoint [91.0] was greater than 80.0",
        "Region": "US East (N. Virginia)",
    }
)


def run(notifier, event, *, secrets=None, urlopen=None, now=0.0):
    return notifier.handler(
        event,
        None,
        client=secrets or FakeSecrets(),
        urlopen=urlopen or FakeUrlopen(),
        environ=ENVIRON,
        clock=lambda: now,
    )


def test_posts_a_change_notification_as_title_and_description(notifier):
    urlopen = FakeUrlopen()
    assert run(notifier, sns_event(CHANGE), urlopen=urlopen) == {"posted": 1}
    ((request, timeout),) = urlopen.requests
    assert request.full_url == URL
    assert request.get_method() == "POST"
    assert request.get_header("Content-type") == "application/json"
    assert 0 < timeout <= 30  # within the function's own timeout
    assert urlopen.texts() == [
        "*CloudFormation: UPDATE_COMPLETE*\n"
        "Stack `storefront-production-us-east-1` is *UPDATE_COMPLETE*"
    ]


def test_posts_an_alarm_with_its_state_name_and_reason(notifier):
    urlopen = FakeUrlopen()
    run(notifier, sns_event(ALARM, subject='ALARM: "storefront..." in US East'), urlopen=urlopen)
    (text,) = urlopen.texts()
    assert text.splitlines() == [
        ":red_circle: *ALARM* storefront-production-instance-cpu (US East (N. Virginia))",
        "Average CPU of the web instances is high",
        "Threshold Crossed: 1 datapoint [91.0] was greater than 80.0",
    ]


def test_an_alarm_back_to_ok_is_green(notifier):
    urlopen = FakeUrlopen()
    ok = json.loads(ALARM) | {"NewStateValue": "OK", "NewStateReason": "back to normal"}
    run(notifier, sns_event(json.dumps(ok)), urlopen=urlopen)
    assert urlopen.texts()[0].startswith(":large_green_circle: *OK* ")


def test_any_other_message_is_posted_with_its_subject(notifier):
    urlopen = FakeUrlopen()
    run(notifier, sns_event("plain text", subject="Hello"), urlopen=urlopen)
    run(notifier, sns_event('{"json": "but unknown"}'), urlopen=urlopen)
    assert urlopen.texts() == ["*Hello*\nplain text", '*Notification*\n{"json": "but unknown"}']


def test_a_long_message_is_cut(notifier):
    urlopen = FakeUrlopen()
    run(notifier, sns_event("x" * 10_000, subject="big"), urlopen=urlopen)
    assert len(urlopen.texts()[0]) == notifier.MAX_TEXT


def test_each_record_is_posted(notifier):
    urlopen = FakeUrlopen()
    assert run(notifier, sns_event(CHANGE, ALARM), urlopen=urlopen) == {"posted": 2}
    assert len(urlopen.requests) == 2


def test_the_secret_named_in_the_environment_is_read_once_for_a_while(notifier):
    secrets = FakeSecrets()
    run(notifier, sns_event(CHANGE), secrets=secrets, now=0.0)
    run(notifier, sns_event(CHANGE), secrets=secrets, now=notifier.CACHE_SECONDS - 1)
    assert secrets.calls == [{"SecretId": SECRET}]
    run(notifier, sns_event(CHANGE), secrets=secrets, now=notifier.CACHE_SECONDS + 1)
    assert len(secrets.calls) == 2  # a rotated URL is picked up


@pytest.mark.parametrize("key", ["webhook_url", "url"])
def test_a_key_value_secret_is_understood(notifier, key):
    urlopen = FakeUrlopen()
    run(notifier, sns_event(CHANGE), secrets=FakeSecrets(json.dumps({key: URL})), urlopen=urlopen)
    assert urlopen.requests[0][0].full_url == URL


@pytest.mark.parametrize("value", ["", "http://hooks.slack.com/x", '{"token": "abc"}', "oops"])
def test_a_secret_without_an_https_url_is_refused_without_showing_it(notifier, value):
    urlopen = FakeUrlopen()
    with pytest.raises(ValueError) as raised:
        run(notifier, sns_event(CHANGE), secrets=FakeSecrets(value), urlopen=urlopen)
    assert SECRET in str(raised.value)
    if value:
        assert value not in str(raised.value)
    assert not urlopen.requests


def test_a_refused_post_fails_the_invocation_without_the_url(notifier):
    """Lambda retries a failed event, then keeps it in the dead-letter queue; the error
    that lands in the logs must not carry the URL (HTTPError does, as its `url`)."""
    error = HTTPError(URL, 403, "Forbidden", {}, None)
    with pytest.raises(RuntimeError) as raised:
        run(notifier, sns_event(CHANGE), urlopen=FakeUrlopen(error))
    assert str(raised.value) == "Slack refused the post: HTTP 403"
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert URL not in str(raised.value)


def test_a_refused_post_makes_the_next_invocation_read_the_secret_again(notifier):
    secrets = FakeSecrets()
    with pytest.raises(RuntimeError):
        run(notifier, sns_event(CHANGE), secrets=secrets,
            urlopen=FakeUrlopen(HTTPError(URL, 404, "Not Found", {}, None)))  # fmt: skip
    run(notifier, sns_event(CHANGE), secrets=secrets, now=1.0)
    assert len(secrets.calls) == 2


def test_an_unreachable_slack_fails_the_invocation(notifier):
    with pytest.raises(RuntimeError, match="could not be reached: timed out"):
        run(notifier, sns_event(CHANGE), urlopen=FakeUrlopen(URLError("timed out")))


def test_the_inlined_code_is_this_file_and_runs_on_lambdas_python():
    assert SLACK_WEBHOOK_SOURCE == SOURCE.read_text(encoding="utf-8")
    tree = ast.parse(SLACK_WEBHOOK_SOURCE)
    handlers = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "handler"]
    assert handlers, "Lambda calls index.handler"
    # Only the standard library and boto3, which Lambda's Python runtime provides.
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module)])
    }
    assert imported <= {"json", "os", "time", "urllib", "boto3"}
