"""compiler/deploy_changeset.sh (`deploy.sh plan`, `apply`, `plan --discard`), function by
function: each test sources the libraries into bash and calls one function against the
stand-in `aws` of tests/test_deploy_library.py, which answers from files."""

from __future__ import annotations

import subprocess

import pytest

from compiler.deploy_script import CHANGESET_LIBRARY
from tests.conftest import REPO_ROOT
from tests.test_deploy_library import FAKE_AWS, NOT_FOUND, Shell

# A stack's deploy command as the generated stack functions pass it to deploy_stack.
DEPLOY = (
    "aws cloudformation deploy --region us-east-1 --stack-name s "
    '--template-file "$TEMPLATE" --capabilities CAPABILITY_IAM CAPABILITY_NAMED_IAM '
    "--role-arn arn:aws:iam::1:role/x "
    "--parameter-overrides 'A=one,two' 'B=say \"hi\"' 'C=' "
    "--tags Team=platform infra:project=p --no-fail-on-empty-changeset"
)
BUCKETED = (
    "aws cloudformation deploy --region us-east-1 --stack-name s "
    '--template-file "$TEMPLATE" --s3-bucket tb --s3-prefix s '
    "--tags infra:project=p --no-fail-on-empty-changeset"
)
ARN = "arn:aws:cloudformation:us-east-1:1:changeSet/infra-plan-1-2/abc"
NO_CHANGES = (
    "FAILED\tThe submitted information didn't contain changes. Submit different "
    "information to create a change set.\n"
)


class ChangeSetShell(Shell):
    """The stand-in shell with deploy_changeset.sh sourced too, and a template file."""

    def run(self, script: str):
        template = self.dir / "t.json"
        if not template.exists():
            template.write_text('{"Resources": {}}')
        return super().run(
            f"TEMPLATE={template}\nsource {CHANGESET_LIBRARY}\nSTACK_SET_POLL_SECONDS=0\n" + script
        )


@pytest.fixture
def cs(tmp_path) -> ChangeSetShell:
    (tmp_path / "bin").mkdir()
    aws = tmp_path / "bin" / "aws"
    aws.write_text(FAKE_AWS)
    aws.chmod(0o755)
    return ChangeSetShell(tmp_path)


def changes(*rows: tuple[str, ...]) -> str:
    """describe-change-set's `Changes[].ResourceChange.[...]` as `--output text` prints it."""
    return "".join("\t".join(row) + "\n" for row in rows)


def an_existing_stack(cs: ChangeSetShell, status: str = "UPDATE_COMPLETE") -> None:
    cs.answer("cloudformation describe-stacks", f"{status}\n")
    cs.answer("cloudformation list-change-sets", "")


# --- change_set_input / change_set_fingerprint ------------------------------------------


def test_the_deploy_command_becomes_create_change_set_arguments(cs):
    result = cs.run(
        f'change_set_input {DEPLOY}\nprintf "%s\\n" "$CS_TEMPLATE" "[$CS_BUCKET]" "${{CS_ARGS[@]}}"'
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        str(cs.dir / "t.json"),
        "[]",  # no bucket: sent inline
        "--role-arn",
        "arn:aws:iam::1:role/x",
        "--capabilities",
        "CAPABILITY_IAM",
        "CAPABILITY_NAMED_IAM",
        "--parameters",
        # JSON, not the shorthand: a value may hold commas and quotes.
        '[{"ParameterKey":"A","ParameterValue":"one,two"},'
        '{"ParameterKey":"B","ParameterValue":"say \\"hi\\""},'
        '{"ParameterKey":"C","ParameterValue":""}]',
        "--tags",
        '[{"Key":"Team","Value":"platform"},{"Key":"infra:project","Value":"p"}]',
    ]


def test_a_large_templates_bucket_and_prefix_are_kept(cs):
    result = cs.run(f'change_set_input {BUCKETED}\nprintf "%s %s" "$CS_BUCKET" "$CS_PREFIX"')
    assert result.stdout == "tb s"


def test_an_option_plan_cannot_translate_stops(cs):
    result = cs.run(f"change_set_input {DEPLOY} --kms-key-id k")
    assert result.returncode == 1
    assert "cannot translate --kms-key-id k" in result.stderr


