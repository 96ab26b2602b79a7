"""OS patching: a patch baseline for the web instances and a weekly maintenance window
that patches them, a share of the Auto Scaling group at a time, without the group's
health checks replacing an instance while it reboots.

How the pieces meet: compute tags every instance `PatchGroup=<name>` (through the Auto
Scaling group); the baseline here is registered for that patch group, so
AWS-RunPatchBaseline on those instances installs what this baseline approves instead of
the account's default baseline. The instances are selected by the tag Auto Scaling puts
on them (`aws:autoscaling:groupName`), so instances launched later are patched too; the
run's output goes to the region's log bucket.

Why the health checks are suspended: the group replaces an instance the load balancer
finds unhealthy, and a reboot longer than the target group's three failed checks (about
45 s) would get an instance terminated mid-patch and replaced from the unpatched image.
The window therefore runs one Automation document (below) that suspends the group's
`HealthCheck` and `ReplaceUnhealthy` processes, patches with Run Command at the spec's
concurrency, waits for rebooted instances to pass the load balancer's checks again, and
resumes both processes; the resume step runs whether patching succeeded, failed or was
cancelled, because all steps are one execution. The alternatives were weighed: standby
(EnterStandby) cannot take an instance out when the group is at its minimum size unless
it launches a replacement, which the group then scales in again, possibly terminating a
patched instance; an instance refresh replaces instances instead of patching them, and
needs a patched image to replace them with. While the processes are suspended the load
balancer still stops sending requests to a rebooting instance as soon as it fails its
checks; only the group's replacement is held back, for this window only.
"""

from __future__ import annotations

from troposphere import GetAtt, Ref, Sub, iam, ssm

from compiler import naming
from compiler.builders import Built, purpose
from compiler.builders.handles import ComputeHandle, PatchingHandle, StorageHandle
from compiler.builders.trust import service_trust_policy
from compiler.context import RegionContext
from compiler.spec import InfraSpec
from compiler.spec.patching import PatchingSpec

PATCH_DOCUMENT = "AWS-RunPatchBaseline"
# Held back while instances patch: marking an instance unhealthy, and replacing one so
# marked (a process left out would replace it the moment the others resume).
SUSPENDED_PROCESSES = ["HealthCheck", "ReplaceUnhealthy"]
# After the last instance is patched: AWS-RunPatchBaseline reports only once a rebooted
# instance is back and its agent has finished the run, the application starts with the
# OS, and the target group needs two passing checks 15 s apart. Five minutes covers a
# slow boot before the group judges health again.
RECOVERY_WAIT = "PT5M"
ASG_NAME_TAG = "aws:autoscaling:groupName"  # set by Auto Scaling; cannot be set by users
# Compliance severity reported for an approved patch that is missing on an instance
# (AWS's predefined baselines report `UNSPECIFIED`, which hides how bad it is).
SECURITY_COMPLIANCE = "HIGH"
OTHER_COMPLIANCE = "MEDIUM"


def approval_rules(patching: PatchingSpec) -> ssm.RuleGroup:
    """Security patches of the chosen severities; the other classifications at any severity
    (their advisories often carry no severity, and a SEVERITY filter would drop them)."""

    def rule(filters: dict[str, list[str]], compliance: str) -> ssm.Rule:
        return ssm.Rule(
            ApproveAfterDays=patching.approve_after_days,
            ComplianceLevel=compliance,
            PatchFilterGroup=ssm.PatchFilterGroup(
                PatchFilters=[ssm.PatchFilter(Key=k, Values=v) for k, v in filters.items()]
            ),
        )

    rules = [
        rule({"CLASSIFICATION": ["Security"], "SEVERITY": patching.severities}, SECURITY_COMPLIANCE)
    ]
    others = [c for c in patching.classifications if c != "Security"]
    if others:
        rules.append(rule({"CLASSIFICATION": others}, OTHER_COMPLIANCE))
    return ssm.RuleGroup(PatchRules=rules)


def group_arn(compute: ComputeHandle) -> Sub:
    return Sub(
        "arn:${AWS::Partition}:autoscaling:${AWS::Region}:${AWS::AccountId}:autoScalingGroup:*"
        ":autoScalingGroupName/${Group}",
        Group=compute.auto_scaling_group_name,
    )


