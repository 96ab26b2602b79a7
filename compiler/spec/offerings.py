"""What AWS offers where: EC2 instance types and RDS PostgreSQL classes and versions.

Read from the data cfn-lint ships (gathered by its maintainers from the AWS pricing and
RDS APIs), the same files its rules E3628, E3025, E3062, E3691 and W3691 check compiled
templates against. Reading them here, rather than keeping a copy, means `validate` and
the lint can never disagree: whatever cfn-lint would flag, `validate` refuses first,
at the spec's own line and with a did-you-mean instead of a list of 800 values.

The RDS files are 9 MB of JSON; what PostgreSQL needs of them is extracted once per
installed cfn-lint and kept in the cache directory (see `_postgres`).
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import importlib.util
import re
from pathlib import Path
from typing import Any

import orjson

from compiler.caches import cache_root, write_entry

_EC2 = "aws_ec2_instance"
_RDS = "aws_rds_dbinstance"
# The compiler's DB instance (builders/database.py): Engine postgres, no LicenseModel.
ENGINE = "postgres"


def _extensions_dir() -> Path:
    # Found, not imported: importing cfnlint takes over a second, which `validate` must
    # not pay (see compiler/lint.py).
    found = importlib.util.find_spec("cfnlint")
    if found is None or not found.submodule_search_locations:
        raise ModuleNotFoundError("cfn-lint is not installed; it is a dependency of infra")
    return Path(next(iter(found.submodule_search_locations))) / "data/schemas/extensions"


def _read(folder: str, name: str) -> Any:
    return orjson.loads((_extensions_dir() / folder / name).read_bytes())


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


def _then_enum(rule: Any, prop: str) -> list[str] | None:
    then = rule.get("then") if isinstance(rule, dict) else None
    if not isinstance(then, dict):
        return None
    return then.get("properties", {}).get(prop, {}).get("enum")


def _postgres_rule(rule: Any) -> dict | None:
    """The `if` properties of a rule about Engine postgres, else None."""
    properties = rule.get("if", {}).get("properties", {}) if isinstance(rule, dict) else {}
    return properties if properties.get("Engine", {}).get("const") == ENGINE else None


def _intersect(found: list[str] | None, enum: list[str]) -> list[str]:
    # rules apply together (allOf): a value must be in every matching rule's list
    return sorted(enum if found is None else set(found) & set(enum))


_RDS_FILES = (
    "dbinstanceclass_enum.json",
    "db_instance_class.json",
    "engine_version.json",
    "engine_version_deprecated.json",
)


def _extract_postgres() -> dict[str, Any]:
    """What the compiler's DB instance needs of cfn-lint's 9 MB of RDS rules."""
    classes: dict[str, list[str]] = {}
    for region, body in _read(_RDS, _RDS_FILES[0]).items():
        for rule in body.get("allOf", []) if isinstance(body, dict) else []:
            properties, enum = _postgres_rule(rule), _then_enum(rule, "DBInstanceClass")
            # the rule for templates without a LicenseModel, as the compiler writes them
            if properties and properties.get("LicenseModel") is False and enum is not None:
                classes[region] = _intersect(classes.get(region), enum)
    by_version = []
    for rule in _read(_RDS, _RDS_FILES[1]).get("allOf", []):
        properties, enum = _postgres_rule(rule), _then_enum(rule, "DBInstanceClass")
        pattern = (properties or {}).get("EngineVersion", {}).get("pattern")
        if pattern and enum is not None:
            by_version.append([pattern, sorted(enum)])
    known: list[str] | None = None
    for rule in _read(_RDS, _RDS_FILES[2]).get("allOf", []):
        enum = _then_enum(rule, "EngineVersion")
        if _postgres_rule(rule) is not None and enum is not None:
            known = _intersect(known, enum)
    deprecated: set[str] = set()
    for rule in _read(_RDS, _RDS_FILES[3]).get("allOf", []):
        properties = _postgres_rule(rule)
        if properties is not None and rule.get("then") is False:
            deprecated.update(properties.get("EngineVersion", {}).get("enum", []))
    return {
        "classes": classes,
        "by_version": by_version,
        "known": known,
        "deprecated": sorted(deprecated),
    }


def _is_table(table: Any) -> bool:
    def strings(value: Any) -> bool:
        # the types of 20,000 items, as a set: a third of the time of one isinstance each
        return isinstance(value, list) and set(map(type, value)) <= {str}

    return (
        isinstance(table, dict)
        and isinstance(table.get("classes"), dict)
        and all(strings(value) for value in table["classes"].values())
        and isinstance(table.get("by_version"), list)
        and all(
            isinstance(pair, list)
            and len(pair) == 2
            and isinstance(pair[0], str)
            and strings(pair[1])
            for pair in table["by_version"]
        )
        and (table.get("known") is None or strings(table.get("known")))
        and strings(table.get("deprecated"))
    )


@functools.cache
def _postgres() -> dict[str, Any]:
    """`_extract_postgres()`, kept in the cache directory for the installed cfn-lint's
    files: parsing them takes a tenth of a second, reading the extract a millisecond.
    An entry that does not read back as a table is ignored and written again."""
    folder = _extensions_dir() / _RDS
    stamps = [str(folder)]
    for name in _RDS_FILES:
        stat = (folder / name).stat()
        stamps.append(f"{name}:{stat.st_size}:{stat.st_mtime_ns}")
    digest = hashlib.sha256("\n".join(stamps).encode()).hexdigest()
    entry = cache_root() / "offerings" / f"postgres-{digest}.json"
    try:
        table = orjson.loads(entry.read_bytes())
        if _is_table(table):
            return table
    except (OSError, orjson.JSONDecodeError):
        pass
    table = _extract_postgres()
    write_entry(entry, orjson.dumps(table))
    return table


@functools.cache
def db_instance_classes(region: str) -> frozenset[str] | None:
    """The PostgreSQL instance classes RDS offers in `region`; None without data."""
    classes = _postgres()["classes"].get(region)
    return None if classes is None else frozenset(classes)


def engine_versions() -> frozenset[str] | None:
    """PostgreSQL versions RDS can create an instance with (deprecated ones left out)."""
    known = _postgres()["known"]
    return None if known is None else frozenset(known) - frozenset(_postgres()["deprecated"])


def is_deprecated(version: str) -> bool:
    return version in _postgres()["deprecated"]


@functools.cache
def _version_patterns() -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(pattern) for pattern, _ in _postgres()["by_version"])


def classes_for_version(version: str) -> frozenset[str] | None:
    """The instance classes PostgreSQL `version` runs on; None when no rule names it."""
    allowed: frozenset[str] | None = None
    # a set of classes is made for the rules that match only, one or two of 70
    for pattern, (_, classes) in zip(_version_patterns(), _postgres()["by_version"], strict=True):
        if pattern.search(version):
            allowed = frozenset(classes) if allowed is None else allowed & frozenset(classes)
    return allowed


def did_you_mean(value: str, choices: frozenset[str] | set[str]) -> str:
    """`; did you mean 'x'?` for the closest choice, or nothing when none is close."""
    close = difflib.get_close_matches(value, sorted(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""
