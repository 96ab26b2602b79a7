"""`scripts/try-deploy.sh`: a spec deployed to a local moto_server exactly as
tests/deploy/test_one_run.py deploys it, for a person to watch.

The same steps, from the same helpers (one_run.py): start moto as moto_launcher.py patches
it, compile the spec, copy the output and rewrite its templates for moto's gaps
(moto_shim), then ONE `bash deploy.sh`, with only the AWS CLI's endpoint and dummy
credentials set. `--three-regions`: infra.yaml with a third region (eu-west-1) and
latency routing, as the tests use it; `--again`: run deploy.sh a second time (a no-op);
`--plan-instance-type TYPE`: then change the spec's instance type, recompile and run
`deploy.sh plan` (and `plan --discard`).
The emulator is stopped at the end (by its own PID); the deployed copy of templates_out/
stays for inspection. What this proves and what it does not: docs/deploying.md, "What
the local emulator proves".
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from ..builders.example import EXAMPLE_SPEC
from .aws_cli import AwsCli
from .emulator import start_moto_server, stop_moto_server
from .one_run import DeployFailed, Deployment, three_region_spec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/try-deploy.sh", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--three-regions", action="store_true",
                        help="infra.yaml with a third region and latency routing")  # fmt: skip
    parser.add_argument("--again", action="store_true", help="then run deploy.sh once more")
    parser.add_argument("--plan-instance-type", metavar="TYPE",
                        help="then plan a change of compute.instance_type to TYPE")  # fmt: skip
    options = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="try-deploy-"))
    process, server = start_moto_server(work / "moto_server.log", patched=True)
    print(f"moto_server on {server.url} (log: {server.log})", flush=True)
    try:
        home = work / "aws-home"
        home.mkdir()
        aws = AwsCli(endpoint_url=server.url, s3_endpoint_url=server.s3_url, home=home)
        deployment = Deployment(aws, server, work)
        deployment.compile("deploy", spec_text(options.three_regions))
        for run in range(2 if options.again else 1):
            print(f"$ bash templates_out/deploy.sh{'   # again' if run else ''}", flush=True)
            stdout, seconds = deployment.run_ok()
            print(stdout, flush=True)
            print(f"(deploy.sh took {seconds:.0f} s)", flush=True)
        if options.plan_instance_type:
            deployment.compile(
                "changed", spec_text(options.three_regions, options.plan_instance_type)
            )
            print(f"$ bash templates_out/deploy.sh plan   # instance type now "
                  f"{options.plan_instance_type}", flush=True)  # fmt: skip
            print(deployment.run_ok("plan")[0], flush=True)
            deployment.run_ok("plan", "--discard")
    except DeployFailed as failed:
        print(failed, file=sys.stderr)
        return 1
    finally:
        stop_moto_server(process)
    print(f"deployed: {deployment.path} (templates as rewritten for moto, and deploy.sh)")
    return 0


def spec_text(three_regions: bool, instance_type: str = "t3.small") -> str:
    if three_regions:
        return three_region_spec(instance_type)
    text = EXAMPLE_SPEC.read_text(encoding="utf-8")
    return text.replace("  instance_type: t3.small\n", f"  instance_type: {instance_type}\n")


if __name__ == "__main__":
    sys.exit(main())
