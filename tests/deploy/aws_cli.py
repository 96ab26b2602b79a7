"""The AWS CLI as the deploy tests use it: a subprocess against the local emulator.

Tests drive the real `aws` command rather than boto3 so that what they exercise is what
an operator (and `deploy.sh`) runs. Every call gets throwaway credentials and an empty
config, so nothing from the developer's own AWS setup can leak in or be touched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Above this many bytes CloudFormation refuses `TemplateBody`; the template must come
# from S3 (`aws cloudformation deploy --s3-bucket`).
TEMPLATE_BODY_LIMIT = 51_200

_S3_COMMANDS = ("s3", "s3api")


class AwsCliError(Exception):
    """An `aws` command exited non-zero; carries the command and what it printed."""

    def __init__(self, command: list[str], completed: subprocess.CompletedProcess[str]):
        self.command = command
        self.returncode = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        super().__init__(
            f"`{' '.join(command)}` exited {completed.returncode}\n"
            f"stdout:\n{completed.stdout[-4000:]}\nstderr:\n{completed.stderr[-4000:]}"
        )


def find_executable(name: str) -> str:
    """A console script of this virtualenv (next to the running Python), else from PATH."""
    beside_python = Path(sys.executable).parent / name
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(
            f"`{name}` not found; install the dev extras: pip install -e '.[dev]'"
        )
    return found


@dataclass(frozen=True)
class AwsCli:
    """Runs `aws` against one emulator endpoint, isolated from the user's AWS setup."""

    endpoint_url: str  # e.g. http://127.0.0.1:PORT
    # S3 gets its own endpoint: `cloudformation deploy --s3-bucket` builds the TemplateURL
    # from it, and moto only reads path-style template URLs whose host is `localhost`.
    s3_endpoint_url: str
    home: Path  # an empty directory standing in for $HOME (no ~/.aws of the user)
    executable: str = ""
    # A directory whose `aws` goes first on PATH, for deploy.sh too (warm_aws.install):
    # this virtualenv's AWS CLI (else PATH's first, which may be another install), and
    # then also the one the tests' own calls run.
    bin_dir: Path | None = None

    def __post_init__(self) -> None:
        (self.home / "empty-aws-config").touch()

    def env(self, region: str) -> dict[str, str]:
        # Drop every AWS_* of the caller (profiles, regions, CA bundles, real keys).
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        if self.bin_dir is not None:
            env["PATH"] = os.pathsep.join([str(self.bin_dir), env.get("PATH", os.defpath)])
        empty = self.home / "empty-aws-config"
        env.update(
            HOME=str(self.home),
            AWS_CONFIG_FILE=str(empty),
            AWS_SHARED_CREDENTIALS_FILE=str(empty),
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_SESSION_TOKEN="testing",
            AWS_DEFAULT_REGION=region,
            # Covers clients the CLI creates internally, e.g. deploy's S3 uploader.
            AWS_ENDPOINT_URL=self.endpoint_url,
            AWS_ENDPOINT_URL_S3=self.s3_endpoint_url,
            AWS_EC2_METADATA_DISABLED="true",
            # The emulator's errors are deterministic: fail at once instead of backing off.
            AWS_RETRY_MODE="standard",
            AWS_MAX_ATTEMPTS="1",
            AWS_PAGER="",
        )
        return env

    def run(self, *args: str, region: str, timeout: float = 120) -> str:
        """Run `aws ARGS` in `region`; its stdout. Raises `AwsCliError` on failure."""
        service = args[0]
        # Explicit --endpoint-url as well: `aws rds` was reported to ignore
        # AWS_ENDPOINT_URL, and an explicit flag cannot be missed by any service.
        endpoint = self.s3_endpoint_url if service in _S3_COMMANDS else self.endpoint_url
        command = [
            self.executable
            or (str(self.bin_dir / "aws") if self.bin_dir else find_executable("aws")),
            *args,
            "--region", region,
            "--endpoint-url", endpoint,
            "--output", "json",
        ]  # fmt: skip
        completed = subprocess.run(
            command,
            env=self.env(region),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if completed.returncode != 0:
            raise AwsCliError(command, completed)
        return completed.stdout

    def run_json(self, *args: str, region: str, timeout: float = 120) -> Any:
        """Run `aws ARGS` and parse its JSON output (None when it printed nothing)."""
        out = self.run(*args, region=region, timeout=timeout)
        return json.loads(out) if out.strip() else None


def availability_zones(aws: AwsCli, region: str) -> list[str]:
    """The region's zone names in the order `Fn::GetAZs` lists them (alphabetical)."""
    zones = aws.run_json("ec2", "describe-availability-zones", region=region)
    return sorted(zone["ZoneName"] for zone in zones["AvailabilityZones"])


def create_bucket(aws: AwsCli, name: str, region: str) -> None:
    # us-east-1 is the one region that rejects an explicit LocationConstraint.
    location = [] if region == "us-east-1" else [
        "--create-bucket-configuration", f"LocationConstraint={region}"
    ]  # fmt: skip
    aws.run("s3api", "create-bucket", "--bucket", name, *location, region=region)


def deploy_stack(
    aws: AwsCli,
    template_file: Path,
    *,
    stack_name: str,
    region: str,
    s3_bucket: str | None = None,
    capabilities: tuple[str, ...] = ("CAPABILITY_IAM",),
    parameter_overrides: dict[str, str] | None = None,
) -> str:
    """`aws cloudformation deploy`; through `s3_bucket` when given (required above the
    TemplateBody limit). Returns what the CLI printed."""
    if s3_bucket is None and template_file.stat().st_size > TEMPLATE_BODY_LIMIT:
        raise ValueError(
            f"{template_file} is over {TEMPLATE_BODY_LIMIT} bytes: deploy it with s3_bucket"
        )
    args = [
        "cloudformation", "deploy",
        "--stack-name", stack_name,
        "--template-file", str(template_file),
        "--capabilities", *capabilities,
    ]  # fmt: skip
    if s3_bucket:
        args += ["--s3-bucket", s3_bucket]
    if parameter_overrides:
        args += ["--parameter-overrides", *(f"{k}={v}" for k, v in parameter_overrides.items())]
    return aws.run(*args, region=region, timeout=300)


def stack_status(aws: AwsCli, stack_name: str, region: str) -> str:
    stacks = aws.run_json(
        "cloudformation", "describe-stacks", "--stack-name", stack_name, region=region
    )
    return stacks["Stacks"][0]["StackStatus"]


def stack_resources(aws: AwsCli, stack_name: str, region: str) -> dict[str, dict]:
    """The stack's resources by logical ID (PhysicalResourceId, ResourceType, status).

    Stack outputs are empty on moto after `deploy`, so tests find resources this way.
    """
    listed = aws.run_json(
        "cloudformation", "describe-stack-resources", "--stack-name", stack_name, region=region
    )
    # moto lists the types it accepts but does not model without a logical ID; skip them.
    return {r["LogicalResourceId"]: r for r in listed["StackResources"] if "LogicalResourceId" in r}


def failed_events(aws: AwsCli, stack_name: str, region: str) -> list[str]:
    """`LogicalId: reason` of every failed resource event, for assertion messages."""
    events = aws.run_json(
        "cloudformation", "describe-stack-events", "--stack-name", stack_name, region=region
    )
    return [
        f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}"
        for e in events["StackEvents"]
        if e["ResourceStatus"].endswith("FAILED")
    ]
