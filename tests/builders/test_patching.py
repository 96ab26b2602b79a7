"""Patching: the baseline of the instances' patch group, and a maintenance window that runs
AWS-RunPatchBaseline on the Auto Scaling group's instances, a share at a time."""

from __future__ import annotations

import pytest
from troposphere import GetAtt, Ref

from compiler.builders.handles import BucketRef, ComputeHandle, StorageHandle
from compiler.builders.patching import build_patching
from compiler.context import RegionContext
from compiler.load import load_spec_text
from compiler.spec import validate_spec

from .example import (
    EXAMPLE_SPEC,
    as_list,
    get_att,
    make_spec,
    only,
    policy_documents,
    ref,
    regional_template,
    regional_templates,
    resources,
)

ASG = "AutoScalingGroup"


@pytest.fixture(scope="module")
def template():
    return regional_template(make_spec())


def patch_group_tag(template: dict) -> str:
    _, group = only(template, "AWS::AutoScaling::AutoScalingGroup")
    (tag,) = [t for t in group["Tags"] if t["Key"] == "PatchGroup"]
    assert tag["PropagateAtLaunch"] is True  # the instances carry it, not just the group
    return tag["Value"]


def test_builder_hands_out_the_window_and_baseline():
    spec = make_spec()
    logs = BucketRef("logs", Ref("LogsBucket"), GetAtt("LogsBucket", "Arn"))
    storage = StorageHandle([], logs, "LogsBucketPolicy", "patching")
    compute = ComputeHandle(Ref(ASG), Ref("InstanceRole"), "storefront-production-web")
    built = build_patching(spec, RegionContext.literal(spec, "us-east-1"), compute, storage)
    assert built.handle.maintenance_window_id.to_dict() == ref("PatchingWindow")
    assert built.handle.patch_baseline_id.to_dict() == ref("PatchBaseline")


AUTOMATION = "PatchingAutomation"


def automation(template: dict) -> dict:
    document = template["Resources"][AUTOMATION]["Properties"]
    assert document["DocumentType"] == "Automation"
    return document["Content"]


def steps(template: dict) -> dict[str, dict]:
    return {step["name"]: step for step in automation(template)["mainSteps"]}


def test_patch_command_selects_the_groups_instances_by_its_tag(template):
    patch = steps(template)["InstallPatches"]
    assert patch["action"] == "aws:runCommand"
    # Auto Scaling tags every instance it launches with the group's name; users cannot set
    # `aws:` tags, so nothing outside the group is patched.
    assert patch["inputs"]["Targets"] == [
        {"Key": "tag:aws:autoscaling:groupName", "Values": [ref(ASG)]}
    ]
    # the window has no targets of its own: nothing else it could reach
    assert not resources(template, "AWS::SSM::MaintenanceWindowTarget")


def test_task_runs_the_automation_that_installs_and_reboots_if_needed(template):
    name, task = only(template, "AWS::SSM::MaintenanceWindowTask")
    assert task["WindowId"] == ref("PatchingWindow")
    assert (task["TaskType"], task["TaskArn"]) == ("AUTOMATION", ref(AUTOMATION))
    parameters = task["TaskInvocationParameters"]["MaintenanceWindowAutomationParameters"]
    assert parameters["Parameters"] == {
        "AutomationAssumeRole": [get_att("PatchingWindowRole", "Arn")]
    }
    patch = steps(template)["InstallPatches"]["inputs"]
    assert patch["DocumentName"] == "AWS-RunPatchBaseline"
    assert patch["Parameters"] == {"Operation": ["Install"], "RebootOption": ["RebootIfNeeded"]}
    assert (patch["MaxConcurrency"], patch["MaxErrors"]) == ("50%", "1")
    # the window must not start the automation before it may
    assert template["Resources"][name]["DependsOn"] == ["PatchingStartPolicy"]


def test_health_replacement_is_suspended_around_patching_and_always_resumed(template):
    content = automation(template)
    order = [step["name"] for step in content["mainSteps"]]
    assert order == [
        "SuspendHealthReplacement", "InstallPatches", "WaitForRecovery", "ResumeHealthReplacement",
    ]  # fmt: skip
    by_name = steps(template)
    for name, api in (("SuspendHealthReplacement", "SuspendProcesses"),
                      ("ResumeHealthReplacement", "ResumeProcesses")):  # fmt: skip
        inputs = by_name[name]["inputs"]
        assert (inputs["Service"], inputs["Api"]) == ("autoscaling", api)
        assert inputs["AutoScalingGroupName"] == ref(ASG)
        assert inputs["ScalingProcesses"] == ["HealthCheck", "ReplaceUnhealthy"]
    # A failed or cancelled patch or wait still ends in the resume step; a failed suspend
    # stops before anything was patched.
    resume = "step:ResumeHealthReplacement"
    assert by_name["InstallPatches"]["onFailure"] == "step:WaitForRecovery"
    assert by_name["InstallPatches"]["onCancel"] == resume
    assert by_name["WaitForRecovery"]["onFailure"] == resume
    assert by_name["WaitForRecovery"]["onCancel"] == resume
    assert by_name["SuspendHealthReplacement"]["onFailure"] == "Abort"
    assert by_name["ResumeHealthReplacement"]["isEnd"] is True


