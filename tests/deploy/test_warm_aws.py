"""The warm `aws` (warm_aws.py) answers as the AWS CLI started on its own does: the same
output, errors and exit status, given the caller's arguments, environment, working
directory and standard input; and it does run in the warm server (else the deploy tests
would only be as fast as before, silently)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from . import warm_aws
from .aws_cli import AwsCli, find_executable
from .emulator import MotoServer

pytestmark = pytest.mark.deploy


def call(
    aws: AwsCli, executable: str, *args: str, cwd: Path, stdin: str = "", **env: str
) -> tuple[int, str, str]:
    """`executable ARGS` with the deploy tests' environment for the emulator (whose
    endpoints it names: AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_S3)."""
    completed = subprocess.run(
        [executable, *args],
        env={**aws.env("us-east-1"), **env},
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return completed.returncode, completed.stdout, completed.stderr


@pytest.fixture(scope="module")
def warm_log(aws: AwsCli) -> Path:
    if aws.bin_dir is None or (aws.bin_dir / "aws").is_symlink():  # the venv's own `aws`
        pytest.skip(f"{warm_aws.COLD_ENV}=1: the deploy tests run the AWS CLI cold")
    return aws.bin_dir.parent / "server.log"


CASES = {
    # A JSON answer; the region from the environment.
    "answer": (["ec2", "describe-availability-zones"], {}),
    # The environment decides the output format.
    "environment": (["sts", "get-caller-identity"], {"AWS_DEFAULT_OUTPUT": "text"}),
    # An error of the service: its message on stderr, the CLI's exit status.
    "service error": (["cloudformation", "describe-stacks", "--stack-name", "nope"], {}),
    # An error of the command line itself.
    "usage error": (["cloudformation", "describe-stacks", "--no-such-option"], {}),
    # A file named relative to the working directory.
    "working directory": (
        ["cloudformation", "validate-template", "--template-body", "file://template.json"],
        {},
    ),  # fmt: skip
}


@pytest.mark.parametrize("case", CASES)
def test_warm_answers_as_the_cli_on_its_own(case, aws, moto_server: MotoServer, warm_log, tmp_path):
    args, env = CASES[case]
    (tmp_path / "template.json").write_text(
        '{"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}', encoding="utf-8"
    )
    before = warm_log.read_text(encoding="utf-8").count("\n")
    warm = call(aws, str(aws.bin_dir / "aws"), *args, cwd=tmp_path, **env)
    cold = call(aws, find_executable("aws"), *args, cwd=tmp_path, **env)
    assert warm == cold
    ran = warm_log.read_text(encoding="utf-8").splitlines()[before:]
    assert [line.split(" ", 1)[1] for line in ran] == [" ".join(args[:2])]


def test_standard_input_and_output_are_the_callers(aws, moto_server, warm_log, tmp_path):
    """`aws s3 cp - URL` reads the caller's stdin; `aws s3 cp URL -` writes its stdout."""
    warm = str(aws.bin_dir / "aws")
    assert call(aws, warm, "s3api", "create-bucket", "--bucket", "warm-aws", cwd=tmp_path)[0] == 0
    text = "through the warm server\n" * 1000
    uploaded = call(aws, warm, "s3", "cp", "-", "s3://warm-aws/key", cwd=tmp_path, stdin=text)
    assert uploaded[0] == 0, uploaded
    assert call(aws, warm, "s3", "cp", "s3://warm-aws/key", "-", cwd=tmp_path) == (0, text, "")


def test_the_servers_own_home_and_variables_do_not_reach_a_call(aws, tmp_path, monkeypatch):
    """The CLI reads its aliases (~/.aws/cli/alias) when it is imported: a server started
    from a developer's shell must not answer with the developer's aliases, nor with AWS_*
    variables the call does not have."""
    home = tmp_path / "developer"
    (home / ".aws" / "cli").mkdir(parents=True)
    (home / ".aws" / "cli" / "alias").write_text(
        "[toplevel]\nsts = !echo shadowed by the server's alias\n", encoding="utf-8"
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AWS_DEFAULT_OUTPUT", "text")
    script = find_executable("aws")
    socket_path = Path(tempfile.mkdtemp(prefix="aws-")) / "s"
    server = warm_aws.start(socket_path, script, tmp_path / "server.log")
    if server is None:
        pytest.skip(f"{warm_aws.COLD_ENV}=1: the deploy tests run the AWS CLI cold")
    try:
        warm = warm_aws.install(tmp_path / "bin", script, socket_path)
        monkeypatch.delenv("AWS_DEFAULT_OUTPUT")
        code, out, err = call(aws, str(warm), "sts", "get-caller-identity", cwd=tmp_path)
    finally:
        warm_aws.stop(server)
        shutil.rmtree(socket_path.parent, ignore_errors=True)
    assert "shadowed" not in out + err
    assert code == 0, err
    assert out.lstrip().startswith("{")  # JSON, the CLI's default: not the server's "text"
    assert (tmp_path / "server.log").read_text(encoding="utf-8").count("\n") == 1


def test_a_call_keeps_the_callers_umask_and_runs_from_a_deleted_directory(aws, warm_log, tmp_path):
    """A file the CLI writes gets the caller's umask; a caller whose working directory is
    gone gets the CLI on its own (as `aws` would start), not an error of the client."""
    warm = str(aws.bin_dir / "aws")
    assert call(aws, warm, "s3api", "create-bucket", "--bucket", "warm-umask", cwd=tmp_path)[0] == 0
    assert call(aws, warm, "s3", "cp", "-", "s3://warm-umask/k", cwd=tmp_path, stdin="x")[0] == 0
    script = f"umask 077 && exec {warm} s3 cp s3://warm-umask/k {tmp_path / 'copy'}"
    subprocess.run(["bash", "-c", script], env=aws.env("us-east-1"), cwd=tmp_path, check=True)
    assert (tmp_path / "copy").stat().st_mode & 0o777 == 0o600
    gone = tmp_path / "gone"
    gone.mkdir()
    deleted = f"cd {gone} && rmdir {gone} && exec {warm} --version"
    completed = subprocess.run(
        ["bash", "-c", deleted], env=aws.env("us-east-1"), capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stderr
    assert (completed.stdout + completed.stderr).startswith("aws-cli/")