def test_the_fingerprint_follows_the_template_and_the_values(cs):
    script = (
        f"change_set_input {DEPLOY}; a=$(change_set_fingerprint)\n"
        f"change_set_input {DEPLOY}; b=$(change_set_fingerprint)\n"
        f"change_set_input {DEPLOY.replace('A=one,two', 'A=three')}; c=$(change_set_fingerprint)\n"
        'printf x >>"$TEMPLATE"\n'
        f"change_set_input {DEPLOY}; d=$(change_set_fingerprint)\n"
        'printf "%s\\n" "$a" "$b" "$c" "$d"'
    )
    a, b, c, d = cs.run(script).stdout.split()
    assert a == b
    assert len({a, c, d}) == 3
    assert a.replace("-", "").isdigit()  # a valid change set name after the prefix


# --- plan_stack ---------------------------------------------------------------------------


def test_a_missing_stack_gets_a_create_change_set_sent_inline(cs):
    cs.answer("cloudformation describe-stacks", err=NOT_FOUND, rc=254)
    cs.answer("cloudformation list-change-sets", err=NOT_FOUND, rc=254)
    cs.answer("cloudformation create-change-set", ARN + "\n")
    cs.answer("cloudformation describe-change-set", "CREATE_PENDING\tNone\n", nth=1)
    cs.answer("cloudformation describe-change-set", "CREATE_COMPLETE\tNone\n", nth=2)
    cs.answer(
        "cloudformation describe-change-set",
        changes(
            ("Add", "Bucket", "AWS::S3::Bucket", "None"), ("Add", "Key", "AWS::KMS::Key", "None")
        ),
        nth=3,
    )
    result = cs.run(f'plan_stack us-east-1 s {DEPLOY}\nprintf "%s" "$PLAN_REPORT"')
    assert result.returncode == 0, result.stderr
    assert "+ s (us-east-1): a new stack of 2 resources" in result.stdout
    (create,) = [c for c in cs.calls() if c.startswith("cloudformation create-change-set")]
    assert "--change-set-type CREATE" in create
    assert f"--template-body file://{cs.dir / 't.json'}" in create
    assert "--change-set-name infra-plan-" in create
    assert "--description deploy.sh plan " in create
    assert not any("execute-change-set" in c for c in cs.calls())


def test_an_update_reports_each_change_and_calls_out_stateful_ones(cs):
    an_existing_stack(cs)
    cs.answer("cloudformation create-change-set", ARN + "\n")
    cs.answer("cloudformation describe-change-set", "CREATE_COMPLETE\tNone\n", nth=1)
    cs.answer(
        "cloudformation describe-change-set",
        changes(
            ("Add", "Queue", "AWS::SQS::Queue", "None"),
            ("Modify", "Service", "AWS::ECS::Service", "False"),
            ("Modify", "Database", "AWS::RDS::DBInstance", "True"),
            ("Modify", "Table", "AWS::Lambda::Function", "Conditional"),
            ("Remove", "Logs", "AWS::S3::Bucket", "None"),
        ),
        nth=2,
    )
    result = cs.run(f"plan_stack us-east-1 s {DEPLOY}\nplan_end")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "~ s (us-east-1): 1 added, 3 modified (2 replaced), 1 removed" in out
    assert "    + Queue (AWS::SQS::Queue)" in out
    assert "    ~ Service (AWS::ECS::Service)" in out
    assert "    ! Database (AWS::RDS::DBInstance) is replaced" in out
    assert "    ! Table (AWS::Lambda::Function) may be replaced (Replacement: Conditional)" in out
    assert "    - Logs (AWS::S3::Bucket)" in out
    assert "!!! STATEFUL RESOURCES REPLACED OR REMOVED" in out
    assert "  s (us-east-1): Database (AWS::RDS::DBInstance) replaced" in out
    assert "  s (us-east-1): Logs (AWS::S3::Bucket) removed" in out
    assert "Service" not in out.split("!!! STATEFUL")[1]
    assert "1 change set(s): 1 resources added, 3 modified (2 replaced), 1 removed" in out
    assert "deploy.sh apply executes exactly these change sets" in out
    create = [c for c in cs.calls() if "create-change-set" in c][0]
    assert "--change-set-type UPDATE" in create


def test_no_changes_is_no_error_and_its_change_set_goes(cs):
    an_existing_stack(cs)
    cs.answer("cloudformation create-change-set", ARN + "\n")
    cs.answer("cloudformation list-change-sets", ARN + "\n", nth=2)  # the empty one, listed
    cs.answer("cloudformation describe-change-set", NO_CHANGES)
    result = cs.run(f"plan_stack us-east-1 s {DEPLOY}\nplan_end")
    assert result.returncode == 0, result.stderr
    assert "= s (us-east-1): no changes" in result.stdout
    assert "0 change set(s)" in result.stdout
    assert f"cloudformation delete-change-set --region us-east-1 --change-set-name {ARN}" in (
        cs.calls()
    )


