"""Turns assembled templates into the exact bytes written to disk, plus the manifest
and deploy.sh (both from one deploy plan, see `deploy_plan`).

Everything here is deterministic: key order follows the builders, lists keep their
order, and no timestamp or absolute path enters the output.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import orjson
from troposphere import AWSHelperFn, BaseAWSObject, Template

from compiler.assemble import StackTemplate
from compiler.deploy_bootstrap import BOOTSTRAP_TEMPLATE, bootstrap_template
from compiler.deploy_plan import (
    TEMPLATE_BODY_LIMIT,
    DeployPlan,
    bootstrap_fields,
    failover_fields,
    manifest_fields,
    plan_deploy,
)
from compiler.deploy_script import SCRIPT_PATH, render_deploy_script
from compiler.json_text import to_json_bytes
from compiler.spec import InfraSpec
from compiler.stackset_permissions import POLICY_PATH, stack_set_admin_policy


@dataclass(frozen=True)
class RenderedFile:
    path: str  # relative to the output directory, with forward slashes
    content: bytes
    executable: bool = False  # written with mode 0o755 (deploy.sh)


def one_entry_a_line(data: dict) -> bytes:
    """JSON without indentation, each entry of each top-level section on a line of its own
    (so a diff still shows which resource changed)."""

    def compact(value) -> str:
        return orjson.dumps(value).decode("utf-8")

    sections = []
    for key, value in data.items():
        if isinstance(value, dict) and value:
            entries = ",\n".join(f"{compact(k)}:{compact(v)}" for k, v in value.items())
            sections.append(f"{compact(key)}:{{\n{entries}\n}}")
        else:
            sections.append(f"{compact(key)}:{compact(value)}")
    return ("{\n" + ",\n".join(sections) + "\n}\n").encode("utf-8")


def template_data(template: Template) -> dict:
    """`template.to_dict()`, in a third of the time (tests/test_render.py compares them).

    troposphere encodes each object's properties into plain data and then walks that
    result again at every level above it, so a value nested ten deep is visited ten
    times: two thirds of rendering. Here each object is encoded once, with the same
    validation (`_validate_props`, `validate`) in the same order; any object whose class
    encodes itself differently is left to its own `to_dict`."""
    top: dict = {}
    for key, value in (
        ("Description", template.description),
        ("Metadata", template.metadata),
        ("Conditions", template.conditions),
        ("Mappings", template.mappings),
        ("Outputs", template.outputs),
        ("Parameters", template.parameters),
        ("AWSTemplateFormatVersion", template.version),
        ("Transform", template.transform),
        ("Rules", template.rules),
        ("Globals", template.globals),
    ):
        if value:
            top[key] = value
    top["Resources"] = template.resources
    return _plain(top)


_SCALARS = (str, int, float, bool, type(None))


def _plain(value):
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, BaseAWSObject) and type(value).to_dict is BaseAWSObject.to_dict:
        if value.do_validation:
            value._validate_props()
            value.validate()
        if value.properties:
            return _plain(value.resource)
        if hasattr(value, "resource_type"):
            return {k: _plain(v) for k, v in value.resource.items() if k != "Properties"}
        return {}
    if isinstance(value, AWSHelperFn) and type(value).to_dict is AWSHelperFn.to_dict:
        return _plain(value.data)
    if hasattr(value, "to_dict"):
        return _plain(value.to_dict())
    if hasattr(value, "JSONrepr"):  # awacs policy objects
        return _plain(value.JSONrepr())
    return value


def template_bytes(stack: StackTemplate) -> bytes:
    """Indented JSON, but the global stack one resource a line when indentation would take
    it over the `TemplateBody` limit: it creates the template bucket, so it cannot use one."""
    data = template_data(stack.template)
    content = to_json_bytes(data)
    if stack.kind == "global" and len(content) > TEMPLATE_BODY_LIMIT:
        return one_entry_a_line(data)
    return content


def manifest_entry(stack: StackTemplate, content: bytes) -> dict:
    return {
        "stack_name": stack.stack_name,
        "kind": stack.kind,
        "region": stack.region,
        "template": stack.path,
        "sha256": hashlib.sha256(content).hexdigest(),
        "resources": len(stack.template.resources),
        "bytes": len(content),
    }


def manifest(plan: DeployPlan, entries: list[dict]) -> dict:
    """Every stack in deploy order: its file, and how it is deployed with what values."""
    planned = {stack.template: stack for stack in plan.stacks}
    return {
        "version": 1,
        "deploy_script": SCRIPT_PATH,
        "tags": dict(plan.tags),
        "stacks": [{**entry, **manifest_fields(planned[entry["template"]])} for entry in entries],
        **failover_fields(plan),
        **bootstrap_fields(plan),
    }


def render(stacks: list[StackTemplate], spec: InfraSpec) -> list[RenderedFile]:
    """Template files, then `manifest.json` listing them in deploy order, then the bootstrap
    template and deploy.sh; for a service-managed StackSet, the policy its administrator
    needs."""
    files: list[RenderedFile] = []
    entries = []
    for stack in stacks:
        content = template_bytes(stack)
        files.append(RenderedFile(stack.path, content))
        entries.append(manifest_entry(stack, content))
    plan = plan_deploy(
        spec, stacks, {entry["template"]: (entry["bytes"], entry["sha256"]) for entry in entries}
    )
    files.append(RenderedFile("manifest.json", to_json_bytes(manifest(plan, entries))))
    files.append(
        RenderedFile(BOOTSTRAP_TEMPLATE, to_json_bytes(template_data(bootstrap_template(spec))))
    )
    script = render_deploy_script(plan).encode("utf-8")
    files.append(RenderedFile(SCRIPT_PATH, script, executable=True))
    if spec.stackset.service_managed:
        policy = stack_set_admin_policy(spec)
        files.append(RenderedFile(POLICY_PATH, to_json_bytes(policy)))
    return files
