"""compiler/deploy_stackset.sh and deploy_stackset_preview.sh, function by function,
against the stand-in `aws` of tests/test_deploy_library.py; and the service-managed deploy.sh's exact AWS CLI calls
(the local emulator has no AWS Organizations, so these are checked as commands)."""

from __future__ import annotations

import json
import subprocess

import pytest

from compiler.deploy_script import STACK_SET_LIBRARY, STACK_SET_PREVIEW_LIBRARY
from tests.fixtures.examples import compile_example, example
from tests.test_deploy_library import FAKE_AWS, Shell


def INSTANCES(*regions: str, account: str = "111111111111") -> str:  # noqa: N802
    """list-stack-instances' text answer: one SUCCEEDED instance of ACCOUNT per region."""
    return "".join(f"{account}\t{region}\tSUCCEEDED\n" for region in regions)


NOT_FOUND = (
    "An error occurred (StackSetNotFoundException) when calling the DescribeStackSet "
    "operation: StackSet s not found"
)
PREFERENCES = (
    "SEQUENTIAL MaxConcurrentPercentage 25 FailureToleranceCount 1 STRICT_FAILURE_TOLERANCE"
)


class StackSetShell(Shell):
    def run(self, script: str) -> subprocess.CompletedProcess[str]:
        return super().run(
            f"source {STACK_SET_LIBRARY}\nsource {STACK_SET_PREVIEW_LIBRARY}\n{script}"
        )


@pytest.fixture
def shell(tmp_path) -> StackSetShell:
    (tmp_path / "bin").mkdir()
    aws = tmp_path / "bin" / "aws"
    aws.write_text(FAKE_AWS)
    aws.chmod(0o755)
    return StackSetShell(tmp_path)


def test_preferences_are_the_json_cloudformation_reads_regions_in_order(shell):
    result = shell.run(f"org_preferences {PREFERENCES} us-east-1 eu-west-1")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "RegionConcurrencyType": "SEQUENTIAL",
        "MaxConcurrentPercentage": 25,
        "FailureToleranceCount": 1,
        "RegionOrder": ["us-east-1", "eu-west-1"],
    }  # the default mode left out: older CLIs lack the key
    soft = PREFERENCES.replace("STRICT_FAILURE_TOLERANCE", "SOFT_FAILURE_TOLERANCE")
    result = shell.run(f"org_preferences {soft} us-east-1")
    assert json.loads(result.stdout)["ConcurrencyMode"] == "SOFT_FAILURE_TOLERANCE"


def test_stack_set_exists_asks_as_the_delegated_admin(shell):
    shell.answer("cloudformation describe-stack-set", "ACTIVE\n")
    assert shell.run("org_stack_set_exists s us-east-1 DELEGATED_ADMIN").returncode == 0
    assert "--call-as DELEGATED_ADMIN --stack-set-name s" in shell.calls()[0]


def test_a_missing_stack_set_is_not_an_error_but_another_error_stops(shell):
    shell.answer("cloudformation describe-stack-set", err=NOT_FOUND, rc=254)
    assert shell.run("org_stack_set_exists s us-east-1 SELF").returncode == 1
    shell.answer("cloudformation describe-stack-set", err="AccessDenied: no", rc=254)
    result = shell.run("org_stack_set_exists s us-east-1 SELF || echo returned")
    assert "returned" not in result.stdout
    assert "deploy.sh: AccessDenied: no" in result.stderr


def test_not_a_delegated_administrator_gets_a_hint(shell):
    shell.answer(
        "cloudformation describe-stack-set",
        err="An error occurred (ValidationError) when calling the DescribeStackSet operation: "
        "Account used is not a delegated administrator",
        rc=254,
    )
    result = shell.run("org_stack_set_exists s us-east-1 DELEGATED_ADMIN || echo returned")
    assert "returned" not in result.stdout
    assert "Account used is not a delegated administrator" in result.stderr
    assert "organizations:ListDelegatedAdministrators" in result.stderr


