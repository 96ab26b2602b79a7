"""`access`: the principals allowed to assume the management role, and their MFA."""

from __future__ import annotations

import pytest

from tests.spec.helpers import (
    assert_problem,
    edit,
    only_problem,
    problems,
    validate,
    without_section,
)

PRINCIPAL = "arn:aws:iam::123456789012:role/platform-team"
PRINCIPALS_BLOCK = (
    "  admin_principals:              # IAM roles/users (or an account's :root) allowed to "
    f"assume it\n    - {PRINCIPAL}\n"
)
ARN_HINT = (
    "use an IAM ARN like arn:aws:iam::123456789012:role/platform-team "
    "(a role or user, or arn:aws:iam::<12 digits>:root for a whole account)"
)


def with_principals(example_text: str, *arns: str) -> str:
    items = "".join(f"    - {arn}\n" for arn in arns)
    return edit(example_text, PRINCIPALS_BLOCK, f"  admin_principals:\n{items}")


def test_example_has_one_principal_and_requires_mfa(example_text):
    access = validate(example_text).access
    assert access.admin_principals == [PRINCIPAL]
    assert access.require_mfa is True


def test_require_mfa_defaults_to_true(example_text):
    text = edit(example_text, "  require_mfa: true", "  # require_mfa: true")
    assert validate(text).access.require_mfa is True


def test_require_mfa_can_be_turned_off(example_text):
    text = edit(example_text, "  require_mfa: true", "  require_mfa: false")
    assert validate(text).access.require_mfa is False


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::123456789012:role/platform-team",
        "arn:aws:iam::123456789012:role/teams/platform/deployer",  # a role with a path
        "arn:aws:iam::123456789012:user/alice@example.com",
        "arn:aws:iam::123456789012:root",
        "arn:aws-us-gov:iam::123456789012:role/ops",
        "arn:aws-cn:iam::123456789012:role/ops",
        "arn:aws:iam::123456789012:role/service-role/AWSReservedSSO_Admin_0123456789abcdef",
    ],
)
def test_roles_users_and_account_roots_are_accepted(example_text, arn):
    assert validate(with_principals(example_text, arn)).access.admin_principals == [arn]


def test_several_principals_keep_their_order(example_text):
    arns = ["arn:aws:iam::123456789012:role/b", "arn:aws:iam::123456789012:role/a"]
    assert validate(with_principals(example_text, *arns)).access.admin_principals == arns


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::12345:role/platform-team",  # account ID too short
        "arn:aws:iam::123456789012:group/admins",  # groups cannot be trusted by a role
        "arn:aws:sts::123456789012:assumed-role/platform-team/alice",  # a session
        "arn:aws:iam::123456789012:role/",  # no name
        "arn:aws:iam:us-east-1:123456789012:role/platform-team",  # IAM ARNs have no region
        "'123456789012'",  # an account ID alone
        "platform-team",
        "arn:aws:iam::123456789012:role/platform team",  # a space
    ],
)
def test_bad_principal_arn_is_located_with_the_expected_format(example_text, arn):
    bad = with_principals(example_text, arn)
    value = arn.strip("'")
    assert_problem(
        only_problem(bad),
        bad,
        arn,
        "access.admin_principals[0]",
        f"{ARN_HINT} (got '{value}')",
        after="admin_principals:",
    )


def test_bad_second_principal_names_its_index(example_text):
    bad = with_principals(example_text, PRINCIPAL, "arn:aws:iam::123:root")
    assert_problem(
        only_problem(bad),
        bad,
        "arn:aws:iam::123:root",
        "access.admin_principals[1]",
        f"{ARN_HINT} (got 'arn:aws:iam::123:root')",
    )


def test_empty_principals_are_refused_with_the_reason(example_text):
    bad = edit(example_text, PRINCIPALS_BLOCK, "  admin_principals: []\n")
    assert_problem(
        only_problem(bad),
        bad,
        "[]",
        "access.admin_principals",
        "list at least one IAM role or user ARN of the team; with none, nobody could assume "
        "the management role that deploys the stacks",
        after="admin_principals:",
    )


def test_missing_principals_are_reported_at_the_access_section(example_text):
    bad = edit(example_text, PRINCIPALS_BLOCK, "")
    # reported at the section's first key, where the missing one would go
    assert_problem(
        only_problem(bad),
        bad,
        "require_mfa",
        "access",
        "missing required key 'admin_principals'",
        after="access:",
    )


def test_access_section_is_required(example_text):
    bad = without_section(example_text, "access")
    (problem,) = problems(bad)
    assert problem.endswith("(document): missing required key 'access'")


def test_repeated_principal_is_refused(example_text):
    bad = with_principals(example_text, PRINCIPAL, PRINCIPAL)
    # a check of the whole list: reported where the list starts
    assert_problem(
        only_problem(bad),
        bad,
        f"- {PRINCIPAL}",
        "access.admin_principals",
        f"'{PRINCIPAL}' (admin_principals[1]) repeats admin_principals[0]",
        after="admin_principals:",
    )


def test_unknown_access_key_suggests_the_right_one(example_text):
    bad = edit(example_text, "  require_mfa: true", "  requires_mfa: true")
    assert_problem(
        only_problem(bad),
        bad,
        "requires_mfa",
        "access.requires_mfa",
        "unknown key 'requires_mfa'; did you mean 'require_mfa'?",
    )
