"""Stage 1, `compiler.load`: YAML text to data with positions, and every way a file can
fail to be a readable spec, each reported at the place it happens."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.errors import SpecError
from compiler.load import (
    MAX_DEPTH,
    MAX_SPEC_BYTES,
    MAX_VALUES,
    Position,
    load_spec_file,
    load_spec_text,
)
from tests.conftest import EXAMPLE_SPEC

FILE = "infra.yaml"


def where(text: str, needle: str, *, after: str | None = None) -> tuple[int, int]:
    """1-based line and column of `needle` (its first occurrence after `after`)."""
    start = text.index(after) + len(after) if after is not None else 0
    offset = text.index(needle, start)
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


def load_problems(text: str | bytes, file: str = FILE) -> list[str]:
    with pytest.raises(SpecError) as raised:
        load_spec_text(text, file)
    return [str(problem) for problem in raised.value.problems]


def only_problem(text: str | bytes) -> str:
    found = load_problems(text)
    assert len(found) == 1, found
    return found[0]


def at(text: str, needle: str, path: str = "(document)", *, after: str | None = None) -> str:
    line, column = where(text, needle, after=after)
    return f"{FILE}:{line}:{column}: {path}: "


def edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


# -- data and positions --------------------------------------------------------------


def test_example_loads_with_the_position_of_every_value(example_text):
    loaded = load_spec_text(example_text, FILE)
    assert loaded.file == FILE
    assert loaded.data["regions"][1] == {"name": "us-west-2", "cidr": "10.20.0.0/16"}
    assert loaded.data["database"]["engine_version"] == "17.5"
    assert loaded.value_positions[("regions", 1, "cidr")] == Position(
        *where(example_text, "10.20.0.0/16")
    )
    assert loaded.key_positions[("compute", "min_size")] == Position(
        *where(example_text, "min_size")
    )
    assert loaded.value_positions[("compute", "ssh_cidrs", 0)] == Position(
        *where(example_text, "10.255.0.0/24")
    )


def test_position_of_a_default_value_is_its_nearest_written_ancestor(example_text):
    loaded = load_spec_text(example_text, FILE)
    compute = loaded.value_positions[("compute",)]
    assert loaded.position_of(("compute", "root_volume_gb")) == compute
    assert loaded.position_of(("compute", "root_volume_gb"), key=True) == compute
    assert loaded.position_of(("no_such_section", "x")) == loaded.value_positions[()]


def test_problem_is_formatted_as_file_line_column_path_message(example_text):
    loaded = load_spec_text(example_text, FILE)
    problem = loaded.problem(("regions", 1, "cidr"), "a message")
    line, column = where(example_text, "10.20.0.0/16")
    assert str(problem) == f"{FILE}:{line}:{column}: regions[1].cidr: a message"
    key_problem = loaded.problem(("compute", "min_size"), "m", key=True)
    assert (key_problem.line, key_problem.column) == where(example_text, "min_size")


def test_load_spec_file_reads_bytes_and_names_the_file():
    loaded = load_spec_file(EXAMPLE_SPEC)
    assert loaded.file == str(EXAMPLE_SPEC)
    assert loaded.data["project"] == "storefront"


def test_merge_key_values_are_overridden_by_written_keys():
    text = "base: &base {a: 1, b: 2}\nderived:\n  <<: *base\n  b: 3\n"
    loaded = load_spec_text(text, FILE)
    assert loaded.data["derived"] == {"a": 1, "b": 3}
    # each value is located where it is written: `a` in the anchor, `b` in `derived`
    assert loaded.value_positions[("derived", "a")] == Position(*where(text, "1"))
    assert loaded.value_positions[("derived", "b")] == Position(*where(text, "3"))


def test_merge_keys_follow_yaml_semantics_like_pyyaml():
    text = (
        "x: &x {a: 1}\n"
        "y: &y {a: 2, c: 3}\n"
        "z: &z\n  <<: [*x, *y]\n  d: 4\n"  # the first merged mapping wins
        "v:\n  <<: *z\n  d: 5\n"  # merging a mapping that merged, again through an alias
        "w: *z\n"
    )
    data = load_spec_text(text, FILE).data
    assert data == yaml.safe_load(text)
    assert data["z"] == {"a": 1, "c": 3, "d": 4}
    assert data["v"] == {"a": 1, "c": 3, "d": 5}


def test_merging_a_scalar_is_located():
    text = "project: x\nenvironment: {<<: 5}\n"
    assert only_problem(text) == at(text, "{<<", "environment") + (
        "cannot merge: expected a mapping or list of mappings for merging, but found scalar"
    )


def test_duplicate_written_keys_next_to_a_merge_are_still_duplicates():
    text = "base: &base {a: 1}\nderived:\n  <<: *base\n  a: 2\n  a: 3\n"
    line, column = where(text, "a: 2")
    assert only_problem(text) == at(text, "a: 3", "derived.a") + (
        f"duplicate key 'a' (first defined at line {line}, column {column})"
    )


def test_byte_order_mark_is_accepted(example_text):
    assert load_spec_text("\ufeff" + example_text, FILE).data["project"] == "storefront"
    loaded = load_spec_text(("\ufeff" + example_text).encode("utf-8"), FILE)
    assert loaded.data["project"] == "storefront"


@pytest.mark.parametrize(
    ("key", "kind"),
    [("1", "int"), ("true", "bool"), ("on", "bool"), ("~", "null"), ("1.5", "float"),
     ("2024-01-01", "date")],
)  # fmt: skip
def test_a_key_yaml_reads_as_another_type_is_located_not_stringified(key, kind):
    text = f"project: a\ntags:\n  {key}: b\n"
    assert only_problem(text) == (
        at(text, f"{key}: b", f"tags.{key}")
        + f"the key '{key}' is read as {kind}, not text; quote it ('{key}') if you mean the name"
    )


def test_a_quoted_key_is_text():
    assert load_spec_text("'1': a\n'true': b\n", FILE).data == {"1": "a", "true": "b"}


def test_a_binary_value_is_located_not_stringified():
    text = "project: a\ntags:\n  Team: !!binary aGVsbG8=\n"
    assert only_problem(text) == (
        at(text, "!!binary", "tags.Team")
        + "binary values (!!binary) have no place in a spec; write text"
    )


# -- duplicate keys ------------------------------------------------------------------


def test_duplicate_key_points_at_the_second_and_names_the_first(example_text):
    bad = edit(example_text, "  min_size: 2\n", "  min_size: 2\n  min_size: 3\n")
    first_line, first_column = where(bad, "min_size: 2")
    assert only_problem(bad) == (
        at(bad, "min_size: 3", "compute.min_size")
        + f"duplicate key 'min_size' (first defined at line {first_line}, column {first_column})"
    )


def test_duplicate_top_level_section(example_text):
    bad = example_text + "compute:\n  min_size: 3\n"
    first_line, _ = where(bad, "compute:")
    problem = only_problem(bad)
    assert problem.startswith(at(bad, "compute:", "compute", after=example_text))
    assert f"duplicate key 'compute' (first defined at line {first_line}, column 1)" in problem


def test_duplicate_key_in_a_list_item(example_text):
    bad = edit(example_text, "    cidr: 10.20.0.0/16\n", "    cidr: 10.20.0.0/16\n    name: x\n")
    assert only_problem(bad).startswith(at(bad, "name: x", "regions[1].name"))


def test_every_duplicate_key_is_reported(example_text):
    bad = edit(example_text, "  min_size: 2\n", "  min_size: 2\n  min_size: 3\n")
    bad = edit(bad, "  multi_az: true\n", "  multi_az: true\n  multi_az: false\n")
    found = load_problems(bad)
    assert [problem.split(": ")[1] for problem in found] == [
        "compute.min_size",
        "database.multi_az",
    ]


def test_keys_that_read_as_the_same_string_are_duplicates():
    text = "a: 1\n'a': 2\n"
    assert only_problem(text).startswith(at(text, "'a'", "a"))


def test_key_with_an_unknown_tag_is_located():
    text = "project: x\n!Sub environment: y\n"
    assert only_problem(text) == at(text, "!Sub") + (
        "cannot read this key: could not determine a constructor for the tag '!Sub'"
    )


def test_complex_mapping_key_is_refused():
    text = "project: x\n? [a, b]\n: value\n"
    assert only_problem(text) == at(text, "[a, b]") + "a mapping key must be a plain scalar"


# -- not a mapping -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "needle", "kind"),
    [
        ("- project: x\n- environment: y\n", "- project", "list"),
        ("# a comment\njust a sentence\n", "just", "scalar"),
        ("42\n", "42", "scalar"),
    ],
)
def test_document_that_is_not_a_mapping(text, needle, kind):
    assert only_problem(text) == at(text, needle) + (
        f"the spec must be a mapping of keys (like `project: ...`), not a {kind}"
    )


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n", b""])
def test_empty_file(text):
    assert only_problem(text) == (
        f"{FILE}:1:1: (document): the file is empty; a spec is a mapping with at least "
        "`project`, `environment`, `tags`, `regions`, `dns` and `access`"
    )


# -- broken YAML ---------------------------------------------------------------------


def test_unclosed_flow_list_mid_file(example_text):
    bad = edit(example_text, "min_size: 2", "min_size: [2")
    line, column = where(bad, "[2")
    # PyYAML notices at the next ':' it cannot place in a flow list
    assert only_problem(bad) == (
        at(bad, ":", after="  max_size")
        + f"invalid YAML: while parsing a flow sequence (line {line}, column {column}); "
        "expected ',' or ']', but got ':'"
    )


def test_mapping_value_where_none_is_allowed(example_text):
    bad = edit(example_text, "instance_type: t3.small", "instance_type: t3: small")
    assert only_problem(bad) == (
        at(bad, ": small") + "invalid YAML: mapping values are not allowed here"
    )


def test_unclosed_quote_names_where_the_quote_opened():
    text = 'project: "storefront\nenvironment: production\n'
    line, column = where(text, '"storefront')
    assert only_problem(text) == (
        f"{FILE}:3:1: (document): invalid YAML: while scanning a quoted scalar "
        f"(line {line}, column {column}); found unexpected end of stream"
    )


def test_tab_indentation(example_text):
    bad = edit(example_text, "  min_size: 2", "\tmin_size: 2")
    assert only_problem(bad) == (
        at(bad, "\tmin_size")
        + "invalid YAML: while scanning for the next token; found character '\\t' that "
        "cannot start any token"
    )


def test_second_document_in_the_file(example_text):
    bad = example_text + "---\nproject: other\n"
    first_line = next(
        number
        for number, line in enumerate(bad.splitlines(), start=1)
        if line and not line.startswith("#")
    )
    assert only_problem(bad) == (
        at(bad, "---")
        + f"invalid YAML: expected a single document in the stream (line {first_line}, "
        "column 1); but found another document"
    )


def test_duplicate_anchor_names_both_places():
    text = "project: &x a\nenvironment: &x b\n"
    line, column = where(text, "&x")
    assert only_problem(text) == (
        at(text, "&x", after="environment")
        + f"invalid YAML: found duplicate anchor 'x'; first occurrence (line {line}, "
        f"column {column}); second occurrence"
    )


def test_undefined_alias():
    text = "project: a\nenvironment: *nowhere\n"
    assert only_problem(text) == at(text, "*nowhere") + (
        "invalid YAML: found undefined alias 'nowhere'"
    )


def test_unknown_tag_is_located_at_its_value(example_text):
    bad = edit(example_text, "instance_type: t3.small", "instance_type: !Ref t3.small")
    assert only_problem(bad) == at(bad, "!Ref", "compute.instance_type") + (
        "cannot read this value: could not determine a constructor for the tag '!Ref'"
    )


def test_control_character_is_located(example_text):
    bad = edit(example_text, "Team: platform", "Team: plat\x07form")
    expected = at(bad, "\x07") + (
        "invalid YAML: unacceptable character #x0007: special characters are not allowed"
    )
    assert only_problem(bad) == expected
    assert only_problem(bad.encode("utf-8")) == expected


# -- encoding ------------------------------------------------------------------------


def test_byte_that_is_not_utf8_is_located(example_text):
    bad = example_text.encode("utf-8").replace(b"platform", b"plat\xffform")
    line, column = where(example_text, "form", after="Team: plat")
    assert only_problem(bad) == (
        f"{FILE}:{line}:{column}: (document): the file is not valid UTF-8 (byte 0xff)"
    )


def test_column_of_a_bad_byte_counts_characters_not_bytes(example_text):
    # "é" is two bytes; an editor shows the bad byte one column after it
    bad = example_text.replace("platform", "pl\u00e9Xtform").encode("utf-8")
    bad = bad.replace(b"X", b"\xff")
    line, column = where(example_text.replace("platform", "pl\u00e9Xtform"), "X")
    assert only_problem(bad) == (
        f"{FILE}:{line}:{column}: (document): the file is not valid UTF-8 (byte 0xff)"
    )


def test_latin1_file_is_reported_at_its_first_accented_byte():
    bad = "project: caf\u00e9\n".encode("latin-1")
    assert only_problem(bad) == (
        f"{FILE}:1:13: (document): the file is not valid UTF-8 (byte 0xe9)"
    )


# -- hostile input: bounded time and memory, still located ---------------------------


def alias_bomb(levels: int = 9, width: int = 10) -> str:
    lines = ["a: &a [" + ", ".join(f"v{i}" for i in range(width)) + "]"]
    for level in range(1, levels):
        name, previous = chr(ord("a") + level), chr(ord("a") + level - 1)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_stops_early_at_a_located_value():
    text = alias_bomb()  # would expand to 10**9 values
    started = time.monotonic()
    problem = only_problem(text)
    assert time.monotonic() - started < 5
    match = re.fullmatch(r"infra\.yaml:(\d+):(\d+): ([a-i](?:\[\d\])+): (.*)", problem)
    assert match, problem
    line, column, path, message = match.groups()
    assert message == (
        f"the document expands to more than {MAX_VALUES} values "
        "(too many aliases or too much data for a spec)"
    )
    # the value reached through the aliases is one of `a`'s, written on line 1
    last_index = int(path.rsplit("[", 1)[1].rstrip("]"))
    assert (int(line), int(column)) == where(text, f"v{last_index}")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("!!int eighty", "cannot read this value as int: 'eighty'"),
        ("!!bool maybe", "cannot read this value as bool: 'maybe'"),
        ("!!float x", "cannot read this value as float: 'x'"),
        ("!!timestamp never", "cannot read this value as timestamp: 'never'"),
        # more digits than Python converts to an int (sys.get_int_max_str_digits)
        ("9" * 5000, "cannot read this value as int: '99999999999999999999'... (5,000 characters)"),
    ],
)
def test_a_scalar_its_tag_cannot_read_is_located(value, message):
    text = f"project: {value}\n"
    assert only_problem(text) == f"{FILE}:1:10: project: {message}"


def test_a_key_its_tag_cannot_read_is_located():
    assert only_problem("? !!int x\n: 1\n") == (
        f"{FILE}:1:3: (document): cannot read this key as int: 'x'"
    )


def test_a_file_of_many_tiny_values_is_refused_while_it_is_parsed():
    # under the size limit, but more values than any spec: refused at the first value
    # past the bound (the root, the key and the list are values too), not parsed whole
    text = "project: [" + ", ".join(["1"] * (MAX_VALUES * 2)) + "]\n"
    first_refused = MAX_VALUES - 3  # 0-based index into the list
    column = len("project: [") + len("1, ") * first_refused + 1
    assert only_problem(text) == (
        f"{FILE}:1:{column}: (document): the document has more than {MAX_VALUES} values "
        "(too much data for a spec)"
    )


@pytest.mark.parametrize(
    ("text", "needle", "path"),
    [
        ("project: &loop [a, *loop]\n", "&loop", "project[1]"),
        ("project: &loop {x: *loop}\n", "&loop", "project.x"),
        ("project: &outer\n  inner: [*outer]\n", "&outer", "project.inner[0]"),
    ],
)
def test_recursive_alias(text, needle, path):
    # the alias leaves no node of its own: the problem is at the node it refers to, and
    # the path says where the alias was used
    assert only_problem(text) == at(text, needle, path) + (
        "an alias refers to a node that contains it (a recursive structure cannot be a spec value)"
    )


def test_nesting_at_the_limit_loads():
    text = "project: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n"
    load_spec_text(text, FILE)


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 300, 5_000])
def test_deep_flow_nesting_is_refused_where_it_gets_too_deep(levels):
    text = "project: " + "[" * levels + "]" * levels + "\n"
    started = time.monotonic()
    problem = only_problem(text)
    assert time.monotonic() - started < 5
    # the root mapping is level 0, `project`'s list level 1: the 65th `[` is one too many
    column = len("project: ") + MAX_DEPTH + 1
    assert problem == (
        f"{FILE}:1:{column}: (document): invalid YAML: nesting is deeper than {MAX_DEPTH} levels"
    )


def test_deep_block_nesting_is_refused():
    text = "project:\n" + "".join("  " * level + "- \n" for level in range(1, 200))
    problem = only_problem(text)
    assert problem.endswith(f"invalid YAML: nesting is deeper than {MAX_DEPTH} levels")
    assert not problem.startswith(f"{FILE}:1:1:")


def test_deep_nesting_through_an_alias_names_the_path():
    half = MAX_DEPTH // 2 + 2
    text = "a: &a " + "[" * half + "]" * half + "\n" + "b: " + "[" * half + "*a" + "]" * half + "\n"
    problem = only_problem(text)
    assert re.match(
        rf"{FILE}:1:\d+: b(\[0\])+: nesting is deeper than {MAX_DEPTH} levels$", problem
    )


def test_file_over_one_megabyte_is_refused_before_parsing(example_text):
    big = example_text + "#" + "x" * MAX_SPEC_BYTES + "\n"
    size = len(big.encode("utf-8"))
    expected = (
        f"{FILE}:1:1: (document): the file is {size:,} bytes; a spec may be at most "
        f"{MAX_SPEC_BYTES:,} bytes"
    )
    assert only_problem(big) == expected
    assert only_problem(big.encode("utf-8")) == expected


def test_size_limit_counts_bytes_of_text():
    # 600,000 characters of two bytes each: within the limit as text, over it as a file
    text = "project: x\n# " + "\u00e9" * 600_000 + "\n"
    assert len(text) < MAX_SPEC_BYTES < len(text.encode("utf-8"))
    assert "bytes; a spec may be at most" in only_problem(text)


# -- files ---------------------------------------------------------------------------


def test_missing_file(tmp_path: Path):
    path = tmp_path / "missing.yaml"
    with pytest.raises(SpecError) as raised:
        load_spec_file(path)
    assert str(raised.value) == (
        f"{path}:1:1: (document): cannot read the spec: No such file or directory (ENOENT)"
    )


def test_directory_instead_of_a_file(tmp_path: Path):
    with pytest.raises(SpecError) as raised:
        load_spec_file(tmp_path)
    assert str(raised.value) == (
        f"{tmp_path}:1:1: (document): cannot read the spec: it is a directory, not a regular file"
    )


def test_file_problems_name_the_file(tmp_path: Path):
    path = tmp_path / "infra.yaml"
    path.write_text("project: a\nproject: b\n", encoding="utf-8")
    with pytest.raises(SpecError) as raised:
        load_spec_file(path)
    assert str(raised.value).startswith(f"{path}:2:1: project: duplicate key 'project'")


# -- any input -----------------------------------------------------------------------

YAML_PIECES = st.sampled_from(
    list("ab: -[]{}&*!|>'\"#\n\t,?%@`\\09.")
    + ["\x00", "\x07", "\ufeff", "\u00e9", "\r", "<<", "~", "&a ", "*a", "!!str ", "\n  "]
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.one_of(st.lists(YAML_PIECES, max_size=40).map("".join), st.binary(max_size=40)))
def test_any_input_loads_or_raises_located_spec_errors(text):
    try:
        load_spec_text(text, FILE)
    except SpecError as error:
        assert error.problems
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        lines = sum(text.count(brk) for brk in ("\n", "\r", "\x85", "\u2028", "\u2029")) + 1
        for problem in error.problems:
            assert 1 <= problem.line <= lines + 1 and problem.column >= 1
