"""Environments: named overlays in the spec, deep-merged over the base before validation.

    environments:
      staging:
        compute: {instance_type: t3.micro}
        network: {nat_gateways: single}

`--env staging` compiles the base with that overlay merged in: mappings merge key by
key, anything else the overlay gives (a scalar, a list, null) replaces the base value.
The overlay's name becomes `environment` unless the overlay sets it, because stack
names, resource names and the Environment tag derive from `environment`: two
environments that shared it would deploy over each other.

Positions survive the merge: every value of the merged data keeps the position of the
value that won (base or overlay), and a problem found in an overlay value is reported
at its path under `environments.<name>`, so `FILE:LINE:COL` points where it was written.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

from compiler.errors import SpecError, SpecPath, SpecProblem
from compiler.load import LoadedSpec, Position
from compiler.spec import InfraSpec, validate_spec

ENVIRONMENTS_KEY = "environments"
DEFAULT_OUTPUT_DIR = Path("templates_out")


class MergedSpec(NamedTuple):
    """The merged data, and for each of its paths the path it was taken from."""

    loaded: LoadedSpec
    environment: str
    source_paths: dict[SpecPath, SpecPath]

    def overlay_path(self, path: SpecPath) -> SpecPath | None:
        """Where `path` (or its nearest ancestor) was written in the overlay; None if in the base."""
        for end in range(len(path), -1, -1):
            source = self.source_paths.get(path[:end])
            if source is not None:
                if source[:2] == (ENVIRONMENTS_KEY, self.environment) and len(source) > 2:
                    return (*source, *path[end:])
                return None
        return None

    def written_in_overlay(self, path: SpecPath) -> bool:
        """Whether the overlay itself wrote `path` (not merely a mapping around it)."""
        source = self.source_paths.get(path)
        return source is not None and source[:2] == (ENVIRONMENTS_KEY, self.environment)

    def relocate(self, problem: SpecProblem) -> SpecProblem:
        """A problem of the merged spec, named by the path the user wrote."""
        written = self.overlay_path(problem.path)
        if written is None:
            return problem
        return SpecProblem(problem.file, problem.line, problem.column, written, problem.message)


def environment_names(loaded: LoadedSpec) -> list[str]:
    """The overlays the spec defines, in the order written."""
    overlays = loaded.data.get(ENVIRONMENTS_KEY) if isinstance(loaded.data, dict) else None
    return [str(name) for name in overlays] if isinstance(overlays, dict) else []


def base_environment(loaded: LoadedSpec) -> Any:
    return loaded.data.get("environment") if isinstance(loaded.data, dict) else None


def merge_environment(loaded: LoadedSpec, name: str) -> MergedSpec:
    """The base with overlay `name` merged in; `name` may also be the base's own environment."""
    data = loaded.data
    overlays = data.get(ENVIRONMENTS_KEY)
    names = environment_names(loaded)
    overlay_path: SpecPath = (ENVIRONMENTS_KEY, name)
    if name not in names:
        if name == base_environment(loaded):  # `--env production` on a production base
            return _merged(loaded, name, _without_environments(data), {}, None)
        known = ", ".join(names) if names else "none"
        where: SpecPath = (ENVIRONMENTS_KEY,) if ENVIRONMENTS_KEY in data else ()
        raise SpecError(
            [
                loaded.problem(
                    where,
                    f"no environment '{name}' in the spec (environments: {known}; "
                    f"or the base environment '{base_environment(loaded)}')",
                    key=True,
                )
            ]
        )
    overlay = overlays[name]
    if not isinstance(overlay, dict):
        raise SpecError(
            [
                loaded.problem(
                    overlay_path,
                    "an environment is a mapping of the keys it changes, "
                    f"like `compute: {{instance_type: t3.micro}}` (got {type(overlay).__name__})",
                )
            ]
        )
    if ENVIRONMENTS_KEY in overlay:
        raise SpecError(
            [
                loaded.problem(
                    (*overlay_path, ENVIRONMENTS_KEY),
                    "environments cannot be nested; define every environment "
                    "at the top-level `environments`",
                    key=True,
                )
            ]
        )
    environment = overlay.get("environment", name)
    if environment == base_environment(loaded):
        where = (*overlay_path, "environment") if "environment" in overlay else overlay_path
        raise SpecError(
            [
                loaded.problem(
                    where,
                    f"environment '{name}' must not be named '{environment}' like the base: "
                    "stack and resource names derive from it, so it would deploy over the base",
                    key="environment" not in overlay,
                )
            ]
        )
    sources: dict[SpecPath, SpecPath] = {}
    merged = _merge(_without_environments(data), overlay, (), overlay_path, sources)
    if "environment" not in overlay:
        merged["environment"] = name
        sources[("environment",)] = overlay_path  # reported where the overlay is named
    return _merged(loaded, name, merged, sources, overlay_path)


