"""Spec model for the regional web application firewall (AWS WAFv2) in front of each ALB."""

from __future__ import annotations

import difflib
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, field_validator

from compiler.spec.types import SPEC_MODEL_CONFIG, LogRetentionDays, empty_list

# AWS managed rule groups that need no configuration and cost nothing beyond basic WAF
# pricing, with their web ACL capacity units (WAF developer guide, "AWS Managed Rules
# rule groups list"). A web ACL's first 1,500 WCUs are in the base price; these together
# stay well under the hard limit of 5,000.
MANAGED_RULE_GROUPS: dict[str, tuple[int, str]] = {
    "AWSManagedRulesCommonRuleSet": (700, "OWASP Top 10 style exploits, XSS included"),
    "AWSManagedRulesAdminProtectionRuleSet": (100, "requests for admin pages"),
    "AWSManagedRulesKnownBadInputsRuleSet": (200, "known exploit patterns such as Log4j"),
    "AWSManagedRulesSQLiRuleSet": (200, "SQL injection"),
    "AWSManagedRulesLinuxRuleSet": (200, "Linux-specific local file inclusion"),
    "AWSManagedRulesUnixRuleSet": (100, "POSIX command injection"),
    "AWSManagedRulesWindowsRuleSet": (200, "Windows and PowerShell command injection"),
    "AWSManagedRulesPHPRuleSet": (100, "PHP-specific exploits"),
    "AWSManagedRulesWordPressRuleSet": (100, "WordPress-specific exploits"),
    "AWSManagedRulesAmazonIpReputationList": (25, "IP addresses Amazon saw attacking"),
    "AWSManagedRulesAnonymousIpList": (50, "VPNs, proxies, Tor and hosting providers"),
}

# Managed groups that bill per request and need ManagedRuleGroupConfigs (login paths,
# inspection level...): refused with a reason rather than half-configured.
UNSUPPORTED_RULE_GROUPS = {
    "AWSManagedRulesBotControlRuleSet": "Bot Control",
    "AWSManagedRulesATPRuleSet": "account takeover prevention",
    "AWSManagedRulesACFPRuleSet": "account creation fraud prevention",
    "AWSManagedRulesAntiDDoSRuleSet": "anti-DDoS",
}

# The baseline every web ACL keeps: the product promises SQL injection and XSS coverage,
# and KnownBadInputs is what blocks Log4Shell-style exploits. A spec lists them (in any
# order) and adds what it wants; a list without one of them is refused, not completed,
# so the spec says what the web ACL evaluates.
BASELINE_RULE_GROUPS = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
)

# Evaluated in this order: the cheap IP list drops known attackers before inspection.
DEFAULT_RULE_GROUPS = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
)

# RateBasedStatement.Limit bounds in the WAFv2 API (requests per evaluation window).
RATE_LIMIT_MIN = 10
RATE_LIMIT_MAX = 2_000_000_000

