"""moto_server with the CloudFormation gaps that stop one unchanged `deploy.sh` run closed
in-process: run as `python tests/deploy/moto_launcher.py -H 127.0.0.1 -p PORT` (what
`emulator.start_moto_server` starts), it imports moto, applies the patches below, then
runs moto's own server.

Test-only, like moto_shim.py (which rewrites templates on a copy) and for the same reason:
the shipped deploy.sh and templates are written for AWS; where moto 5.2 answers what
CloudFormation does not, the emulator is made to answer as CloudFormation does, one
documented patch per gap, each naming what CloudFormation does instead. Delete a patch
once moto closes its gap. Nothing here is imported by the product or by the tests: it
runs only in the server process.
"""

from __future__ import annotations

import sys
from typing import Any

from moto import server
from moto.cloudformation import models, parsing, responses
from moto.cloudformation.exceptions import ValidationError
from moto.core.responses import ActionResult

# What CloudFormation writes on a failed resource, before the handler's message.
HANDLER_MESSAGE = 'Resource handler returned message: "{}"'


class ResourceCreateFailed(Exception):
    """A resource's create failed: which one, its type and why (moto's own message)."""

    def __init__(self, logical_id: str, resource_type: str, cause: BaseException):
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.reason = HANDLER_MESSAGE.format(getattr(cause, "message", None) or cause)
        super().__init__(f"{logical_id}: {self.reason}")


# --- Gap: a resource that fails to create is an HTTP 500, not a rolled-back stack --------

_create_resource = parsing.parse_and_create_resource


def create_resource_naming_failures(logical_id: str, resource_json: dict, *args, **kwargs):
    """moto's parse_and_create_resource, but a failure names the resource that failed.

    Moto gap: an exception while creating a resource escapes ExecuteChangeSet as HTTP 500
    and leaves the stack half made in CREATE_IN_PROGRESS; nothing says which resource
    failed. CloudFormation records a CREATE_FAILED event on that resource with the
    handler's message as its reason (see `execute_change_set`)."""
    try:
        return _create_resource(logical_id, resource_json, *args, **kwargs)
    except ResourceCreateFailed:
        raise
    except Exception as error:  # noqa: BLE001 - any handler failure is the resource's
        raise ResourceCreateFailed(logical_id, resource_json["Type"], error) from error


def resource_event(stack: models.Stack, logical_id: str, resource_type: str, status: str,
                   reason: str | None, physical_id: str = "") -> None:  # fmt: skip
    stack.events.append(
        models.Event(
            stack_id=stack.stack_id,
            stack_name=stack.name,
            logical_resource_id=logical_id,
            physical_resource_id=physical_id,
            resource_type=resource_type,
            resource_status=status,
            resource_status_reason=reason,
            resource_properties=None,
        )
    )


def roll_back_create(stack: models.Stack, failed: ResourceCreateFailed) -> None:
    """What CloudFormation does after a resource of a new stack failed (the default
    `--on-failure ROLLBACK`, which `aws cloudformation deploy` uses): the resource's
    CREATE_FAILED event with the handler's reason; the stack ROLLBACK_IN_PROGRESS ("The
    following resource(s) failed to create: [X]. Rollback requested by user."); every
    resource it made deleted, but those whose DeletionPolicy is Retain; ROLLBACK_COMPLETE,
    a stack that can only be deleted (ROLLBACK_FAILED when a resource cannot be deleted)."""
    resource_event(stack, failed.logical_id, failed.resource_type, "CREATE_FAILED", failed.reason)
    stack._add_stack_event(
        "ROLLBACK_IN_PROGRESS",
        resource_status_reason=f"The following resource(s) failed to create: "
        f"[{failed.logical_id}]. Rollback requested by user.",
    )
    stack.status = "ROLLBACK_IN_PROGRESS"
    made = {
        logical_id: resource
        for logical_id, resource in stack.resource_map._parsed_resources.items()
        if logical_id in stack.resource_map._resource_json_map
    }
    try:
        delete_resources(stack.resource_map, keep=("Retain",))
    except Exception as error:  # noqa: BLE001 - what CloudFormation does when it cannot
        stack._add_stack_event("ROLLBACK_FAILED", resource_status_reason=str(error))
        stack.status = "ROLLBACK_FAILED"
        return
    for logical_id, resource in made.items():
        policy = stack.resource_map._resource_json_map[logical_id].get("DeletionPolicy")
        status = "DELETE_SKIPPED" if policy == "Retain" else "DELETE_COMPLETE"
        resource_type = stack.resource_map._resource_json_map[logical_id]["Type"]
        physical = getattr(resource, "physical_resource_id", "") or ""
        resource_event(stack, logical_id, resource_type, status, None, str(physical))
    stack._add_stack_event("ROLLBACK_COMPLETE")
    stack.status = "ROLLBACK_COMPLETE"