def test_missing_regions_are_those_the_ou_has_no_instance_in_kept_in_order(shell):
    shell.answer("cloudformation list-stack-instances", INSTANCES("us-west-2", "us-west-2"))
    result = shell.run(
        "org_missing_regions s us-east-1 SELF ou-ab12-cd34ef56 us-east-1 us-west-2 eu-west-1"
    )
    assert result.stdout.splitlines() == ["us-east-1", "eu-west-1"]
    assert (
        "Summaries[?OrganizationalUnitId=='ou-ab12-cd34ef56']"
        ".[Account,Region,StackInstanceStatus.DetailedStatus]"
    ) in shell.calls()[0]


@pytest.mark.parametrize("status", ["FAILED", "CANCELLED", "INOPERABLE"])
def test_a_region_where_one_accounts_instance_failed_needs_a_run(shell, status):
    shell.answer(
        "cloudformation list-stack-instances",
        INSTANCES("us-east-1", "us-west-2") + f"222222222222\tus-west-2\t{status}\n",
    )
    result = shell.run("org_missing_regions s us-east-1 SELF ou-1 us-east-1 us-west-2")
    assert result.stdout.splitlines() == ["us-west-2"]


def test_accounts_not_succeeded_in_every_other_region_are_unready(shell):
    shell.answer(
        "cloudformation list-stack-instances",
        INSTANCES("us-east-1", "us-west-2", "eu-west-1")
        + "222222222222\tus-east-1\tSUCCEEDED\n222222222222\tus-west-2\tFAILED\n"
        + "222222222222\teu-west-1\tSUCCEEDED\n"
        + "333333333333\tus-east-1\tSUCCEEDED\n333333333333\tus-west-2\tSUCCEEDED\n",
    )
    result = shell.run("org_unready_accounts s us-east-1 SELF ou-1 us-west-2 eu-west-1")
    assert result.stdout.splitlines() == ["222222222222", "333333333333"]


def test_waiting_prints_progress_when_it_changes_then_returns_on_success(shell):
    shell.answer("cloudformation describe-stack-set-operation", "RUNNING\n", nth=1)
    shell.answer("cloudformation describe-stack-set-operation", "RUNNING\n", nth=2)
    shell.answer("cloudformation describe-stack-set-operation", "SUCCEEDED\n", nth=3)
    shell.answer("cloudformation list-stack-set-operation-results", "RUNNING\tPENDING\n", nth=1)
    shell.answer("cloudformation list-stack-set-operation-results", "RUNNING\tPENDING\n", nth=2)
    shell.answer("cloudformation list-stack-set-operation-results", "SUCCEEDED\tSUCCEEDED\n", nth=3)
    result = shell.run("org_wait_for_operation s us-east-1 SELF op-1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "deploy.sh: StackSet s operation op-1: RUNNING (1 PENDING, 1 RUNNING)",
        "deploy.sh: StackSet s operation op-1: SUCCEEDED (2 SUCCEEDED)",
    ]


def test_a_failed_operation_prints_each_failed_instance_by_account_and_region(shell):
    shell.answer("cloudformation describe-stack-set-operation", "FAILED\n")
    shell.answer(
        "cloudformation list-stack-set-operation-results",
        "SUCCEEDED\tFAILED\n",
        nth=1,
    )
    shell.answer(
        "cloudformation list-stack-set-operation-results",
        "111111111111\tus-east-1\tSUCCEEDED\tNone\n"
        "222222222222\tus-east-1\tFAILED\tResource handler returned message: bucket exists\n",
        nth=2,
    )
    result = shell.run("org_wait_for_operation s us-east-1 DELEGATED_ADMIN op-9")
    assert result.returncode == 1
    assert (
        "  222222222222  us-east-1  FAILED  Resource handler returned message: bucket exists"
        in result.stderr
    )
    assert "111111111111" not in result.stderr
    assert "StackSet s operation op-9 ended FAILED (reasons above)" in result.stderr
    assert all("--call-as DELEGATED_ADMIN" in call for call in shell.calls())


