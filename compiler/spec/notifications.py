"""Spec model for who hears about alarms: the region's alarm topic and its subscribers."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from compiler.spec.types import SPEC_MODEL_CONFIG, pattern_str

# Deliberately simpler than RFC 5322: SNS e-mail endpoints are plain mailbox addresses,
# and a quoted local part or an IP-literal domain here is far likelier a typo than intended.
EmailAddress = pattern_str(
    r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}$",
    "use an e-mail address like ops@example.com",
    max_length=254,
)


class NotificationsSpec(BaseModel):
    """Where alarm notifications go; every region has its own KMS-encrypted SNS topic."""

    model_config = SPEC_MODEL_CONFIG

    emails: list[EmailAddress] = Field(
        default_factory=list,
        max_length=100,
        description=(
            "Addresses subscribed to every region's alarm topic; each must confirm the "
            "subscription e-mail AWS sends before it receives alarms."
        ),
        examples=[["ops@example.com"]],
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