def apply_environment(loaded: LoadedSpec, name: str | None) -> LoadedSpec:
    """The spec to validate for `--env name`; the base unchanged when `name` is None."""
    if name is None:
        return loaded
    return merge_environment(loaded, name).loaded


def _without_environments(data: dict) -> dict:
    return {key: value for key, value in data.items() if key != ENVIRONMENTS_KEY}


def _merge(
    base: Any,
    overlay: Any,
    path: SpecPath,
    overlay_path: SpecPath,
    sources: dict[SpecPath, SpecPath],
) -> Any:
    """Overlay values win; only where both sides are mappings are they merged key by key.
    `sources` gets an entry for each path the overlay decided (deeper paths follow it)."""
    if not (isinstance(base, dict) and isinstance(overlay, dict)):
        sources[path] = overlay_path
        return copy.deepcopy(overlay)
    merged = dict(base)
    for key, value in overlay.items():
        child, child_overlay = (*path, key), (*overlay_path, key)
        if key in base:
            merged[key] = _merge(base[key], value, child, child_overlay, sources)
        else:
            sources[child] = child_overlay
            merged[key] = copy.deepcopy(value)
    return merged


def _merged(
    loaded: LoadedSpec,
    name: str,
    data: dict,
    overlay_sources: dict[SpecPath, SpecPath],
    overlay_path: SpecPath | None,
) -> MergedSpec:
    """Position maps for merged data: each path at the position of the value that won."""
    result = LoadedSpec(file=loaded.file, data=data)
    source_paths: dict[SpecPath, SpecPath] = {}
    _map_sources(data, (), (), overlay_sources, source_paths)
    for path, source in source_paths.items():
        if source in loaded.value_positions:
            result.value_positions[path] = loaded.value_positions[source]
        if source in loaded.key_positions:
            result.key_positions[path] = loaded.key_positions[source]
    if overlay_path is not None and ("environment",) in overlay_sources:
        if overlay_sources[("environment",)] == overlay_path:  # the name stands in for it
            position = loaded.key_positions.get(overlay_path, Position(1, 1))
            result.value_positions[("environment",)] = position
            result.key_positions[("environment",)] = position
    return MergedSpec(result, name, source_paths)


def _map_sources(
    value: Any,
    path: SpecPath,
    source: SpecPath,
    overlay_sources: dict[SpecPath, SpecPath],
    out: dict[SpecPath, SpecPath],
) -> None:
    source = overlay_sources.get(path, source)
    out[path] = source
    children: Iterable[tuple[Any, Any]] = ()
    if isinstance(value, dict):
        children = value.items()
    elif isinstance(value, list):
        children = enumerate(value)
    for key, child in children:
        _map_sources(child, (*path, key), (*source, key), overlay_sources, out)


def validate_environment(
    loaded: LoadedSpec, name: str | None, warnings: list[SpecProblem] | None = None
) -> InfraSpec:
    """Validate the spec of one environment (the base when `name` is None), and that no
    other environment would deploy over it. Warnings go to `warnings` if given."""
    if name is None:
        return validate_spec(loaded, warnings)
    merged = merge_environment(loaded, name)
    problems: list[SpecProblem] = []
    environment = merged.loaded.data.get("environment")
    clash = _clashing_environment(loaded, name, environment)
    if clash is not None:
        problems.append(_clash_problem(loaded, merged, clash, name, str(environment)))
    found: list[SpecProblem] = []
    try:
        spec = validate_spec(merged.loaded, found, preferred=merged.written_in_overlay)
    except SpecError as error:
        problems += (merged.relocate(problem) for problem in error.problems)
    if problems:
        raise SpecError(problems)
    if warnings is not None:
        warnings.extend(merged.relocate(problem) for problem in found)
    return spec


