"""What AWS offers where: EC2 instance types and RDS PostgreSQL classes and versions.

Read from the data cfn-lint ships (gathered by its maintainers from the AWS pricing and
RDS APIs), the same files its rules E3628, E3025, E3062, E3691 and W3691 check compiled
templates against. Reading them here, rather than keeping a copy, means `validate` and
the lint can never disagree: whatever cfn-lint would flag, `validate` refuses first,
at the spec's own line and with a did-you-mean instead of a list of 800 values.

The files are a few megabytes of JSON; each is read once, only when a check needs it.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import re
from pathlib import Path
from typing import Any

import orjson

_EC2 = "aws_ec2_instance"
_RDS = "aws_rds_dbinstance"
# The compiler's DB instance (builders/database.py): Engine postgres, no LicenseModel.
ENGINE = "postgres"


@functools.cache
def _read(folder: str, name: str) -> Any:
    # Found, not imported: importing cfnlint takes over a second, which `validate` must
    # not pay (see compiler/lint.py).
    found = importlib.util.find_spec("cfnlint")
    if found is None or not found.submodule_search_locations:
        raise ModuleNotFoundError("cfn-lint is not installed; it is a dependency of infra")
    root = Path(next(iter(found.submodule_search_locations)))
    return orjson.loads((root / "data" / "schemas" / "extensions" / folder / name).read_bytes())


@functools.cache
def _instance_types() -> dict[str, frozenset[str]]:
    data = _read(_EC2, "instancetype_enum.json")
    # a region's entry is a schema `{"enum": [...]}`; other top-level keys (a description)
    # are not regions
    return {
        region: frozenset(body["enum"])
        for region, body in data.items()
        if isinstance(body, dict) and "enum" in body
    }


def instance_types(region: str) -> frozenset[str] | None:
    """The EC2 instance types `region` offers; None when cfn-lint has no data for it."""
    return _instance_types().get(region)


def _then_enum(rule: dict, prop: str) -> list[str] | None:
    then = rule.get("then")
    if not isinstance(then, dict):
        return None
    return then.get("properties", {}).get(prop, {}).get("enum")


def _is_postgres_without_license(condition: dict) -> bool:
    properties = condition.get("properties", {})
    return (
        properties.get("Engine", {}).get("const") == ENGINE
        and properties.get("LicenseModel") is False  # the rule for templates without one
    )


@functools.cache
def db_instance_classes(region: str) -> frozenset[str] | None:
    """The PostgreSQL instance classes RDS offers in `region`; None without data. Every
    matching rule applies (allOf), so a class must be in each one's list."""
    body = _read(_RDS, "dbinstanceclass_enum.json").get(region)
    if not isinstance(body, dict):
        return None
    allowed: frozenset[str] | None = None
    for rule in body.get("allOf", []):
        enum = _then_enum(rule, "DBInstanceClass")
        if enum is not None and _is_postgres_without_license(rule.get("if", {})):
            allowed = frozenset(enum) if allowed is None else allowed & frozenset(enum)
    return allowed


@functools.cache
def _version_rules() -> tuple[frozenset[str] | None, frozenset[str]]:
    """(the engine versions RDS knows for PostgreSQL, those it no longer creates)."""
    known: frozenset[str] | None = None
    for rule in _read(_RDS, "engine_version.json").get("allOf", []):
        properties = rule.get("if", {}).get("properties", {})
        enum = _then_enum(rule, "EngineVersion")
        if properties.get("Engine", {}).get("const") == ENGINE and enum is not None:
            known = frozenset(enum) if known is None else known & frozenset(enum)
    deprecated: set[str] = set()
    for rule in _read(_RDS, "engine_version_deprecated.json").get("allOf", []):
        properties = rule.get("if", {}).get("properties", {})
        if properties.get("Engine", {}).get("const") == ENGINE and rule.get("then") is False:
            deprecated.update(properties.get("EngineVersion", {}).get("enum", []))
    return known, frozenset(deprecated)


def engine_versions() -> frozenset[str] | None:
    """PostgreSQL versions RDS can create an instance with (deprecated ones left out)."""
    known, deprecated = _version_rules()
    return None if known is None else known - deprecated


def is_deprecated(version: str) -> bool:
    return version in _version_rules()[1]


@functools.cache
def _classes_by_version() -> tuple[tuple[re.Pattern[str], frozenset[str]], ...]:
    rules = []
    for rule in _read(_RDS, "db_instance_class.json").get("allOf", []):
        properties = rule.get("if", {}).get("properties", {})
        pattern = properties.get("EngineVersion", {}).get("pattern")
        enum = _then_enum(rule, "DBInstanceClass")
        if properties.get("Engine", {}).get("const") == ENGINE and pattern and enum is not None:
            rules.append((re.compile(pattern), frozenset(enum)))
    return tuple(rules)


def classes_for_version(version: str) -> frozenset[str] | None:
    """The instance classes PostgreSQL `version` runs on; None when no rule names it."""
    allowed: frozenset[str] | None = None
    for pattern, classes in _classes_by_version():
        if pattern.search(version):
            allowed = classes if allowed is None else allowed & classes
    return allowed


def did_you_mean(value: str, choices: frozenset[str] | set[str]) -> str:
    """`; did you mean 'x'?` for the closest choice, or nothing when none is close."""
    close = difflib.get_close_matches(value, sorted(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""
