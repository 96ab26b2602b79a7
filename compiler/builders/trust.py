"""Trust policies of roles that an AWS service assumes.

Shared by the builders that make such roles; not a builder itself, so importing it
keeps builders independent of each other.
"""

from __future__ import annotations

from troposphere import Ref


def service_trust_policy(service: str, *, this_account_only: bool = False) -> dict:
    """A role `service` (e.g. `lambda.amazonaws.com`) may assume. `this_account_only` adds
    the `aws:SourceAccount` condition, for services that send it, so the service cannot
    be made to use the role on another account's behalf (the confused deputy)."""
    statement: dict = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if this_account_only:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": Ref("AWS::AccountId")}}
    return {"Version": "2012-10-17", "Statement": [statement]}