def _clashing_environment(loaded: LoadedSpec, name: str, environment: Any) -> str | None:
    """The first other overlay that names `environment` too (written, or by its own name)."""
    overlays = loaded.data.get(ENVIRONMENTS_KEY) or {}
    for other in environment_names(loaded):
        overlay = overlays.get(other)
        named = overlay.get("environment", other) if isinstance(overlay, dict) else other
        if other != name and named == environment:
            return other
    return None


def _clash_problem(
    loaded: LoadedSpec, merged: MergedSpec, first: str, name: str, environment: str
) -> SpecProblem:
    line, column = _line_column(merged.loaded, ("environment",))
    written = merged.overlay_path(("environment",)) or (ENVIRONMENTS_KEY, name)
    message = (
        f"environments '{first}' and '{name}' both name environment "
        f"'{environment}'; they would deploy over each other"
    )
    return SpecProblem(loaded.file, line, column, written, message)


def validate_every_environment(
    loaded: LoadedSpec, warnings: list[SpecProblem] | None = None
) -> dict[str | None, InfraSpec]:
    """The base and each overlay merged over it, validated; every problem of all, once.

    A base problem shows up in every environment too; it is reported once, at the base.
    A problem only an overlay causes, but found at a base value (two values that no
    longer fit together), says which environment it comes from."""
    problems: list[SpecProblem] = []
    found: list[SpecProblem] = []  # warnings, reported once like problems
    specs: dict[str | None, InfraSpec] = {}
    try:
        specs[None] = validate_spec(loaded, found)
    except SpecError as error:
        problems += error.problems
    base_problems = set(problems)
    seen: dict[str, str] = {}  # environment value -> overlay that took it
    for name in environment_names(loaded):
        if any(problem.path == (ENVIRONMENTS_KEY, name) for problem in base_problems):
            continue  # not a mapping, or a bad name: the base's validation reported it
        try:
            merged = merge_environment(loaded, name)
        except SpecError as error:
            problems += error.problems
            continue
        # judged on the merged data, so a clash is reported even when an overlay is invalid
        environment = merged.loaded.data.get("environment")
        if isinstance(environment, str):
            if environment in seen:
                problems.append(
                    _clash_problem(loaded, merged, seen[environment], name, environment)
                )
            seen.setdefault(environment, name)
        overlay_warnings: list[SpecProblem] = []
        try:
            specs[name] = validate_spec(
                merged.loaded, overlay_warnings, preferred=merged.written_in_overlay
            )
        except SpecError as error:
            for problem in error.problems:
                relocated = merged.relocate(problem)
                if problem in base_problems:
                    continue
                if relocated is problem:
                    relocated = SpecProblem(
                        problem.file,
                        problem.line,
                        problem.column,
                        problem.path,
                        f"{problem.message} (in environment '{name}')",
                    )
                problems.append(relocated)
            continue
        for warning in overlay_warnings:
            relocated = merged.relocate(warning)
            if relocated is warning and warning not in found:
                relocated = warning._replace(message=f"{warning.message} (in environment '{name}')")
            if relocated not in found:
                found.append(relocated)
    if problems:
        raise SpecError(problems)
    if warnings is not None:
        warnings.extend(found)
    return specs


def locate(loaded: LoadedSpec, name: str | None, path: SpecPath, message: str) -> SpecProblem:
    """A problem at `path` of the spec of environment `name` (None: the base), located
    where the user wrote that key: in the overlay if it sets it, else in the base."""
    if name is None:
        return loaded.problem(path, message)
    merged = merge_environment(loaded, name)
    return merged.relocate(merged.loaded.problem(path, message))


def _line_column(loaded: LoadedSpec, path: SpecPath) -> tuple[int, int]:
    position = loaded.position_of(path)
    return position.line, position.column


def output_dir(loaded: LoadedSpec, spec: InfraSpec) -> Path:
    """Where `compile` writes `spec` (the base or one environment of `loaded`) by default:
    `templates_out/`, or one directory per environment once the file defines environments
    (the base's too, named by its `environment`), so that compiling one never replaces
    another's templates. Whether it does is read from the file: a merged environment's
    spec has no `environments` of its own, and `--env` naming the base of a file without
    any must still write `templates_out/`."""
    data = loaded.data if isinstance(loaded.data, dict) else {}
    if data.get("environments"):
        return DEFAULT_OUTPUT_DIR / spec.environment
    return DEFAULT_OUTPUT_DIR