def test_a_failed_change_set_fails_the_plan_after_the_report(cs):
    an_existing_stack(cs)
    cs.answer("cloudformation create-change-set", ARN + "\n")
    cs.answer("cloudformation describe-change-set", "FAILED\tTemplate format error: bad\n")
    result = cs.run(f"plan_stack us-east-1 s {DEPLOY}\nplan_end")
    assert result.returncode == 1
    assert "x s (us-east-1): the change set failed: Template format error: bad" in result.stdout
    assert "plan: 1 change set(s) failed" in result.stderr


def test_older_plan_change_sets_are_deleted_first(cs):
    an_existing_stack(cs)
    cs.answer("cloudformation list-change-sets", "old-1\told-2\n", nth=1)
    cs.answer("cloudformation create-change-set", ARN + "\n")
    cs.answer("cloudformation describe-change-set", NO_CHANGES)
    cs.run(f"plan_stack us-east-1 s {DEPLOY}")
    calls = cs.calls()
    create = next(i for i, c in enumerate(calls) if "create-change-set" in c)
    deleted = [i for i, c in enumerate(calls) if "delete-change-set" in c and "old-" in c]
    assert len(deleted) == 2 and max(deleted) < create
    assert "Summaries[?StackName=='s' && starts_with(ChangeSetName, 'infra-plan-')]" in calls[0]


def test_a_large_template_is_uploaded_and_named_by_url(cs):
    an_existing_stack(cs)
    cs.answer("s3 presign", "https://tb.s3.amazonaws.com/s/key.json?X-Amz-Signature=1\n")
    cs.answer("cloudformation create-change-set", ARN + "\n")
    cs.answer("cloudformation describe-change-set", NO_CHANGES)
    result = cs.run(f"plan_stack us-east-1 s {BUCKETED}")
    assert result.returncode == 0, result.stderr
    upload = [c for c in cs.calls() if c.startswith("s3 cp")]
    assert upload and upload[0].split()[3].startswith("s3://tb/s/infra-plan-")
    create = [c for c in cs.calls() if "create-change-set" in c][0]
    assert "--template-url https://tb.s3.amazonaws.com/s/key.json " in create


def test_a_stack_whose_inputs_are_not_deployed_is_not_planned(cs):
    cs.answer("cloudformation describe-stacks", err=NOT_FOUND, rc=254)
    cs.answer("cloudformation list-change-sets", err=NOT_FOUND, rc=254)
    result = cs.run(
        "STACK_ACTION=plan\nread_output role g us-east-1 ExecutionRoleArn\n"
        f'plan_stack us-west-2 s {DEPLOY}\nprintf "%s|%s" "$PLAN_REPORT" "$role"'
    )
    assert result.returncode == 0, result.stderr
    assert (
        "? s (us-west-2): not planned: it needs output ExecutionRoleArn of g (us-east-1), "
        "not deployed yet" in result.stdout
    )
    assert not any("create-change-set" in c for c in cs.calls())
    assert result.stdout.endswith("|<ExecutionRoleArn of g>")


def test_read_output_still_stops_a_deploy_on_a_missing_stack(cs):
    cs.answer("cloudformation describe-stacks", err=NOT_FOUND, rc=254)
    result = cs.run("read_output role g us-east-1 ExecutionRoleArn\necho reached")
    assert result.returncode == 1
    assert "reached" not in result.stdout
    assert "does not exist" in result.stderr


@pytest.mark.parametrize(
    ("status", "said"),
    [
        ("ROLLBACK_COMPLETE", "ROLLBACK_COMPLETE (a failed first create)"),
        ("UPDATE_IN_PROGRESS", "it is UPDATE_IN_PROGRESS"),
        ("UPDATE_ROLLBACK_FAILED", "it is UPDATE_ROLLBACK_FAILED"),
    ],
)
def test_a_stack_no_change_set_can_be_made_for_is_not_planned(cs, status, said):
    an_existing_stack(cs, status)
    result = cs.run(f'plan_stack us-east-1 s {DEPLOY}\nprintf "%s" "$PLAN_REPORT"')
    assert f"? s (us-east-1): not planned: {said}" in result.stdout
    assert not any("create-change-set" in c for c in cs.calls())


