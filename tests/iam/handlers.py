"""What CloudFormation's resource handlers declare they call, and what IAM authorises
each call on: both read from the data cfn-lint ships.

- `handlers.<create|read|update|delete|list>.permissions` of each resource provider
  schema (`cfnlint/data/schemas/providers/<region>.json` maps a type to its schema file
  under `resources/`); only the types a template uses are loaded.
- `AdditionalSpecs/Policies.json`, the Service Authorization Reference as data: for each
  action, the IAM resource types it is authorised on, and each type's ARN format.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import cfnlint

DATA = Path(cfnlint.__file__).parent / "data"
SCHEMAS = DATA / "schemas"
OPERATIONS = ("create", "read", "update", "delete", "list")


@cache
def provider_index(region: str) -> dict[str, str]:
    return json.loads((SCHEMAS / "providers" / f"{region}.json").read_text())


@cache
def handler_permissions(
    resource_type: str, region: str = "us-east-1"
) -> dict[str, tuple[str, ...]]:
    """Operation -> the actions its handler declares (empty for types without handlers)."""
    schema_id = provider_index(region).get(resource_type)
    if schema_id is None:
        raise KeyError(f"cfn-lint ships no schema for {resource_type} in {region}")
    schema = json.loads((SCHEMAS / "resources" / f"{schema_id}.json").read_text())
    handlers = schema.get("handlers", {})
    return {
        operation: tuple(handlers.get(operation, {}).get("permissions", ()))
        for operation in OPERATIONS
    }


@cache
def _policies() -> dict:
    return json.loads((DATA / "AdditionalSpecs" / "Policies.json").read_text())


def action_resource_types(action: str) -> tuple[str, ...] | None:
    """The IAM resource types `service:Action` is authorised on; () for actions AWS does
    not scope by resource; None when the reference does not know the action."""
    service, _, name = action.lower().partition(":")
    entry = _policies().get(service, {}).get("Actions", {}).get(name)
    if entry is None:
        return None
    return tuple(t.lower() for t in entry.get("Resources", ()))


@cache
def arn_service(service: str, resource_type: str) -> str:
    """The service an action of `service` names in the ARN of `resource_type` (WAF's
    `loadbalancer/app/` is an `elasticloadbalancing` ARN)."""
    for name, entry in _policies().get(service.lower(), {}).get("Resources", {}).items():
        if name.lower() == resource_type.lower():
            for arn_format in entry.get("ARNFormats", ()):
                return arn_format.split(":")[2]
    return service.lower()


def known_actions(service: str) -> list[str]:
    return sorted(_policies().get(service.lower(), {}).get("Actions", {}))
