"""cfn-lint's repeated work done once per run, with the same findings.

A lint of the StackSet template spends most of its time in cfn-lint's JSON-schema
validation, and a large part of that not on checking values but on work cfn-lint redoes
at each step: it makes a new validator class (a dataclass, built by `exec`) each time a
rule extends its validator, 600 times a run for a dozen different ones; it reads a
dataclass's field list at each of some 150,000 `evolve` and `descend` calls; it rebuilds
every resource's valid attributes for each GetAtt it checks; it builds an empty template
to throw away each time a rule extends its validator; it reads and builds a resource
type's provider schema again for each region, where the regions share one file; it
lists the template's modules anew for each reference it checks, and compares a
reference's name with every resource's name in Python, one at a time. Each
shortcut below keeps what was made the first time and hands it out again where cfn-lint
would make the same thing anew (docs/speed.md, "The sixth pass"). Each relies on the cfn-lint internals its
docstring names, as in the cfn-lint releases `CHECKED_RELEASES` lists (with any other,
cfn-lint runs as it is); `tests/test_cfn_lint_shortcuts.py` holds cfn-lint's matches with
them to its matches without them on templates seeded with faults in some 50 rules, and
checks that each is in place during a run and gone after it.

`applied()` puts them in place for one cfn-lint run and takes them out after it: they
change cfn-lint's modules in this process only (a lint run is a process of its own, but
for a caller with threads, whose runs may overlap: then they stay until the last ends).
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Iterator
from typing import Any

# Runs in progress in this process, and what puts the shortcuts back when the last ends.
# More than one only where a caller lints in threads of one process (`lint.parallel_workers`
# lints in the caller's process when it has threads): the first run to start puts the
# shortcuts in place and the last to end takes them out, so that no run ends another's.
_runs_in_progress = 0
_in_place: contextlib.ExitStack | None = None
_lock = threading.Lock()


# The cfn-lint releases whose code the shortcuts were read against, and checked on
# (tests/test_cfn_lint_shortcuts.py): each shortcut stands in for a piece of cfn-lint's
# own code or relies on what it does not do, which a later release may change. With
# another release cfn-lint runs as it is (slower, never different), and a test fails
# until the shortcuts are checked against it and it is added here.
CHECKED_RELEASES = ("1.58.",)


def in_use() -> bool:
    """Whether `applied()` puts the shortcuts in place with the cfn-lint installed."""
    from cfnlint.version import __version__

    return __version__.startswith(CHECKED_RELEASES)


@contextlib.contextmanager
def applied() -> Iterator[None]:
    global _runs_in_progress, _in_place
    if not in_use():
        yield
        return
    with _lock:
        if _runs_in_progress == 0:
            with contextlib.ExitStack() as stack:
                for shortcut in (
                    _validator_classes_once,
                    _validators_extended_directly,
                    _dataclass_fields_once,
                    _context_evolved_directly,
                    _getatts_once,
                    _schemas_shared_between_regions,
                    _module_names_once,
                    _names_looked_up_directly,
                ):
                    stack.enter_context(shortcut())
                _in_place = stack.pop_all()
        _runs_in_progress += 1
    try:
        yield
    finally:
        with _lock:
            _runs_in_progress -= 1
            if _runs_in_progress == 0 and _in_place is not None:
                _in_place, in_place = None, _in_place
                in_place.close()


@contextlib.contextmanager
def _patched(owner: Any, name: str, replacement: Any) -> Iterator[None]:
    original = getattr(owner, name)
    setattr(owner, name, replacement)
    try:
        yield
    finally:
        setattr(owner, name, original)


@contextlib.contextmanager
def _validator_classes_once() -> Iterator[None]:
    """`cfnlint.jsonschema.validators.create(validators, function_filter, fn_resolvers)`
    makes a new `Validator` dataclass on every call (`Validator.extend` calls it, and every
    schema rule extends its validator for each resource it checks). The class it makes
    depends on nothing but its three arguments, which it keeps as the defaults of its
    instances, and nothing in cfn-lint changes them afterwards: one class per different
    set of arguments serves every call with equal ones. Equal: the same validator and
    resolver functions (compared as Python compares them: the same function objects, or
    bound methods of the same rule object) under the same keywords, and a function filter
    of the same type and field values (a kept class's instances default to the first
    caller's filter, equal to a later caller's; cfn-lint never changes a filter, it makes
    new ones with `evolve`). Arguments that cannot be compared so (a field value that is
    not hashable) get a new class, as without the shortcut."""
    import cfnlint.jsonschema.validators as validators_module

    create = validators_module.create
    made: dict[tuple, Any] = {}

    def create_once(validators=None, function_filter=None, fn_resolvers=None):
        try:
            key = (
                tuple((validators or {}).items()),
                _field_values(function_filter),
                tuple((fn_resolvers or {}).items()),
            )
            kept = made.get(key)
        except TypeError:  # something unhashable: no way to know it is the same
            return create(validators, function_filter, fn_resolvers)
        if kept is None:
            kept = made[key] = create(validators, function_filter, fn_resolvers)
        return kept

    with _patched(validators_module, "create", create_once):
        yield


def _field_values(instance: Any) -> tuple | None:
    if instance is None:
        return None
    values = tuple(
        (field.name, _hashable(getattr(instance, field.name)))
        for field in dataclasses.fields(instance)
    )
    return (type(instance), values)


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


@contextlib.contextmanager
def _validators_extended_directly() -> Iterator[None]:
    """`BaseJsonSchema.extend_validator`, through which every schema rule makes the
    validator it checks a resource with, makes an instance of the extended class with the
    new schema alone, and then `evolve`s it into the one it returns, with the caller's
    template, context and a resolver for the schema. The first instance, thrown away,
    builds an empty cfn-lint `Template` (its field default, with the searches of its
    `__init__`) and a resolver of its own. Making the returned instance at once gives the
    same fields: the schema and function filter the first instance would have passed on
    (the filter is the class's default in both), the caller's template and context, and
    the resolver. Only with a context given (every caller in cfn-lint 1.58 gives one):
    without, it is left to cfn-lint, which this was not checked against."""
    from cfnlint.rules.jsonschema import Base

    extend = Base.BaseJsonSchema.extend_validator

    def extend_directly(self, validator, schema, context, validators=None):
        if context is None:
            return extend(self, validator, schema, context, validators)
        all_validators = self._get_validators()
        if validators:
            all_validators.update(validators)
        extended = validator.extend(validators=all_validators)
        resolver = Base.RefResolver.from_schema(schema)
        return extended(schema=schema, cfn=validator.cfn, context=context, resolver=resolver)

    with _patched(Base.BaseJsonSchema, "extend_validator", extend_directly):
        yield


@contextlib.contextmanager
def _dataclass_fields_once() -> Iterator[None]:
    """cfn-lint's `evolve` and `descend` methods (its validators, contexts, paths and
    function filters) call `dataclasses.fields(Class)` each time, which builds the tuple
    of the class's fields anew from its field table. A class's fields are fixed when the
    class is made: the tuple is kept per class. Only for classes; an instance (which
    cfn-lint does not pass here) is answered as before."""
    import cfnlint.context.context as context_module
    import cfnlint.jsonschema._filter as filter_module
    import cfnlint.jsonschema.validators as validators_module

    fields = dataclasses.fields
    kept: dict[type, tuple] = {}

    def fields_once(class_or_instance):
        if not isinstance(class_or_instance, type):
            return fields(class_or_instance)
        found = kept.get(class_or_instance)
        if found is None:
            found = kept[class_or_instance] = fields(class_or_instance)
        return found

    with contextlib.ExitStack() as stack:
        for module in (context_module, filter_module, validators_module):
            stack.enter_context(_patched(module, "fields", fields_once))
        yield


@contextlib.contextmanager
def _context_evolved_directly() -> Iterator[None]:
    """`cfnlint.context.Context.evolve(**changes)`: a copy of a context with some of its
    fields changed (its `ref_values` merged, not replaced), called some 50,000 times a
    run. cfn-lint makes it through the frozen dataclass's `__init__`, which sets each
    field with `object.__setattr__`; `Context` has no `__post_init__` and no field
    outside `__init__`, so filling the new object's fields directly makes the same
    object. Only for `Context` itself and names it has; anything else goes the old way.
    What `Context` keeps beside its fields (its cached `module_names`) is not copied,
    as `__init__` would not copy it (`_module_names_once` keeps that per template)."""
    from cfnlint.context.context import Context

    fields = dataclasses.fields(Context)
    names = tuple(field.name for field in fields if field.init)
    known = frozenset(names)
    if len(names) != len(fields) or hasattr(Context, "__post_init__"):
        yield  # not the class this was written for: left as it is
        return
    evolve = Context.evolve

    def evolve_directly(self, **changes):
        if type(self) is not Context or not known.issuperset(changes):
            return evolve(self, **changes)
        if "ref_values" in changes:
            merged = self.ref_values.copy()
            merged.update(changes["ref_values"])
            changes["ref_values"] = merged
        made = object.__new__(Context)
        own, theirs = self.__dict__, made.__dict__
        for name in names:
            theirs[name] = changes[name] if name in changes else own[name]
        return made

    with _patched(Context, "evolve", evolve_directly):
        yield


# Where a template keeps its valid GetAtts during a run (`_getatts_once`).
_GETATTS_KEPT = "_infra_valid_getatts"


@contextlib.contextmanager
def _getatts_once() -> Iterator[None]:
    """cfn-lint's `Template.get_valid_getatts` computed once per template, not once per
    call. It builds every resource's attributes in every region of the run, and E1010
    (GetAtt) calls it again for each GetAtt whose type it checks, in each group of
    regions: at 16 regions, a fifth of a StackSet lint's time (docs/speed.md). What it
    returns is made from the template's resources and regions alone, which stay the same
    for the template's whole run, and its callers (E1010, E1029's SubNeeded) only read it."""
    from cfnlint.template.template import Template

    compute = Template.get_valid_getatts

    def computed_once(template):
        resources, regions = template.context.resources, tuple(template.regions)
        kept = template.__dict__.get(_GETATTS_KEPT)
        if kept is None or kept[0] is not resources or kept[1] != regions:
            kept = (resources, regions, compute(template))
            template.__dict__[_GETATTS_KEPT] = kept
        return kept[2]

    with _patched(Template, "get_valid_getatts", computed_once):
        yield


@contextlib.contextmanager
def _schemas_shared_between_regions() -> Iterator[None]:
    """cfn-lint's `ProviderSchemaManager.get_resource_schema(region, type)` reads a
    resource type's provider schema for each region from `resources/<hash>.json`, the
    hash being the one its region's provider list names (content-addressed: one hash,
    one file), and builds a `Schema` of it, with its resolver and its GetAtts, for every
    region anew: at 16 regions, 859 files read and built for 56 types, most of them the
    same file, when `Template.get_valid_getatts` asks for every type in every region. One
    `Schema` per hash serves every region whose list names that hash. A `Schema` is
    changed after it is built only by `patch`, for an override spec (cfn-lint's
    `--override-spec`), which our lint never passes. Registry schemas, removed types,
    modules and anything already held for the region go the old way."""
    from cfnlint.schema.manager import ProviderSchemaManager

    get_schema = ProviderSchemaManager.get_resource_schema
    kept: dict[tuple[int, str], tuple[Any, Any]] = {}  # (manager, hash) -> (manager, schema)

    def schema_per_hash(self, region: str, resource_type: str):
        name = (
            resource_type
            if resource_type in self._registry_schemas
            else self._normalize_resource_type(resource_type)
        )
        if (
            name in self._registry_schemas
            or name in self._removed_types
            or name == "Module"
            or name in self._schemas[region]
        ):
            return get_schema(self, region, resource_type)
        schema_hash = self._load_provider_module(region).get(name)
        found = kept.get((id(self), schema_hash)) if schema_hash else None
        if found is not None:
            self._schemas[region][name] = found[1]
            return found[1]
        schema = get_schema(self, region, resource_type)
        if schema_hash and self._schemas[region].get(name) is schema:
            kept[(id(self), schema_hash)] = (self, schema)
        return schema

    def cache_clear() -> None:  # what `reset` and `patch` call on the method
        kept.clear()
        get_schema.cache_clear()

    schema_per_hash.cache_clear = cache_clear  # type: ignore[attr-defined]
    with _patched(ProviderSchemaManager, "get_resource_schema", schema_per_hash):
        yield


@contextlib.contextmanager
def _module_names_once() -> Iterator[None]:
    """`cfnlint.context.Context.module_names`, the logical IDs of a template's module
    resources, read once per template. cfn-lint keeps it on each `Context` object
    (`functools.cached_property`), and makes a new `Context` at each step of its
    validation (`evolve`), so it went through every resource of the template again for
    each `Ref` and `Fn::GetAtt` it checked: some 2,000 times in a 16-region StackSet run
    of 280 resources. It is made from the context's `resources` alone, a mapping cfn-lint
    builds once per template and shares between all its contexts without changing it:
    kept per mapping, it is the same tuple."""
    from cfnlint.context.context import Context

    cached = Context.__dict__.get("module_names")
    compute = getattr(cached, "func", None)
    if compute is None:
        yield  # not the cached property this was written for: left as it is
        return
    kept: dict[int, tuple[Any, tuple[str, ...]]] = {}  # id(resources) -> (resources, names)

    def module_names(context):
        resources = context.resources
        found = kept.get(id(resources))
        if found is None or found[0] is not resources:
            found = kept[id(resources)] = (resources, compute(context))
        return found[1]

    with _patched(Context, "module_names", property(module_names)):
        yield


# The strings cfn-lint's `equal` compares as booleans (lowercased), not as strings.
_BOOLEAN_WORDS = frozenset(("true", "false"))


@contextlib.contextmanager
def _names_looked_up_directly() -> Iterator[None]:
    """cfn-lint's `enum` keyword (`cfnlint.jsonschema._keywords.enum`) compares a value
    with each allowed value in Python through its `equal`, which treats "true" and
    "false" and booleans as one another. It checks every `Ref` against the template's
    names this way (its parameters', then its resources', then the pseudo parameters: a
    list made anew for each `Ref`), so each `Ref AWS::Region` went through every resource
    name first: some 400,000 comparisons in a 16-region StackSet run. When the value and
    every allowed value are plain strings (`str`, or cfn-lint's `str_node`, which
    compares as `str`) and none of them is "true" or "false" in any case, `equal` is
    string equality, and Python's own `in` on the list gives the same answer; anything
    else goes to cfn-lint's `enum`, as does the error's message. Put where cfn-lint's
    rules call it (the `enum` of the modules of E3030 and of any other loaded rule that
    calls it under that name)."""
    from cfnlint.decode.node import str_node
    from cfnlint.jsonschema import ValidationError
    from cfnlint.jsonschema._keywords import enum

    from compiler.lint import cfn_lint_rules

    plain_strings = frozenset((str, str_node))

    def enum_of_strings(validator, enums, instance, schema):
        if (
            type(instance) in plain_strings
            and type(enums) is list
            and instance.lower() not in _BOOLEAN_WORDS
            and plain_strings.issuperset(map(type, enums))
            and _BOOLEAN_WORDS.isdisjoint(map(str.lower, enums))
        ):
            if instance not in enums:
                yield ValidationError(f"{instance!r} is not one of {enums!r}")
            return
        yield from enum(validator, enums, instance, schema)

    # cfn-lint loads each rule's module from its file, under a name of its own: the
    # rules' functions lead to the namespaces their `enum` is looked up in.
    namespaces = {
        id(method.__globals__): method.__globals__
        for rule in cfn_lint_rules().values()
        if callable(method := getattr(type(rule), "enum", None))
        and getattr(method, "__globals__", {}).get("enum") is enum
    }
    with contextlib.ExitStack() as stack:
        for namespace in namespaces.values():
            stack.enter_context(_patched_item(namespace, "enum", enum_of_strings))
        yield


@contextlib.contextmanager
def _patched_item(mapping: dict[str, Any], key: str, replacement: Any) -> Iterator[None]:
    original = mapping[key]
    mapping[key] = replacement
    try:
        yield
    finally:
        mapping[key] = original