# --- Gap: DeletionPolicy RetainExceptOnCreate is not known ----------------------------

_KEEP = ("Retain", "RetainExceptOnCreate")


def delete_resources(resource_map: parsing.ResourceMap, keep: tuple[str, ...] = _KEEP) -> None:
    """moto's ResourceMap.delete, keeping the resources whose DeletionPolicy is in `keep`.

    Moto gap: moto keeps a resource only if its policy is exactly Retain, so it deletes a
    RetainExceptOnCreate one with its stack. CloudFormation keeps it on delete-stack and
    deletes it when the create that made it is rolled back (`roll_back_create`)."""
    json_map = resource_map._resource_json_map
    hidden = {k: v for k, v in json_map.items() if v.get("DeletionPolicy") in keep}
    resource_map._resource_json_map = {
        k: {**v, "DeletionPolicy": "Retain"} if k in hidden else v for k, v in json_map.items()
    }
    try:
        _resource_map_delete(resource_map)
    finally:
        resource_map._resource_json_map = json_map


_resource_map_delete = parsing.ResourceMap.delete


# --- Gap: stack outputs stay empty after a change set is executed ----------------------


def execute_change_set(
    self: models.CloudFormationBackend, change_set_name: str, stack_name: str | None = None
) -> None:
    """moto's execute_change_set, with the stack left as CloudFormation leaves it.

    Moto gaps closed here:
    - the stack keeps the empty template and output map it was made with for a CREATE
      change set, so `describe-stacks` answers no Outputs after `aws cloudformation
      deploy` (and after an UPDATE, the old ones) and `get-template` the old template:
      the template, its parameters and outputs are the change set's afterwards;
    - the stack's parameters stay the first change set's, so the next unchanged deploy
      is compared against stale values (see `has_parameters`);
    - a failed resource makes HTTP 500 (see `roll_back_create`).
    """
    change_set = self.describe_change_set(change_set_name)
    stack = self.stacks[change_set.stack_id]
    kind = change_set.change_set_type
    stack._add_stack_event(f"{kind}_IN_PROGRESS", resource_status_reason="User Initiated")
    stack.status = f"{kind}_IN_PROGRESS"
    stack.template = change_set.template
    stack._parse_template()
    stack.description = stack.template_dict.get("Description")
    stack.parameters = change_set.parameters
    if change_set.role_arn:
        stack.role_arn = change_set.role_arn
    try:
        change_set.apply()
    except ResourceCreateFailed as failed:
        change_set.execution_status = "EXECUTE_FAILED"
        if kind != "CREATE":
            raise  # an update's rollback is not modelled: fail loudly
        roll_back_create(stack, failed)
        return
    stack.output_map = stack._create_output_map()
    stack._add_stack_event(f"{kind}_COMPLETE")
    stack.status = f"{kind}_COMPLETE"
    change_set.execution_status = "EXECUTE_COMPLETE"