def test_the_writer_regions_second_pass_is_planned_once(cs):
    an_existing_stack(cs)
    cs.answer("cloudformation create-change-set", ARN + "\n")
    cs.answer("cloudformation describe-change-set", NO_CHANGES)
    cs.run(f"plan_stack us-east-1 s {DEPLOY}\nplan_stack us-east-1 s {DEPLOY}")
    assert len([c for c in cs.calls() if "create-change-set" in c]) == 1


# --- compare_expected ---------------------------------------------------------------------


def test_the_prediction_is_compared_by_logical_id_and_action(cs):
    (cs.dir / "expected.txt").write_text(
        "# comment lines are no stack\n"
        "s\tQueue\tAdd\n"
        "s\tService\tModify\n"
        "s\tDatabase\tModify\n"
        "s\tGone\tRemove\n"
        "other\tX\tAdd\n"
    )
    result = cs.run(
        f"PLAN_EXPECT={cs.dir / 'expected.txt'}\n"
        "compare_expected s 'Queue Add' 'Service Replace?' 'Database Replace' 'Extra Modify'\n"
        'printf "%s%s" "$PLAN_REPORT" "$PLAN_DISAGREE"'
    )
    assert result.stdout.splitlines() == [
        "    ≠ Database: CloudFormation Replace, infra diff Modify",
        "    ≠ Extra: CloudFormation Modify, infra diff no change",
        "    ≠ Gone: infra diff Remove, CloudFormation no change",
        "3",
    ]  # Replace? (Conditional) agrees with Modify


def test_a_stack_predicted_unchanged_agrees_with_no_changes(cs):
    (cs.dir / "expected.txt").write_text("s\t-\tNone\n")
    result = cs.run(
        f"PLAN_EXPECT={cs.dir / 'expected.txt'}\ncompare_expected s\n"
        'printf "[%s]%s" "$PLAN_REPORT" "$PLAN_DISAGREE"'
    )
    assert result.stdout == "[]0"


def test_a_stack_the_prediction_does_not_name_is_not_compared(cs):
    (cs.dir / "expected.txt").write_text("other\tX\tAdd\n")
    result = cs.run(
        f"PLAN_EXPECT={cs.dir / 'expected.txt'}\ncompare_expected s 'Queue Add'\n"
        'printf "%s%s" "$PLAN_REPORT" "$PLAN_DISAGREE"'
    )
    assert "does not name this stack: not compared" in result.stdout
    assert result.stdout.endswith("0")


# --- apply ----------------------------------------------------------------------------------


def planned(cs: ChangeSetShell, execution: str = "AVAILABLE", type_: str = "UPDATE") -> None:
    """A stack with one plan change set made from DEPLOY as it is now."""
    fingerprint = cs.run(f"change_set_input {DEPLOY}; change_set_fingerprint").stdout
    (cs.dir / "calls.log").unlink(missing_ok=True)
    for count in cs.dir.glob("*.count"):
        count.unlink()
    cs.answer("cloudformation list-change-sets", ARN + "\n")
    cs.answer(
        "cloudformation describe-change-set",
        f"{execution}\tdeploy.sh plan {fingerprint} {type_}\n",
    )


def test_apply_executes_the_planned_change_set_and_protects_the_stack(cs):
    planned(cs, type_="CREATE")
    cs.answer("cloudformation describe-stacks", "REVIEW_IN_PROGRESS\n")
    cs.answer("cloudformation describe-stack-events", "")
    result = cs.run(f"apply_begin\ndeploy_stack us-east-1 s {DEPLOY}")
    assert result.returncode == 0, result.stderr
    calls = cs.calls()
    assert f"cloudformation execute-change-set --region us-east-1 --change-set-name {ARN}" in calls
    assert "cloudformation wait stack-create-complete --region us-east-1 --stack-name s" in calls
    assert not any(c.startswith("cloudformation deploy") for c in calls)
    protect = [c for c in calls if "termination-protection" in c or "set-stack-policy" in c]
    assert len(protect) == 2


def test_apply_waits_for_an_update_with_the_update_waiter(cs):
    planned(cs)
    cs.answer("cloudformation describe-stacks", "UPDATE_COMPLETE\n")
    cs.answer("cloudformation describe-stack-events", "")
    cs.run(f"apply_begin\ndeploy_stack us-east-1 s {DEPLOY}")
    assert "cloudformation wait stack-update-complete --region us-east-1 --stack-name s" in (
        cs.calls()
    )