# The codes GeoMatchStatement accepts (WAFv2 API's CountryCode): ISO 3166-1 alpha-2,
# plus XK for Kosovo.
COUNTRY_CODES = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO
    BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ
    DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP
    GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG
    KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML
    MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE
    PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL
    SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM
    US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW
    """.split()
)
# Codes people write that ISO 3166 spells otherwise.
_COUNTRY_CODE_MIX_UPS = {"UK": "GB", "EL": "GR"}


def check_rule_group_name(value: str) -> str:
    if value in MANAGED_RULE_GROUPS:
        return value
    if value in UNSUPPORTED_RULE_GROUPS:
        raise ValueError(
            f"'{value}' ({UNSUPPORTED_RULE_GROUPS[value]}) is billed per request and needs "
            "its own configuration, which this compiler does not write; choose one of "
            f"{', '.join(MANAGED_RULE_GROUPS)}"
        )
    close = difflib.get_close_matches(value, MANAGED_RULE_GROUPS, n=1, cutoff=0.6)
    hint = (
        f"did you mean '{close[0]}'?"
        if close
        else f"choose one of {', '.join(MANAGED_RULE_GROUPS)}"
    )
    raise ValueError(f"unknown managed rule group '{value}'; {hint}")


def _no_yaml_boolean(value: Any) -> Any:
    # YAML 1.1 reads an unquoted NO (Norway) as false.
    if isinstance(value, bool):
        raise ValueError(
            f'YAML read this as {str(value).lower()}; quote country codes, e.g. "NO" for Norway'
        )
    return value


def check_country_code(value: str) -> str:
    if value in COUNTRY_CODES:
        return value
    if value.upper() in COUNTRY_CODES:
        raise ValueError(f"'{value}' is not upper-case; write '{value.upper()}'")
    if value.upper() in _COUNTRY_CODE_MIX_UPS:
        raise ValueError(
            f"'{value}' is not an ISO 3166-1 alpha-2 code; use '{_COUNTRY_CODE_MIX_UPS[value.upper()]}'"
        )
    raise ValueError(f"'{value}' is not an ISO 3166-1 alpha-2 country code, like DE or US")


def check_rate_limit(value: int) -> int:
    if not RATE_LIMIT_MIN <= value <= RATE_LIMIT_MAX:
        raise ValueError(
            f"WAF rate limits range from {RATE_LIMIT_MIN} to {RATE_LIMIT_MAX:,} requests "
            f"per IP address in 5 minutes; got {value:,}"
        )
    return value


ManagedRuleGroupName = Annotated[str, AfterValidator(check_rule_group_name)]
CountryCode = Annotated[str, BeforeValidator(_no_yaml_boolean), AfterValidator(check_country_code)]
RateLimit = Annotated[int, AfterValidator(check_rate_limit)]


def _duplicates(values: list[str]) -> list[str]:
    return sorted({v for v in values if values.count(v) > 1})


class WafSpec(BaseModel):
    """A regional WAFv2 web ACL on each region's load balancer; on by default."""

    model_config = SPEC_MODEL_CONFIG

    managed_rule_groups: list[ManagedRuleGroupName] = Field(
        default_factory=lambda: list(DEFAULT_RULE_GROUPS),
        min_length=1,
        description="AWS managed rule groups (vendor AWS) that block what they match, "
        "evaluated in this order after the rate limit. The baseline "
        f"{', '.join(BASELINE_RULE_GROUPS)} must be listed; add others from the free "
        f"groups: {', '.join(MANAGED_RULE_GROUPS)}.",
        examples=[list(DEFAULT_RULE_GROUPS)],
    )
    rate_limit_per_5_minutes: RateLimit = Field(
        2000,
        description="Requests one IP address may send in 5 minutes before WAF blocks it; "
        f"{RATE_LIMIT_MIN}..{RATE_LIMIT_MAX:,}.",
        examples=[2000],
    )
    blocked_countries: list[CountryCode] = Field(
        default_factory=empty_list,
        description="ISO 3166-1 alpha-2 codes of countries whose requests are blocked "
        '(quote "NO": YAML reads it as false).',
        examples=[["KP", "IR"]],
    )
    # WAF logs are evidence of attacks and of what was blocked: a year is the usual floor.
    log_retention_days: LogRetentionDays = Field(
        365,
        description="Days CloudWatch Logs keeps the WAF logs (aws-waf-logs-... group, "
        "encrypted with the region's key).",
        examples=[365],
    )

    @field_validator("managed_rule_groups", "blocked_countries")
    @classmethod
    def _no_duplicates(cls, values: list[str]) -> list[str]:
        repeated = _duplicates(values)
        if repeated:
            raise ValueError(f"listed more than once: {', '.join(repeated)}")
        return values

    @field_validator("managed_rule_groups")
    @classmethod
    def _keeps_the_baseline(cls, values: list[str]) -> list[str]:
        missing = [group for group in BASELINE_RULE_GROUPS if group not in values]
        if missing:
            what = "; ".join(f"{group} ({MANAGED_RULE_GROUPS[group][1]})" for group in missing)
            raise ValueError(
                f"this list would remove the baseline every web ACL keeps: {what}. List "
                f"{', '.join(BASELINE_RULE_GROUPS)} in the order you want, with the groups "
                "you add"
            )
        return values
