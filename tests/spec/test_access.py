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
    "  admin_principals:              # IAM roles/users allowed to assume it (:root needs "
    f"allow_account_root)\n    - {PRINCIPAL}\n"
)
USER = "arn:aws:iam::123456789012:user/alice"
ROOT = "arn:aws:iam::123456789012:root"
# The example's setting, and what turns MFA on.
MFA_OFF = "  require_mfa: false "
MFA_ON = "  require_mfa: true "
ARN_HINT = (
    "use an IAM ARN like arn:aws:iam::123456789012:role/platform-team "
    "(a role or user, or arn:aws:iam::<12 digits>:root for a whole account)"
)


def with_principals(example_text: str, *arns: str) -> str:
    items = "".join(f"    - {arn}\n" for arn in arns)
    return edit(example_text, PRINCIPALS_BLOCK, f"  admin_principals:\n{items}")


def with_mfa(example_text: str, *arns: str) -> str:
    return edit(with_principals(example_text, *arns), MFA_OFF, MFA_ON)


def test_example_has_one_role_that_can_be_assumed(example_text):
    # a role principal: its sessions carry no MFA flag, so the example cannot require it
    access = validate(example_text).access
    assert access.admin_principals == [PRINCIPAL]
    assert access.require_mfa is False
    assert access.allow_account_root is False


def test_require_mfa_defaults_to_true(example_text):
    text = edit(with_principals(example_text, USER), MFA_OFF, "  # require_mfa: false ")
    assert validate(text).access.require_mfa is True


def test_users_can_be_required_to_use_mfa(example_text):
    assert validate(with_mfa(example_text, USER)).access.require_mfa is True


ROLE_WITH_MFA = (
    "is a role, and AWS sets no aws:MultiFactorAuthPresent on a role's sessions (role "
    "chaining, IAM Identity Center, SAML), so with access.require_mfa: true nobody could "
    "assume the management role. List IAM users instead (a user's MFA sign-in sets the "
    "flag), or set `access.require_mfa: false` and require MFA where the role's sessions "
    "begin (the Identity Center or identity provider sign-in, or an MFA condition in the "
    "trust policy of the role named here)"
)


def test_a_role_principal_with_mfa_required_is_located_with_the_alternatives(example_text):
    bad = with_mfa(example_text, USER, PRINCIPAL)
    assert_problem(
        only_problem(bad),
        bad,
        PRINCIPAL,
        "access.admin_principals[1]",
        f"'{PRINCIPAL}' {ROLE_WITH_MFA}",
    )


def test_a_role_principal_with_mfa_required_by_default_is_refused(example_text):
    bad = edit(example_text, MFA_OFF, "  # require_mfa: false ")
    assert_problem(
        only_problem(bad),
        bad,
        PRINCIPAL,
        "access.admin_principals[0]",
        f"'{PRINCIPAL}' {ROLE_WITH_MFA}",
        after="admin_principals:",
    )


ACCOUNT_ROOT = (
    "trusts the whole account: every user and role in it whose own policies allow "
    "sts:AssumeRole could assume the management role. Name the roles or users instead, or "
    "set `access.allow_account_root: true` to accept that"
)


def test_an_account_root_principal_needs_the_opt_in(example_text):
    bad = with_principals(example_text, PRINCIPAL, ROOT)
    assert_problem(
        only_problem(bad), bad, ROOT, "access.admin_principals[1]", f"'{ROOT}' {ACCOUNT_ROOT}"
    )


def test_an_account_root_principal_with_the_opt_in_is_accepted(example_text):
    text = edit(
        with_principals(example_text, ROOT), MFA_OFF, "  allow_account_root: true\n" + MFA_ON
    )
    access = validate(text).access
    assert access.admin_principals == [ROOT]
    assert access.allow_account_root is True
    assert access.require_mfa is True  # the account's users sign in with MFA


def test_mfa_and_root_problems_are_reported_together(example_text):
    found = problems(with_mfa(example_text, PRINCIPAL, ROOT))
    assert len(found) == 2
    assert "access.admin_principals[0]" in found[0] and ROLE_WITH_MFA in found[0]
    assert "access.admin_principals[1]" in found[1] and ACCOUNT_ROOT in found[1]


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::123456789012:role/platform-team",
        "arn:aws:iam::123456789012:role/teams/platform/deployer",  # a role with a path
        "arn:aws:iam::123456789012:user/alice@example.com",
        "arn:aws-us-gov:iam::123456789012:role/ops",
        "arn:aws-cn:iam::123456789012:role/ops",
        "arn:aws:iam::123456789012:role/service-role/AWSReservedSSO_Admin_0123456789abcdef",
    ],
)
def test_roles_and_users_are_accepted(example_text, arn):
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
    bad = edit(example_text, "  require_mfa: false", "  requires_mfa: false")
    assert_problem(
        only_problem(bad),
        bad,
        "requires_mfa",
        "access.requires_mfa",
        "unknown key 'requires_mfa'; did you mean 'require_mfa'?",
    )