def automation_role_policy(compute: ComputeHandle) -> dict:
    """What the patch automation may do with its role: hold back and resume this group's
    health replacement, and run the patch document only on this group's instances."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "SuspendAndResumeThisGroupsHealthChecks",
                "Effect": "Allow",
                "Action": ["autoscaling:SuspendProcesses", "autoscaling:ResumeProcesses"],
                "Resource": group_arn(compute),
            },
            {
                "Sid": "RunOnlyThePatchDocument",
                "Effect": "Allow",
                "Action": "ssm:SendCommand",
                "Resource": Sub(
                    f"arn:${{AWS::Partition}}:ssm:${{AWS::Region}}::document/{PATCH_DOCUMENT}"
                ),
            },
            {
                "Sid": "OnlyOnThisGroupsInstances",
                "Effect": "Allow",
                "Action": "ssm:SendCommand",
                "Resource": Sub(
                    "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:instance/*"
                ),
                "Condition": {
                    "StringEquals": {
                        f"ssm:resourceTag/{ASG_NAME_TAG}": compute.auto_scaling_group_name
                    }
                },
            },
            {
                # These read actions take no resource-level permissions: `*` is the only
                # resource IAM accepts for them.
                "Sid": "FollowCommandStatus",
                "Effect": "Allow",
                "Action": [
                    "ssm:ListCommands",
                    "ssm:ListCommandInvocations",
                    "ssm:GetCommandInvocation",
                ],
                "Resource": "*",
            },
        ],
    }


def start_automation_policy(document: ssm.Document, role: iam.Role) -> dict:
    """What the maintenance window may do with the same role: start this automation only,
    follow it, and hand it the role (Automation assumes it for the steps)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "StartOnlyThePatchAutomation",
                "Effect": "Allow",
                "Action": "ssm:StartAutomationExecution",
                "Resource": Sub(
                    "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}"
                    ":automation-definition/${Document}:*",
                    Document=Ref(document),
                ),
            },
            {
                "Sid": "FollowTheAutomation",
                "Effect": "Allow",
                "Action": "ssm:GetAutomationExecution",
                "Resource": Sub(
                    "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}"
                    ":automation-execution/*"
                ),
            },
            {
                "Sid": "HandTheRoleToAutomation",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": GetAtt(role, "Arn"),
                "Condition": {"StringEquals": {"iam:PassedToService": "ssm.amazonaws.com"}},
            },
        ],
    }


def automation_content(
    patching: PatchingSpec, compute: ComputeHandle, storage: StorageHandle
) -> dict:
    """Suspend the group's health replacement, patch, let rebooted instances recover,
    resume. Every way out of the patch and wait steps leads to the resume step."""
    group = compute.auto_scaling_group_name
    resume = "step:ResumeHealthReplacement"
    return {
        "schemaVersion": "0.3",
        "description": (
            "Patch the web instances without the Auto Scaling group replacing them while "
            "they reboot: suspend HealthCheck and ReplaceUnhealthy, run AWS-RunPatchBaseline "
            "(Install, RebootIfNeeded), wait for recovery, resume."
        ),
        "assumeRole": "{{ AutomationAssumeRole }}",
        "parameters": {
            "AutomationAssumeRole": {
                "type": "String",
                "description": "Role the steps run as (the maintenance window passes its own)",
            }
        },
        "mainSteps": [
            {
                "name": "SuspendHealthReplacement",
                "action": "aws:executeAwsApi",
                "onFailure": "Abort",
                "inputs": {
                    "Service": "autoscaling",
                    "Api": "SuspendProcesses",
                    "AutoScalingGroupName": group,
                    "ScalingProcesses": SUSPENDED_PROCESSES,
                },
            },
            {
                "name": "InstallPatches",
                "action": "aws:runCommand",
                "onFailure": "step:WaitForRecovery",
                "onCancel": resume,
                "inputs": {
                    "DocumentName": PATCH_DOCUMENT,
                    "Targets": [{"Key": f"tag:{ASG_NAME_TAG}", "Values": [group]}],
                    # A share of the group at a time, so the others keep serving.
                    "MaxConcurrency": patching.max_concurrency,
                    "MaxErrors": patching.max_errors,
                    "Parameters": {"Operation": ["Install"], "RebootOption": ["RebootIfNeeded"]},
                    "OutputS3BucketName": storage.logs.name,
                    "OutputS3KeyPrefix": storage.patching_log_prefix,
                },
            },
            {
                "name": "WaitForRecovery",
                "action": "aws:sleep",
                "onFailure": resume,
                "onCancel": resume,
                "inputs": {"Duration": RECOVERY_WAIT},
            },
            {
                "name": "ResumeHealthReplacement",
                "action": "aws:executeAwsApi",
                "isEnd": True,
                "inputs": {
                    "Service": "autoscaling",
                    "Api": "ResumeProcesses",
                    "AutoScalingGroupName": group,
                    "ScalingProcesses": SUSPENDED_PROCESSES,
                },
            },
        ],
    }


