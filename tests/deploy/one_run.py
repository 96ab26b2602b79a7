"""One `deploy.sh` run on moto as moto_launcher.py patches it, with the shipped script
unchanged: what tests/deploy/test_one_run.py and scripts/try-deploy.sh share.

The templates are rewritten on a copy of the output directory (moto_shim), with the same
stand-ins for the same stack every time, so that a recompiled spec changes only what the
spec changed. deploy.sh runs with the AWS CLI's settings only (endpoint, dummy
credentials, an empty config): no argument, no DEPLOY_* variable, no stand-in `aws`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from compiler.deploy_script import SCRIPT_PATH
from compiler.pipeline import compile_spec

from ..builders.example import EXAMPLE_SPEC, copy_example
from .aws_cli import AwsCli, availability_zones
from .emulator import MotoServer
from .moto_shim import create_stand_ins, rewrite_for_moto

THIRD_REGION = "eu-west-1"
THIRD_CERTIFICATE = (
    "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-3333-4e5f-8a9b-000000000003"
)
RUN_TIMEOUT_S = 600


class DeployFailed(AssertionError):
    """deploy.sh exited non-zero: its output and moto's last traceback."""


# The seeded failure: a bucket whose name S3 refuses (names are 3 to 63 characters), which
# moto refuses as well ("The specified bucket is not valid.").
SEED = "SeededBadBucket"
SEED_NAME = "ab"
SEED_REASON = "The specified bucket is not valid."


def three_region_spec(instance_type: str = "t3.small") -> str:
    """infra.yaml with a third region (its own certificate) and latency routing."""
    text = EXAMPLE_SPEC.read_text(encoding="utf-8")
    edits = [
        ("  - name: us-west-2\n    cidr: 10.20.0.0/16\n",
         f"  - name: us-west-2\n    cidr: 10.20.0.0/16\n  - name: {THIRD_REGION}\n"
         "    cidr: 10.30.0.0/16\n"),
        ("  routing: failover ", "  routing: latency  "),
        ("    us-west-2: arn:aws:acm:us-west-2:",
         f"    {THIRD_REGION}: {THIRD_CERTIFICATE}\n    us-west-2: arn:aws:acm:us-west-2:"),
        ("  instance_type: t3.small\n", f"  instance_type: {instance_type}\n"),
    ]  # fmt: skip
    for old, new in edits:
        assert text.count(old) == 1, f"infra.yaml changed: {old!r} not found once"
        text = text.replace(old, new)
    return text


@dataclass
class Deployment:
    """A compiled output directory made deployable on moto, and how to run its deploy.sh."""

    aws: AwsCli
    server: MotoServer
    work: Path
    stand_ins: dict[str, dict] = field(default_factory=dict)  # stack -> moto_shim's
    path: Path | None = None
    manifest: dict = field(default_factory=dict)
    spec: object = None  # the InfraSpec last compiled

    def compile(self, name: str, spec_text: str, seed: bool = False) -> Path:
        """Compile `spec_text`, copy the output to `name`/templates_out, rewrite its
        templates for moto (the same stand-ins for the same stack every time, so that a
        recompile changes only what the spec changed); `seed`: plus, last in the bootstrap
        stack's template, a bucket S3 refuses to create."""
        spec = copy_example(self.work / name / "spec", spec_text)
        out = self.work / name / "compiled"
        result = compile_spec(spec, out, lint=False)
        self.path = self.work / name / "templates_out"
        shutil.copytree(out, self.path)
        self.manifest = json.loads((self.path / "manifest.json").read_text(encoding="utf-8"))
        if seed:
            path = self.path / self.manifest["bootstrap"]["template"]
            template = json.loads(path.read_text(encoding="utf-8"))
            template["Resources"][SEED] = {
                "Type": "AWS::S3::Bucket",
                "Properties": {"BucketName": SEED_NAME},
            }
            path.write_text(json.dumps(template, separators=(",", ":")), encoding="utf-8")
        for entry in self.manifest["stacks"]:
            if entry["kind"] in ("stackset", "health-alarms"):
                continue  # the StackSet is not deployed here; alarms need no rewrite
            path = self.path / entry["template"]
            template = json.loads(path.read_text(encoding="utf-8"))
            stand_ins = {}
            if entry["kind"] == "region":
                if entry["stack_name"] not in self.stand_ins:
                    self.stand_ins[entry["stack_name"]] = create_stand_ins(
                        self.aws, template, region=entry["region"],
                        stack_name=entry["stack_name"],
                    )  # fmt: skip
                stand_ins = self.stand_ins[entry["stack_name"]]
            zones = (
                availability_zones(self.aws, entry["region"]) if entry["kind"] == "region" else []
            )
            template = rewrite_for_moto(
                template,
                availability_zones=zones,
                certificate_arns=stand_ins.get("certificate_arns", {}),
                parameter_group_names=stand_ins.get("parameter_group_names", {}),
                ssm_parameter_values=stand_ins.get("ssm_parameter_values", {}),
                keep_retain_except_on_create=True,
            )
            path.write_text(json.dumps(template, separators=(",", ":")), encoding="utf-8")
        self.spec = result.spec
        return self.path

    def run(self, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
        """`bash deploy.sh ARGS` with only the AWS CLI's settings; and how long it took."""
        assert self.path is not None
        start = time.monotonic()
        result = subprocess.run(
            ["bash", str(self.path / SCRIPT_PATH), *args],
            env=self.aws.env("us-east-1"),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )
        return result, time.monotonic() - start

    def run_ok(self, *args: str) -> tuple[str, float]:
        result, seconds = self.run(*args)
        if result.returncode != 0:
            raise DeployFailed(
                f"deploy.sh {' '.join(args)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout[-8000:]}\nstderr:\n{result.stderr[-4000:]}\n"
                f"moto_server's last traceback:\n{self.server.last_traceback()}"
            )
        return result.stdout, seconds

    def client(self, service: str, region: str):
        """A boto3 client on the emulator, for the tests to look (not for deploying:
        deploy.sh uses the AWS CLI): in-process, where each `aws` call starts a Python.
        Imported here: only the deploy tests need it, not every test's collection."""
        import boto3

        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.server.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def entries(self, kind: str) -> list[dict]:
        return [e for e in self.manifest["stacks"] if e["kind"] == kind]

    def stacks(self) -> list[tuple[str, str]]:
        """(stack, region) of every stack a default run deploys, bootstrap stacks too."""
        found = [
            (e["stack_name"], e["region"])
            for e in self.manifest["stacks"]
            if e["kind"] != "stackset"
        ]
        bootstrap = self.manifest["bootstrap"]["stack_name"]
        return found + [(bootstrap, e["region"]) for e in self.manifest["stacks"]
                        if e["kind"] == "region"]  # fmt: skip
