"""`waf`: managed rule group names, country codes, the rate limit and log retention."""

from __future__ import annotations

import pytest

from compiler.spec.waf import BASELINE_RULE_GROUPS, DEFAULT_RULE_GROUPS, MANAGED_RULE_GROUPS
from tests.spec.helpers import assert_problem, edit, only_problem, problems, validate

SQLI_ITEM = "    - AWSManagedRulesSQLiRuleSet\n"
RATE = "rate_limit_per_5_minutes: 2000"
COUNTRIES = "blocked_countries: []"


def with_countries(example_text: str, flow_list: str) -> str:
    return edit(example_text, COUNTRIES, f"blocked_countries: {flow_list}")


def without_waf_section(example_text: str) -> str:
    start = example_text.index("\nwaf:")
    end = example_text.index("\n\n", start + 1)
    return example_text[:start] + example_text[end:]


def test_example_spec_has_the_default_waf(example_text):
    waf = validate(example_text).waf
    assert waf.managed_rule_groups == list(DEFAULT_RULE_GROUPS)
    assert waf.rate_limit_per_5_minutes == 2000
    assert waf.blocked_countries == []
    assert waf.log_retention_days == 365


def test_spec_without_a_waf_section_still_gets_the_firewall(example_text):
    text = without_waf_section(example_text)
    assert "waf:" not in text
    waf = validate(text).waf
    assert waf.managed_rule_groups == list(DEFAULT_RULE_GROUPS)
    assert waf.rate_limit_per_5_minutes == 2000


def test_default_groups_cover_common_exploits_sqli_bad_inputs_and_ip_reputation():
    assert set(DEFAULT_RULE_GROUPS) == {
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesSQLiRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesAmazonIpReputationList",
    }
    assert set(DEFAULT_RULE_GROUPS) <= set(MANAGED_RULE_GROUPS)
    # every offered group at once stays under WAF's hard limit of 5,000 capacity units
    assert sum(wcu for wcu, _ in MANAGED_RULE_GROUPS.values()) < 5000


def test_unknown_managed_rule_group_is_refused_with_the_closest_name(example_text):
    bad = edit(example_text, SQLI_ITEM, "    - AWSManagedRulesSQLRuleSet\n")
    assert_problem(
        only_problem(bad),
        bad,
        "AWSManagedRulesSQLRuleSet",
        "waf.managed_rule_groups[3]",
        "unknown managed rule group 'AWSManagedRulesSQLRuleSet'; "
        "did you mean 'AWSManagedRulesSQLiRuleSet'?",
    )


def test_unknown_managed_rule_group_far_from_any_lists_the_choices(example_text):
    bad = edit(example_text, SQLI_ITEM, "    - OWASPTop10\n")
    assert_problem(
        only_problem(bad),
        bad,
        "OWASPTop10",
        "waf.managed_rule_groups[3]",
        f"unknown managed rule group 'OWASPTop10'; choose one of {', '.join(MANAGED_RULE_GROUPS)}",
    )


def test_paid_managed_rule_group_is_refused_with_the_reason(example_text):
    bad = edit(example_text, SQLI_ITEM, "    - AWSManagedRulesBotControlRuleSet\n")
    assert_problem(
        only_problem(bad),
        bad,
        "AWSManagedRulesBotControlRuleSet",
        "waf.managed_rule_groups[3]",
        "'AWSManagedRulesBotControlRuleSet' (Bot Control) is billed per request and needs "
        "its own configuration",
        exact=False,
    )


def test_managed_rule_group_listed_twice_is_refused(example_text):
    bad = edit(example_text, SQLI_ITEM, "    - AWSManagedRulesCommonRuleSet\n")
    assert_problem(
        only_problem(bad),
        bad,
        "- AWSManagedRulesAmazonIpReputationList",  # a block list starts at its first item
        "waf.managed_rule_groups",
        "listed more than once: AWSManagedRulesCommonRuleSet",
    )


def test_other_free_groups_add_to_the_baseline(example_text):
    text = edit(example_text, SQLI_ITEM, SQLI_ITEM + "    - AWSManagedRulesLinuxRuleSet\n")
    groups = validate(text).waf.managed_rule_groups
    assert groups[-1] == "AWSManagedRulesLinuxRuleSet"
    assert set(BASELINE_RULE_GROUPS) <= set(groups)