def outputs(self: models.Stack) -> list[dict[str, Any]] | None:
    """moto's Stack.outputs, leaving out an output moto cannot evaluate.

    Moto gap: an output that `Fn::GetAtt`s an attribute of a type moto accepts but does
    not model fails the whole `describe-stacks` with HTTP 500; CloudFormation has a value
    for every output. Leaving it out is what a reader of that output would see of a stack
    without it; the deploy tests read none of those."""
    found = []
    for key in list(self.output_map):
        try:
            output = self.output_map[key]
        except Exception:  # noqa: BLE001, S112 - unmodelled attribute, see above
            continue
        if output:
            found.append(
                {"OutputKey": output.key, "OutputValue": output.value,
                 "Description": output.description}
            )  # fmt: skip
    return found or None


# --- Gap: an unchanged template is refused instead of answered with a FAILED change set --


def no_validation_of_unchanged_updates(self, *args: Any, **kwargs: Any) -> None:
    """Moto gap: CreateChangeSet with the stack's own template and parameters (sent as
    TemplateBody) is refused with ValidationError "No updates are to be performed.".
    CloudFormation makes the change set and fails it with "The submitted information
    didn't contain changes. Submit different information to create a change set.", which
    `aws cloudformation deploy --no-fail-on-empty-changeset` reports as up to date.
    moto's backend already answers so (it compares template and parameters itself)."""


def effective_parameters(template: dict, given: dict[str, Any]) -> dict[str, Any]:
    """Each declared parameter's value: as given, else its default."""
    declared = template.get("Parameters") or {}
    return {name: given.get(name, spec.get("Default")) for name, spec in declared.items()}


def has_parameters(self: models.Stack, other_parameters: dict[str, Any]) -> bool:
    """Moto gap: moto compares the parameters given now with those given when the stack
    was made, as given: a parameter left at its default then and passed as
    `UsePreviousValue` now (what `aws cloudformation deploy` does for every parameter it
    is not given) counts as a change, so an unchanged deploy executes a change set.
    CloudFormation compares the values: each given one, else the default."""
    return effective_parameters(self.template_dict, self.parameters) == effective_parameters(
        self.template_dict, other_parameters
    )


def stack_parameters(self: models.Stack) -> dict[str, Any]:
    """Moto gap: `UsePreviousValue` takes the parameter's *resolved* value: an
    SSM-typed parameter's value (an AMI ID) is then resolved again as an SSM path (HTTP
    500 on every update), and a list parameter's value is a Python list. CloudFormation
    keeps the previous value as given (the path; the comma-separated string)."""
    return effective_parameters(self.template_dict, self.resource_map.input_parameters)


# --- Gap: no UpdateTerminationProtection ---------------------------------------------


def update_termination_protection(self: responses.CloudFormationResponse) -> ActionResult:
    """Moto gap: moto has no UpdateTerminationProtection (deploy.sh sets it after every
    stack). Stored on the stack as CloudFormation does; `delete_stack` refuses a protected
    stack as CloudFormation does."""
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    stack.enable_termination_protection = self._get_bool_param("EnableTerminationProtection")
    return ActionResult({"StackId": stack.stack_id})


_delete_stack = models.CloudFormationBackend.delete_stack


def delete_stack(self: models.CloudFormationBackend, name_or_stack_id: str) -> None:
    for stack in list(self.stacks.values()):
        if name_or_stack_id in (stack.name, stack.stack_id) and (
            stack.enable_termination_protection
        ):
            raise ValidationError(
                stack.stack_id,
                message=f"Stack [{stack.name}] cannot be deleted while TerminationProtection "
                "is enabled",
            )
    _delete_stack(self, name_or_stack_id)


def apply_patches() -> None:
    parsing.parse_and_create_resource = create_resource_naming_failures
    models.CloudFormationBackend.execute_change_set = execute_change_set
    models.CloudFormationBackend.delete_stack = delete_stack
    parsing.ResourceMap.delete = delete_resources
    models.Stack.outputs = property(outputs)
    models.Stack.has_parameters = has_parameters
    models.Stack.stack_parameters = property(stack_parameters)
    responses.CloudFormationResponse._validate_different_update = no_validation_of_unchanged_updates
    responses.CloudFormationResponse.update_termination_protection = update_termination_protection


if __name__ == "__main__":
    apply_patches()
    server.main(sys.argv[1:])
