"""compiler/deploy_org_replication.sh: a service-managed StackSet's replication switch is
false on the StackSet (what automatic deployment gives a joining account) and true, as a
parameter override, on the instances of every account deploy.sh has deployed everywhere;
against the stand-in `aws` of tests/test_deploy_library.py."""

from __future__ import annotations

import json
import subprocess

import pytest

from compiler.deploy_script import ORG_REPLICATION_LIBRARY, STACK_SET_LIBRARY
from tests.test_deploy_library import FAKE_AWS, Shell
from tests.test_deploy_stackset import INSTANCES, NOT_FOUND, PREFERENCES

OUS = "ou-ab12-cd34ef56 ou-ab12-gh78ij90"
DEPLOY = (
    "deploy_org_stack_set s us-east-1 SELF Enabled=true,RetainStacksOnAccountRemoval=false "
    f"'{PREFERENCES}' '{OUS}' 'us-east-1 us-west-2' "
    "--template-body file://t.json --parameters ParameterKey=ReplicateBuckets,ParameterValue=false"
    f"\norg_switch_on s us-east-1 SELF '{PREFERENCES}' ReplicateBuckets '{OUS}' "
    "'us-east-1 us-west-2'"
)


class OrgShell(Shell):
    def run(self, script: str) -> subprocess.CompletedProcess[str]:
        return super().run(
            f"source {STACK_SET_LIBRARY}\nsource {ORG_REPLICATION_LIBRARY}\n{script}"
        )


@pytest.fixture
def shell(tmp_path) -> OrgShell:
    (tmp_path / "bin").mkdir()
    aws = tmp_path / "bin" / "aws"
    aws.write_text(FAKE_AWS)
    aws.chmod(0o755)
    return OrgShell(tmp_path)


def changes(shell: OrgShell) -> list[str]:
    return [c for c in shell.calls() if c.split()[1].startswith(("create", "update"))]


def preferences_of(call: str) -> dict:
    return json.loads(call.split("--operation-preferences ")[1].split(" --query")[0])


def test_first_deploy_switches_replication_on_per_account_never_on_the_stack_set(shell):
    shell.answer("cloudformation describe-stack-set", err=NOT_FOUND, rc=254)
    shell.answer("cloudformation create-stack-set", "s:1\n")
    # No instance before the create; every region of both OUs after it.
    shell.answer("cloudformation list-stack-instances", "", nth=1)
    shell.answer("cloudformation list-stack-instances", "", nth=2)
    shell.answer("cloudformation list-stack-instances", INSTANCES("us-east-1", "us-west-2"))
    shell.answer("cloudformation create-stack-instances", "op-1\n")
    shell.answer("cloudformation update-stack-instances", "op-2\n")
    shell.answer("cloudformation describe-stack-set-operation", "SUCCEEDED\n")
    result = shell.run(DEPLOY)
    assert result.returncode == 0, result.stderr
    made = changes(shell)
    assert [c.split()[1] for c in made] == [
        "create-stack-set",
        "create-stack-instances",
        "create-stack-instances",
        "update-stack-instances",
        "update-stack-instances",
    ]
    assert "ParameterKey=ReplicateBuckets,ParameterValue=false" in made[0]
    assert not any("update-stack-set" in c for c in made)
    for ou, call in zip(OUS.split(), made[3:], strict=True):
        assert f"--deployment-targets OrganizationalUnitIds={ou} " in call
        assert "--regions us-east-1 us-west-2 " in call
        assert "--parameter-overrides ParameterKey=ReplicateBuckets,ParameterValue=true " in call
        # The writer region first, one region after another: its bucket replication and
        # secret copies need the other regions' buckets and keys.
        assert preferences_of(call)["RegionOrder"] == ["us-east-1", "us-west-2"]
        assert preferences_of(call)["RegionConcurrencyType"] == "SEQUENTIAL"