@pytest.mark.parametrize("dropped", BASELINE_RULE_GROUPS)
def test_a_list_that_would_remove_a_baseline_group_is_located(example_text, dropped):
    # Replaced by a free group that is not in the baseline: the list is otherwise valid.
    start = example_text.index(f"    - {dropped}")
    line = example_text[start : example_text.index("\n", start) + 1]
    bad = edit(example_text, line, "    - AWSManagedRulesLinuxRuleSet\n")
    assert_problem(
        only_problem(bad),
        bad,
        "- AWSManagedRulesAmazonIpReputationList",  # a block list starts at its first item
        "waf.managed_rule_groups",
        f"this list would remove the baseline every web ACL keeps: {dropped} (",
        exact=False,
    )


def test_the_baseline_is_sqli_xss_and_known_bad_inputs():
    assert set(BASELINE_RULE_GROUPS) == {
        "AWSManagedRulesSQLiRuleSet",
        "AWSManagedRulesCommonRuleSet",  # cross-site scripting among the OWASP Top 10
        "AWSManagedRulesKnownBadInputsRuleSet",  # Log4Shell
    }
    assert set(BASELINE_RULE_GROUPS) <= set(DEFAULT_RULE_GROUPS)


def test_countries_are_accepted_as_iso_codes(example_text):
    text = with_countries(example_text, '[KP, IR, "NO", XK]')
    assert validate(text).waf.blocked_countries == ["KP", "IR", "NO", "XK"]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("XX", "'XX' is not an ISO 3166-1 alpha-2 country code, like DE or US"),
        ("DEU", "'DEU' is not an ISO 3166-1 alpha-2 country code, like DE or US"),
        ("de", "'de' is not upper-case; write 'DE'"),
        ("UK", "'UK' is not an ISO 3166-1 alpha-2 code; use 'GB'"),
    ],
)
def test_bad_country_code_is_refused_at_the_code(example_text, code, message):
    bad = with_countries(example_text, f"[KP, {code}]")
    assert_problem(
        only_problem(bad),
        bad,
        code,
        "waf.blocked_countries[1]",
        message,
        after="blocked_countries: [KP, ",
    )


def test_unquoted_norway_is_explained(example_text):
    bad = with_countries(example_text, "[KP, NO]")
    assert_problem(
        only_problem(bad),
        bad,
        "NO",
        "waf.blocked_countries[1]",
        'YAML read this as false; quote country codes, e.g. "NO" for Norway',
        after="blocked_countries: [KP, ",
    )


def test_country_listed_twice_is_refused(example_text):
    bad = with_countries(example_text, "[KP, IR, KP]")
    assert_problem(
        only_problem(bad),
        bad,
        "[KP, IR, KP]",
        "waf.blocked_countries",
        "listed more than once: KP",
    )


@pytest.mark.parametrize("limit", [10, 2000, 2_000_000_000])
def test_rate_limits_within_wafs_range_are_accepted(example_text, limit):
    text = edit(example_text, RATE, f"rate_limit_per_5_minutes: {limit}")
    assert validate(text).waf.rate_limit_per_5_minutes == limit


@pytest.mark.parametrize(("limit", "shown"), [(9, "9"), (0, "0"), (2_000_000_001, "2,000,000,001")])
def test_rate_limit_out_of_range_is_refused(example_text, limit, shown):
    bad = edit(example_text, RATE, f"rate_limit_per_5_minutes: {limit}")
    assert_problem(
        only_problem(bad),
        bad,
        str(limit),
        "waf.rate_limit_per_5_minutes",
        "WAF rate limits range from 10 to 2,000,000,000 requests per IP address in 5 "
        f"minutes; got {shown}",
        after="rate_limit_per_5_minutes: ",
    )


def test_log_retention_must_be_one_cloudwatch_offers(example_text):
    bad = edit(
        example_text,
        "log_retention_days: 365        # WAF logs",
        "log_retention_days: 100        # WAF logs",
    )
    assert_problem(
        only_problem(bad),
        bad,
        "100",
        "waf.log_retention_days",
        "CloudWatch Logs cannot keep logs for 100 days",
        exact=False,
        after="log_retention_days: ",
    )


def test_misspelt_waf_key_suggests_the_right_one(example_text):
    bad = edit(example_text, RATE, "rate_limit_per_five_minutes: 2000")
    found = problems(bad)
    assert len(found) == 1
    assert_problem(
        found[0],
        bad,
        "rate_limit_per_five_minutes",
        "waf.rate_limit_per_five_minutes",
        "unknown key 'rate_limit_per_five_minutes'; did you mean 'rate_limit_per_5_minutes'?",
    )
