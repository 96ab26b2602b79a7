"""Stage 1, load: YAML text -> plain Python data plus the position of every value.

PyYAML's composer gives nodes with start marks; we construct the data ourselves from
those nodes so that each value keeps its line and column (the way cfn-lint's
`decode/mark.py` does), duplicate keys are refused instead of silently overwritten,
and alias expansion is bounded (a "billion laughs" document cannot exhaust memory).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from compiler.bounded_read import InputTooLarge, NotARegularFile, read_bounded
from compiler.errors import SpecError, SpecPath, SpecProblem, os_error_text

# A spec is a few hundred lines; these bounds only stop hostile or broken input early.
# PyYAML's pure-Python parser and our builder take tens of microseconds a value, so the
# value bound is what keeps the worst input (an alias bomb, a file of tiny values) fast.
MAX_SPEC_BYTES = 1_000_000
MAX_VALUES = 20_000
MAX_DEPTH = 64


class Position(NamedTuple):
    line: int
    column: int


@dataclass
class LoadedSpec:
    """The spec's data and where each part of it was written."""

    file: str
    data: Any
    value_positions: dict[SpecPath, Position] = field(default_factory=dict)
    key_positions: dict[SpecPath, Position] = field(default_factory=dict)
    # SHA-256 of the bytes parsed, when they came from a file (`load_spec_file`): the
    # compile cache must remember what was compiled, not what the file holds later.
    sha256: str = ""

    def position_of(self, path: SpecPath, *, key: bool = False) -> Position:
        """The position of the value at `path`, or of its nearest written ancestor."""
        if key and path in self.key_positions:
            return self.key_positions[path]
        for end in range(len(path), -1, -1):
            if path[:end] in self.value_positions:
                return self.value_positions[path[:end]]
        return Position(1, 1)

    def problem(self, path: SpecPath, message: str, *, key: bool = False) -> SpecProblem:
        pos = self.position_of(path, key=key)
        return SpecProblem(self.file, pos.line, pos.column, path, message)


