"""An offline evaluator of identity policies, for the permission proof.

It answers one question: may a principal holding these policy statements make this
request (action, resource ARN, condition context)? Explicit Deny wins, then any Allow;
otherwise the implicit deny. Actions and resources match with IAM's wildcards (`*`, `?`,
actions case-insensitively); Action/NotAction, Resource/NotResource and the condition
operators our policies use are evaluated.

A condition key the request model does not decide (see `Request.decided`) makes the
proof conservative: an Allow that needs it does not apply, a Deny that names it does,
and the key is reported, so an undecidable condition can fail the proof, never pass it.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from functools import cache


@cache
def _glob(pattern: str, ignore_case: bool) -> re.Pattern:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), (re.IGNORECASE if ignore_case else 0) | re.DOTALL)


def matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM wildcard match. A `*` in `value` (a required action given as a pattern, or an
    ARN whose ID is unknown) is matched literally, so a pattern covers it only with a
    `*` of its own: `ec2:*` covers `ec2:Describe*`, `ec2:DescribeVpcs` does not."""
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def overlaps(pattern: str, value: str) -> bool:
    """Whether the actions `pattern` and `value` (both may hold `*`) share one: what a Deny
    needs to take away part of a required pattern."""
    return matches(pattern, value, ignore_case=True) or matches(value, pattern, ignore_case=True)


@dataclass(frozen=True)
class Request:
    action: str  # `service:Action`, or a handler's pattern such as `ec2:Describe*`
    resource: str  # an ARN, or `*` for actions AWS does not scope by resource
    context: dict[str, list[str]] = field(default_factory=dict)  # condition key -> values
    # Keys the model decides: absent from `context` means "not sent with the request".
    decided: frozenset[str] = frozenset()


@dataclass
class Decision:
    allowed: bool
    allowed_by: str | None = None  # Sid
    denied_by: str | None = None
    undecided: set[str] = field(default_factory=set)  # condition keys that were assumed


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


def _key_decided(key: str, request: Request) -> bool:
    lowered = key.lower()
    return any(
        lowered == d.lower() or (d.endswith("/") and lowered.startswith(d.lower()))
        for d in request.decided
    )


def _context_values(key: str, request: Request) -> list[str] | None:
    for name, values in request.context.items():
        if name.lower() == key.lower():
            return values
    return None


_STRING = {
    "StringEquals": lambda p, v: p == v,
    "StringNotEquals": lambda p, v: p == v,
    "StringEqualsIgnoreCase": lambda p, v: p.lower() == v.lower(),
    "StringLike": lambda p, v: matches(p, v),
    "StringNotLike": lambda p, v: matches(p, v),
    "ArnEquals": lambda p, v: p == v,
    "ArnLike": lambda p, v: matches(p, v),
    "ArnNotEquals": lambda p, v: p == v,
    "ArnNotLike": lambda p, v: matches(p, v),
    "Bool": lambda p, v: str(p).lower() == str(v).lower(),
}


def _condition_holds(operator: str, key: str, expected, request: Request) -> bool:
    """One operator on one key, with IAM's rules for absent keys and set operators."""
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    wanted = [str(e) for e in _listed(expected)]
    values = _context_values(key, request)
    if base == "Null":
        return (values is None) == (wanted[0].lower() == "true")
    if base not in _STRING:
        raise ValueError(f"condition operator {operator} is not modelled")
    negated = "Not" in base
    compare = _STRING[base]
    if values is None:
        # IAM: an absent key fails a condition, except under IfExists, ForAllValues, or a
        # negated operator (StringNotEquals on a key not sent holds).
        return qualifier == "ForAllValues" or if_exists or negated

    def hit(value: str) -> bool:
        found = any(compare(w, value) for w in wanted)
        return not found if negated else found

    if qualifier == "ForAllValues":
        return all(hit(v) for v in values)
    return any(hit(v) for v in values)


def _conditions(statement: dict, request: Request, undecided: set[str]) -> bool | None:
    """True/False when decided; None when it turns on a key the model does not decide."""
    unknown = False
    for operator, keys in statement.get("Condition", {}).items():
        for key, expected in keys.items():
            if not _key_decided(key, request):
                undecided.add(key)
                unknown = True
                continue
            if not _condition_holds(operator, key, expected, request):
                return False
    return None if unknown else True


@cache
def _any_of(patterns: tuple[str, ...]) -> re.Pattern:
    """One expression for a statement's action list (actions are case-insensitive)."""
    return re.compile("|".join(f"(?:{_glob(p, True).pattern})" for p in patterns), re.IGNORECASE)


def _action_applies(statement: dict, action: str, *, deny: bool) -> bool:
    if "Action" in statement:
        patterns = tuple(_listed(statement["Action"]))
        if deny:
            return any(overlaps(p, action) for p in patterns)
        return _any_of(patterns).fullmatch(action) is not None
    # NotAction: applies to every action the list does not name (for a Deny: that any
    # part of a required pattern escapes the list).
    return _any_of(tuple(_listed(statement["NotAction"]))).fullmatch(action) is None


def _resource_applies(statement: dict, resource: str) -> bool:
    if "Resource" in statement:
        return any(matches(p, resource) for p in _listed(statement["Resource"]))
    return not any(matches(p, resource) for p in _listed(statement["NotResource"]))


class Policy:
    """Statements to evaluate many requests against. The proof asks about a few hundred
    actions, a hundred thousand times, of the same few dozen statements: which statements
    an action brings into play is worked out once per action, in statement order, and the
    rest of the evaluation (resources, conditions) is `evaluate`'s. The statements are
    copied: changing the caller's list later does not change the answers."""

    def __init__(self, statements: list[dict]) -> None:
        self.statements = copy.deepcopy(statements)
        self._in_play: dict[str, list[dict]] = {}

    def in_play(self, action: str) -> list[dict]:
        if action not in self._in_play:
            self._in_play[action] = [
                s
                for s in self.statements
                if _action_applies(s, action, deny=s["Effect"] == "Deny")
            ]
        return self._in_play[action]


def evaluate(statements: list[dict] | Policy, request: Request) -> Decision:
    """Whether `statements` allow `request`; a `Policy` gives the same answer sooner."""
    if isinstance(statements, Policy):
        in_play = statements.in_play(request.action)
    else:
        in_play = [
            s for s in statements if _action_applies(s, request.action, deny=s["Effect"] == "Deny")
        ]
    decision = Decision(allowed=False)
    for statement in in_play:
        deny = statement["Effect"] == "Deny"
        if not _resource_applies(statement, request.resource):
            continue
        undecided: set[str] = set()
        holds = _conditions(statement, request, undecided)
        decision.undecided |= undecided
        if deny and holds is not False:  # an undecided Deny is taken to apply
            return Decision(
                False, denied_by=statement.get("Sid", "?"), undecided=decision.undecided
            )
        if not deny and holds is True and not decision.allowed:
            decision.allowed, decision.allowed_by = True, statement.get("Sid", "?")
    return decision
