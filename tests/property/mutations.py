"""Hypothesis strategies for bad spec files: valid spec texts with one thing broken.

Each mutation knows what it broke, so a test can check more than "it failed": the spec
path or the exact line and column the error must name. Edits are made in the text (not
by dumping changed data), so comments, quoting and layout of the spec stay as written
and the positions are those a user would see.
"""

from __future__ import annotations

import functools
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st
from pydantic import BaseModel

from compiler.errors import SpecPath
from compiler.load import MAX_DEPTH, MAX_SPEC_BYTES, MAX_VALUES
from compiler.spec import InfraSpec, _model_in, _unwrap  # the validator's own walk of the models

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Mutant:
    """A broken spec file and what its error report must contain."""

    kind: str
    content: bytes
    path: SpecPath | None = None  # a problem names this spec path
    line: int | None = None  # a problem is on this line
    column: int | None = None  # ... at this column
    message: str | None = None  # a problem's message contains this


@dataclass(frozen=True)
class Site:
    """A value in a valid spec text: where it is, and the key that holds it."""

    path: SpecPath
    node: yaml.Node
    key: yaml.ScalarNode | None  # None for the root and for list items
    parent: yaml.Node | None


@dataclass(frozen=True)
class Base:
    name: str
    text: str
    sites: tuple[Site, ...]


def _sites(text: str) -> tuple[Site, ...]:
    found: list[Site] = []

    def visit(node: yaml.Node, path: SpecPath, key, parent) -> None:
        found.append(Site(path, node, key, parent))
        if isinstance(node, yaml.MappingNode):
            for key_node, value in node.value:
                visit(value, (*path, key_node.value), key_node, node)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                visit(item, (*path, index), None, node)

    visit(yaml.compose(text, Loader=yaml.SafeLoader), (), None, None)
    return tuple(found)


def flow(value: Any) -> str:
    """`value` as one line of flow-style YAML."""
    return yaml.safe_dump({"v": value}, default_flow_style=True, width=10**9).strip()[4:-1]


