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
from tests.iam.policy import Decision, Policy, Request, evaluate

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
                statements += global_stack.resolve(resource.properties["PolicyDocument"])[
                    "Statement"
                ]
    return [_listed_fields(s) for s in statements]


def _listed_fields(statement: dict) -> dict:
    return json.loads(json.dumps(statement))  # a copy the caller may change


def stack_set_instance_name(spec: InfraSpec) -> str:
    return naming.stack_set_instance_name_prefix(spec) + STACK_SET_INSTANCE_SUFFIX.lstrip("-")


@dataclass
class Deploy:
    """One stack deployed by one role."""

    path: str
    stack: Deployment
    statements: list[dict]
    _calls: list[Call] | None = None
    _policy: Policy | None = None

    def calls(self) -> list[Call]:
        """Every handler call of every resource, worked out once."""
        if self._calls is None:
            self._calls = [c for r in self.stack.resources.values() for c in calls(self.stack, r)]
        return self._calls

    def policy(self) -> Policy:
        """The role's statements, ready for the many requests of `prove`, made once."""
        if self._policy is None:
            self._policy = Policy(self.statements)
        return self._policy


def deploys(
    spec: InfraSpec, stacks: list[StackTemplate], global_template: dict | None = None
) -> list[Deploy]:
    """Each regional stack with the execution role, each StackSet instance with the StackSet
    execution role. `global_template`: the global template as a dict, to prove a changed one."""
    global_stack_template = next(s for s in stacks if s.kind == "global")
    global_stack = Deployment(
        global_template or global_stack_template.template.to_dict(),
        global_stack_template.stack_name,
        global_stack_template.region,
    )
    zone = spec.dns.hosted_zone_id or global_stack.resolve({"Ref": "HostedZone"})
    # A service-managed StackSet template also takes each account's record name (its SSM
    # parameter); the spec's stands in. Its instances are deployed by the service-managed
    # execution role of each member account, not by this stack's StackSet execution role: the
    # proof still checks the template's calls against that role, as for self-managed.
    parameters = {"HostedZoneId": zone, "RecordName": spec.dns.record_name}
    execution = role_statements(global_stack, EXECUTION_ROLE_ID)
    stack_set_execution = role_statements(global_stack, STACK_SET_EXECUTION_ROLE_ID)
    out = []
    for stack in stacks:
        if stack.kind == "region":
            deployment = Deployment(
                stack.template.to_dict(), stack.stack_name, stack.region, parameters
            )
            out.append(Deploy(f"regional stack {stack.stack_name}", deployment, execution))
        elif stack.kind == "stackset":
            template = stack.template.to_dict()
            name = stack_set_instance_name(spec)
            for region in spec.regions:
                deployment = Deployment(template, name, region.name, parameters)
                path = f"StackSet instance {name} in {region.name}"
                out.append(Deploy(path, deployment, stack_set_execution))
    return out


def prove(deploy: Deploy) -> tuple[list[Finding], set[tuple[str, str]]]:
    """Calls the role may not make (waivers aside), and the waivers that were used."""
    findings: list[Finding] = []
    used: set[tuple[str, str]] = set()
    for call in deploy.calls():
        waiver = waivers.waived(call.resource.type, call.action, call.resource.properties)
        if waiver:
            used.add(waiver)
            continue
        decision = evaluate(deploy.policy(), call.request)
        if not decision.allowed:
            findings.append(Finding(deploy.path, call, decision))
    return findings, used


def compiled(spec_path: Path, environment: str | None = None):
    result = compile_in_memory(spec_path, environment)
    return result.spec, result.stacks


def prove_spec(spec_path: Path, environment: str | None = None):
    spec, stacks = compiled(spec_path, environment)
    return [prove(d) for d in deploys(spec, stacks)]


OTHER_PROJECT, OTHER_ENVIRONMENT = "other", "prod"
# Services whose writes must be contained by the project tag or name (issue #12).
CONTAINED_SERVICES = ("ec2", "rds", "elasticloadbalancing", "kms", "iam", "events")
READ_PREFIXES = ("describe", "get", "list")


def foreign_request(spec: InfraSpec, call: Call) -> Request | None:
    """The same write on another project's resource (its tag, its names, its path), or
    None when the call is a read or is authorised on none of the template's resources."""
    service, _, name = call.action.lower().partition(":")
    if service not in CONTAINED_SERVICES or name.startswith(READ_PREFIXES):
        return None
    related = {arn for arn, _ in call.resource.related.values()}
    if call.request.resource not in {*call.resource.arns.values(), *related}:
        return None
    ours, theirs = naming.name_prefix(spec), f"{OTHER_PROJECT}-{OTHER_ENVIRONMENT}"
    resource = call.request.resource.replace(
        naming.iam_path(spec), f"/{OTHER_PROJECT}/{OTHER_ENVIRONMENT}/"
    )
    resource = resource.replace(ours, theirs).replace(ours.lower(), theirs)
    context = {
        key: ([theirs] if key.endswith(f"Tag/{naming.PROJECT_TAG}") else values)
        for key, values in call.request.context.items()
    }
    if not any(key.endswith(f"Tag/{naming.PROJECT_TAG}") for key in context):
        # a call on a resource not tagged yet: theirs exists, with their tag
        context[f"aws:ResourceTag/{naming.PROJECT_TAG}"] = [theirs]
    return Request(call.action, resource, context, call.request.decided)


def writable_foreign(deploy: Deploy, spec: InfraSpec) -> list[str]:
    """Writes the role may make on another project's resources, waivers aside."""
    found = []
    for call in deploy.calls():
        request = foreign_request(spec, call)
        if request is None or waivers.uncontained(call.resource.type, call.action):
            continue
        decision = evaluate(deploy.policy(), request)
        if decision.allowed:
            found.append(
                f"{deploy.path}: {call.describe()} -> {request.resource} "
                f"allowed by {decision.allowed_by}"
            )
    return found