def test_apply_refuses_a_change_set_made_from_other_values(cs):
    planned(cs)
    changed = DEPLOY.replace("A=one,two", "A=three")
    result = cs.run(f"apply_begin\ndeploy_stack us-east-1 s {changed}")
    assert result.returncode == 1
    assert "the template or the values of s (us-east-1) changed since the plan" in result.stderr
    assert not any("execute-change-set" in c for c in cs.calls())


def test_apply_refuses_a_template_changed_since_the_plan(cs):
    planned(cs)
    result = cs.run(f'printf " " >>"$TEMPLATE"\napply_begin\ndeploy_stack us-east-1 s {DEPLOY}')
    assert result.returncode == 1
    assert "changed since the plan" in result.stderr


def test_apply_refuses_an_obsolete_change_set(cs):
    planned(cs, execution="OBSOLETE")
    result = cs.run(f"apply_begin\ndeploy_stack us-east-1 s {DEPLOY}")
    assert result.returncode == 1
    assert "change set of s (us-east-1) is OBSOLETE" in result.stderr


def test_apply_leaves_a_stack_without_a_planned_change_set_alone(cs):
    cs.answer("cloudformation list-change-sets", "")
    result = cs.run(f"apply_begin\ndeploy_stack us-east-1 s {DEPLOY}")
    assert result.returncode == 0, result.stderr
    assert "s (us-east-1): no planned change set, left as it is" in result.stdout
    assert cs.calls() == [c for c in cs.calls() if "list-change-sets" in c]


def test_apply_stops_when_the_change_sets_cannot_be_listed(cs):
    """deploy_stack calls planned_change_set left of `||`, where bash ignores set -e: a
    failed listing must still stop the run, not read as "no planned change set"."""
    cs.answer("cloudformation list-change-sets", err="AccessDenied: not allowed", rc=254)
    result = cs.run(f"apply_begin\ndeploy_stack us-east-1 s {DEPLOY}; echo not reached")
    assert result.returncode == 1
    assert "cannot list the change sets of s (us-east-1): AccessDenied" in result.stderr
    assert "no planned change set" not in result.stdout
    assert "not reached" not in result.stdout


def test_apply_stops_when_the_planned_change_set_cannot_be_read(cs):
    planned(cs)
    cs.answer("cloudformation describe-change-set", err="Throttling: slow down", rc=254)
    result = cs.run(f"apply_begin\ndeploy_stack us-east-1 s {DEPLOY}; echo not reached")
    assert result.returncode == 1
    assert "cannot read the plan's change set of s (us-east-1)" in result.stderr
    assert "not reached" not in result.stdout
    assert not any("execute-change-set" in c for c in cs.calls())


def test_apply_and_plan_refuse_dry_run(cs):
    for begin in ("apply_begin", "plan_begin"):
        result = cs.run(f"DRY_RUN=true\n{begin}")
        assert result.returncode == 1
        assert "--dry-run does not combine" in result.stderr


# --- discard --------------------------------------------------------------------------------


def test_discard_deletes_the_plans_change_sets_and_an_empty_review_stack(cs):
    cs.answer("cloudformation list-change-sets", ARN + "\n", nth=1)
    cs.answer("cloudformation list-change-sets", "0\n", nth=2)
    cs.answer("cloudformation describe-stacks", "REVIEW_IN_PROGRESS\n")
    result = cs.run("PLAN_DISCARD=true\nplan_begin\ndeploy_stack us-east-1 s aws x")
    assert result.returncode == 0, result.stderr
    assert (
        cs.calls()[1]
        == f"cloudformation delete-change-set --region us-east-1 --change-set-name {ARN}"
    )
    assert cs.calls()[-1] == "cloudformation delete-stack --region us-east-1 --stack-name s"


def test_discard_keeps_a_stack_that_exists(cs):
    cs.answer("cloudformation list-change-sets", ARN + "\n")
    cs.answer("cloudformation describe-stacks", "UPDATE_COMPLETE\n")
    cs.run("PLAN_DISCARD=true\nplan_begin\ndeploy_stack us-east-1 s aws x")
    assert not any("delete-stack " in c for c in cs.calls())


def test_an_update_without_resource_changes_says_so(cs):
    an_existing_stack(cs)
    cs.answer("cloudformation create-change-set", ARN + "\n")
    cs.answer("cloudformation describe-change-set", "CREATE_COMPLETE\tNone\n", nth=1)
    cs.answer("cloudformation describe-change-set", "", nth=2)
    result = cs.run(f"plan_stack us-east-1 s {DEPLOY}\nplan_end")
    assert "~ s (us-east-1): no resource changes (its parameters, outputs or tags change)" in (
        result.stdout
    )
    assert "1 change set(s)" in result.stdout  # still one for apply to execute


