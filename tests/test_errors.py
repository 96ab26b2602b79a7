"""The one formatter of spec problems: a problem is one line, whatever the spec holds."""

from __future__ import annotations

import pytest

from compiler.errors import SpecProblem, format_spec_path


def test_path_reads_like_the_spec():
    assert format_spec_path(("regions", 1, "cidr")) == "regions[1].cidr"
    assert format_spec_path(()) == "(document)"


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        (("",), "''"),
        ((" ",), "' '"),
        (("tags", " Team"), "tags.' Team'"),
        (("tags", "Cost Center"), "tags.Cost Center"),
    ],
)
def test_an_empty_or_space_edged_key_is_quoted(path, shown):
    # the path field of a problem line must not start with, or be, blank
    assert format_spec_path(path) == shown


@pytest.mark.parametrize("text", ["a\nb", "a\rb", "a\x1eb", "a\u2028b", "a\x00b", "a\tb"])
def test_control_characters_from_the_spec_are_escaped(text):
    problem = SpecProblem("infra.yaml", 3, 5, ("tags", text), f"unknown key '{text}'")
    line = str(problem)
    assert line.splitlines() == [line]
    assert line.isprintable()
    assert line.startswith("infra.yaml:3:5: tags.a")
    assert repr(text)[2:-2] in line  # the character as Python escapes it, e.g. \n


def test_printable_text_is_left_as_written():
    problem = SpecProblem("infra.yaml", 1, 1, ("project",), "'Café 😀' is not a slug")
    assert str(problem) == "infra.yaml:1:1: project: 'Café 😀' is not a slug"
