"""`scripts/try-deploy.sh`: the example spec deployed to a local moto_server exactly as
tests/deploy/test_deploy_script.py (class TestStacks) deploys it, for a person to watch.

The same steps, from the same helpers: compile infra.yaml, copy the output, rewrite the
templates for moto's gaps (moto_shim), put the test-only `aws` stand-in first on PATH
(aws_outputs_shim), run `deploy.sh global`, record the outputs moto leaves empty, then
run `deploy.sh`. The emulator is stopped at the end (by its own PID); the deployed copy
of templates_out/ stays for inspection. What this proves and what it does not:
docs/deploying.md, "What the local emulator proves".
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from compiler.pipeline import compile_spec

from .aws_cli import AwsCli
from .conftest import EXAMPLE_SPEC, CompiledSpec
from .emulator import start_moto_server, stop_moto_server
from .test_deploy_script import deploy_global_and_record_outputs, prepare_output_dir


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="try-deploy-"))
    process, server = start_moto_server(work / "moto_server.log")
    print(f"moto_server on {server.url} (log: {server.log})", flush=True)
    try:
        home = work / "aws-home"
        home.mkdir()
        aws = AwsCli(endpoint_url=server.url, s3_endpoint_url=server.s3_url, home=home)
        out = work / "compiled" / "templates_out"
        compiled = CompiledSpec(compile_spec(EXAMPLE_SPEC, out, lint=False), out)
        output_dir = prepare_output_dir(aws, compiled, work / "deploy" / "templates_out",
                                        stack_set=False)  # fmt: skip
        print("$ bash deploy.sh global", flush=True)
        print(deploy_global_and_record_outputs(output_dir, aws, server), flush=True)
        print("$ bash deploy.sh", flush=True)
        print(output_dir.run_ok(moto_server=server), flush=True)
    finally:
        stop_moto_server(process)
    print(f"deployed: {output_dir.path} (templates as rewritten for moto, and deploy.sh)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
