"""`checks`: the waivers of `infra check`, each a checkov check with its reason, located
when wrong."""

from __future__ import annotations

from tests.spec.helpers import assert_problem, only_problem, problems, validate, where

WAIVERS = """
checks:
  waivers:
    - id: CKV_AWS_157
      resource: Database
      reason: Staging runs one database instance.
    - id: CKV_AWS_117
      reason: The functions need no VPC.
"""


def with_waivers(example_text: str, block: str) -> str:
    return example_text + block


def test_no_checks_section_waives_nothing(example_text):
    assert validate(example_text).checks.waivers == []


def test_waivers_keep_their_id_resource_and_reason(example_text):
    waivers = validate(with_waivers(example_text, WAIVERS)).checks.waivers
    assert [(w.id, w.resource, w.reason) for w in waivers] == [
        ("CKV_AWS_157", "Database", "Staging runs one database instance."),
        ("CKV_AWS_117", None, "The functions need no VPC."),
    ]


def test_a_waiver_without_a_reason_is_located(example_text):
    bad = with_waivers(example_text, "checks:\n  waivers:\n    - id: CKV_AWS_157\n")
    line, column = where(bad, "- id: CKV_AWS_157")
    assert only_problem(bad) == (
        f"infra.yaml:{line}:{column + 2}: checks.waivers[0]: missing required key 'reason'"
    )


def test_a_blank_reason_is_no_reason(example_text):
    bad = with_waivers(
        example_text, 'checks:\n  waivers:\n    - {id: CKV_AWS_157, reason: "   "}\n'
    )
    assert_problem(
        only_problem(bad), bad, '"   "', "checks.waivers[0].reason",
        "give the reason the check cannot or need not be met; it is shown in every report",
    )  # fmt: skip


def test_a_cfn_lint_rule_cannot_be_waived(example_text):
    bad = with_waivers(example_text, "checks:\n  waivers:\n    - {id: E3012, reason: x}\n")
    problem = only_problem(bad)
    assert_problem(problem, bad, "E3012", "checks.waivers[0].id", "", exact=False)
    assert "cfn-lint findings cannot be waived" in problem and "(got 'E3012')" in problem


def test_a_resource_is_a_logical_id(example_text):
    bad = with_waivers(
        example_text, "checks:\n  waivers:\n    - {id: CKV_AWS_157, resource: my-db, reason: x}\n"
    )
    problem = only_problem(bad)
    assert_problem(problem, bad, "my-db", "checks.waivers[0].resource", "", exact=False)
    assert "logical ID" in problem


def test_the_same_waiver_twice_is_located_at_the_list(example_text):
    bad = with_waivers(
        example_text,
        "checks:\n  waivers:\n"
        "    - {id: CKV_AWS_157, reason: a}\n"
        "    - {id: CKV_AWS_157, reason: b}\n"
        "    - {id: CKV_AWS_157, resource: Database, reason: c}\n",
    )
    assert_problem(
        only_problem(bad), bad, "- {id: CKV_AWS_157, reason: a}", "checks.waivers",
        "waived more than once: CKV_AWS_157 on every resource",
    )  # fmt: skip


def test_every_waiver_problem_is_reported_at_once(example_text):
    bad = with_waivers(
        example_text,
        "checks:\n  waivers:\n    - {id: CKV_AWS_1}\n    - {id: nope, reason: x}\n",
    )
    assert [problem.split(": ")[1] for problem in problems(bad)] == [
        "checks.waivers[0]",
        "checks.waivers[1].id",
    ]
