"""The one place for handler actions the deploy roles leave out on purpose, with why.

The resource provider schemas declare every call a handler may make for any setting of
its type; the templates use a few settings. An action is waived here for a resource
type ("*": any) when the compiled templates never take the path that calls it; the proof
fails on a waiver nothing needs any more, so this list cannot outgrow the templates.
"""

from __future__ import annotations

from tests.iam.policy import matches

# (resource type or "*", action pattern) -> reason.
WAIVED: dict[tuple[str, str], str] = {}


def waived(resource_type: str, action: str) -> tuple[str, str] | None:
    for kind, pattern in WAIVED:
        if kind in ("*", resource_type) and matches(pattern, action, ignore_case=True):
            return kind, pattern
    return None
