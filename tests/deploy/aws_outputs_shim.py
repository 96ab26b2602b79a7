"""A test-only `aws` placed first on PATH when deploy.sh runs against moto_server.

Moto gap: after `aws cloudformation deploy` (a change set) moto leaves the stack's
Outputs empty, and deploy.sh reads the global stack's outputs with

    aws cloudformation describe-stacks --stack-name S --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output text

The stand-in answers exactly that question, for a stack named in a JSON file
`{stack: {output: value}}` (a stack name, a glob pattern of stack IDs, or `REGION/STACK`
for a stack name used in several regions, such as the bootstrap stack's) that the test
fills from what moto did create (`global_outputs`), or `{"resource": ID}` for a `Ref`
output the stand-in looks up when asked (a regional stack's `HealthCheckId`, made during
the run), as the CLI would: one
`key<TAB>value` line per output. Every other
call goes to the real AWS CLI unchanged.
Moto gap: moto refuses a change set without changes (see NO_UPDATES below).
Moto gap: moto has no UpdateTerminationProtection, which deploy.sh calls after each
stack; the stand-in answers it as AWS does (the stack's ID) without changing anything.

deploy.sh itself is not touched: the gaps are filled on the test side. Delete this once
moto returns outputs after `deploy` and supports termination protection.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .aws_cli import AwsCli, stack_resources

OUTPUTS_QUERY = "Stacks[0].Outputs[].[OutputKey,OutputValue]"

# The stand-in itself: run by this virtualenv's Python; paths filled in by `install`.
_SCRIPT = '''#!{python}
"""Test-only stand-in for `aws`: see tests/deploy/aws_outputs_shim.py."""
import fnmatch, json, os, sys
args = sys.argv[1:]
if args[:2] == ["cloudformation", "update-termination-protection"]:
    print(json.dumps({{"StackId": args[args.index("--stack-name") + 1]}}))
    sys.exit(0)
if args[:2] == ["cloudformation", "describe-stacks"] and "--query" in args and "--stack-name" in args:
    outputs = json.loads(open({outputs!r}).read())
    stack = args[args.index("--stack-name") + 1]
    region = args[args.index("--region") + 1] if "--region" in args else ""
    found = [name for name in outputs if name == f"{{region}}/{{stack}}"]
    found += [name for name in outputs if fnmatch.fnmatchcase(stack, name)]
    if args[args.index("--query") + 1] == {query!r} and found:
        for key, value in outputs[found[0]].items():
            if isinstance(value, dict):  # {{"resource": ID}}: that resource's physical ID
                import subprocess
                listed = subprocess.run(
                    [{aws!r}, "cloudformation", "describe-stack-resources", "--stack-name",
                     stack, "--region", region, "--output", "json"],
                    capture_output=True, text=True,
                )
                resources = json.loads(listed.stdout or "{{}}").get("StackResources", [])
                ids = [r.get("PhysicalResourceId") for r in resources
                       if r.get("LogicalResourceId") == value["resource"]]
                if not ids or not ids[0]:
                    continue  # not made yet: the output is missing, as on AWS
                value = ids[0]
            print(f"{{key}}\t{{value}}")
        sys.exit(0)
# Moto gap: a change set that changes nothing is a ValidationError of CreateChangeSet
# ("No updates are to be performed."), where AWS makes the change set and fails it with
# that reason. The stand-in answers as AWS does: an ID, then that FAILED change set.
NO_UPDATES = "/no-updates-by-moto"
if args[:2] == ["cloudformation", "create-change-set"]:
    import subprocess
    made = subprocess.run([{aws!r}, *args], capture_output=True, text=True)
    if made.returncode != 0 and "No updates are to be performed" in made.stderr:
        region = args[args.index("--region") + 1]
        name = args[args.index("--change-set-name") + 1]
        print(f"arn:aws:cloudformation:{{region}}:123456789012:changeSet/{{name}}{{NO_UPDATES}}")
        sys.exit(0)
    sys.stdout.write(made.stdout)
    sys.stderr.write(made.stderr)
    sys.exit(made.returncode)
if args[:2] in (["cloudformation", "describe-change-set"], ["cloudformation", "delete-change-set"]):
    if args[args.index("--change-set-name") + 1].endswith(NO_UPDATES):
        if args[1] == "describe-change-set" and "[Status,StatusReason]" in args:
            print("FAILED\tNo updates are to be performed.")
        sys.exit(0)
os.execv({aws!r}, [{aws!r}, *args])
'''


def install(bin_dir: Path, real_aws: str, outputs_file: Path) -> Path:
    """Write the stand-in `aws` into `bin_dir` (put that first on PATH); returns its path."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    if not outputs_file.exists():
        outputs_file.write_text("{}", encoding="utf-8")
    script = bin_dir / "aws"
    script.write_text(
        _SCRIPT.format(
            python=sys.executable,
            query=OUTPUTS_QUERY,
            outputs=str(outputs_file),
            aws=real_aws,
        ),
        encoding="utf-8",
    )
    script.chmod(0o755)
    return script


def global_outputs(
    aws: AwsCli, template: dict, *, stack_name: str, region: str, wanted: list[str]
) -> dict[str, str]:
    """The values `wanted` outputs of the deployed `template` have, worked out from the
    stack's resources: `Ref` is a resource's physical ID, `GetAtt X.Arn` of an IAM role is
    that role's ARN (from IAM). Anything else is refused: extend this when needed."""
    resources = stack_resources(aws, stack_name, region)
    values = {}
    for name in wanted:
        value = template["Outputs"][name]["Value"]
        if set(value) == {"Ref"}:
            values[name] = resources[value["Ref"]]["PhysicalResourceId"]
        elif set(value) == {"Fn::GetAtt"} and value["Fn::GetAtt"][1] == "Arn":
            logical_id = value["Fn::GetAtt"][0]
            role = resources[logical_id]
            if role["ResourceType"] != "AWS::IAM::Role":
                raise NotImplementedError(f"output {name}: Arn of a {role['ResourceType']}")
            values[name] = aws.run_json(
                "iam", "get-role", "--role-name", role["PhysicalResourceId"], region=region
            )["Role"]["Arn"]
        else:
            raise NotImplementedError(f"output {name}: {json.dumps(value)}")
    return values