def test_later_runs_keep_the_stack_sets_own_value_false(shell):
    """An update of the StackSet leaves the instances' overrides as they are (CloudFormation
    keeps overridden values through StackSet updates): the accounts already deployed keep
    replicating, an account that joined since gets it switched on."""
    shell.answer("cloudformation describe-stack-set", "ACTIVE\n")
    shell.answer("cloudformation list-stack-instances", INSTANCES("us-east-1", "us-west-2"))
    shell.answer("cloudformation update-stack-set", "op-1\n")
    shell.answer("cloudformation update-stack-instances", "op-2\n")
    shell.answer("cloudformation describe-stack-set-operation", "SUCCEEDED\n")
    result = shell.run(DEPLOY)
    assert result.returncode == 0, result.stderr
    made = changes(shell)
    assert [c.split()[1] for c in made] == [
        "update-stack-set",
        "update-stack-instances",
        "update-stack-instances",
    ]
    assert "ParameterKey=ReplicateBuckets,ParameterValue=false" in made[0]
    assert "ParameterValue=true" not in made[0]


def test_an_ou_without_accounts_has_nothing_to_switch_on(shell):
    shell.answer("cloudformation describe-stack-set", "ACTIVE\n")
    # Asked per OU, the first then the second, twice (before creating instances, before
    # switching on): the first OU has every region; the second has no account, so no
    # instance, ever.
    shell.answer("cloudformation list-stack-instances", "")
    for nth in (1, 3):
        shell.answer(
            "cloudformation list-stack-instances", INSTANCES("us-east-1", "us-west-2"), nth=nth
        )
    shell.answer("cloudformation update-stack-set", "op-1\n")
    shell.answer("cloudformation create-stack-instances", "op-2\n")
    shell.answer("cloudformation update-stack-instances", "op-3\n")
    shell.answer("cloudformation describe-stack-set-operation", "SUCCEEDED\n")
    result = shell.run(DEPLOY)
    assert result.returncode == 0, result.stderr
    switched = [c for c in changes(shell) if "update-stack-instances" in c]
    assert len(switched) == 1
    assert "OrganizationalUnitIds=ou-ab12-cd34ef56 " in switched[0]


def test_a_failed_switch_stops_with_each_failed_instance(shell):
    shell.answer("cloudformation update-stack-instances", "op-7\n")
    shell.answer("cloudformation list-stack-instances", INSTANCES("us-east-1", "us-west-2"))
    shell.answer("cloudformation describe-stack-set-operation", "FAILED\n")
    shell.answer("cloudformation list-stack-set-operation-results", "FAILED\n", nth=1)
    shell.answer(
        "cloudformation list-stack-set-operation-results",
        "222222222222\tus-east-1\tFAILED\tDestination bucket must exist\n",
        nth=2,
    )
    result = shell.run(
        f"org_switch_on s us-east-1 SELF '{PREFERENCES}' ReplicateBuckets 'ou-ab12-cd34ef56' "
        "'us-east-1 us-west-2'"
    )
    assert result.returncode == 1
    assert "222222222222  us-east-1  FAILED  Destination bucket must exist" in result.stderr


def test_an_account_whose_other_region_failed_keeps_replication_off(shell):
    shell.answer(
        "cloudformation list-stack-instances",
        INSTANCES("us-east-1", "us-west-2")
        + "222222222222\tus-east-1\tSUCCEEDED\n222222222222\tus-west-2\tFAILED\n",
    )
    shell.answer("cloudformation update-stack-instances", "op-2\n")
    shell.answer("cloudformation describe-stack-set-operation", "SUCCEEDED\n")
    result = shell.run(
        f"org_switch_on s us-east-1 SELF '{PREFERENCES}' ReplicateBuckets ou-ab12-cd34ef56 "
        "'us-east-1 us-west-2'"
    )
    assert result.returncode == 0, result.stderr
    (switch,) = [c for c in changes(shell)]
    assert (
        "--deployment-targets OrganizationalUnitIds=ou-ab12-cd34ef56,Accounts=222222222222,"
        "AccountFilterType=DIFFERENCE --regions us-east-1 us-west-2 "
    ) in switch
    assert "WARNING: replication stays off in 222222222222 (ou-ab12-cd34ef56)" in result.stderr