def test_the_bootstrap_stack_is_not_compared_with_the_prediction(cs):
    (cs.dir / "expected.txt").write_text("s\t-\tNone\n")
    result = cs.run(
        f"PLAN_EXPECT={cs.dir / 'expected.txt'}\ncompare_expected p-bootstrap 'Bucket Add'\n"
        'printf "[%s]%s" "$PLAN_REPORT" "$PLAN_DISAGREE"'
    )
    assert result.stdout == "[]0"


def test_a_stack_an_earlier_plan_created_is_planned_again_not_deleted(cs):
    cs.answer("cloudformation describe-stacks", "REVIEW_IN_PROGRESS\n")
    cs.answer("cloudformation list-change-sets", "old-1\n", nth=1)
    cs.answer("cloudformation list-change-sets", "")
    cs.answer("cloudformation create-change-set", ARN + "\n")
    cs.answer("cloudformation describe-change-set", "CREATE_COMPLETE\tNone\n", nth=1)
    cs.answer("cloudformation describe-change-set", "", nth=2)
    result = cs.run(f"plan_stack us-east-1 s {DEPLOY}")
    assert result.returncode == 0, result.stderr
    calls = cs.calls()
    assert "cloudformation delete-change-set --region us-east-1 --change-set-name old-1" in calls
    assert not any(c.startswith("cloudformation delete-stack") for c in calls)
    assert "--change-set-type CREATE" in [c for c in calls if "create-change-set" in c][0]


# --- the preflight after a plan -------------------------------------------------------------


def test_preflight_takes_a_stack_a_plan_made_for_a_new_one(cs):
    """A CREATE change set leaves its stack REVIEW_IN_PROGRESS without resources: apply's
    preflight checks its quotas and does not look for its outputs."""
    cs.answer("cloudformation describe-stacks", "REVIEW_IN_PROGRESS\n")
    result = cs.run(
        'check_stack s us-east-1\nprintf "[%s]\\n" "$STACK_FOUND"\n'
        "check_global_output s us-east-1 ExecutionRoleArn\ncheck_bootstrap us-east-1\n"
        'printf "%s" "$PREFLIGHT_FAILURES"'
    )
    assert result.returncode == 0, result.stderr
    assert "ok    stack s (us-east-1): REVIEW_IN_PROGRESS (a change set made it)" in result.stdout
    assert "[NONE]" in result.stdout  # so check_quotas counts what it will create
    assert "ok    ExecutionRoleArn: made by s in this run" in result.stdout
    assert "ok    bootstrap p-bootstrap (us-east-1): none yet, this run creates it" in (
        result.stdout
    )
    assert result.stdout.endswith("0")


def test_a_stack_only_a_plan_made_has_no_policy_to_lift(cs):
    cs.answer("cloudformation describe-stacks", "REVIEW_IN_PROGRESS\n")
    cs.run("ALLOW_STATEFUL_CHANGES=true; open_stack s eu-west-1")
    assert not any("set-stack-policy" in c for c in cs.calls())


# --- the generated script -------------------------------------------------------------------


def run_script(*args: str):
    return subprocess.run(
        ["bash", str(REPO_ROOT / "templates_out" / "deploy.sh"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_script_carries_the_change_set_library_and_names_plan_and_apply():
    script = (REPO_ROOT / "templates_out" / "deploy.sh").read_text(encoding="utf-8")
    assert CHANGESET_LIBRARY.read_text(encoding="utf-8") in script
    usage = run_script("--help").stdout
    assert "  plan        make a change set for every stack" in usage
    assert "  apply       execute exactly the change sets plan made" in usage
    assert "  --expect FILE  with plan" in usage


def test_plan_and_apply_refuse_dry_run_before_any_aws_call():
    for mode in ("plan", "apply"):
        result = run_script(mode, "--dry-run")
        assert result.returncode == 1
        assert "--dry-run does not combine" in result.stderr


def test_a_second_pass_leaves_no_blocked_reason_for_the_next_stack(cs):
    result = cs.run(
        "PLAN_DONE=' us-east-1/s '\nPLAN_BLOCKED='needs output X of g (us-east-1)'\n"
        f'plan_stack us-east-1 s {DEPLOY}\nprintf "[%s]" "$PLAN_BLOCKED"'
    )
    assert result.stdout == "[]"
    assert cs.calls() == []
