"""examples/app: the user data of the root example spec, and the web service it installs.

The user data is taken from the compiled launch template (so what is tested is what EC2
runs), checked as shell, and its file-writing step run into a temporary root. The
service it writes runs against a real PostgreSQL server on 127.0.0.1 (tests/app/postgres),
with TLS as RDS enforces it, and its launcher against the AWS emulator."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from compiler.pipeline import compile_in_memory
from tests.app import postgres
from tests.deploy.aws_cli import AwsCli
from tests.deploy.emulator import start_moto_server, stop_moto_server
from tests.fixtures.examples import REPO_ROOT

PARAMETER_PATH = "/storefront/production/"
APP = Path("opt/example-app")

pytestmark = [
    pytest.mark.skipif(
        postgres.server_binaries() is None,
        reason="no PostgreSQL server (scripts/test.sh installs it)",
    ),
    pytest.mark.full,  # PostgreSQL and the AWS emulator: the full tier's
]


@pytest.fixture(scope="module")
def user_data() -> str:
    """The root spec's user data as the regional launch template carries it."""
    result = compile_in_memory(REPO_ROOT / "infra.yaml")
    stack = next(s for s in result.stacks if s.kind == "region")
    resources = stack.template.to_dict()["Resources"]
    data = resources["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
    return data["UserData"]["Fn::Base64"]


@pytest.fixture(scope="module")
def installed(user_data: str, tmp_path_factory) -> Path:
    """The user data's files, written under a temporary root by its own write_files."""
    root = tmp_path_factory.mktemp("root")
    script = root / "user-data.sh"
    script.write_text(user_data)
    subprocess.run(
        ["bash", "-c", 'source "$1" && write_files', "user-data", str(script)],
        env={**os.environ, "APP_ROOT": str(root)},
        check=True,
        timeout=60,
    )
    return root


def test_user_data_sets_the_parameter_path_below_the_shebang(user_data):
    lines = user_data.splitlines()
    assert lines[0] == "#!/bin/bash"
    assert lines[2] == f"export INFRA_PARAMETER_PATH='{PARAMETER_PATH}'"
    source = (REPO_ROOT / "examples/app/user-data.sh").read_text()
    assert "\n".join(lines[:1] + lines[3:]) + "\n" == source  # the rest is the file as is


def test_user_data_and_launcher_are_valid_shell(user_data, installed, tmp_path):
    script = tmp_path / "user-data.sh"
    script.write_text(user_data)
    for path in (script, installed / APP / "run"):
        subprocess.run(["bash", "-n", str(path)], check=True, timeout=30)
        if shutil.which("shellcheck"):
            checked = subprocess.run(["shellcheck", str(path)], capture_output=True, text=True)
            assert checked.returncode == 0, checked.stdout


def test_write_files_lays_out_the_service(installed):
    assert (installed / "etc/example-app/env").read_text() == (
        f"INFRA_PARAMETER_PATH={PARAMETER_PATH}\n"
    )
    assert os.access(installed / APP / "run", os.X_OK)
    unit = (installed / "etc/systemd/system/example-app.service").read_text()
    assert "ExecStart=/opt/example-app/run\n" in unit
    assert "EnvironmentFile=/etc/example-app/env\n" in unit
    assert "Restart=always\n" in unit
    assert "WantedBy=multi-user.target\n" in unit
    compile(  # the service is Python the instance runs as written
        (installed / APP / "app.py").read_text(), "app.py", "exec"
    )


# --- the service against a real PostgreSQL ---------------------------------------------


@pytest.fixture(scope="module")
def database():
    server = postgres.create(tls=True)
    yield server
    postgres.destroy(server)


@pytest.fixture(scope="module")
def plain_database():
    """A server with TLS off: the service must refuse to talk to it."""
    server = postgres.create(tls=False)
    yield server
    postgres.destroy(server)


class Service:
    def __init__(self, command: list[str], env: dict[str, str], port: int, log: Path):
        self.port = port
        self.log = log
        self.process = subprocess.Popen(
            command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while "listening on port" not in log.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the service did not start:\n{log.read_text()}")
            time.sleep(0.1)

    def get(self, path: str) -> tuple[int, str]:
        url = f"http://127.0.0.1:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def start_app(installed: Path, tmp_path: Path, **settings: str) -> Service:
    port = postgres.free_port()
    env = {**os.environ, "APP_PORT": str(port), "APP_REGION": "us-east-1", **settings}
    command = [sys.executable, str(installed / APP / "app.py")]
    return Service(command, env, port, tmp_path / "app.log")


@pytest.fixture
def app(installed, database, tmp_path):
    service = start_app(installed, tmp_path, DB_ROLE="writer", **database.environment())
    yield service
    service.stop()


def test_health_is_200_when_the_database_answers_over_tls(app):
    assert app.get("/health") == (200, "ok\n")


def test_page_shows_the_region_and_that_the_database_is_the_writer(app):
    status, body = app.get("/")
    assert status == 200
    assert "<b id='region'>us-east-1</b>" in body
    assert "<b id='database'>writer</b>" in body


def test_health_is_503_while_the_database_is_down(app, database):
    database.stop()
    try:
        status, body = app.get("/health")
        assert status == 503
        assert body.startswith("database unavailable:")
        assert app.get("/")[0] == 503
    finally:
        database.start()
    assert app.get("/health")[0] == 200  # and recovers without a restart


def health_of_a_new_service(installed: Path, tmp_path: Path, **settings: str) -> tuple[int, str]:
    service = start_app(installed, tmp_path, **settings)
    try:
        return service.get("/health")
    finally:
        service.stop()


def test_health_is_503_when_the_server_refuses_tls(installed, plain_database, tmp_path):
    status, body = health_of_a_new_service(installed, tmp_path, **plain_database.environment())
    assert status == 503
    assert "refuses SSL" in body


def test_health_is_503_when_the_certificate_is_not_trusted(
    installed, database, plain_database, tmp_path
):
    # The other server's certificate as the only CA: the TLS server's is not signed by it.
    settings = {**database.environment(), "DB_CA_FILE": str(plain_database.ca_file)}
    status, body = health_of_a_new_service(installed, tmp_path, **settings)
    assert status == 503
    assert "CERTIFICATE_VERIFY_FAILED" in body


def test_a_refused_password_ends_the_process_to_read_the_secret_again(
    installed, database, tmp_path
):
    settings = {**database.environment(), "DB_PASSWORD": "rotated-since"}
    service = start_app(installed, tmp_path, **settings)
    try:
        assert service.get("/health")[0] == 503
        assert service.process.wait(timeout=10) == 75  # systemd restarts the launcher
    finally:
        service.stop()


# --- the launcher: settings from SSM, the password from Secrets Manager ----------------


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    process, server = start_moto_server(tmp_path_factory.mktemp("moto") / "moto_server.log")
    yield server
    stop_moto_server(process)


def test_launcher_reads_settings_and_secret_then_serves(installed, database, emulator, tmp_path):
    aws = AwsCli(emulator.url, emulator.url, tmp_path)
    region = "us-west-2"
    secret = json.dumps({"username": postgres.USER, "password": postgres.PASSWORD})
    arn = json.loads(
        aws.run(
            "secretsmanager", "create-secret", "--name", "db", "--secret-string", secret,
            region=region,
        )
    )["ARN"]  # fmt: skip
    port = postgres.free_port()
    settings = {
        "region": region,
        "app/port": str(port),
        "database/host": "127.0.0.1",
        "database/port": str(database.port),
        "database/name": postgres.DATABASE,
        "database/secret-arn": arn,
        "database/role": "writer",
    }
    for name, value in settings.items():
        aws.run(
            "ssm", "put-parameter", "--name", f"{PARAMETER_PATH}{name}", "--type", "String",
            "--value", value, region=region,
        )  # fmt: skip
    env = aws.env(region)
    env.update(
        AWS_REGION=region,
        INFRA_PARAMETER_PATH=PARAMETER_PATH,
        DB_CA_FILE=str(database.ca_file),
        # `aws` and a python3 that has pg8000 (on an instance: the launcher's lib/).
        PATH=f"{Path(sys.executable).parent}:{env['PATH']}",
    )
    service = Service([str(installed / APP / "run")], env, port, tmp_path / "run.log")
    try:
        assert service.get("/health") == (200, "ok\n")
        assert f"<b id='region'>{region}</b>" in service.get("/")[1]
    finally:
        service.stop()
