"""Post the region's change and alarm notifications to a Slack incoming webhook.

Deployed by `infra compile` when `notifications.slack.webhook_secret` is set, inlined as
index.py (handler index.handler) and subscribed to the region's changes and alarm topics.
The webhook URL is read at run time from the Secrets Manager secret named in
$SLACK_WEBHOOK_SECRET and kept for a few minutes; it never appears in a template, an
environment variable or a log line. A post that fails raises, so Lambda retries the event
and finally sends it to the function's dead-letter queue.

Messages understood: AWS Chatbot's custom notifications (what the change rules send),
CloudWatch alarm state changes, and anything else as its subject and text.
"""

import json
import os
import time
import urllib.request
from urllib.error import HTTPError, URLError

SECRET_VARIABLE = "SLACK_WEBHOOK_SECRET"
CACHE_SECONDS = 300  # a rotated URL is picked up within this time (or at once on a refusal)
TIMEOUT_SECONDS = 10
MAX_TEXT = 3000  # a notification, not a log dump
ALARM_ICONS = {"ALARM": ":red_circle:", "OK": ":large_green_circle:"}

_client = None
_cache = {"url": None, "until": 0.0}


def secrets_client():
    """One Secrets Manager client per execution environment (boto3 ships with Lambda)."""
    global _client
    if _client is None:
        import boto3

        _client = boto3.client("secretsmanager")
    return _client


def webhook_url(client, secret_name, now):
    """The URL in the secret: the whole secret string, or its `webhook_url` (or `url`) key
    when the secret was made as key/value pairs in the console."""
    if _cache["url"] and now < _cache["until"]:
        return _cache["url"]
    value = client.get_secret_value(SecretId=secret_name)["SecretString"].strip()
    if value.startswith("{"):
        pairs = json.loads(value)
        value = str(pairs.get("webhook_url") or pairs.get("url") or "").strip()
    if not value.startswith("https://"):
        # Say which secret, never what it holds.
        raise ValueError(f"secret '{secret_name}' does not hold an https:// webhook URL")
    _cache.update(url=value, until=now + CACHE_SECONDS)
    return value


def forget_url():
    _cache.update(url=None, until=0.0)


def alarm_text(alarm):
    state = alarm.get("NewStateValue", "")
    icon = ALARM_ICONS.get(state, ":white_circle:")
    lines = [
        f"{icon} *{state}* {alarm.get('AlarmName', '')} ({alarm.get('Region', '')})",
        alarm.get("AlarmDescription") or "",
        alarm.get("NewStateReason") or "",
    ]
    return "\n".join(line for line in lines if line)


def custom_text(message):
    content = message.get("content") or {}
    title, description = content.get("title", ""), content.get("description", "")
    return f"*{title}*\n{description}" if title else description


def text_of(record):
    """The Slack text for one SNS record."""
    notification = record["Sns"]
    raw = notification.get("Message") or ""
    try:
        message = json.loads(raw)
    except ValueError:
        message = None
    if isinstance(message, dict) and message.get("source") == "custom":
        text = custom_text(message)
    elif isinstance(message, dict) and "AlarmName" in message:
        text = alarm_text(message)
    else:
        text = f"*{notification.get('Subject') or 'Notification'}*\n{raw}"
    return text[:MAX_TEXT]


def post(url, text, urlopen):
    request = urllib.request.Request(
        url,
        data=json.dumps({"text": text}).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status
    except HTTPError as error:
        # Revoked webhook, rotated secret or rate limit: read the secret again next time.
        # `from None`: the original error carries the URL.
        forget_url()
        raise RuntimeError(f"Slack refused the post: HTTP {error.code}") from None
    except URLError as error:
        raise RuntimeError(f"Slack could not be reached: {error.reason}") from None


def handler(event, context, client=None, urlopen=None, environ=None, clock=None):
    """Lambda's entry point; tests pass a fake `client`, `urlopen`, `environ` and `clock`."""
    environ = os.environ if environ is None else environ
    client = client or secrets_client()
    urlopen = urlopen or urllib.request.urlopen
    now = (clock or time.monotonic)()
    url = webhook_url(client, environ[SECRET_VARIABLE], now)
    texts = [text_of(record) for record in event.get("Records", [])]
    for text in texts:
        post(url, text, urlopen)
    print(json.dumps({"posted": len(texts)}))
    return {"posted": len(texts)}
