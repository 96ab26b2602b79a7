"""`load_balancer`: certificate ARN shape, TLS policy and health check path.

Which regions the certificates belong to is a consistency check (test_consistency.py).
"""

from __future__ import annotations

import pytest

from tests.spec.helpers import assert_problem, edit, only_problem, validate

EAST_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-1111-4e5f-8a9b-000000000001"


def test_example_certificates_are_keyed_by_region(example_text):
    arns = validate(example_text).load_balancer.certificate_arns
    assert sorted(arns) == ["us-east-1", "us-west-2"]
    assert arns["us-east-1"] == EAST_ARN


def test_certificate_that_is_not_an_acm_arn(example_text):
    bad = edit(example_text, EAST_ARN, "arn:aws:iam::123456789012:server-certificate/web")
    assert_problem(
        only_problem(bad),
        bad,
        "arn:aws:iam",
        "load_balancer.certificate_arns.us-east-1",
        "use an ACM certificate ARN: arn:aws:acm:<region>:<account>:certificate/<id> "
        "(got 'arn:aws:iam::123456789012:server-certificate/web')",
    )


def test_ssl_policy_older_than_tls_1_2(example_text):
    bad = edit(
        example_text,
        "  health_check_path: /health\n",
        "  health_check_path: /health\n  ssl_policy: ELBSecurityPolicy-2016-08\n",
    )
    assert_problem(
        only_problem(bad),
        bad,
        "ELBSecurityPolicy-2016-08",
        "load_balancer.ssl_policy",
        "use an ELB TLS 1.2+ policy such as ELBSecurityPolicy-TLS13-1-2-2021-06 "
        "(got 'ELBSecurityPolicy-2016-08')",
    )


@pytest.mark.parametrize(
    "policy", ["ELBSecurityPolicy-TLS-1-2-2017-01", "ELBSecurityPolicy-TLS13-1-3-2021-06"]
)
def test_tls_1_2_and_1_3_policies_are_accepted(example_text, policy):
    text = edit(
        example_text,
        "  health_check_path: /health\n",
        f"  health_check_path: /health\n  ssl_policy: {policy}\n",
    )
    assert validate(text).load_balancer.ssl_policy == policy


def test_tls_1_1_policy_is_refused(example_text):
    bad = edit(
        example_text,
        "  health_check_path: /health\n",
        "  health_check_path: /health\n  ssl_policy: ELBSecurityPolicy-TLS-1-1-2017-01\n",
    )
    assert_problem(
        only_problem(bad),
        bad,
        "ELBSecurityPolicy-TLS-1-1-2017-01",
        "load_balancer.ssl_policy",
        "use an ELB TLS 1.2+ policy such as ELBSecurityPolicy-TLS13-1-2-2021-06 "
        "(got 'ELBSecurityPolicy-TLS-1-1-2017-01')",
    )


def test_health_check_path_starts_with_a_slash(example_text):
    bad = edit(example_text, "health_check_path: /health", "health_check_path: health")
    assert_problem(
        only_problem(bad),
        bad,
        "health\n",
        "load_balancer.health_check_path",
        "use an HTTP path that starts with '/', like /health (got 'health')",
    )


def test_certificate_arns_must_be_a_mapping(example_text):
    certificates = example_text[example_text.index("  certificate_arns:") :]
    certificates = certificates[: certificates.index("\n\n") + 1]  # up to the blank line
    bad = edit(example_text, certificates, f"  certificate_arns: [{EAST_ARN}]\n")
    assert_problem(
        only_problem(bad),
        bad,
        f"[{EAST_ARN}]",
        "load_balancer.certificate_arns",
        "Input should be a valid dictionary",
    )