@functools.cache
def bases() -> tuple[Base, ...]:
    """The example spec as written, its required keys only, and all of it in flow style
    (one `{...}` document, a section a line: the parser's flow paths, many values on a
    line)."""
    example = (REPO_ROOT / "infra.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(example)
    required = {k: data[k] for k, f in InfraSpec.model_fields.items() if f.is_required()}
    texts = {
        "example": example,
        "required-keys-only": yaml.safe_dump(required, sort_keys=False, width=10_000),
        "flow-style": "{" + ",\n ".join(f"{k}: {flow(v)}" for k, v in data.items()) + "}\n",
    }
    return tuple(Base(name, text, _sites(text)) for name, text in texts.items())


# --- what the schema says about a path -----------------------------------------------


def _schema_at(path: SpecPath) -> tuple[Any, Any]:
    """(annotation, pydantic field) of the value at `path`; the field is None for list
    items and entries of a free-form map, both None for a path the schema does not have."""
    annotation: Any = InfraSpec
    field = None
    for part in path:
        model = _model_in(annotation)
        if model is not None and isinstance(part, str):
            field = model.model_fields.get(part)
            if field is None:
                return None, None
            annotation = field.annotation
        else:  # a list index or a map key: step into the item type
            field = None
            args = [a for a in typing.get_args(_unwrap(annotation)) if a is not type(None)]
            annotation = args[-1] if args else None
    return annotation, field


def field_at(path: SpecPath):
    """The pydantic field that holds the value at `path`, or None."""
    return _schema_at(path)[1]


def model_at(path: SpecPath) -> type[BaseModel] | None:
    """The model a mapping at `path` is validated as; None for a free-form map."""
    return _model_in(_schema_at(path)[0])


def must_not_be_empty(path: SpecPath) -> bool:
    field = field_at(path)
    return field is not None and any(
        getattr(constraint, "min_length", 0) for constraint in field.metadata
    )


def _line(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def _replace(text: str, node: yaml.Node, new: str) -> str:
    return text[: node.start_mark.index] + new + text[node.end_mark.index :]


def _encode(text: str) -> bytes:
    return text.encode("utf-8")


# --- the mutations ---------------------------------------------------------------------
# Each takes a base and returns a strategy of mutants. Those that edit a kind of value
# list the values they can edit (`SITES`); a base without any is not offered to them.


def _free_form(site: Site) -> bool:
    # `environments` overlays take any data here; they are validated once merged
    return bool(site.path) and site.path[0] == "environments"


def _renameable(site: Site) -> bool:
    return site.key is not None and not _free_form(site) and model_at(site.path[:-1]) is not None


def _retypeable(site: Site) -> bool:
    if not site.path or _free_form(site):
        return False
    node = site.node
    return isinstance(node, yaml.ScalarNode) or (
        isinstance(node, yaml.SequenceNode | yaml.MappingNode) and node.flow_style
    )


def _numeric(site: Site) -> bool:
    return (
        isinstance(site.node, yaml.ScalarNode)
        and site.node.tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
        and not _free_form(site)
        and field_at(site.path) is not None
    )


def _required_list(site: Site) -> bool:
    return isinstance(site.node, yaml.SequenceNode) and must_not_be_empty(site.path)


def _block_key(site: Site) -> bool:
    return (
        site.key is not None
        and isinstance(site.parent, yaml.MappingNode)
        and not site.parent.flow_style
    )


def _top_level(site: Site) -> bool:
    return len(site.path) == 1 and not _free_form(site)


SITES = {
    "key renamed": _renameable,
    "value of the wrong type": _retypeable,
    "number out of range": _numeric,
    "list emptied": _required_list,
    "duplicate key": _block_key,
    "junk": _top_level,
}


def sites(base: Base, kind: str) -> list[Site]:
    return [site for site in base.sites if SITES[kind](site)]


NEW_KEYS = st.from_regex(r"[a-z_][a-z0-9_]{0,15}", fullmatch=True)


@st.composite
def renamed_key(draw: st.DrawFn, base: Base) -> Mutant:
    """A key of a spec section renamed to one the section does not have."""
    site = draw(st.sampled_from(sites(base, "key renamed")))
    known = set(model_at(site.path[:-1]).model_fields)
    new = draw(NEW_KEYS.filter(lambda k: k not in known))
    return Mutant(
        "key renamed",
        _encode(_replace(base.text, site.key, new)),
        path=(*site.path[:-1], new),
        line=site.key.start_mark.line + 1,
        column=site.key.start_mark.column + 1,
        message=f"unknown key '{new}'",
    )


WRONG_COLLECTIONS = st.sampled_from(["[1, 2]", "{wrong: type}", "[]", "{}", "[[nested]]"])
# not null: an optional value may be null, meaning "not set"
WRONG_SCALARS = st.sampled_from(["oops", "12", "true", "3.5", '"text"', "2024-01-01"])


@st.composite
def wrong_type(draw: st.DrawFn, base: Base) -> Mutant:
    """A scalar replaced by a list or mapping, or a flow list or mapping by a scalar."""
    site = draw(st.sampled_from(sites(base, "value of the wrong type")))
    scalar = isinstance(site.node, yaml.ScalarNode)
    new = draw(WRONG_COLLECTIONS if scalar else WRONG_SCALARS)
    return Mutant(
        "value of the wrong type",
        _encode(_replace(base.text, site.node, new)),
        path=site.path,
        line=site.node.start_mark.line + 1,
        column=site.node.start_mark.column + 1,
    )


# "1.0e+300": PyYAML reads a float only with a dot and a signed exponent
# (and an integer longer than Python converts: int() refuses 4,300+ digits)
OUT_OF_RANGE = st.sampled_from(
    ["-1", "-1000", "1000000000000", "1.0e+300", "-0.5", "9" * 30, "9" * 5000]
)


@st.composite
def number_out_of_range(draw: st.DrawFn, base: Base) -> Mutant:
    site = draw(st.sampled_from(sites(base, "number out of range")))
    return Mutant(
        "number out of range",
        _encode(_replace(base.text, site.node, draw(OUT_OF_RANGE))),
        path=site.path,
        line=site.node.start_mark.line + 1,
        column=site.node.start_mark.column + 1,
    )


@st.composite
def emptied_list(draw: st.DrawFn, base: Base) -> Mutant:
    """A list the schema requires items in, emptied."""
    site = draw(st.sampled_from(sites(base, "list emptied")))
    if site.node.flow_style:
        text = _replace(base.text, site.node, "[]")
    else:  # `key: []` on the key's line (a block sequence may start at the key's column);
        # the sequence ends where the next token starts, after that token's indentation
        start, end = site.key.end_mark.index, site.node.end_mark.index
        text = base.text[:start] + ": []\n" + " " * site.node.end_mark.column + base.text[end:]
    return Mutant("list emptied", _encode(text), path=site.path)


# Lines that break a spec wherever they are put at the start of a line (checked for
# every line of the bases with PyYAML; an unclosed
# quote is not among them: a later quote in the file may close it).
BROKEN_LINES = (
    "[unclosed, flow",
    "{unclosed: flow",
    "@reserved-indicator",
    "`reserved-indicator",
    "*undefined_alias",
    "]",
    "}",
    "key: !!python/object:os.system rm",
    "key: !!binary not-base64!",
    "key: !!int eighty",
    "key: !!bool maybe",
    "key: !!timestamp never",
)


@st.composite
def broken_yaml(draw: st.DrawFn, base: Base) -> Mutant:
    """A line no parser accepts put between two lines, or the file cut off before its
    last required section."""
    lines = base.text.splitlines(keepends=True)
    if draw(st.booleans()):
        index = draw(st.integers(1, len(lines) - 1))
        # at the first column: indented under `key: value`, it would continue the value
        line = draw(st.sampled_from(BROKEN_LINES)) + "\n"
        return Mutant("YAML broken", _encode("".join([*lines[:index], line, *lines[index:]])))
    last_required = max(
        site.key.start_mark.index
        for site in base.sites
        if len(site.path) == 1 and InfraSpec.model_fields[site.path[0]].is_required()
    )
    cut = draw(st.integers(1, last_required))
    return Mutant("YAML broken", _encode(base.text[:cut]))


@st.composite
def duplicate_key(draw: st.DrawFn, base: Base) -> Mutant:
    """A block mapping's key line written twice (from the key on, at the key's column)."""
    site = draw(st.sampled_from(sites(base, "duplicate key")))
    lines = base.text.splitlines(keepends=True)
    index, column = site.key.start_mark.line, site.key.start_mark.column
    copy = " " * column + lines[index][column:]
    return Mutant(
        "duplicate key",
        _encode("".join([*lines[: index + 1], copy, *lines[index + 1 :]])),
        path=site.path,
        line=index + 2,
        column=column + 1,
        message=f"duplicate key '{site.key.value}'",
    )


def _line_and_column(text: str, index: int) -> tuple[int, int]:
    before = text[:index]
    return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1


# Bytes never valid where a UTF-8 character starts: continuation bytes, the overlong lead
# bytes C0 and C1, and F5 to FF.
BAD_BYTES = st.one_of(
    st.integers(0x80, 0xBF), st.sampled_from([0xC0, 0xC1]), st.integers(0xF5, 0xFF)
).map(lambda b: bytes([b]))


@st.composite
def non_utf8_byte(draw: st.DrawFn, base: Base) -> Mutant:
    index = draw(st.integers(0, len(base.text)))
    content = _encode(base.text[:index]) + draw(BAD_BYTES) + _encode(base.text[index:])
    line, column = _line_and_column(base.text, index)
    return Mutant(
        "non-UTF-8 byte", content, path=(), line=line, column=column, message="not valid UTF-8"
    )


# Characters YAML refuses anywhere: C0 controls but tab and line breaks, DEL, C1 controls
# but NEL, and the non-characters U+FFFE and U+FFFF.
CONTROL_CHARACTERS = st.sampled_from(
    [chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F, 0x80, 0x9F)]
    + ["\ufffe", "\uffff"]
)


@st.composite
def control_character(draw: st.DrawFn, base: Base) -> Mutant:
    index = draw(st.integers(0, len(base.text)))
    text = base.text[:index] + draw(CONTROL_CHARACTERS) + base.text[index:]
    line, column = _line_and_column(base.text, index)
    return Mutant(
        "control character",
        _encode(text),
        path=(),
        line=line,
        column=column,
        message="unacceptable character",
    )


TEN_MB = 10 * 1024 * 1024


@st.composite
def huge_file(draw: st.DrawFn, base: Base) -> Mutant:
    """The spec padded past the size limit, up to 10 MB: a comment, a long value, many keys."""
    size = draw(st.one_of(st.just(TEN_MB), st.integers(MAX_SPEC_BYTES + 1, TEN_MB)))
    content = _encode(base.text)
    missing = max(0, size - len(content))
    padding = draw(st.sampled_from(["comment", "value", "keys"]))
    if padding == "comment":
        content += b"# " + b"x" * missing + b"\n"
    elif padding == "value":
        content += b"junk: " + b"y" * missing + b"\n"
    else:
        content += b"".join(b"k%07d: 1\n" % i for i in range(missing // 11 + 1))
    return Mutant(
        "10 MB file",
        content,
        path=(),
        line=1,
        column=1,
        message=f"a spec may be at most {MAX_SPEC_BYTES:,} bytes",
    )


def nested(style: str, depth: int) -> str:
    """`depth` levels of lists or mappings in flow or block style, a scalar at the bottom."""
    if style == "flow-list":
        return "[" * depth + "x" + "]" * depth
    if style == "flow-map":
        return "{a: " * depth + "x" + "}" * depth
    if style == "flow-mixed":
        return "[{a: " * (depth // 2) + "x" + "}]" * (depth // 2)
    item = "a:" if style == "block-map" else "-"
    lines = ["  " * level + item for level in range(1, depth + 1)]
    return "\n" + "\n".join(lines) + " x"


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20))
JUNK = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def junk(draw: st.DrawFn, base: Base) -> Mutant:
    """A top-level value replaced by junk: a mapping of random data, with arbitrary text
    for keys (none the section knows), or lists and mappings nested deeper than allowed."""
    site = draw(st.sampled_from(sites(base, "junk")))
    flow = base.text.lstrip().startswith("{")
    if draw(st.booleans()):
        styles = ["flow-list", "flow-map", "flow-mixed"] + (
            [] if flow else ["block-map", "block-list"]
        )
        style = draw(st.sampled_from(styles))
        most = 20_000 if style.startswith("flow") else 300  # block nesting grows as depth²
        value = nested(style, draw(st.integers(MAX_DEPTH + 1, most)))
        kind, message = "deeply nested junk", f"nesting is deeper than {MAX_DEPTH} levels"
    else:
        model = model_at(site.path)
        taken = {*(model.model_fields if model else ()), "Team", "CostCenter"}
        data = draw(
            st.dictionaries(st.text(max_size=12).filter(lambda k: k not in taken), JUNK, min_size=1)
        )
        value = yaml.safe_dump(data, default_flow_style=True, width=1_000_000, allow_unicode=True)
        value = value.strip()
        kind, message = "junk", None
    # the key stays; its value (whatever it spanned) becomes the junk
    start, end = site.key.end_mark.index, site.node.end_mark.index
    text = base.text[:start] + ": " + value + "\n" + " " * site.node.end_mark.column
    return Mutant(kind, _encode(text + base.text[end:]), message=message)


@st.composite
def junk_key(draw: st.DrawFn, base: Base) -> Mutant:
    """A top-level key of any text (control characters, spaces, nothing), holding junk."""
    key = draw(st.text(max_size=12).filter(lambda k: k not in InfraSpec.model_fields))
    pair = {key: draw(JUNK)}
    if base.text.lstrip().startswith("{"):  # one more `key: value` inside the braces
        entry = yaml.safe_dump(pair, default_flow_style=True, width=10**9).strip()[1:-1]
        text = base.text.rstrip()[:-1] + ",\n " + entry + "}\n"
    else:
        text = base.text.rstrip("\n") + "\n" + yaml.safe_dump(pair, width=10**9)
    return Mutant("junk key", _encode(text), path=(key,), message="unknown key")


@st.composite
def alias_bomb(draw: st.DrawFn, base: Base) -> Mutant:
    """Anchors that expand exponentially ("billion laughs"), the same with merge keys, or
    an alias inside the node it names; after the spec's keys, or as the whole document."""
    shape = draw(st.sampled_from(["laughs", "merge", "recursive-list", "recursive-map"]))
    message = f"more than {MAX_VALUES} values"
    if shape == "laughs":
        fanout = draw(st.integers(2, 10))
        levels = draw(st.integers(2, 40).filter(lambda n: fanout**n > MAX_VALUES))
        lines = ["a0: &a0 [" + ", ".join(["lol"] * fanout) + "]"]
        lines += [
            f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * fanout) + "]"
            for n in range(1, levels + 1)
        ]
    elif shape == "merge":
        fanout = draw(st.integers(2, 8))
        levels = draw(st.integers(2, 40).filter(lambda n: fanout**n > MAX_VALUES))
        lines = ["m0: &m0 {" + ", ".join(f"k{i}: v" for i in range(fanout)) + "}"]
        lines += [
            f"m{n}: &m{n} {{<<: *m{n - 1}, "
            + ", ".join(f"k{i}: *m{n - 1}" for i in range(fanout))
            + "}"
            for n in range(1, levels + 1)
        ]
    elif shape == "recursive-list":
        lines = ["loop: &loop [a, *loop]"]
        message = "an alias refers to a node that contains it"
    else:
        lines = ["loop: &loop {a: 1, b: *loop}"]
        message = "an alias refers to a node that contains it"
    bomb = "\n".join(lines) + "\n"
    if base.text.lstrip().startswith("{") or draw(st.booleans()):
        return Mutant("alias bomb", _encode(bomb), message=message)
    return Mutant("alias bomb", _encode(base.text.rstrip("\n") + "\n" + bomb), message=message)


def _colliding_names() -> st.SearchStrategy[tuple[str, str]]:
    """Two different names that make one logical ID: a hyphen dropped before a word that
    starts with a digit (`ab-1c`, `ab1c`), or doubled (`ab-cd`, `ab--cd`)."""

    @st.composite
    def pair(draw: st.DrawFn) -> tuple[str, str]:
        words = draw(
            st.lists(st.from_regex(r"[a-z0-9]{1,4}", fullmatch=True), min_size=2, max_size=4)
        )
        words[0] = "a" + words[0][1:] if words[0][0].isdigit() else words[0]
        at = draw(st.integers(1, len(words) - 1))
        joiner = "" if words[at][0].isdigit() else "--"
        other = "-".join(words[:at]) + joiner + "-".join(words[at:])
        return "-".join(words), other

    return pair().filter(lambda p: len(p[0]) <= 20 and len(p[1]) <= 20)


# Lists whose items' names become logical IDs, and a copy of item 0 is still valid.
NAMED_LISTS = (("storage", "buckets"), ("scheduled_tasks",))


@st.composite
def logical_id_collision(draw: st.DrawFn, base: Base) -> Mutant:
    """Two more items in a named list whose names make the same logical ID."""
    data = yaml.safe_load(base.text)
    choices = [
        site
        for site in base.sites
        if site.path in NAMED_LISTS
        and site.key is not None
        and isinstance(site.node, yaml.SequenceNode)
    ]
    site = draw(st.sampled_from(choices))
    items = data
    for part in site.path:
        items = items[part]
    first, second = draw(_colliding_names())
    if draw(st.booleans()):
        first, second = second, first
    added = [{**items[0], "name": first}, {**items[0], "name": second}]
    value = flow([*items, *added])
    start, end = site.key.end_mark.index, site.node.end_mark.index
    text = base.text[:start] + ": " + value + "\n" + " " * site.node.end_mark.column
    return Mutant(
        "names making one logical ID",
        _encode(text + base.text[end:]),
        path=(*site.path, len(items) + draw(st.sampled_from([0, 1])), "name"),
        message="make the same CloudFormation logical ID",
    )


def _has_named_list(base: Base) -> bool:
    return any(site.path in NAMED_LISTS and site.key is not None for site in base.sites)


MUTATIONS = {
    "key renamed": renamed_key,
    "value of the wrong type": wrong_type,
    "number out of range": number_out_of_range,
    "list emptied": emptied_list,
    "YAML broken": broken_yaml,
    "duplicate key": duplicate_key,
    "non-UTF-8 byte": non_utf8_byte,
    "control character": control_character,
    "10 MB file": huge_file,
    "junk": junk,
    "junk key": junk_key,
    "alias bomb": alias_bomb,
}
# Valid YAML and valid values, wrong only together: a test of its own (mixed into
# MUTATIONS it would take a third of that test's inputs from the others).
COLLISIONS = {"names making one logical ID": logical_id_collision}


def applicable(kind: str) -> list[Base]:
    if kind == "names making one logical ID":
        return [base for base in bases() if _has_named_list(base)]
    return [base for base in bases() if kind not in SITES or sites(base, kind)]


@st.composite
def mutants(draw: st.DrawFn, kinds: tuple[str, ...] = tuple(MUTATIONS)) -> Mutant:
    kind = draw(st.sampled_from(kinds))
    base = draw(st.sampled_from(applicable(kind)))
    return draw({**MUTATIONS, **COLLISIONS}[kind](base))
