"""Spec models for who hears about alarms and changes: e-mail subscribers and Slack.

Slack is reached one of two ways, chosen by the keys given (never both): AWS Chatbot
(`workspace_id` and `channel_id`), or an incoming webhook whose URL stays in a Secrets
Manager secret that a small function reads at run time (`webhook_secret`), so the URL
never appears in a template.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from compiler.spec.types import SPEC_MODEL_CONFIG, empty_list, pattern_str

# Deliberately simpler than RFC 5322: SNS e-mail endpoints are plain mailbox addresses,
# and a quoted local part or an IP-literal domain here is far likelier a typo than intended.
EmailAddress = pattern_str(
    r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}$",
    "use an e-mail address like ops@example.com",
    max_length=254,
)


# Slack IDs are upper-case letters and digits. A workspace (team) ID starts with T; a
# channel ID with C (G for private channels made before 2021). Chatbot shows both.
SlackWorkspaceId = pattern_str(
    r"^T[A-Z0-9]{6,20}$",
    "use a Slack workspace ID like T0123ABCD: AWS Chatbot's console shows it once the "
    "workspace is authorised",
)
SlackChannelId = pattern_str(
    r"^[CG][A-Z0-9]{6,20}$",
    "use a Slack channel ID like C0123ABCD (channel details, at the bottom of About); "
    "not the channel's name",
)
# Secrets Manager names: 1 to 512 of letters, digits and / _ + = . @ -
SecretName = pattern_str(
    r"^[A-Za-z0-9/_+=.@-]{1,512}$",
    "use a Secrets Manager secret name: letters, digits and / _ + = . @ -",
)

CHATBOT_KEYS = ("workspace_id", "channel_id")
WEBHOOK_KEYS = ("webhook_secret",)


class SlackSpec(BaseModel):
    """Where changes and alarms are posted in Slack: through AWS Chatbot, or a webhook."""

    # The schema says "one form or the other" too, so editors flag a mix as it is typed.
    model_config = {
        **SPEC_MODEL_CONFIG,
        "json_schema_extra": {
            "oneOf": [{"required": list(CHATBOT_KEYS)}, {"required": list(WEBHOOK_KEYS)}]
        },
    }

    workspace_id: SlackWorkspaceId | None = Field(
        default=None,
        description="AWS Chatbot: the Slack workspace ID, shown by the Chatbot console after "
        "the one-time authorisation of the workspace. Give with channel_id.",
        examples=["T0123ABCD"],
    )
    channel_id: SlackChannelId | None = Field(
        default=None,
        description="AWS Chatbot: the ID of the channel to post in; invite @aws to it. Give "
        "with workspace_id.",
        examples=["C0123ABCD"],
    )
    webhook_secret: SecretName | None = Field(
        default=None,
        description="Instead of Chatbot: the name of a Secrets Manager secret, in every region "
        "of the spec, holding a Slack incoming-webhook URL; read at run time, never put in "
        "a template.",
        examples=["storefront/slack-webhook"],
    )

    @model_validator(mode="after")
    def _one_form(self) -> SlackSpec:
        given = {key for key in (*CHATBOT_KEYS, *WEBHOOK_KEYS) if getattr(self, key) is not None}
        chatbot = [key for key in CHATBOT_KEYS if key in given]
        webhook = [key for key in WEBHOOK_KEYS if key in given]
        if chatbot and webhook:
            raise ValueError(
                "give either workspace_id and channel_id (AWS Chatbot) or webhook_secret "
                "(an incoming webhook), not both"
            )
        if webhook:
            return self
        if not chatbot:
            raise ValueError(
                "give workspace_id and channel_id (AWS Chatbot), or webhook_secret (the name "
                "of a Secrets Manager secret holding an incoming-webhook URL)"
            )
        missing = [key for key in CHATBOT_KEYS if key not in given]
        if missing:
            raise ValueError(
                f"{missing[0]} is missing: AWS Chatbot needs both workspace_id and channel_id"
            )
        return self

    @property
    def delivery(self) -> Literal["chatbot", "webhook"]:
        return "webhook" if self.webhook_secret else "chatbot"


class NotificationsSpec(BaseModel):
    """Where alarm notifications go; every region has its own KMS-encrypted SNS topic."""

    model_config = SPEC_MODEL_CONFIG

    emails: list[EmailAddress] = Field(
        default_factory=empty_list,
        max_length=100,
        description=(
            "Addresses subscribed to every region's alarm topic; each must confirm the "
            "subscription e-mail AWS sends before it receives alarms."
        ),
        examples=[["ops@example.com"]],
    )
    slack: SlackSpec | None = Field(
        default=None,
        description="Post infrastructure changes (this project's stack status, security group "
        "and IAM changes) and the alarms of every region to Slack. Absent: no Slack.",
        examples=[{"workspace_id": "T0123ABCD", "channel_id": "C0123ABCD"}],
    )

    @field_validator("emails")
    @classmethod
    def _no_repeats(cls, emails: list[str]) -> list[str]:
        # SNS would answer both subscriptions with one subscription ARN: deleting either
        # resource later would silently unsubscribe the address.
        seen: dict[str, int] = {}
        for index, address in enumerate(emails):
            first = seen.setdefault(address.lower(), index)
            if first != index:
                raise ValueError(f"'{address}' (emails[{index}]) repeats emails[{first}]")
        return emails
