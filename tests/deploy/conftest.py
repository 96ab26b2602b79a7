"""Fixtures of the deploy tests: one moto_server per session, the AWS CLI pointed at it
(warm: see warm_aws.py), and the example spec compiled afresh."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from compiler.assemble import StackTemplate
from compiler.pipeline import CompileResult, compile_spec, load_and_validate

from . import warm_aws
from .aws_cli import AwsCli, find_executable
from .emulator import MotoServer, start_moto_server, stop_moto_server

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_SPEC = REPO_ROOT / "infra.yaml"


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """moto_server on a free 127.0.0.1 port for the whole session."""
    process, server = start_moto_server(tmp_path_factory.mktemp("moto") / "moto_server.log")
    try:
        yield server
    finally:
        stop_moto_server(process)


@pytest.fixture(scope="session")
def aws_bin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A directory holding the `aws` every deploy test runs, deploy.sh's too: this
    virtualenv's AWS CLI, warm (warm_aws.py) unless INFRA_TEST_COLD_AWS=1."""
    work = tmp_path_factory.mktemp("warm-aws")
    script = find_executable("aws")
    # A short path: a Unix socket's is limited to about a hundred bytes.
    socket_dir = Path(tempfile.mkdtemp(prefix="aws-"))
    socket_path = socket_dir / "s"
    process = warm_aws.start(socket_path, script, work / "server.log")
    try:
        warm_aws.install(work / "bin", script, socket_path if process else None)
        yield work / "bin"
    finally:
        warm_aws.stop(process)
        shutil.rmtree(socket_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def aws(moto_server: MotoServer, aws_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> AwsCli:
    """The AWS CLI against the session's moto_server, with dummy credentials."""
    return AwsCli(
        endpoint_url=moto_server.url,
        s3_endpoint_url=moto_server.s3_url,
        home=tmp_path_factory.mktemp("aws-home"),
        bin_dir=aws_bin,
    )


@pytest.fixture(scope="session")
def patched_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """moto as moto_launcher.py patches it (in its own process), for the session."""
    process, server = start_moto_server(
        tmp_path_factory.mktemp("moto-launcher") / "moto_server.log", patched=True
    )
    try:
        yield server
    finally:
        stop_moto_server(process)


@pytest.fixture(scope="session")
def launcher_aws(
    patched_server: MotoServer, aws_bin: Path, tmp_path_factory: pytest.TempPathFactory
) -> AwsCli:
    """The AWS CLI against `patched_server`."""
    return AwsCli(
        endpoint_url=patched_server.url,
        s3_endpoint_url=patched_server.s3_url,
        home=tmp_path_factory.mktemp("aws-home"),
        bin_dir=aws_bin,
    )


@dataclass(frozen=True)
class CompiledSpec:
    """The example spec compiled into a directory laid out like templates_out/."""

    result: CompileResult
    out_dir: Path

    def stack(self, region: str) -> StackTemplate:
        return next(s for s in self.result.stacks if s.kind == "region" and s.region == region)

    def template(self, region: str) -> dict:
        return json.loads((self.out_dir / self.stack(region).path).read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> CompiledSpec:
    """The example spec compiled afresh through the library, as `infra compile` does."""
    out_dir = tmp_path_factory.mktemp("compiled") / "templates_out"
    return CompiledSpec(compile_spec(EXAMPLE_SPEC, out_dir, lint=False), out_dir)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test (or fixture) asking for `region` runs once per region of the example spec."""
    if "region" in metafunc.fixturenames:
        regions = [r.name for r in load_and_validate(EXAMPLE_SPEC).regions]
        metafunc.parametrize("region", regions, scope="module")