def test_instances_failed_within_the_tolerance_are_reported_with_a_warning(shell):
    shell.answer("cloudformation describe-stack-set-operation", "SUCCEEDED\n")
    shell.answer("cloudformation list-stack-set-operation-results", "SUCCEEDED\tFAILED\n", nth=1)
    shell.answer(
        "cloudformation list-stack-set-operation-results",
        "111111111111\tus-east-1\tSUCCEEDED\tNone\n"
        "222222222222\tus-west-2\tFAILED\tCertificate validation timed out\n",
        nth=2,
    )
    result = shell.run("org_wait_for_operation s us-east-1 SELF op-3")
    assert result.returncode == 0, result.stderr
    assert "  222222222222  us-west-2  FAILED  Certificate validation timed out" in result.stderr
    assert "111111111111" not in result.stderr
    assert "deploy.sh: WARNING: StackSet s operation op-3 SUCCEEDED within its failure" in (
        result.stderr
    )


def test_a_clean_success_warns_nothing(shell):
    shell.answer("cloudformation describe-stack-set-operation", "SUCCEEDED\n")
    shell.answer("cloudformation list-stack-set-operation-results", "SUCCEEDED\tSUCCEEDED\n")
    result = shell.run("org_wait_for_operation s us-east-1 SELF op-4")
    assert result.returncode == 0
    assert "WARNING" not in result.stderr
    assert len(shell.calls()) == 2  # no report of results


DEPLOY = (
    "deploy_org_stack_set s us-east-1 SELF Enabled=true,RetainStacksOnAccountRemoval=false "
    f"'{PREFERENCES}' 'ou-ab12-cd34ef56' 'us-east-1 us-west-2' "
    "--template-body file://t.json --parameters ParameterKey=ReplicateBuckets,ParameterValue=false"
)
ORDER = '"RegionOrder":["us-east-1","us-west-2"]}'


def test_first_deploy_creates_the_set_then_the_instances(shell):
    shell.answer("cloudformation describe-stack-set", err=NOT_FOUND, rc=254)
    shell.answer("cloudformation create-stack-set", "s:1\n")
    shell.answer("cloudformation list-stack-instances", "")
    shell.answer("cloudformation create-stack-instances", "op-1\n")
    shell.answer("cloudformation describe-stack-set-operation", "SUCCEEDED\n")
    result = shell.run(DEPLOY)
    assert result.returncode == 0, result.stderr
    changes = [c for c in shell.calls() if c.split()[1].startswith(("create", "update"))]
    preferences = (
        '{"RegionConcurrencyType":"SEQUENTIAL","MaxConcurrentPercentage":25,'
        f'"FailureToleranceCount":1,{ORDER}'
    )
    # The parameters go as given: the replication switch is set per account afterwards
    # (deploy_org_replication.sh, tests/test_deploy_org_replication.py).
    assert changes == [
        "cloudformation create-stack-set --region us-east-1 --stack-set-name s "
        "--permission-model SERVICE_MANAGED --template-body file://t.json "
        "--parameters ParameterKey=ReplicateBuckets,ParameterValue=false --call-as SELF "
        "--auto-deployment Enabled=true,RetainStacksOnAccountRemoval=false "
        "--managed-execution Active=true --query StackSetId --output text",
        "cloudformation create-stack-instances --region us-east-1 --call-as SELF "
        "--stack-set-name s --deployment-targets OrganizationalUnitIds=ou-ab12-cd34ef56 "
        f"--regions us-east-1 us-west-2 --operation-preferences {preferences} "
        "--query OperationId --output text",
    ]


