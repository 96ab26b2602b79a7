"""The example spec, variations of it, and lookups in the templates built from it.

Templates are inspected as CloudFormation sees them (`template.to_dict()`), so a test
checks what is deployed, not how a builder spelled it.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from troposphere import GetAtt, Ref

from compiler.assemble import assemble, build_regional_template
from compiler.builders.handles import KeyHandle
from compiler.context import RegionContext
from compiler.load import load_spec_file
from compiler.spec import InfraSpec, validate_spec

EXAMPLE_SPEC = Path(__file__).resolve().parents[2] / "infra.yaml"
_EXAMPLE = load_spec_file(EXAMPLE_SPEC)

# Files the example spec names relative to itself (scheduled task sources, user data).
EXAMPLE_SIBLINGS = ("tasks", "examples/app")


def copy_example(directory: Path, text: str | None = None) -> Path:
    """The example spec (or `text` in its place) in `directory`, with the files it names."""
    directory.mkdir(parents=True, exist_ok=True)
    for sibling in EXAMPLE_SIBLINGS:
        if (EXAMPLE_SPEC.parent / sibling).is_dir():
            shutil.copytree(EXAMPLE_SPEC.parent / sibling, directory / sibling)
    path = directory / EXAMPLE_SPEC.name
    path.write_text(text if text is not None else EXAMPLE_SPEC.read_text(encoding="utf-8"))
    return path


# What the encryption builder hands the others; builders called alone get this one.
KEY = KeyHandle(key_arn=GetAtt("DataKey", "Arn"), key_id=Ref("DataKey"))


def make_spec(**sections: Any) -> InfraSpec:
    """The example spec with keys of some sections replaced, validated like a real one:
    `make_spec(network={"nat_gateways": "single"}, regions=[...])`."""
    loaded = copy.deepcopy(_EXAMPLE)
    for section, value in sections.items():
        current = loaded.data.get(section)
        if isinstance(value, dict) and isinstance(current, dict):
            loaded.data[section] = {**current, **value}
        else:
            loaded.data[section] = value
    return validate_spec(loaded)


def regional_template(spec: InfraSpec, region: str | None = None) -> dict:
    """The per-region template of `region` (the primary by default), as a dict."""
    ctx = RegionContext.literal(spec, region or spec.primary_region)
    return build_regional_template(spec, ctx, "A regional template under test").to_dict()


def every_template(spec: InfraSpec) -> dict[str, dict]:
    """What `infra compile` writes for `spec`: template path -> template."""
    return {stack.path: stack.template.to_dict() for stack in assemble(spec)}


def regional_templates(spec: InfraSpec) -> dict[str, dict]:
    """The templates of the regional stack: one per region, and the StackSet's."""
    return {
        stack.path: stack.template.to_dict()
        for stack in assemble(spec)
        if stack.kind in ("region", "stackset")
    }


def resources(template: dict, resource_type: str) -> dict[str, dict]:
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def only(template: dict, resource_type: str) -> tuple[str, dict]:
    """The single resource of a type, as (logical ID, properties)."""
    found = resources(template, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    name, resource = next(iter(found.items()))
    return name, resource["Properties"]


def props(template: dict, logical_id: str) -> dict:
    return template["Resources"][logical_id]["Properties"]


def ref(logical_id: str) -> dict:
    return {"Ref": logical_id}


def get_att(logical_id: str, attribute: str) -> dict:
    return {"Fn::GetAtt": [logical_id, attribute]}


def group_id(reference: dict) -> str:
    """The logical ID of a security group named by `Ref` or `GetAtt ... GroupId`."""
    if "Ref" in reference:
        return reference["Ref"]
    logical_id, attribute = reference["Fn::GetAtt"]
    assert attribute == "GroupId", reference
    return logical_id


def walk(node: Any) -> Iterator[Any]:
    """Every value nested in `node`, `node` included, depth first (pre-order).

    A stack, not nested generators: `yield from` passes each value up through every
    level above it, which made walking a template take half as long again."""
    stack = [node]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, dict):
            stack.extend(reversed(node.values()))
        elif isinstance(node, list):
            stack.extend(reversed(node))


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def tier_subnets(template: dict, tier: str) -> list[str]:
    """Logical IDs of a tier's subnets ("Public", "Private", "Database"), AZ order."""
    return sorted(name for name in resources(template, "AWS::EC2::Subnet") if name.startswith(tier))


def route_tables_of(template: dict, subnet: str) -> list[str]:
    return [
        r["Properties"]["RouteTableId"]["Ref"]
        for r in resources(template, "AWS::EC2::SubnetRouteTableAssociation").values()
        if r["Properties"]["SubnetId"] == ref(subnet)
    ]


def routes_of(template: dict, route_table: str) -> list[dict]:
    return [
        r["Properties"]
        for r in resources(template, "AWS::EC2::Route").values()
        if r["Properties"]["RouteTableId"] == ref(route_table)
    ]


def policy_documents(template: dict) -> Iterator[tuple[str, dict]]:
    """Every IAM policy document of the template, as (where, document)."""
    for name, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            yield f"{name}.AssumeRolePolicyDocument", properties["AssumeRolePolicyDocument"]
            for policy in properties.get("Policies", []):
                yield f"{name}.{policy['PolicyName']}", policy["PolicyDocument"]
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            yield name, properties["PolicyDocument"]


def resource_policy_documents(template: dict) -> Iterator[tuple[str, dict]]:
    """Policies attached to resources (keys, buckets), where Principal matters."""
    for name, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        for key in ("KeyPolicy", "PolicyDocument"):
            if key in properties and not resource["Type"].startswith("AWS::IAM::"):
                yield name, properties[key]
