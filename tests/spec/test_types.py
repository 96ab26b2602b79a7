"""The reusable constrained types, called directly (their use in the spec is tested
with each section)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compiler.spec.types import (
    LOG_RETENTION_DAYS,
    PATTERN_HINTS,
    check_ipv4_network,
    check_log_retention,
)


@given(st.ip_addresses(v=4), st.integers(min_value=0, max_value=32))
def test_a_network_is_accepted_exactly_as_python_writes_it(address, prefix):
    network = ipaddress.IPv4Network(f"{address}/{prefix}", strict=False)
    assert check_ipv4_network(str(network)) == str(network)
    if network.network_address != address:
        with pytest.raises(ValueError, match="has host bits set; did you mean"):
            check_ipv4_network(f"{address}/{prefix}")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("10.0.0.0", "'10.0.0.0' has no prefix length"),
        ("10.0.0.0/33", "'10.0.0.0/33' is not a CIDR block like 10.0.0.0/16"),
        ("", "'' is not a CIDR block"),
        ("::/0", "'::/0' is IPv6; only IPv4 CIDR blocks are supported here"),
        ("10.0.0.0 /16", "is not a CIDR block"),
    ],
)
def test_cidr_messages(value, message):
    with pytest.raises(ValueError) as raised:
        check_ipv4_network(value)
    assert message in str(raised.value)


def test_log_retention_accepts_only_cloudwatch_values():
    assert [check_log_retention(days) for days in LOG_RETENTION_DAYS] == list(LOG_RETENTION_DAYS)
    with pytest.raises(ValueError, match="cannot keep logs for 4 days; choose one of 1, 3, 5"):
        check_log_retention(4)


def test_every_pattern_has_a_hint_a_user_can_act_on():
    assert len(PATTERN_HINTS) >= 10
    for pattern, hint in PATTERN_HINTS.items():
        assert hint and pattern not in hint, pattern
