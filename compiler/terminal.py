"""Whether `infra` colours what it prints.

Colour is click's decision by default: on a terminal, never into a pipe or file. The
NO_COLOR convention (https://no-color.org) lets a user turn it off everywhere: any
non-empty value disables colour; an empty value is the same as not set.
"""

from __future__ import annotations

from collections.abc import Mapping


def colour_setting(environ: Mapping[str, str]) -> bool | None:
    """False when NO_COLOR asks for no colour; None leaves it to click (terminal or not)."""
    return False if environ.get("NO_COLOR") else None
