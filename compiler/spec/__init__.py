"""Stage 2, validate: loaded YAML data -> a typed, checked `InfraSpec`.

Pydantic checks each section; `consistency` checks what spans sections. Every problem
becomes a `SpecProblem` located at the offending key or value, and all are raised at once.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Callable
from pathlib import Path

# `from types` (not `import types`): importing compiler.spec.types rebinds the name
# `types` in this package's namespace to that submodule.
from types import UnionType
from typing import Annotated, Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from compiler.errors import SpecError, SpecPath, SpecProblem
from compiler.interrupts import interrupts_deferred
from compiler.load import LoadedSpec
from compiler.spec.consistency import Blame, SpecSections, find_inconsistencies
from compiler.spec.quiet_losses import find_quiet_losses
from compiler.spec.regions import RegionSpec
from compiler.spec.root import InfraSpec
from compiler.spec.types import PATTERN_HINTS

__all__ = ["InfraSpec", "validate_spec"]


Preferred = Callable[[SpecPath], bool]


# pydantic-core turns a Ctrl-C during validation into a false pattern mismatch: see
# compiler.interrupts.
@interrupts_deferred()
def validate_spec(
    loaded: LoadedSpec,
    warnings: list[SpecProblem] | None = None,
    *,
    preferred: Preferred | None = None,
) -> InfraSpec:
    """Validate loaded data; raise `SpecError` listing every problem. A valid spec's
    warnings (legal, but something is quietly lost) are added to `warnings` if given.
    A finding that blames one of several keys is reported at the first `preferred` says
    yes to (an environment's overlay keys), else the first written (see `Blame`)."""

    def problem(target: SpecPath | Blame, message: str) -> SpecProblem:
        return loaded.problem(_blamed(loaded, target, preferred), message)

    # task sources are named relative to the spec file (see spec.scheduled_tasks)
    context = {"spec_dir": Path(loaded.file).parent}
    try:
        spec = InfraSpec.model_validate(loaded.data, context=context)
    except ValidationError as exc:
        errors = exc.errors()
        problems = [_problem_from_pydantic(loaded, err) for err in errors]
        # The checks across sections still judge the sections that are valid: a user
        # should see every mistake in one run, not the next ones only after fixing these.
        invalid = {err["loc"][0] for err in errors if err["loc"]}
        sections = _valid_sections(loaded.data, invalid, context)
        if sections is not None:
            problems += (problem(*finding) for finding in find_inconsistencies(sections))
        raise SpecError(problems) from None
    findings = find_inconsistencies(spec)
    if findings:
        raise SpecError(problem(*finding) for finding in findings)
    if warnings is not None:
        warnings.extend(
            problem(path, f"warning: {message}") for path, message in find_quiet_losses(spec)
        )
    return spec


def _blamed(loaded: LoadedSpec, target: SpecPath | Blame, preferred: Preferred | None) -> SpecPath:
    if not isinstance(target, Blame):
        return target
    if preferred is not None:
        for path in target:
            if preferred(path):
                return path
    return next((path for path in target if path in loaded.value_positions), target[0])


def _valid_sections(data: Any, invalid: set, context: dict) -> SpecSections | None:
    """Each top-level section of `data` validated on its own (the default when absent),
    but for those in `invalid`, which pydantic has already reported."""
    if not isinstance(data, dict):
        return None
    sections: dict[str, Any] = {}
    for name, field in InfraSpec.model_fields.items():
        if name in invalid:
            continue
        if name not in data:
            if not field.is_required():
                sections[name] = field.get_default(call_default_factory=True)
            continue
        adapter = _section_adapter(name)
        try:
            sections[name] = adapter.validate_python(data[name], context=context)
        except ValidationError:  # reported at the root already; cannot happen in practice
            continue
    return SpecSections(sections, _valid_region_names(data.get("regions")))


def _valid_region_names(regions: Any) -> list[tuple[int, str]]:
    """(index, name) of the listed regions whose name is valid, whatever their other keys."""
    if not isinstance(regions, list):
        return []
    names = []
    for index, region in enumerate(regions):
        try:
            names.append((index, RegionSpec.model_validate(region).name))
        except ValidationError as error:
            named = isinstance(region, dict) and isinstance(region.get("name"), str)
            if named and not any(e["loc"][:1] == ("name",) for e in error.errors()):
                names.append((index, region["name"].strip()))
    return names


_ADAPTERS: dict[str, TypeAdapter] = {}


def _section_adapter(name: str) -> TypeAdapter:
    """A validator for one root field, with its constraints (built once, when needed)."""
    if name not in _ADAPTERS:
        field = InfraSpec.model_fields[name]
        annotation = field.annotation
        if field.metadata:
            annotation = Annotated[annotation, *field.metadata]
        _ADAPTERS[name] = TypeAdapter(annotation)
    return _ADAPTERS[name]


def _problem_from_pydantic(loaded: LoadedSpec, error: Any) -> SpecProblem:
    path: SpecPath = tuple(part for part in error["loc"] if not _is_dict_key_marker(part))
    at_key = len(path) < len(error["loc"])  # the mapping key is at fault, not its value
    kind = error["type"]
    if kind == "extra_forbidden":
        return loaded.problem(path, _unknown_key_message(path), key=True)
    if kind == "missing":
        return loaded.problem(path[:-1], f"missing required key '{path[-1]}'")
    message = error["msg"].removeprefix("Value error, ").replace(" after validation", "")
    if kind == "model_type":  # pydantic's text names our Python class, not the spec
        message = f"expected a mapping with the keys {', '.join(_known_keys(path))}"
    if kind == "string_pattern_mismatch":
        message = PATTERN_HINTS.get(error["ctx"]["pattern"], message)
    if kind not in ("value_error", "assertion_error") and not isinstance(
        error.get("input"), dict | list
    ):
        message += f" (got {error['input']!r})"
    parent = path[:-1]
    if path and path not in loaded.value_positions and parent in loaded.key_positions:
        # A default that fails validation (e.g. a key another key makes required): the key
        # is not written, so point at the section's own key, not at its first entry.
        pos = loaded.key_positions[parent]
        return SpecProblem(loaded.file, pos.line, pos.column, path, message)
    return loaded.problem(path, message, key=at_key)


def _is_dict_key_marker(part: Any) -> bool:
    # pydantic reports an invalid dict key at loc (..., key, '[key]'); keep the real key only
    return isinstance(part, str) and part == "[key]"


def _unknown_key_message(path: SpecPath) -> str:
    known = _known_keys(path[:-1])
    close = difflib.get_close_matches(str(path[-1]), known, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}"
    return f"unknown key '{path[-1]}'; {hint}"


def _known_keys(path: SpecPath) -> list[str]:
    """The field names of the model that holds `path`, found by walking the annotations."""
    annotation: Any = InfraSpec
    for part in path:
        model = _model_in(annotation)
        if model is not None and isinstance(part, str):
            field = model.model_fields.get(part)
            if field is None:
                return []
            annotation = field.annotation
        else:  # a list index or dict key: step into the item type
            args = [a for a in typing.get_args(_unwrap(annotation)) if a is not type(None)]
            annotation = args[-1] if args else None
    model = _model_in(annotation)
    return sorted(model.model_fields) if model else []


def _unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _model_in(annotation: Any) -> type[BaseModel] | None:
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, UnionType) or typing.get_origin(annotation) is typing.Union:
        for arg in typing.get_args(annotation):
            if _model_in(arg):
                return _model_in(arg)
    return None
