"""Stage 1, load: YAML text -> plain Python data plus the position of every value.

PyYAML's composer gives nodes with start marks; we construct the data ourselves from
those nodes so that each value keeps its line and column (the way cfn-lint's
`decode/mark.py` does), duplicate keys are refused instead of silently overwritten,
and alias expansion is bounded (a "billion laughs" document cannot exhaust memory).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from compiler.errors import SpecError, SpecPath, SpecProblem

# A spec is a few hundred lines; these bounds only stop hostile or broken input early.
MAX_SPEC_BYTES = 1_000_000
MAX_VALUES = 100_000
MAX_DEPTH = 64


@dataclass(frozen=True)
class Position:
    line: int
    column: int


@dataclass
class LoadedSpec:
    """The spec's data and where each part of it was written."""

    file: str
    data: Any
    value_positions: dict[SpecPath, Position] = field(default_factory=dict)
    key_positions: dict[SpecPath, Position] = field(default_factory=dict)

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


class _Builder:
    def __init__(self, loaded: LoadedSpec):
        self.loaded = loaded
        self.problems: list[SpecProblem] = []
        self.count = 0
        self.open_nodes: set[int] = set()  # nodes being built: a repeat is a recursive alias
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
            return self.constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self.fail(node, path, f"cannot read this value: {getattr(exc, 'problem', exc)}")
            return None

    def build_mapping(self, node: yaml.MappingNode, path: SpecPath, depth: int) -> dict:
        self.constructor.flatten_mapping(node)  # resolves `<<: *anchor` merge keys
        result: dict = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.fail(key_node, path, "a mapping key must be a plain scalar")
                continue
            key = self.constructor.construct_object(key_node)
            if not isinstance(key, str):
                key = str(key)
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
        return result


class _TooLarge(Exception):
    def __init__(self, node: yaml.Node, path: SpecPath, message: str):
        self.node, self.path, self.message = node, path, message


def load_spec_text(text: str | bytes, file: str) -> LoadedSpec:
    """Parse spec text; raise `SpecError` with every located problem."""
    loaded = LoadedSpec(file=file, data=None)
    if len(text) > MAX_SPEC_BYTES:
        raise SpecError(
            [
                SpecProblem(
                    file,
                    1,
                    1,
                    (),
                    f"the file is {len(text):,} bytes; a spec "
                    f"may be at most {MAX_SPEC_BYTES:,} bytes",
                )
            ]
        )
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = text[: exc.start].count(b"\n") + 1
            column = exc.start - (text.rfind(b"\n", 0, exc.start) + 1) + 1
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
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise SpecError([SpecProblem(file, line, column, (), f"invalid YAML: {message}")]) from None
    except yaml.YAMLError as exc:
        raise SpecError([SpecProblem(file, 1, 1, (), f"invalid YAML: {exc}")]) from None
    except RecursionError:
        raise SpecError(
            [SpecProblem(file, 1, 1, (), "invalid YAML: nesting is too deep")]
        ) from None
    if root is None:
        raise SpecError(
            [
                SpecProblem(
                    file,
                    1,
                    1,
                    (),
                    "the file is empty; a spec is a mapping "
                    "with at least `project`, `environment` and `regions`",
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
    """Read and parse a spec file; a missing or unreadable file is a located error too."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError(
            [SpecProblem(str(path), 1, 1, (), f"cannot read the spec: {exc.strerror}")]
        ) from None
    return load_spec_text(raw, str(path))