def _position(node: yaml.Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


# What PyYAML's safe constructors raise, instead of a YAMLError, for a scalar its tag
# cannot read: `!!int eighty` (ValueError), `!!bool maybe` (KeyError), `!!timestamp
# never` (AttributeError), or an integer of more digits than Python converts (ValueError).
_UNREADABLE_SCALAR = (ValueError, TypeError, KeyError, AttributeError)


def _scalar_kind(node: yaml.Node) -> str:
    kind = node.tag.rsplit(":", 1)[-1]
    value = str(node.value)
    shown = repr(value) if len(value) <= 40 else f"{value[:20]!r}... ({len(value):,} characters)"
    return f"{kind}: {shown}"


class _Builder:
    def __init__(self, loaded: LoadedSpec):
        self.loaded = loaded
        self.problems: list[SpecProblem] = []
        self.count = 0
        self.open_nodes: set[int] = set()  # nodes being built: a repeat is a recursive alias
        self.merged_counts: dict[int, int] = {}  # mapping node -> pairs merged into it
        self.constructor = yaml.SafeLoader("")  # only its scalar resolvers are used

    def fail(self, node: yaml.Node, path: SpecPath, message: str) -> None:
        pos = _position(node)
        self.problems.append(SpecProblem(self.loaded.file, pos.line, pos.column, path, message))

    def build(self, node: yaml.Node, path: SpecPath, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise _TooLarge(
                node,
                path,
                f"the document expands to more than {MAX_VALUES} values "
                "(too many aliases or too much data for a spec)",
            )
        if depth > MAX_DEPTH:
            raise _TooLarge(node, path, f"nesting is deeper than {MAX_DEPTH} levels")
        self.loaded.value_positions.setdefault(path, _position(node))
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            if id(node) in self.open_nodes:
                raise _TooLarge(
                    node,
                    path,
                    "an alias refers to a node that contains it "
                    "(a recursive structure cannot be a spec value)",
                )
            self.open_nodes.add(id(node))
            try:
                if isinstance(node, yaml.MappingNode):
                    return self.build_mapping(node, path, depth)
                return [
                    self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)
                ]
            finally:
                self.open_nodes.discard(id(node))
        try:
            value = self.constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self.fail(node, path, f"cannot read this value: {getattr(exc, 'problem', exc)}")
            return None
        except _UNREADABLE_SCALAR:
            self.fail(node, path, f"cannot read this value as {_scalar_kind(node)}")
            return None
        if isinstance(value, bytes):
            # no spec value is binary, and a str field would take the bytes' repr
            self.fail(node, path, "binary values (!!binary) have no place in a spec; write text")
            return None
        return value

    def build_mapping(self, node: yaml.MappingNode, path: SpecPath, depth: int) -> dict:
        merged = self.merged_counts.get(id(node))
        if merged is None:
            written = sum(1 for key, _ in node.value if key.tag != "tag:yaml.org,2002:merge")
            try:
                self.constructor.flatten_mapping(node)  # resolves `<<: *anchor` merge keys
            except yaml.YAMLError as exc:
                self.fail(node, path, f"cannot merge: {getattr(exc, 'problem', exc)}")
                return {}
            # flattening puts the merged pairs first, and changes the node, so a node an
            # alias reaches again must not be counted again
            merged = self.merged_counts[id(node)] = len(node.value) - written
        result: dict = {}
        for key_node, value_node in node.value[merged:]:
            key = self.key_of(key_node, path)
            if key is None:
                continue
            child = (*path, key)
            if key in result:
                first = self.loaded.key_positions[child]
                self.fail(
                    key_node,
                    child,
                    f"duplicate key '{key}' (first defined at line "
                    f"{first.line}, column {first.column})",
                )
                continue
            self.loaded.key_positions[child] = _position(key_node)
            result[key] = self.build(value_node, child, depth + 1)
        # YAML merge keys: a written key overrides a merged one, and of several merged
        # mappings the first listed wins (flatten_mapping lists it last)
        for key_node, value_node in reversed(node.value[:merged]):
            key = self.key_of(key_node, path)
            if key is None or key in result:
                continue
            child = (*path, key)
            self.loaded.key_positions[child] = _position(key_node)
            result[key] = self.build(value_node, child, depth + 1)
        return result

    def key_of(self, key_node: yaml.Node, path: SpecPath) -> str | None:
        if not isinstance(key_node, yaml.ScalarNode):
            self.fail(key_node, path, "a mapping key must be a plain scalar")
            return None
        try:
            key = self.constructor.construct_object(key_node)
        except yaml.YAMLError as exc:
            self.fail(key_node, path, f"cannot read this key: {getattr(exc, 'problem', exc)}")
            return None
        except _UNREADABLE_SCALAR:
            self.fail(key_node, path, f"cannot read this key as {_scalar_kind(key_node)}")
            return None
        if isinstance(key, str):
            return key
        # YAML reads `80:` as an int, `yes:`/`on:` as true, `~:` as null, `2024-01-01:` as a
        # date. Every spec key is a name, so one of these is a mistake that str() would hide.
        kind = "null" if key is None else type(key).__name__.replace("datetime", "timestamp")
        self.fail(
            key_node,
            (*path, str(key_node.value)),
            f"the key {key_node.value!r} is read as {kind}, not text; quote it "
            f"('{key_node.value}') if you mean the name",
        )
        return None


class _TooManyNodes(yaml.composer.ComposerError):
    pass


class _SpecLoader(yaml.SafeLoader):
    """Refuses deep nesting while composing, at the node where it happens: PyYAML's
    composer recurses per level, so a deep enough document would hit Python's
    recursion limit with no position to report. Stops after `MAX_VALUES` nodes too:
    the parser reads only as far as the composer asks, so a megabyte of tiny values is
    refused after a fraction of it rather than parsed whole first."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self.depth = 0
        self.nodes = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        self.depth += 1
        self.nodes += 1
        try:
            if self.depth > MAX_DEPTH + 1:  # the root is depth 1 here, 0 in `_Builder`
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"nesting is deeper than {MAX_DEPTH} levels",
                    self.peek_event().start_mark,
                )
            if self.nodes > MAX_VALUES:
                raise _TooManyNodes(
                    None,
                    None,
                    f"the document has more than {MAX_VALUES} values (too much data for a spec)",
                    self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _yaml_error_message(exc: yaml.MarkedYAMLError) -> str:
    context = exc.context
    if context and exc.context_mark and exc.problem_mark:
        # e.g. "found duplicate anchor 'x'; first occurrence" needs the place it names
        mark = exc.context_mark
        context += f" (line {mark.line + 1}, column {mark.column + 1})"
    return "; ".join(str(part) for part in (context, exc.problem) if part)


def _line_column(text: str, offset: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


class _TooLarge(Exception):
    def __init__(self, node: yaml.Node, path: SpecPath, message: str):
        self.node, self.path, self.message = node, path, message


def load_spec_text(text: str | bytes, file: str) -> LoadedSpec:
    """Parse spec text; raise `SpecError` with every located problem."""
    loaded = LoadedSpec(file=file, data=None)
    size = len(text.encode("utf-8", errors="surrogatepass")) if isinstance(text, str) else len(text)
    if size > MAX_SPEC_BYTES:
        raise SpecError(
            [
                SpecProblem(
                    file,
                    1,
                    1,
                    (),
                    f"the file is {size:,} bytes; a spec may be at most {MAX_SPEC_BYTES:,} bytes",
                )
            ]
        )
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            # count characters, not bytes, so the column matches what an editor shows
            line_start = text.rfind(b"\n", 0, exc.start) + 1
            line = text[: exc.start].count(b"\n") + 1
            column = len(text[line_start : exc.start].decode("utf-8", errors="replace")) + 1
            raise SpecError(
                [
                    SpecProblem(
                        file,
                        line,
                        column,
                        (),
                        f"the file is not valid UTF-8 (byte 0x{text[exc.start]:02x})",
                    )
                ]
            ) from None
    try:
        root = yaml.compose(text, Loader=_SpecLoader)
    except _TooManyNodes as exc:
        mark = exc.problem_mark
        raise SpecError(
            [SpecProblem(file, mark.line + 1, mark.column + 1, (), str(exc.problem))]
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise SpecError(
            [SpecProblem(file, line, column, (), f"invalid YAML: {_yaml_error_message(exc)}")]
        ) from None
    except yaml.reader.ReaderError as exc:
        # a control character: the reader gives only an offset into the text
        line, column = _line_column(text, exc.position)
        raise SpecError(
            [
                SpecProblem(
                    file,
                    line,
                    column,
                    (),
                    f"invalid YAML: unacceptable character #x{exc.character:04x}: {exc.reason}",
                )
            ]
        ) from None
    except yaml.YAMLError as exc:
        raise SpecError([SpecProblem(file, 1, 1, (), f"invalid YAML: {exc}")]) from None
    except RecursionError:
        raise SpecError(
            [SpecProblem(file, 1, 1, (), "invalid YAML: nesting is too deep")]
        ) from None
    if root is None or (root.tag == "tag:yaml.org,2002:null" and root.value == ""):  # `---`
        raise SpecError(
            [
                SpecProblem(
                    file,
                    1,
                    1,
                    (),
                    "the file is empty; a spec is a mapping with at least `project`, "
                    "`environment`, `tags`, `regions`, `dns` and `access`",
                )
            ]
        )
    if not isinstance(root, yaml.MappingNode):
        pos = _position(root)
        raise SpecError(
            [
                SpecProblem(
                    file,
                    pos.line,
                    pos.column,
                    (),
                    "the spec must be a mapping "
                    "of keys (like `project: ...`), not a "
                    f"{'list' if isinstance(root, yaml.SequenceNode) else 'scalar'}",
                )
            ]
        )
    builder = _Builder(loaded)
    try:
        loaded.data = builder.build(root, (), 0)
    except _TooLarge as exc:
        builder.fail(exc.node, exc.path, exc.message)
    except RecursionError:
        builder.problems.append(SpecProblem(file, 1, 1, (), "nesting is too deep"))
    if builder.problems:
        raise SpecError(builder.problems)
    return loaded


def load_spec_file(path: Path) -> LoadedSpec:
    """Read and parse a spec file; a missing, unreadable or special file is a located error."""
    try:
        raw = read_bounded(path, MAX_SPEC_BYTES)
    except InputTooLarge as exc:
        raise SpecError(
            [
                SpecProblem(
                    str(path),
                    1,
                    1,
                    (),
                    f"the file is {exc.size}; a spec may be at most {MAX_SPEC_BYTES:,} bytes",
                )
            ]
        ) from None
    except NotARegularFile as exc:
        raise SpecError(
            [SpecProblem(str(path), 1, 1, (), f"cannot read the spec: {exc}")]
        ) from None
    except OSError as exc:
        raise SpecError(
            [SpecProblem(str(path), 1, 1, (), f"cannot read the spec: {os_error_text(exc)}")]
        ) from None
    loaded = load_spec_text(raw, str(path))
    loaded.sha256 = hashlib.sha256(raw).hexdigest()
    return loaded
