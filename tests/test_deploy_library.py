"""compiler/deploy_library.sh, function by function: each test sources the library into
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
            f"source {LIBRARY}\nsource {FAILOVER_LIBRARY}\n"
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
    result = shell.run("report_first_failure s us-east-1 e0")
    assert result.stderr == (
        "deploy.sh: first failure in s (us-east-1): Bucket (AWS::S3::Bucket) CREATE_FAILED: "
        "shop-logs already exists\n"
    )


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
    assert result.stdout == "+ aws cloudformation deploy --x y\n"
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