def test_patching_takes_the_specs_concurrency_and_error_limits():
    spec = make_spec(patching={"max_concurrency": "1", "max_errors": "10%"})
    patch = steps(regional_template(spec))["InstallPatches"]["inputs"]
    assert (patch["MaxConcurrency"], patch["MaxErrors"]) == ("1", "10%")


def test_patch_output_goes_to_the_log_bucket(template):
    patch = steps(template)["InstallPatches"]["inputs"]
    assert patch["OutputS3BucketName"] == ref("LogsBucket")
    assert patch["OutputS3KeyPrefix"] == "patching"


def test_instances_may_write_only_under_the_patching_prefix(template):
    policy = template["Resources"]["PatchingOutputPolicy"]["Properties"]
    assert policy["Roles"] == [ref("InstanceRole")]
    statements = {s["Action"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert set(statements) == {"s3:PutObject", "s3:GetEncryptionConfiguration"}
    logs_arn = get_att("LogsBucket", "Arn")
    assert statements["s3:PutObject"]["Resource"] == {
        "Fn::Sub": ["${Arn}/patching/*", {"Arn": logs_arn}]
    }
    assert statements["s3:GetEncryptionConfiguration"]["Resource"] == logs_arn


def test_patching_role_runs_only_the_patch_document_on_the_groups_instances(template):
    role = template["Resources"]["PatchingWindowRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "ssm.amazonaws.com"}
    _, task = only(template, "AWS::SSM::MaintenanceWindowTask")
    assert task["ServiceRoleArn"] == get_att("PatchingWindowRole", "Arn")
    (policy,) = role["Policies"]
    statements = policy["PolicyDocument"]["Statement"]
    send = [s for s in statements if "ssm:SendCommand" in as_list(s["Action"])]
    assert all(as_list(s["Action"]) == ["ssm:SendCommand"] for s in send)
    resources = {s["Resource"]["Fn::Sub"]: s.get("Condition") for s in send}
    assert resources == {
        "arn:${AWS::Partition}:ssm:${AWS::Region}::document/AWS-RunPatchBaseline": None,
        "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:instance/*": {
            "StringEquals": {"ssm:resourceTag/aws:autoscaling:groupName": ref(ASG)}
        },
    }
    (group,) = [s for s in statements if s["Action"][0].startswith("autoscaling:")]
    assert group["Action"] == ["autoscaling:SuspendProcesses", "autoscaling:ResumeProcesses"]
    assert group["Resource"]["Fn::Sub"][1] == {"Group": ref(ASG)}  # this group only
    others = [s for s in statements if s not in send and s is not group]
    for statement in others:  # the rest only reads command status
        assert all(a.split(":")[1].startswith(("List", "Get")) for a in statement["Action"])


def test_the_window_may_start_only_this_automation_and_pass_only_its_role(template):
    policy = template["Resources"]["PatchingStartPolicy"]["Properties"]
    assert policy["Roles"] == [ref("PatchingWindowRole")]
    by_action = {s["Action"]: s for s in policy["PolicyDocument"]["Statement"]}
    start = by_action["ssm:StartAutomationExecution"]["Resource"]["Fn::Sub"]
    assert start[0].endswith(":automation-definition/${Document}:*")
    assert start[1] == {"Document": ref(AUTOMATION)}
    passing = by_action["iam:PassRole"]
    assert passing["Resource"] == get_att("PatchingWindowRole", "Arn")
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "ssm.amazonaws.com"}}
    assert set(by_action) == {
        "ssm:StartAutomationExecution", "ssm:GetAutomationExecution", "iam:PassRole",
    }  # fmt: skip


def test_baseline_is_registered_for_the_instances_patch_group(template):
    _, baseline = only(template, "AWS::SSM::PatchBaseline")
    assert baseline["PatchGroups"] == [patch_group_tag(template)]
    assert baseline["OperatingSystem"] == "AMAZON_LINUX_2023"


def rules_of(baseline: dict) -> list[tuple[int, dict[str, list[str]]]]:
    return [
        (
            rule["ApproveAfterDays"],
            {f["Key"]: f["Values"] for f in rule["PatchFilterGroup"]["PatchFilters"]},
        )
        for rule in baseline["ApprovalRules"]["PatchRules"]
    ]


def test_baseline_approves_the_default_security_and_bugfix_patches(template):
    _, baseline = only(template, "AWS::SSM::PatchBaseline")
    assert rules_of(baseline) == [
        (7, {"CLASSIFICATION": ["Security"], "SEVERITY": ["Critical", "Important"]}),
        # no SEVERITY filter: bug fix advisories often carry none and would never match
        (7, {"CLASSIFICATION": ["Bugfix"]}),
    ]


def test_baseline_has_the_specs_approval_rules():
    spec = make_spec(
        patching={
            "approve_after_days": 3,
            "classifications": ["Security", "Bugfix", "Enhancement"],
            "severities": ["Critical", "Important", "Medium"],
        }
    )
    _, baseline = only(regional_template(spec), "AWS::SSM::PatchBaseline")
    assert rules_of(baseline) == [
        (3, {"CLASSIFICATION": ["Security"], "SEVERITY": ["Critical", "Important", "Medium"]}),
        (3, {"CLASSIFICATION": ["Bugfix", "Enhancement"]}),
    ]


def test_security_only_baseline_has_one_rule():
    spec = make_spec(patching={"classifications": ["Security"]})
    _, baseline = only(regional_template(spec), "AWS::SSM::PatchBaseline")
    assert [filters for _, filters in rules_of(baseline)] == [
        {"CLASSIFICATION": ["Security"], "SEVERITY": ["Critical", "Important"]}
    ]


def test_window_follows_the_spec_schedule(template):
    _, window = only(template, "AWS::SSM::MaintenanceWindow")
    assert window["Schedule"] == "cron(0 3 ? * SUN *)"
    assert (window["Duration"], window["Cutoff"]) == (3, 1)
    assert window["AllowUnassociatedTargets"] is False
    assert "ScheduleTimezone" not in window  # UTC


def test_window_takes_the_time_zone_and_hours():
    spec = make_spec(
        patching={
            "schedule": "rate(7 days)",
            "schedule_timezone": "Europe/Berlin",
            "duration_hours": 4,
            "cutoff_hours": 2,
        }
    )
    _, window = only(regional_template(spec), "AWS::SSM::MaintenanceWindow")
    assert window["Schedule"] == "rate(7 days)"
    assert window["ScheduleTimezone"] == "Europe/Berlin"
    assert (window["Duration"], window["Cutoff"]) == (4, 2)


def test_spec_without_patching_section_is_still_patched():
    text = EXAMPLE_SPEC.read_text(encoding="utf-8")
    start = text.index("\npatching:")
    text = text[:start] + text[text.index("\n\n", start + 1) :]
    spec = validate_spec(load_spec_text(text, str(EXAMPLE_SPEC)))
    template = regional_template(spec)
    for kind in (
        "AWS::SSM::PatchBaseline",
        "AWS::SSM::MaintenanceWindow",
        "AWS::SSM::MaintenanceWindowTask",
    ):
        only(template, kind)
    assert automation(template)["mainSteps"]


def test_every_template_patches_its_instances():
    templates = regional_templates(make_spec())
    assert len(templates) >= 3  # both regions and the StackSet
    for path, template in templates.items():
        assert steps(template)["InstallPatches"]["inputs"]["DocumentName"] == (
            "AWS-RunPatchBaseline"
        ), path
        _, baseline = only(template, "AWS::SSM::PatchBaseline")
        assert baseline["PatchGroups"] == [patch_group_tag(template)], path


def test_patching_policies_grant_no_wildcard_write(template):
    for where, document in policy_documents(template):
        if not where.startswith("Patching"):
            continue
        for statement in as_list(document["Statement"]):
            if statement.get("Resource") == "*":
                assert all(
                    a.split(":")[1].startswith(("List", "Get"))
                    for a in as_list(statement["Action"])
                ), where


def test_named_documents_change_by_new_version_not_by_replacement():
    """A named resource cannot be replaced by CloudFormation, and AWS::SSM::Document's
    default UpdateMethod (Replace) replaces it whenever its Content changes (a new
    concurrency, a new group name): NewVersion updates it in place and makes the new
    version the default, which the window's task runs ($DEFAULT)."""
    template = regional_template(make_spec())
    documents = resources(template, "AWS::SSM::Document")
    assert set(documents) == {AUTOMATION, "CloudWatchAgentDocument"}
    for document in documents.values():
        assert "Name" in document["Properties"]
        assert document["Properties"]["UpdateMethod"] == "NewVersion"
    _, task = only(template, "AWS::SSM::MaintenanceWindowTask")
    parameters = task["TaskInvocationParameters"]["MaintenanceWindowAutomationParameters"]
    assert parameters["DocumentVersion"] == "$DEFAULT"