def output_write_policy(storage: StorageHandle) -> dict:
    """The SSM agent uploads a run's output with the instance's own credentials, so the
    instances (not the window's role) may write under the patching prefix; the agent reads
    the bucket's default encryption before it uploads. Same-account principals need no
    bucket policy grant, and the log bucket's S3-managed keys need no KMS permission."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "WritePatchingOutput",
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": Sub(f"${{Arn}}/{storage.patching_log_prefix}/*", Arn=storage.logs.arn),
            },
            {
                "Sid": "ReadLogBucketEncryption",
                "Effect": "Allow",
                "Action": "s3:GetEncryptionConfiguration",
                "Resource": storage.logs.arn,
            },
        ],
    }


def build_patching(
    spec: InfraSpec, ctx: RegionContext, compute: ComputeHandle, storage: StorageHandle
) -> Built[PatchingHandle]:
    patching = spec.patching
    baseline = purpose(
        ssm.PatchBaseline(
            "PatchBaseline",
            Name=naming.resource_name(spec, "web", "patches"),
            Description=(
                f"Patches approved {patching.approve_after_days} days after release for "
                f"the {spec.project} {spec.environment} web instances"
            ),
            OperatingSystem=patching.operating_system,
            ApprovalRules=approval_rules(patching),
            PatchGroups=[compute.patch_group],
        ),
        "Which patches the web instances get: the baseline of their PatchGroup tag",
    )
    window = purpose(
        ssm.MaintenanceWindow(
            "PatchingWindow",
            Name=naming.resource_name(spec, "patching"),
            Description="When the web instances are patched and rebooted if needed",
            Schedule=patching.schedule,
            Duration=patching.duration_hours,
            Cutoff=patching.cutoff_hours,
            # Only registered targets: a task can never reach instances by accident.
            AllowUnassociatedTargets=False,
            **(
                {"ScheduleTimezone": patching.schedule_timezone}
                if patching.schedule_timezone
                else {}
            ),
        ),
        "The recurring window in which patching runs",
    )
    document = purpose(
        ssm.Document(
            "PatchingAutomation",
            # Named, so that the deploy roles scope documents by the project's prefix.
            Name=naming.resource_name(spec, "patching-automation"),
            DocumentType="Automation",
            DocumentFormat="JSON",
            Content=automation_content(patching, compute, storage),
            # A changed Content replaces the document by default, which CloudFormation
            # refuses for a named resource ("cannot update a stack when a custom-named
            # resource requires replacing"); a new version, made the default, instead.
            UpdateMethod="NewVersion",
        ),
        "Patches the group with its health replacement suspended, and always resumes it",
    )
    # A custom role instead of the Systems Manager service-linked role (used when
    # ServiceRoleArn is omitted): the service-linked role may run any document on any
    # instance, this one only this automation, the patch document on this group's
    # instances, and suspend and resume this group's processes.
    role = purpose(
        iam.Role(
            "PatchingWindowRole",
            AssumeRolePolicyDocument=service_trust_policy("ssm.amazonaws.com"),
            Policies=[
                iam.Policy(
                    PolicyName="patch-web-instances",
                    PolicyDocument=automation_role_policy(compute),
                )
            ],
        ),
        "What patching may do: this group's health processes, and patching its instances",
    )
    # Apart from the role: it names the role's own ARN, which the role cannot.
    start_policy = purpose(
        iam.PolicyType(
            "PatchingStartPolicy",
            PolicyName="start-patch-automation",
            PolicyDocument=start_automation_policy(document, role),
            Roles=[Ref(role)],
        ),
        "Lets the maintenance window start the patch automation as the patching role",
    )
    output_policy = purpose(
        iam.PolicyType(
            "PatchingOutputPolicy",
            PolicyName="write-patching-output",
            PolicyDocument=output_write_policy(storage),
            Roles=[compute.instance_role_name],
        ),
        "Lets the web instances upload patching output to the log bucket's patching prefix",
    )
    task = purpose(
        ssm.MaintenanceWindowTask(
            "PatchingTask",
            WindowId=Ref(window),
            Name="install-patches",
            Description="Install approved patches, reboot if needed, health replacement held",
            TaskType="AUTOMATION",
            TaskArn=Ref(document),
            Priority=1,
            # No window targets: the automation selects the group's instances itself, at
            # the spec's concurrency, between suspending and resuming the group's processes.
            ServiceRoleArn=GetAtt(role, "Arn"),
            # At the cutoff a running automation finishes, resume step included.
            CutoffBehavior="CONTINUE_TASK",
            TaskInvocationParameters=ssm.TaskInvocationParameters(
                MaintenanceWindowAutomationParameters=ssm.MaintenanceWindowAutomationParameters(
                    DocumentVersion="$DEFAULT",
                    Parameters={"AutomationAssumeRole": [GetAtt(role, "Arn")]},
                )
            ),
        ),
        "Runs the patch automation once per window",
    )
    task.DependsOn = [start_policy.title]
    handle = PatchingHandle(maintenance_window_id=Ref(window), patch_baseline_id=Ref(baseline))
    return Built([baseline, window, document, role, start_policy, output_policy, task], handle)
