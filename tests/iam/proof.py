"""The permission proof: every call CloudFormation's handlers declare for the resources of
a compiled spec, checked against the role that deploys them.

- Regional stacks (`<project>-<environment>-<region>`) run as the CloudFormation
  execution role; StackSet instances (`StackSet-<stack set>-<uuid>`, 76 characters and
  more) as the StackSet execution role. Both roles' policies are read from the compiled
  global template, so the proof checks what would be deployed.
- The global stack is deployed by an account administrator, not by these roles: its
  resources are outside the proof.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from compiler import naming
from compiler.assemble import StackTemplate
from compiler.builders.access import EXECUTION_ROLE_ID, STACK_SET_EXECUTION_ROLE_ID
from compiler.pipeline import compile_in_memory
from compiler.spec import InfraSpec
from tests.iam import waivers
from tests.iam.deployment import Call, Deployment, calls
from tests.iam.policy import Decision, evaluate

# What StackSets appends to the stack set's name: `-` and a UUID.
STACK_SET_INSTANCE_SUFFIX = "-0f4c2d1e-8b7a-4c3d-9e2f-1a2b3c4d5e6f"


@dataclass(frozen=True)
class Finding:
    path: str  # "StackSet instance in eu-west-1", "regional stack us-east-1"
    call: Call
    decision: Decision

    def __str__(self) -> str:
        why = f"denied by {self.decision.denied_by}" if self.decision.denied_by else "not allowed"
        undecided = (f" (undecided: {', '.join(sorted(self.decision.undecided))})"
                     if self.decision.undecided else "")  # fmt: skip
        return f"{self.path}: {self.call.describe()}: {why}{undecided}"


def role_statements(global_stack: Deployment, role_id: str) -> list[dict]:
    """Every statement of `role_id`'s inline and attached customer managed policies."""
    statements: list[dict] = []
    role = global_stack.resources[role_id]
    for policy in role.properties.get("Policies", []):
        statements += global_stack.resolve(policy["PolicyDocument"])["Statement"]
    for resource in global_stack.resources.values():
        if resource.type == "AWS::IAM::ManagedPolicy":
            if {"Ref": role_id} in resource.properties.get("Roles", []):
                statements += global_stack.resolve(resource.properties["PolicyDocument"])["Statement"]
    return [_listed_fields(s) for s in statements]


def _listed_fields(statement: dict) -> dict:
    return json.loads(json.dumps(statement))


def stack_set_instance_name(spec: InfraSpec) -> str:
    return naming.stack_set_instance_name_prefix(spec) + STACK_SET_INSTANCE_SUFFIX.lstrip("-")


@dataclass
class Deploy:
    """One stack deployed by one role."""

    path: str
    stack: Deployment
    statements: list[dict]


def deploys(spec: InfraSpec, stacks: list[StackTemplate]) -> list[Deploy]:
    global_template = next(s for s in stacks if s.kind == "global")
    global_stack = Deployment(
        global_template.template.to_dict(), global_template.stack_name, global_template.region
    )
    zone = spec.dns.hosted_zone_id or global_stack.resolve({"Ref": "HostedZone"})
    parameters = {"HostedZoneId": zone}
    execution = role_statements(global_stack, EXECUTION_ROLE_ID)
    stack_set_execution = role_statements(global_stack, STACK_SET_EXECUTION_ROLE_ID)
    out = []
    for stack in stacks:
        if stack.kind == "region":
            template = stack.template.to_dict()
            out.append(
                Deploy(
                    f"regional stack {stack.stack_name}",
                    Deployment(template, stack.stack_name, stack.region, parameters),
                    execution,
                )
            )
        elif stack.kind == "stackset":
            template = stack.template.to_dict()
            for region in spec.regions:
                name = stack_set_instance_name(spec)
                out.append(
                    Deploy(
                        f"StackSet instance {name} in {region.name}",
                        Deployment(template, name, region.name, parameters),
                        stack_set_execution,
                    )
                )
    return out


def prove(deploy: Deploy) -> tuple[list[Finding], set[tuple[str, str]]]:
    """Calls the role may not make (waivers aside), and the waivers that were used."""
    findings: list[Finding] = []
    used: set[tuple[str, str]] = set()
    for resource in deploy.stack.resources.values():
        for call in calls(deploy.stack, resource):
            waiver = waivers.waived(resource.type, call.action)
            if waiver:
                used.add(waiver)
                continue
            decision = evaluate(deploy.statements, call.request)
            if not decision.allowed:
                findings.append(Finding(deploy.path, call, decision))
    return findings, used


def prove_spec(spec_path: Path, environment: str | None = None):
    result = compile_in_memory(spec_path, environment)
    return [prove(d) for d in deploys(result.spec, result.stacks)]
