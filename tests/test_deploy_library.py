"""compiler/deploy_library.sh and deploy_preflight.sh, function by function: each test sources the library into
bash and calls one function against a stand-in `aws` that answers from files.

The stand-in answers `aws SERVICE OPERATION ...` with `SERVICE_OPERATION.N.out` (its Nth
call), else `SERVICE_OPERATION.out`; `.err` and `.rc` likewise give stderr and the exit
code. Every call is appended to calls.log.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from compiler.deploy_plan import STATEFUL_TYPES
from compiler.deploy_preflight import PREFLIGHT_LIBRARY
from compiler.deploy_script import FAILOVER_LIBRARY, LIBRARY

FAKE_AWS = r"""#!/usr/bin/env bash
printf '%s\n' "$*" >>"$FAKE_DIR/calls.log"
key="$1_$2"
count_file="$FAKE_DIR/$key.count"
count=$(( $(cat "$count_file" 2>/dev/null || echo 0) + 1 ))
echo "$count" >"$count_file"
answer() { # the file for this call: numbered first, else the default
  if [ -f "$FAKE_DIR/$key.$count.$1" ]; then echo "$FAKE_DIR/$key.$count.$1";
  elif [ -f "$FAKE_DIR/$key.$1" ]; then echo "$FAKE_DIR/$key.$1"; fi
}
out="$(answer out)"; err="$(answer err)"; rc="$(answer rc)"
[ -z "$out" ] || cat "$out"
[ -z "$err" ] || cat "$err" >&2
exit "$( [ -n "$rc" ] && cat "$rc" || echo 0 )"
"""

STATEFUL_LIST = ",".join(f'"{t}"' for t in STATEFUL_TYPES)  # as deploy.sh's settings set it

NOT_FOUND = (
    "An error occurred (ValidationError) when calling the DescribeStacks operation: "
    "Stack with id s does not exist"
)


@dataclass
class Shell:
    """bash with the library sourced and the stand-in `aws` first on PATH."""

    dir: Path

    def answer(self, call: str, out: str = "", *, err: str = "", rc: int = 0, nth: int = 0):
        """What `aws SERVICE OPERATION` answers (its `nth` call only, if given)."""
        stem = call.replace(" ", "_") + (f".{nth}" if nth else "")
        (self.dir / f"{stem}.out").write_text(out)
        (self.dir / f"{stem}.err").write_text(err)
        (self.dir / f"{stem}.rc").write_text(str(rc))

    def run(self, script: str) -> subprocess.CompletedProcess[str]:
        prelude = (
            "set -euo pipefail\n"
            "STACK_SET_POLL_SECONDS=0\nSTACK_EVENT_POLL_SECONDS=1\n"
            "BOOTSTRAP_STACK=p-bootstrap\nBOOTSTRAP_TEMPLATE=bootstrap.json\n"
            "STACK_TAGS=(infra:project=p)\n"
            f"STATEFUL_TYPES='{STATEFUL_LIST}'\n"
            f"source {LIBRARY}\nsource {FAILOVER_LIBRARY}\nsource {PREFLIGHT_LIBRARY}\n"
        )
        return subprocess.run(
            ["bash", "-c", prelude + script],
            capture_output=True,
            text=True,
            env={
                "PATH": f"{self.dir / 'bin'}{os.pathsep}{os.environ['PATH']}",
                "FAKE_DIR": str(self.dir),
                "HOME": str(self.dir),
            },
            timeout=60,
            check=False,
        )

    def calls(self) -> list[str]:
        log = self.dir / "calls.log"
        return log.read_text().splitlines() if log.exists() else []


@pytest.fixture
def shell(tmp_path) -> Shell:
    (tmp_path / "bin").mkdir()
    aws = tmp_path / "bin" / "aws"
    aws.write_text(FAKE_AWS)
    aws.chmod(0o755)
    return Shell(tmp_path)


def events(*rows: tuple[str, ...]) -> str:
    """describe-stack-events as `--output text` prints it, newest first."""
    return "".join("\t".join(row) + "\n" for row in rows)


# --- stack_status / recover_stack -------------------------------------------------------


def test_stack_status_of_a_missing_stack_is_none(shell):
    shell.answer("cloudformation describe-stacks", err=NOT_FOUND, rc=254)
    result = shell.run("stack_status s us-east-1")
    assert (result.returncode, result.stdout) == (0, "NONE")


def test_stack_status_passes_on_any_other_error(shell):
    shell.answer("cloudformation describe-stacks", err="ExpiredToken: expired", rc=254)
    result = shell.run("stack_status s us-east-1")
    assert result.returncode == 1
    assert "cannot read stack s (us-east-1): ExpiredToken: expired" in result.stderr


def test_a_rolled_back_first_create_is_deleted_before_the_retry_saying_so(shell):
    shell.answer("cloudformation describe-stacks", "ROLLBACK_COMPLETE\n")
    result = shell.run("recover_stack s us-east-1")
    assert result.returncode == 0, result.stderr
    assert "s (us-east-1) is ROLLBACK_COMPLETE" in result.stdout
    assert "deleting it to create it again" in result.stdout
    assert shell.calls()[1:] == [
        "cloudformation delete-stack --region us-east-1 --stack-name s",
        "cloudformation wait stack-delete-complete --region us-east-1 --stack-name s",
    ]


def test_update_rollback_failed_stops_with_the_continue_command(shell):
    shell.answer("cloudformation describe-stacks", "UPDATE_ROLLBACK_FAILED\n")
    result = shell.run("recover_stack s eu-west-1")
    assert result.returncode == 1
    assert (
        "aws cloudformation continue-update-rollback --region eu-west-1 --stack-name s"
        in result.stderr
    )
    assert len(shell.calls()) == 1  # nothing changed


def test_rollback_failed_stops_with_the_steps_to_delete_it(shell):
    shell.answer("cloudformation describe-stacks", "ROLLBACK_FAILED\n")
    result = shell.run("recover_stack s eu-west-1")
    assert result.returncode == 1
    assert "s (eu-west-1) is ROLLBACK_FAILED: its first create failed" in result.stderr
    assert "--no-deletion-protection" in result.stderr
    assert "aws cloudformation delete-stack --region eu-west-1 --stack-name s" in result.stderr
    assert len(shell.calls()) == 1  # nothing deleted by the script itself


@pytest.mark.parametrize("status", ["UPDATE_IN_PROGRESS", "DELETE_FAILED"])
def test_a_busy_or_broken_stack_stops_the_run(shell, status):
    shell.answer("cloudformation describe-stacks", f"{status}\n")
    result = shell.run("recover_stack s us-east-1")
    assert result.returncode == 1 and f"s (us-east-1) is {status}" in result.stderr


@pytest.mark.parametrize(
    "status", ["NONE", "CREATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "REVIEW_IN_PROGRESS"]
)
def test_a_deployable_stack_is_left_alone(shell, status):
    if status == "NONE":
        shell.answer("cloudformation describe-stacks", err=NOT_FOUND, rc=254)
    else:
        shell.answer("cloudformation describe-stacks", f"{status}\n")
    result = shell.run("recover_stack s us-east-1")
    assert result.returncode == 0, result.stderr
    assert len(shell.calls()) == 1


# --- events and the first failure -------------------------------------------------------

OLD = (
    "e0",
    "2026-01-01T10:00:00.000Z",
    "s",
    "AWS::CloudFormation::Stack",
    "CREATE_COMPLETE",
    "None",
)
FAILED_RUN = events(
    ("e5", "2026-01-02T10:00:09.000Z", "s", "AWS::CloudFormation::Stack", "ROLLBACK_COMPLETE", "None"),
    ("e4", "2026-01-02T10:00:08.000Z", "Queue", "AWS::SQS::Queue", "CREATE_FAILED", "Resource creation cancelled"),
    ("e3", "2026-01-02T10:00:07.000Z", "Bucket", "AWS::S3::Bucket", "CREATE_FAILED", "shop-logs already exists"),
    ("e2", "2026-01-02T10:00:02.000Z", "Queue", "AWS::SQS::Queue", "CREATE_IN_PROGRESS", "None"),
    ("e1", "2026-01-02T10:00:01.000Z", "s", "AWS::CloudFormation::Stack", "UPDATE_IN_PROGRESS", "User Initiated"),
    OLD,
)  # fmt: skip


def test_new_events_are_printed_oldest_first_from_the_mark_on(shell):
    shell.answer("cloudformation describe-stack-events", FAILED_RUN)
    result = shell.run('EVENT_MARK=e0; print_new_events s us-east-1; echo "mark=$EVENT_MARK"')
    lines = result.stdout.splitlines()
    assert [line.split()[1] for line in lines[:-1]] == ["s", "Queue", "Bucket", "Queue", "s"]
    assert lines[0].split()[0] == "10:00:01"
    assert lines[2].endswith("shop-logs already exists")
    assert lines[-1] == "mark=e5"


def test_the_first_failed_resource_is_the_root_cause(shell):
    shell.answer("cloudformation describe-stack-events", FAILED_RUN)
    result = shell.run(
        "EVENT_MARK=e0; print_new_events s us-east-1; report_first_failure s us-east-1"
    )
    assert result.stderr == (
        "deploy.sh: first failure in s (us-east-1): Bucket (AWS::S3::Bucket) CREATE_FAILED: "
        "shop-logs already exists\n"
    )


def test_the_root_cause_is_named_after_a_rollback_longer_than_one_page(shell):
    """A large stack's rollback writes hundreds of events: the page describe-stack-events
    returns at the end no longer reaches the CREATE_FAILED that started it."""
    shell.answer("cloudformation describe-stack-events", FAILED_RUN, nth=1)
    rollback = [
        (f"r{n}", "2026-01-02T10:05:00.000Z", f"Res{n}", "AWS::SQS::Queue", "DELETE_COMPLETE", "None")
        for n in range(300, 0, -1)
    ]  # fmt: skip
    shell.answer("cloudformation describe-stack-events", events(*rollback[:100]), nth=2)
    result = shell.run(
        "EVENT_MARK=e0; print_new_events s us-east-1; print_new_events s us-east-1;"
        " report_first_failure s us-east-1"
    )
    assert "Res300" in result.stdout  # the second poll's events were read
    assert result.stderr == (
        "deploy.sh: first failure in s (us-east-1): Bucket (AWS::S3::Bucket) CREATE_FAILED: "
        "shop-logs already exists\n"
    )
    assert len(shell.calls()) == 2  # named from what the polls saw, no page read again


def test_a_change_set_failed_by_validation_is_reported_with_its_reason(shell):
    """Pre-deployment validation fails the change set before any resource event."""
    change_set = (
        "arn:aws:cloudformation:us-east-1:1:changeSet/awscli-cloudformation-package-deploy-1/a"
    )
    shell.answer("cloudformation describe-stacks", "UPDATE_COMPLETE\n")
    shell.answer("cloudformation describe-stack-events", "e0\n", nth=1)  # the mark
    shell.answer("cloudformation describe-stack-events", events(OLD))
    shell.answer("cloudformation deploy", err="Failed to create the changeset", rc=255)
    shell.answer(
        "cloudformation list-change-sets",
        f"{change_set}\tFAILED\tResource Bucket: shop-logs already exists\n",
    )
    result = shell.run("deploy_stack us-east-1 s aws cloudformation deploy --stack-name s")
    assert result.returncode == 1
    assert "no failed resource in the events of s (us-east-1)" in result.stderr
    assert "its change set failed before any resource changed: Resource Bucket: shop-logs" in (
        result.stderr
    )
    assert (
        "aws cloudformation describe-events --region us-east-1 --change-set-name " + change_set
    ) in result.stderr
    (listing,) = [c for c in shell.calls() if c.startswith("cloudformation list-change-sets")]
    assert "--region us-east-1 --stack-name s" in listing
    assert "sort_by(Summaries, &CreationTime)[-1]" in listing  # the newest: this run's


def test_a_failed_deploy_shows_its_events_names_the_cause_and_stops(shell):
    shell.answer("cloudformation describe-stacks", "UPDATE_COMPLETE\n")
    shell.answer("cloudformation describe-stack-events", "e0\n", nth=1)  # the mark
    shell.answer("cloudformation describe-stack-events", FAILED_RUN)
    shell.answer("cloudformation deploy", err="Failed to create/update the stack", rc=255)
    result = shell.run(
        "deploy_stack us-east-1 s aws cloudformation deploy --region us-east-1 --stack-name s"
        "; echo not reached"
    )
    assert result.returncode == 1
    assert "not reached" not in result.stdout
    assert "+ aws cloudformation deploy --region us-east-1 --stack-name s" in result.stdout
    assert "shop-logs already exists" in result.stdout  # the events, as they came
    assert "first failure in s (us-east-1): Bucket (AWS::S3::Bucket)" in result.stderr
    assert "deploying s (us-east-1) failed" in result.stderr


def test_a_deploy_that_succeeds_returns_after_printing_its_events(shell):
    shell.answer("cloudformation describe-stacks", err=NOT_FOUND, rc=254)
    shell.answer("cloudformation describe-stack-events", err=NOT_FOUND, rc=254, nth=1)
    shell.answer("cloudformation describe-stack-events", events(OLD))
    result = shell.run("deploy_stack us-east-1 s aws cloudformation deploy --stack-name s")
    assert result.returncode == 0, result.stderr
    assert "CREATE_COMPLETE" in result.stdout


def test_dry_run_deploy_only_prints_the_command(shell):
    result = shell.run("DRY_RUN=true; deploy_stack us-east-1 s aws cloudformation deploy --x y")
    lines = result.stdout.splitlines()
    assert lines[0] == "+ aws cloudformation deploy --x y"
    assert [line.split()[3] for line in lines[1:]] == [
        "update-termination-protection",
        "set-stack-policy",
    ]
    assert shell.calls() == []


# --- StackSet operations -----------------------------------------------------------------


def test_a_failed_stack_set_operation_prints_each_regions_reason(shell):
    shell.answer("cloudformation describe-stack-set-operation", "RUNNING\n", nth=1)
    shell.answer("cloudformation describe-stack-set-operation", "FAILED\n")
    shell.answer(
        "cloudformation list-stack-set-operation-results",
        "us-east-1\tSUCCEEDED\tNone\neu-west-1\tFAILED\tResourceLogicalId:Db, "
        "ResourceType:AWS::RDS::DBInstance, ResourceStatusReason:quota exceeded.\n",
    )
    result = shell.run("wait_for_operation set us-east-1 op-1")
    assert result.returncode == 1
    assert "eu-west-1  FAILED  ResourceLogicalId:Db" in result.stderr
    assert "us-east-1  SUCCEEDED" not in result.stderr
    assert "StackSet set operation op-1 ended FAILED" in result.stderr


# --- bootstrap ---------------------------------------------------------------------------


def test_each_region_is_bootstrapped_once_per_run(shell):
    shell.answer("cloudformation describe-stacks", err=NOT_FOUND, rc=254)
    result = shell.run("bootstrap us-east-1; bootstrap eu-west-1; bootstrap us-east-1")
    assert result.returncode == 0, result.stderr
    deploys = [c for c in shell.calls() if c.startswith("cloudformation deploy")]
    assert [d.split("--region ")[1].split()[0] for d in deploys] == ["us-east-1", "eu-west-1"]
    for command in deploys:
        assert "--stack-name p-bootstrap " in command
        assert f"--template-file {LIBRARY.parent}/bootstrap.json " in command
        assert "--tags infra:project=p --no-fail-on-empty-changeset" in command


# --- preflight: each check passes and fails ----------------------------------------------


def checklist(result) -> list[tuple[str, str]]:
    return [
        (line.split()[0], line.split(None, 1)[1])
        for line in result.stdout.splitlines()
        if line.startswith("  ")
    ]


def test_credentials_pass_with_the_account_and_fail_with_the_error(shell):
    shell.answer("sts get-caller-identity", "111122223333\tarn:aws:iam::111122223333:user/a\n")
    assert checklist(shell.run("check_credentials eu-west-1")) == [
        ("ok", "credentials: account 111122223333 as arn:aws:iam::111122223333:user/a")
    ]
    # a region, always: CLI v2 before 2.9 without a configured one refuses the call
    assert shell.calls()[0].startswith("sts get-caller-identity --region eu-west-1 ")
    shell.answer("sts get-caller-identity", err="Unable to locate credentials", rc=253)
    assert checklist(shell.run("check_credentials eu-west-1")) == [
        ("FAIL", "credentials: Unable to locate credentials")
    ]


def test_the_caller_account_is_asked_in_the_given_region(shell):
    shell.answer("sts get-caller-identity", "111122223333\n")
    result = shell.run("caller_account us-east-1")
    assert result.stdout == "111122223333\n"
    assert shell.calls() == [
        "sts get-caller-identity --region us-east-1 --query Account --output text"
    ]


@pytest.mark.parametrize(
    ("status", "verdict"),
    [("opt-in-not-required", "ok"), ("opted-in", "ok"), ("not-opted-in", "FAIL")],
)
def test_a_region_must_be_enabled(shell, status, verdict):
    shell.answer("ec2 describe-regions", f"{status}\n")
    ((found, text),) = checklist(shell.run("check_region eu-south-1 us-east-1"))
    assert found == verdict and text.startswith("region eu-south-1: ")
    assert "--region us-east-1 --all-regions --region-names eu-south-1" in shell.calls()[0]
    if verdict == "FAIL":
        assert "aws account enable-region --region-name eu-south-1" in text


@pytest.mark.parametrize(
    ("answer", "verdict", "found"),
    [
        ("", "ok", "NONE"),
        ("UPDATE_COMPLETE", "ok", "UPDATE_COMPLETE"),
        ("ROLLBACK_COMPLETE", "ok", "NONE"),  # re-created: the later checks see a new stack
        ("UPDATE_ROLLBACK_FAILED", "FAIL", "UPDATE_ROLLBACK_FAILED"),
        ("ROLLBACK_FAILED", "FAIL", "ROLLBACK_FAILED"),
        ("UPDATE_IN_PROGRESS", "FAIL", "UPDATE_IN_PROGRESS"),
    ],
)
def test_each_stacks_state_is_checked(shell, answer, verdict, found):
    if answer:
        shell.answer("cloudformation describe-stacks", f"{answer}\n")
    else:
        shell.answer("cloudformation describe-stacks", err=NOT_FOUND, rc=254)
    result = shell.run('check_stack s us-east-1; echo "found=$STACK_FOUND"')
    ((verdict_seen, _),) = checklist(result)
    assert verdict_seen == verdict
    assert result.stdout.splitlines()[-1] == f"found={found}"


def test_a_global_stack_whose_first_create_failed_passes_preflight(shell):
    """ROLLBACK_COMPLETE has no outputs; the run deletes and re-creates the stack, so the
    execution role output is made in this run, not a FAIL that blocks `deploy.sh global`."""
    shell.answer("cloudformation describe-stacks", "ROLLBACK_COMPLETE\n")
    result = shell.run(
        "preflight_begin; check_stack p-global us-east-1;"
        " check_global_output p-global us-east-1 ExecutionRoleArn; preflight_end; echo passed"
    )
    assert result.returncode == 0, result.stderr
    assert checklist(result) == [
        ("ok", "stack p-global (us-east-1): ROLLBACK_COMPLETE, this run deletes and re-creates it"),
        ("ok", "ExecutionRoleArn: made by p-global in this run"),
    ]
    assert result.stdout.splitlines()[-1] == "passed"


ROLE_ARN = "arn:aws:iam::111122223333:role/p-global-ExecutionRole-ABC"
ACCESS_DENIED = (
    "\nAn error occurred (AccessDenied) when calling the SimulatePrincipalPolicy operation: "
    "User: arn:aws:iam::111122223333:user/a is not authorized\n"
)


def role_answers(
    shell,
    *,
    services="cloudformation.amazonaws.com",
    caller="arn:aws:iam::111122223333:user/a",
    decision="allowed",
):
    shell.answer("iam get-role", f"{services}\n")
    shell.answer("sts get-caller-identity", f"{caller}\n")
    shell.answer("iam simulate-principal-policy", f"{decision}\n")


def test_an_existing_execution_role_is_checked_for_trust_and_pass_role(shell):
    shell.answer("cloudformation describe-stacks", f"ExecutionRoleArn\t{ROLE_ARN}\n")
    role_answers(shell, services="lambda.amazonaws.com\tcloudformation.amazonaws.com")
    result = shell.run("check_global_output p-global us-east-1 ExecutionRoleArn")
    assert checklist(result) == [
        ("ok", f"ExecutionRoleArn: {ROLE_ARN}"),
        (
            "ok",
            "execution role p-global-ExecutionRole-ABC: trusted by cloudformation.amazonaws.com",
        ),
        (
            "ok",
            "iam:PassRole on p-global-ExecutionRole-ABC: allowed for arn:aws:iam::111122223333:user/a",
        ),
    ]
    calls = shell.calls()
    assert (
        "iam get-role --region us-east-1 --role-name p-global-ExecutionRole-ABC " in calls[1] + " "
    )
    assert (
        "iam simulate-principal-policy --region us-east-1 --policy-source-arn "
        f"arn:aws:iam::111122223333:user/a --action-names iam:PassRole --resource-arns {ROLE_ARN} "
    ) in calls[3]


def test_a_role_made_in_this_run_is_not_asked_about(shell):
    shell.answer("cloudformation describe-stacks", err=NOT_FOUND, rc=254)
    result = shell.run(
        "check_stack p-global us-east-1; check_global_output p-global us-east-1 ExecutionRoleArn"
    )
    assert checklist(result)[-1] == ("ok", "ExecutionRoleArn: made by p-global in this run")
    assert not [c for c in shell.calls() if c.startswith("iam ")]


def test_a_role_cloudformation_may_not_assume_fails(shell):
    role_answers(shell, services="lambda.amazonaws.com")
    result = shell.run(f"preflight_begin; check_execution_role {ROLE_ARN} us-east-1; preflight_end")
    assert result.returncode != 0
    assert checklist(result)[0] == (
        "FAIL",
        "execution role p-global-ExecutionRole-ABC: its trust policy does not let"
        " cloudformation.amazonaws.com assume it",
    )
    # no Allow statement with a service principal at all: the query prints nothing
    role_answers(shell, services="")
    assert checklist(shell.run(f"check_execution_role {ROLE_ARN} us-east-1"))[0][0] == "FAIL"


@pytest.mark.parametrize("decision", ["implicitDeny", "explicitDeny"])
def test_a_caller_without_pass_role_fails_naming_the_permission(shell, decision):
    role_answers(shell, decision=decision)
    result = shell.run(f"preflight_begin; check_execution_role {ROLE_ARN} us-east-1; preflight_end")
    assert result.returncode != 0
    assert checklist(result)[1] == (
        "FAIL",
        f"iam:PassRole on p-global-ExecutionRole-ABC: {decision} for arn:aws:iam::111122223333:user/a;"
        f" grant it iam:PassRole on {ROLE_ARN}",
    )


def test_refused_questions_are_warnings_and_the_run_goes_on(shell):
    role_answers(shell)
    shell.answer(
        "iam get-role", err=ACCESS_DENIED.replace("SimulatePrincipalPolicy", "GetRole"), rc=254
    )
    shell.answer("iam simulate-principal-policy", err=ACCESS_DENIED, rc=254)
    result = shell.run(
        f"preflight_begin; check_execution_role {ROLE_ARN} us-east-1; preflight_end; echo passed"
    )
    assert result.returncode == 0, result.stderr
    assert checklist(result) == [
        (
            "warn",
            "execution role p-global-ExecutionRole-ABC: trust policy could not be checked"
            f" ({ACCESS_DENIED.strip().replace('SimulatePrincipalPolicy', 'GetRole')})",
        ),
        (
            "warn",
            f"iam:PassRole on p-global-ExecutionRole-ABC: could not be checked ({ACCESS_DENIED.strip()})",
        ),
    ]
    assert result.stdout.splitlines()[-1] == "passed"


def test_an_assumed_role_session_is_simulated_as_its_role(shell):
    role_answers(shell, caller="arn:aws-cn:sts::111122223333:assumed-role/Deployer/ci-42")
    result = shell.run(f"check_execution_role {ROLE_ARN} cn-north-1")
    assert checklist(result)[1] == (
        "ok",
        "iam:PassRole on p-global-ExecutionRole-ABC: allowed for arn:aws-cn:iam::111122223333:role/Deployer",
    )
    assert "--policy-source-arn arn:aws-cn:iam::111122223333:role/Deployer " in shell.calls()[-1]


def test_a_session_of_a_role_with_a_path_is_a_warning(shell):
    """The session ARN drops the path (an SSO role's is /aws-reserved/sso.amazonaws.com/):
    the path-less role ARN names no role, which the simulation answers NoSuchEntity."""
    role_answers(
        shell, caller="arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0a1b/me"
    )
    shell.answer(
        "iam simulate-principal-policy",
        rc=254,
        err="\nAn error occurred (NoSuchEntity) when calling the SimulatePrincipalPolicy operation:"
        " The role with name AWSReservedSSO_Admin_0a1b cannot be found.\n",
    )
    result = shell.run(f"preflight_begin; check_execution_role {ROLE_ARN} us-east-1; preflight_end")
    assert result.returncode == 0, result.stderr
    assert checklist(result)[1] == (
        "warn",
        "iam:PassRole on p-global-ExecutionRole-ABC: could not be checked: no role"
        " arn:aws:iam::111122223333:role/AWSReservedSSO_Admin_0a1b (the session ARN"
        " arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0a1b/me does not show the role's path)",
    )


def test_a_caller_that_is_neither_user_nor_role_is_a_warning(shell):
    role_answers(shell, caller="arn:aws:iam::111122223333:root")
    result = shell.run(f"check_execution_role {ROLE_ARN} us-east-1")
    assert checklist(result)[1] == (
        "warn",
        "iam:PassRole on p-global-ExecutionRole-ABC: could not be checked for"
        " arn:aws:iam::111122223333:root (not a user or role)",
    )
    assert not [c for c in shell.calls() if "simulate" in c]


def test_a_regional_stack_whose_first_create_failed_has_its_quotas_counted(shell):
    quota_answers(shell)
    shell.answer("cloudformation describe-stacks", "ROLLBACK_COMPLETE\n")
    result = shell.run("check_stack p-eu eu-west-1; check_quotas eu-west-1 3 3 1 1")
    assert [verdict for verdict, _ in checklist(result)] == ["ok"] * 5
    assert "Elastic IPs in eu-west-1: 2 used + 3 new <= 5" in result.stdout
    assert len([c for c in shell.calls() if "quota-code" in c]) == 3


def test_a_bucket_variable_must_name_a_reachable_bucket(shell):
    result = shell.run("B=mine; check_bucket B eu-west-1")
    assert checklist(result) == [("ok", "bucket mine ($B, eu-west-1): reachable")]
    assert shell.calls() == ["s3api head-bucket --region eu-west-1 --bucket mine"]
    shell.answer("s3api head-bucket", err="An error occurred (403) Forbidden", rc=254)
    ((verdict, text),) = checklist(shell.run("B=theirs; check_bucket B eu-west-1"))
    assert verdict == "FAIL" and "Forbidden" in text


def test_the_bootstrap_bucket_is_checked_once_the_bootstrap_exists(shell):
    shell.answer("cloudformation describe-stacks", err=NOT_FOUND, rc=254)
    assert checklist(shell.run("check_bootstrap eu-west-1"))[0][0] == "ok"
    shell.answer("cloudformation describe-stacks", "CREATE_COMPLETE\n", nth=2)
    shell.answer("cloudformation describe-stacks", "TemplateBucketName\tp-deploy-1-eu\n", nth=3)
    shell.answer("s3api head-bucket", err="Not Found", rc=254)
    ((verdict, text),) = checklist(shell.run("check_bootstrap eu-west-1"))
    assert verdict == "FAIL" and text.startswith("bootstrap bucket p-deploy-1-eu (eu-west-1)")


def test_a_bootstrap_whose_first_create_failed_is_re_created_not_a_failure(shell):
    """ROLLBACK_COMPLETE: no bucket, no output, and deploy_stack deletes and re-creates it
    (found by tests/deploy/test_one_run.py's seeded failure in the bootstrap stack)."""
    shell.answer("cloudformation describe-stacks", "ROLLBACK_COMPLETE\n")
    assert checklist(shell.run("check_bootstrap eu-west-1")) == [
        ("ok", "bootstrap p-bootstrap (eu-west-1): ROLLBACK_COMPLETE, this run deletes and "
         "re-creates it")
    ]  # fmt: skip
    shell.answer("cloudformation describe-stacks", "ROLLBACK_FAILED\n")
    ((verdict, text),) = checklist(shell.run("check_bootstrap eu-west-1"))
    assert verdict == "FAIL" and "ROLLBACK_FAILED" in text


def quota_answers(shell, *, eips="2", nat_subnets="subnet-a\tsubnet-b", azs="eu-1a\teu-1a",
                  vpcs="1", unreserved="1000", quota="5.0"):  # fmt: skip
    shell.answer("ec2 describe-addresses", f"{eips}\n")
    shell.answer("ec2 describe-nat-gateways", f"{nat_subnets}\n")
    shell.answer("ec2 describe-subnets", f"{azs}\n")
    shell.answer("ec2 describe-vpcs", f"{vpcs}\n")
    shell.answer("service-quotas get-service-quota", f"{quota}\n")
    shell.answer("lambda get-account-settings", f"{unreserved}\n")


def test_quotas_with_room_pass(shell):
    quota_answers(shell)
    result = shell.run("STACK_FOUND=NONE; check_quotas eu-west-1 3 3 1 1")
    assert checklist(result) == [
        ("ok", "Elastic IPs in eu-west-1: 2 used + 3 new <= 5"),
        ("ok", "NAT gateways in the busiest AZ of eu-west-1: 2 used + 1 new <= 5"),
        ("ok", "VPCs in eu-west-1: 1 used + 1 new <= 5"),
        ("ok", "Lambda concurrency in eu-west-1: 1000 unreserved - 1 reserved >= 10"),
    ]
    codes = [c.split("--quota-code ")[1].split()[0] for c in shell.calls() if "quota-code" in c]
    assert codes == ["L-0263D0A3", "L-FE5A380F", "L-F678F1CE"]
    assert "--service-code ec2 --quota-code L-0263D0A3" in " ".join(shell.calls())
    assert "--service-code vpc --quota-code L-FE5A380F" in " ".join(shell.calls())


def test_each_quota_without_room_fails(shell):
    azs = "eu-1a\teu-1a\teu-1a\teu-1a\teu-1a"
    quota_answers(shell, eips="3", azs=azs, vpcs="5", unreserved="10")
    result = shell.run("STACK_FOUND=NONE; check_quotas eu-west-1 3 3 1 1")
    assert [verdict for verdict, _ in checklist(result)] == ["FAIL"] * 4
    assert "3 used + 3 new > quota 5" in result.stdout
    assert "busiest AZ of eu-west-1: 5 used + 1 new > quota 5" in result.stdout
    assert "10 unreserved - 1 reserved < 10" in result.stdout


def test_a_quota_that_cannot_be_read_is_a_warning(shell):
    quota_answers(shell)
    shell.answer("service-quotas get-service-quota", err="AccessDenied", rc=254)
    result = shell.run("STACK_FOUND=NONE; check_quotas eu-west-1 3 0 0 0")
    ((verdict, text),) = checklist(result)
    assert verdict == "warn" and text.startswith("Elastic IPs in eu-west-1")


def test_quotas_are_not_checked_for_a_stack_that_exists(shell):
    result = shell.run("STACK_FOUND=UPDATE_COMPLETE; check_quotas eu-west-1 3 3 1 1")
    assert checklist(result) == [] and shell.calls() == []


def test_a_failed_check_stops_at_the_end_of_the_checklist(shell):
    shell.answer("sts get-caller-identity", err="ExpiredToken", rc=254)
    shell.answer("ec2 describe-regions", "opted-in\n")
    result = shell.run("preflight_begin; check_credentials eu-west-1; check_region eu-west-1 eu-west-1;"
                       " preflight_end; echo deployed")  # fmt: skip
    assert result.returncode == 1
    assert [v for v, _ in checklist(result)] == ["FAIL", "ok"]  # every check still ran
    assert "1 check(s) failed; nothing was deployed" in result.stderr
    assert "deployed\n" not in result.stdout


# --- protection ---------------------------------------------------------------------------


def test_the_stack_policy_denies_replacing_or_deleting_stateful_resources(shell):
    import json

    result = shell.run('printf "%s" "$STACK_POLICY"')
    allow, deny = json.loads(result.stdout)["Statement"]
    assert allow == {"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"}
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*" and deny["Resource"] == "*"
    assert sorted(deny["Action"]) == ["Update:Delete", "Update:Replace"]
    assert deny["Condition"]["StringEquals"]["ResourceType"] == list(STATEFUL_TYPES)
    assert set(STATEFUL_TYPES) == {
        "AWS::RDS::DBInstance",
        "AWS::S3::Bucket",
        "AWS::KMS::Key",
        "AWS::EC2::VPC",
        "AWS::Route53::HostedZone",
    }


def test_a_deployed_stack_is_protected_then(shell):
    shell.answer("cloudformation describe-stacks", err=NOT_FOUND, rc=254)
    result = shell.run("deploy_stack eu-west-1 s aws cloudformation deploy --stack-name s")
    assert result.returncode == 0, result.stderr
    after = shell.calls()[shell.calls().index("cloudformation deploy --stack-name s") + 1 :]
    assert after[-2] == (
        "cloudformation update-termination-protection --region eu-west-1 --stack-name s "
        "--enable-termination-protection"
    )
    assert after[-1].startswith(
        "cloudformation set-stack-policy --region eu-west-1 --stack-name s --stack-policy-body "
    )


def test_a_new_stack_has_no_policy_to_lift(shell):
    shell.answer("cloudformation describe-stacks", err=NOT_FOUND, rc=254)
    shell.run("ALLOW_STATEFUL_CHANGES=true; open_stack s eu-west-1")
    assert not any("set-stack-policy" in c for c in shell.calls())


def test_a_failed_deploy_puts_back_the_policy_it_lifted(shell):
    """--allow-stateful-changes lifts the policy for one deploy; a failed deploy must not
    leave the stack open to stateful replacements until the next good run."""
    shell.answer("cloudformation describe-stacks", "UPDATE_COMPLETE\n")
    shell.answer("cloudformation describe-stack-events", "e0\n", nth=1)
    shell.answer("cloudformation describe-stack-events", FAILED_RUN)
    shell.answer("cloudformation deploy", err="Failed to create/update the stack", rc=255)
    result = shell.run(
        "ALLOW_STATEFUL_CHANGES=true; deploy_stack eu-west-1 s aws cloudformation deploy"
    )
    assert result.returncode == 1
    policies = [c for c in shell.calls() if c.startswith("cloudformation set-stack-policy")]
    assert len(policies) == 2, policies
    assert '"Update:Replace","Update:Delete"' not in policies[0]  # lifted
    after = shell.calls()[shell.calls().index("cloudformation deploy") + 1 :]
    assert policies[1] in after
    assert '"Update:Replace","Update:Delete"' in policies[1]  # and back on
    assert not any("update-termination-protection" in c for c in after)


def test_a_failed_deploy_leaves_the_policy_of_a_stack_it_did_not_open(shell):
    shell.answer("cloudformation describe-stacks", "UPDATE_COMPLETE\n")
    shell.answer("cloudformation describe-stack-events", "e0\n", nth=1)
    shell.answer("cloudformation describe-stack-events", FAILED_RUN)
    shell.answer("cloudformation deploy", err="Failed to create/update the stack", rc=255)
    result = shell.run("deploy_stack eu-west-1 s aws cloudformation deploy")
    assert result.returncode == 1
    assert not any("set-stack-policy" in c for c in shell.calls())
