"""The service-managed StackSet administrator's policy allows exactly the calls deploy.sh
makes for it, on this project's StackSet only."""

from __future__ import annotations

import re

import pytest

from compiler.deploy_script import ORG_REPLICATION_LIBRARY, STACK_SET_LIBRARY
from compiler.pipeline import load_and_validate
from compiler.stackset_permissions import (
    REPLICATION_CALLS,
    STACK_SET_CALLS,
    stack_set_admin_policy,
)
from tests.fixtures.examples import example


@pytest.fixture(scope="module")
def spec():
    return load_and_validate(example("organization").spec)


def _action(operation: str) -> str:
    """`create-stack-set` -> `cloudformation:CreateStackSet`."""
    return "cloudformation:" + "".join(word.capitalize() for word in operation.split("-"))


def _calls(*libraries) -> set[str]:
    return {
        _action(op)
        for library in libraries
        for op in re.findall(r"aws cloudformation ([a-z-]+)", library.read_text())
        if "stack-set" in op or "stack-instances" in op
    }


def _granted(policy: dict) -> set[str]:
    statement = next(s for s in policy["Statement"] if s["Sid"] == "ThisProjectsStackSetOnly")
    return {a for a in statement["Action"] if a != "cloudformation:TagResource"}


def test_every_stack_set_call_of_the_library_is_allowed_and_nothing_else(spec):
    called = _calls(STACK_SET_LIBRARY)
    assert called  # the pattern still finds the calls
    granted = {a for a in STACK_SET_CALLS if a != "cloudformation:TagResource"}
    assert called == granted
    # The example replicates (a bucket, the database's secret): the switch's call too.
    replicating = _calls(STACK_SET_LIBRARY, ORG_REPLICATION_LIBRARY)
    assert replicating - called == set(REPLICATION_CALLS)
    assert _granted(stack_set_admin_policy(spec)) == replicating


def test_without_replication_the_switch_is_not_granted(spec):
    single = spec.model_copy(update={"regions": spec.regions[:1]})
    assert _granted(stack_set_admin_policy(single)) == _calls(STACK_SET_LIBRARY)


def test_the_stack_set_statement_names_this_projects_stack_set_only(spec):
    statement = stack_set_admin_policy(spec)["Statement"][0]
    assert statement["Resource"][:2] == [
        "arn:aws:cloudformation:us-east-1:*:stackset/shop-prod-regional:*",
        "arn:aws:cloudformation:us-east-1:*:stackset-target/shop-prod-regional:*",
    ]
    assert "cloudformation:DeleteStackSet" not in statement["Action"]


def test_the_template_upload_is_limited_to_the_stack_sets_prefix(spec):
    upload = next(
        s for s in stack_set_admin_policy(spec)["Statement"] if s["Sid"] == "UploadTheTemplate"
    )
    assert upload["Resource"] == [
        "arn:aws:s3:::shop-prod-deploy-*-us-east-1",
        "arn:aws:s3:::shop-prod-deploy-*-us-east-1/shop-prod-regional/*",
    ]


def test_only_a_delegated_administrator_gets_the_organizations_lookup(spec):
    def sids(policy):
        return [s["Sid"] for s in policy["Statement"]]

    assert "DelegatedAdministratorLookup" in sids(stack_set_admin_policy(spec))
    as_management = spec.model_copy(
        update={"stackset": spec.stackset.model_copy(update={"call_as": "SELF"})}
    )
    assert "DelegatedAdministratorLookup" not in sids(stack_set_admin_policy(as_management))
    actions = [a for s in stack_set_admin_policy(as_management)["Statement"] for a in s["Action"]]
    assert not [a for a in actions if a.startswith(("organizations:", "iam:"))]
