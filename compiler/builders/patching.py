"""OS patching: a patch baseline for the web instances and the maintenance window that runs
AWS-RunPatchBaseline on them, a share of the Auto Scaling group at a time.

How the pieces meet: compute tags every instance `PatchGroup=<name>` (through the Auto
Scaling group); the baseline here is registered for that patch group, so
AWS-RunPatchBaseline on those instances installs what this baseline approves instead of
the account's default baseline. The window's target selects the instances by the tag
Auto Scaling puts on them (`aws:autoscaling:groupName`), so instances launched later are
patched too; the run's output goes to the region's log bucket.
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


def window_role_policy(compute: ComputeHandle) -> dict:
    """What the maintenance window may do with its role: run the patch document, only on
    this Auto Scaling group's instances, and follow the commands it sent."""
    return {
        "Version": "2012-10-17",
        "Statement": [
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
    target = purpose(
        ssm.MaintenanceWindowTarget(
            "PatchingWindowTarget",
            WindowId=Ref(window),
            Name="web-instances",
            Description="Every instance of the region's web Auto Scaling group",
            ResourceType="INSTANCE",
            Targets=[
                ssm.Targets(Key=f"tag:{ASG_NAME_TAG}", Values=[compute.auto_scaling_group_name])
            ],
        ),
        "Selects the Auto Scaling group's instances, including ones launched later",
    )
    # A custom role instead of the Systems Manager service-linked role (used when
    # ServiceRoleArn is omitted): the service-linked role may run any document on any
    # instance, this one only the patch document on this group's instances, as AWS
    # recommends when a task's reach can be narrowed.
    role = purpose(
        iam.Role(
            "PatchingWindowRole",
            AssumeRolePolicyDocument=service_trust_policy("ssm.amazonaws.com"),
            Policies=[
                iam.Policy(
                    PolicyName="run-patch-baseline-on-web-instances",
                    PolicyDocument=window_role_policy(compute),
                )
            ],
        ),
        "What the maintenance window may do: AWS-RunPatchBaseline on the web instances only",
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
            Description="Install approved patches, reboot if a patch needs it",
            TaskType="RUN_COMMAND",
            TaskArn=PATCH_DOCUMENT,
            Priority=1,
            Targets=[ssm.Targets(Key="WindowTargetIds", Values=[Ref(target)])],
            ServiceRoleArn=GetAtt(role, "Arn"),
            # A share of the group at a time, so the others keep serving while one reboots.
            MaxConcurrency=patching.max_concurrency,
            MaxErrors=patching.max_errors,
            # At the cutoff, instances already patching finish; only new starts stop.
            CutoffBehavior="CONTINUE_TASK",
            TaskInvocationParameters=ssm.TaskInvocationParameters(
                MaintenanceWindowRunCommandParameters=ssm.MaintenanceWindowRunCommandParameters(
                    Parameters={"Operation": ["Install"], "RebootOption": ["RebootIfNeeded"]},
                    OutputS3BucketName=storage.logs.name,
                    OutputS3KeyPrefix=storage.patching_log_prefix,
                )
            ),
        ),
        "Runs AWS-RunPatchBaseline (Install, RebootIfNeeded); output to the log bucket",
    )
    handle = PatchingHandle(maintenance_window_id=Ref(window), patch_baseline_id=Ref(baseline))
    return Built([baseline, window, target, role, output_policy, task], handle)