def test_a_complete_stack_set_is_updated_once_as_given(shell):
    shell.answer("cloudformation describe-stack-set", "ACTIVE\n")
    shell.answer("cloudformation list-stack-instances", INSTANCES("us-east-1", "us-west-2"))
    shell.answer("cloudformation update-stack-set", "op-1\n")
    shell.answer("cloudformation describe-stack-set-operation", "SUCCEEDED\n")
    result = shell.run(DEPLOY)
    assert result.returncode == 0, result.stderr
    changes = [c for c in shell.calls() if c.split()[1].startswith(("create", "update"))]
    assert len(changes) == 1
    assert changes[0].startswith("cloudformation update-stack-set")
    assert "ParameterKey=ReplicateBuckets,ParameterValue=false" in changes[0]


def test_an_ou_missing_one_region_gets_only_that_region(shell):
    shell.answer("cloudformation describe-stack-set", "ACTIVE\n")
    shell.answer("cloudformation list-stack-instances", INSTANCES("us-east-1"))
    shell.answer("cloudformation update-stack-set", "op-1\n")
    shell.answer("cloudformation create-stack-instances", "op-2\n")
    shell.answer("cloudformation describe-stack-set-operation", "SUCCEEDED\n")
    result = shell.run(DEPLOY)
    assert result.returncode == 0, result.stderr
    created = [c for c in shell.calls() if "create-stack-instances" in c]
    assert len(created) == 1
    assert "--regions us-west-2 --operation-preferences" in created[0]
    assert '"RegionOrder":["us-west-2"]' in created[0]
    assert len([c for c in shell.calls() if "update-stack-set" in c]) == 1


