"""Warnings: legal specs that quietly lose something. They validate (no SpecError), and
the warning is located like a problem, at the key to change."""

from __future__ import annotations

from compiler.errors import SpecProblem
from compiler.load import load_spec_text
from compiler.spec import validate_spec
from tests.spec.helpers import FILE, edit, located, where

SLACK = "    - ops@example.com\n  slack:\n    webhook_secret: storefront/slack-webhook\n"
EAST = "  - name: us-east-1\n    cidr: 10.10.0.0/16\n"
EAST_CERT = "    us-east-1: arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-1111-4e5f-8a9b-000000000001\n"


def warnings_of(text: str) -> list[str]:
    found: list[SpecProblem] = []
    validate_spec(load_spec_text(text, FILE), found)
    return [str(warning) for warning in found]


def without_us_east_1(text: str) -> str:
    text = edit(text, EAST, "  - name: eu-west-1\n    cidr: 10.10.0.0/16\n")
    return edit(text, EAST_CERT, "")


def test_the_example_has_no_warnings(example_text):
    assert warnings_of(example_text) == []


def test_slack_without_us_east_1_loses_iam_events(example_text):
    text = without_us_east_1(edit(example_text, "    - ops@example.com\n", SLACK))
    (warning,) = warnings_of(text)
    line, column = where(text, "webhook_secret")
    assert warning == (
        f"{FILE}:{line}:{column}: notifications.slack: warning: IAM changes will not reach "
        "Slack: AWS emits IAM events in us-east-1 only, and no region of the spec is "
        "us-east-1 (stack and security group changes and alarms still do)"
    )


def test_slack_with_us_east_1_gets_iam_events(example_text):
    assert warnings_of(edit(example_text, "    - ops@example.com\n", SLACK)) == []


def test_no_slack_no_iam_warning_without_us_east_1(example_text):
    assert warnings_of(without_us_east_1(example_text)) == []


def test_vpc_overlapping_the_docker_bridge_is_a_warning(example_text):
    text = edit(example_text, "cidr: 10.20.0.0/16", "cidr: 172.17.0.0/16")
    (warning,) = warnings_of(text)
    assert warning.startswith(located(text, "172.17.0.0/16", "regions[1].cidr") + "warning: ")
    assert "overlaps 172.17.0.0/16, which AWS Cloud9, SageMaker and Docker use" in warning
