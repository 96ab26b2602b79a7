"""Bad specs made by editing the example, and the located problems they must produce.

A problem is checked as the user reads it, `FILE:LINE:COL: spec.path: message`, with the
line and column computed from the text (the place of the offending value) rather than
written down as numbers, so an edit of the example does not silently shift them.
"""

from __future__ import annotations

import re

import pytest

from compiler.errors import SpecError
from compiler.load import load_spec_text
from compiler.spec import InfraSpec, validate_spec

FILE = "infra.yaml"


def edit(text: str, old: str, new: str) -> str:
    """`text` with the one occurrence of `old` replaced; fails if `old` is not unique."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def set_value(text: str, key: str, value: str) -> str:
    """`text` with the value of the one line `key: ...` replaced, its comment kept."""
    pattern = rf"(?m)^([ \t-]*{re.escape(key)}:[ \t]*)[^#\n]*?(?=[ \t]*(?:#|$))"
    changed, count = re.subn(pattern, lambda m: m.group(1) + value, text)
    assert count == 1, f"{key!r} is on {count} lines"
    return changed


def without_line(text: str, key: str) -> str:
    """`text` without the one line `key: ...` (so that the key takes its default)."""
    changed, count = re.subn(rf"(?m)^[ \t]*{re.escape(key)}:.*\n", "", text)
    assert count == 1, f"{key!r} is on {count} lines"
    return changed


def without_section(text: str, key: str) -> str:
    """`text` without the top-level `key:` and everything indented under it."""
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{key}:"))
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i][:1] not in (" ", "\n", "#")),
        len(lines),
    )
    return "".join(lines[:start] + lines[end:])


def add_bucket(text: str, name: str) -> str:
    """The example with a second bucket, so that the first (which other sections may
    refer to) keeps its name."""
    first = "      noncurrent_version_expiry_days: 90\n"
    return edit(text, first, f"{first}    - name: {name}\n")


def where(text: str, needle: str, *, after: str | None = None) -> tuple[int, int]:
    """1-based line and column of `needle` (its first occurrence after `after`)."""
    start = text.index(after) + len(after) if after is not None else 0
    offset = text.index(needle, start)
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


def validate(text: str | bytes) -> InfraSpec:
    return validate_spec(load_spec_text(text, FILE))


def problems(text: str | bytes) -> list[str]:
    """Every problem of a spec that must not validate, formatted as the CLI prints it."""
    with pytest.raises(SpecError) as raised:
        validate(text)
    return [str(problem) for problem in raised.value.problems]


def only_problem(text: str | bytes) -> str:
    found = problems(text)
    assert len(found) == 1, "\n".join(found)
    return found[0]


def located(text: str, needle: str, path: str, *, after: str | None = None) -> str:
    """The `FILE:LINE:COL: path: ` prefix of a problem at `needle`."""
    line, column = where(text, needle, after=after)
    return f"{FILE}:{line}:{column}: {path}: "


def assert_problem(
    problem: str,
    text: str,
    needle: str,
    path: str,
    message: str,
    *,
    exact: bool = True,
    after: str | None = None,
) -> None:
    """`problem` is at `needle`, names `path`, and reads `message` (or contains it)."""
    prefix = located(text, needle, path, after=after)
    assert problem.startswith(prefix), f"expected at {prefix!r}, got {problem!r}"
    text_of_message = problem[len(prefix) :]
    if exact:
        assert text_of_message == message
    else:
        assert message in text_of_message, text_of_message