def test_preview_names_a_changed_template_and_the_instances_a_run_adds(shell, tmp_path):
    template = tmp_path / "stackset.json"
    template.write_text('{"new": true}\n')
    shell.answer("cloudformation describe-stack-set", '{"old": true}\n')
    shell.answer("cloudformation list-stack-instances", INSTANCES("us-east-1"))
    result = shell.run(
        f"stack_set_preview s us-east-1 SELF {template} 'ou-ab12-cd34ef56' 'us-east-1 us-west-2'"
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert (
        lines[1]
        == "  template: changed (13 bytes deployed, 14 in stackset.json): a run updates every instance"
    )
    assert lines[2] == "  ou-ab12-cd34ef56: new instances in: us-west-2"
    assert not any(c.split()[1].startswith(("create", "update")) for c in shell.calls())


def test_preview_of_an_unchanged_self_managed_stack_set(shell, tmp_path):
    template = tmp_path / "stackset.json"
    template.write_text('{"same": true}\n')
    shell.answer("cloudformation describe-stack-set", '{"same": true}\n')
    shell.answer("sts get-caller-identity", "123456789012\n")
    shell.answer("cloudformation list-stack-instances", "us-east-1\tus-west-2\n")
    result = shell.run(f"stack_set_preview s us-east-1 - {template} - 'us-east-1 us-west-2'")
    assert result.stdout.splitlines()[1:] == [
        "  template: unchanged",
        "  account 123456789012: new instances in: none",
    ]
    assert "--call-as" not in " ".join(shell.calls())


# --- the generated deploy.sh of the service-managed example ------------------------------


@pytest.fixture(scope="module")
def organization(tmp_path_factory):
    out = tmp_path_factory.mktemp("organization")
    for file in compile_example(example("organization")):
        path = out / file.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(file.content)
    return out


def run_deploy_sh(directory, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(directory / "deploy.sh"), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_service_managed_dry_run_prints_the_exact_calls(organization):
    result = run_deploy_sh(organization, "stackset", "--dry-run")
    assert result.returncode == 0, result.stderr
    calls = [
        line
        for line in result.stdout.splitlines()
        if "cloudformation" in line and "stack-set" in line or "stack-instances" in line
    ]
    assert not any("shop-prod-global" in line for line in result.stdout.splitlines())
    preferences = (
        '\'{"RegionConcurrencyType":"SEQUENTIAL","MaxConcurrentPercentage":25,'
        '"FailureTolerancePercentage":10,'
        '"RegionOrder":["us-east-1","us-west-2"]}\''
    )
    tags = (
        "--tags Key=CostCenter,Value=cc-2040 Key=Environment,Value=prod Key=Team,Value=commerce "
        "Key=infra:project,Value=shop-prod"
    )
    url = "'<URL of s3://<TemplateBucketName output of shop-prod-bootstrap>/shop-prod-regional/"
    assert calls[0].startswith(
        "+ aws cloudformation create-stack-set --region us-east-1 --stack-set-name "
        f"shop-prod-regional --permission-model SERVICE_MANAGED --template-url {url}"
    )
    assert calls[0].endswith(
        " --capabilities CAPABILITY_IAM --parameters "
        # Each account's own SSM parameters (their names, passed as the template's defaults
        # are: a changed default would otherwise not reach an existing StackSet).
        "ParameterKey=HostedZoneId,ParameterValue=/infra/shop-prod/hosted-zone-id "
        "ParameterKey=ImageId,ParameterValue=/aws/service/ami-amazon-linux-latest/"
        "al2023-ami-kernel-default-x86_64 "
        "ParameterKey=RecordName,ParameterValue=/infra/shop-prod/record-name "
        "ParameterKey=ReplicateBuckets,ParameterValue=false "
        f"{tags} --call-as DELEGATED_ADMIN --auto-deployment "
        "Enabled=true,RetainStacksOnAccountRemoval=false --managed-execution Active=true --query StackSetId --output text"
    )
    for index, ou in ((1, "ou-ab12-cd34ef56"), (2, "ou-ab12-gh78ij90")):
        assert calls[index] == (
            "+ aws cloudformation create-stack-instances --region us-east-1 --call-as "
            f"DELEGATED_ADMIN --stack-set-name shop-prod-regional --deployment-targets "
            f"OrganizationalUnitIds={ou} --regions us-east-1 us-west-2 --operation-preferences "
            f"{preferences} --query OperationId --output text"
        )
    # Replication on, per account: the StackSet's own value stays false for accounts that
    # join later (deploy_org_replication.sh).
    for index, ou in ((3, "ou-ab12-cd34ef56"), (4, "ou-ab12-gh78ij90")):
        assert calls[index] == (
            "+ aws cloudformation update-stack-instances --region us-east-1 --call-as "
            f"DELEGATED_ADMIN --stack-set-name shop-prod-regional --deployment-targets "
            f"OrganizationalUnitIds={ou} --regions us-east-1 us-west-2 --parameter-overrides "
            f"ParameterKey=ReplicateBuckets,ParameterValue=true --operation-preferences "
            f"{preferences} --query OperationId --output text"
        )
    assert not any("ParameterValue=true" in call for call in calls[:3])
    assert len(calls) == 5


def test_service_managed_template_reads_the_zone_from_ssm_and_deploy_sh_passes_nothing(
    organization,
):
    template = json.loads((organization / "stackset.json").read_text())
    assert template["Parameters"]["HostedZoneId"]["Type"] == (
        "AWS::SSM::Parameter::Value<AWS::Route53::HostedZone::Id>"
    )
    assert template["Parameters"]["HostedZoneId"]["Default"] == "/infra/shop-prod/hosted-zone-id"
    manifest = json.loads((organization / "manifest.json").read_text())
    entry = next(s for s in manifest["stacks"] if s["kind"] == "stackset")
    assert entry["administration_role_arn"] is None
    assert entry["instances"]["accounts"] == {"from": "organizational_units"}
    assert entry["deployment"]["organizational_unit_ids"] == [
        "ou-ab12-cd34ef56",
        "ou-ab12-gh78ij90",
    ]
    assert all(p["from"] != "stack_output" for p in entry["parameters"])


def test_service_managed_template_is_the_regional_one_but_for_the_zone_parameter(organization):
    from tests.test_assemble import resolve_region_lookups

    # The record name is each account's own (the SSM parameter): put the spec's back.
    name = "www.shop.example.net"
    stackset = json.loads(
        (organization / "stackset.json")
        .read_text()
        .replace("this account's record name (RecordName)", name)
    )
    mappings = stackset.pop("Mappings")
    stackset.pop("Rules")
    zone = stackset["Parameters"].pop("HostedZoneId")
    assert zone["Default"].startswith("/infra/")
    assert stackset["Parameters"].pop("RecordName")["Default"] == "/infra/shop-prod/record-name"
    resources = stackset["Resources"]
    resources["Certificate"]["Properties"]["DomainName"] = name
    resources["Certificate"]["Properties"]["DomainValidationOptions"][0]["DomainName"] = name
    resources["RecordSet"]["Properties"]["Name"] = name
    for region in ("us-east-1", "us-west-2"):
        regional = json.loads((organization / "regions" / f"{region}.json").read_text())
        regional["Parameters"].pop("HostedZoneId")
        assert resolve_region_lookups(stackset, mappings, region) == regional


def test_service_managed_names_come_from_each_accounts_ssm_parameters(organization):
    """One record name for every account would make each account request a certificate for
    it, validated in its own zone of that name, of which only one can be delegated."""
    stackset = json.loads((organization / "stackset.json").read_text())
    assert stackset["Parameters"]["RecordName"] == {
        "Type": "AWS::SSM::Parameter::Value<String>",
        "Default": "/infra/shop-prod/record-name",
        "Description": stackset["Parameters"]["RecordName"]["Description"],
    }
    certificate = stackset["Resources"]["Certificate"]["Properties"]
    assert certificate["DomainName"] == {"Ref": "RecordName"}
    assert certificate["DomainValidationOptions"] == [
        {"DomainName": {"Ref": "RecordName"}, "HostedZoneId": {"Ref": "HostedZoneId"}}
    ]
    assert stackset["Resources"]["RecordSet"]["Properties"]["Name"] == {"Ref": "RecordName"}
    assert "www.shop.example.net" not in json.dumps(
        [stackset["Resources"][r]["Properties"] for r in ("RecordSet", "Certificate")]
    )


def test_stackset_plan_mode_previews_read_only(organization):
    result = run_deploy_sh(organization, "stackset-plan", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "no change set exists for StackSets" in result.stdout
    assert "+ aws" not in result.stdout


def test_service_managed_replicas_take_no_writer_secret_from_any_stack(organization):
    """The replica regions name the writer's secret copy by its fixed name: deploy.sh reads
    no output and passes no ARN, so one set of parameters serves every account."""
    stackset = json.loads((organization / "stackset.json").read_text())
    assert sorted(stackset["Parameters"]) == [
        "HostedZoneId",
        "ImageId",
        "RecordName",
        "ReplicateBuckets",
    ]
    result = run_deploy_sh(organization, "stackset", "--dry-run")
    assert "WriterDatabaseSecretArn" not in result.stdout
    assert "describe-stack-instance " not in result.stdout
    manifest = json.loads((organization / "manifest.json").read_text())
    assert manifest["database_replicas"]["replica_regions"] == ["us-west-2"]


def test_promote_fails_over_the_callers_account_and_leaves_the_spec(organization):
    result = run_deploy_sh(organization, "promote", "us-west-2", "--dry-run")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert (
        "+ aws rds promote-read-replica --region us-west-2 --db-instance-identifier "
        "'<replica of shop-prod-db in us-west-2>' --backup-retention-period 7"
    ) in lines
    assert "in account" in result.stdout and "Leave infra.yaml as it is" in result.stdout
    assert "promoted:" not in result.stdout  # no spec change to make
    refused = run_deploy_sh(organization, "promote", "us-east-1", "--dry-run")
    assert refused.returncode != 0
    assert "us-east-1 holds no replica" in refused.stderr
