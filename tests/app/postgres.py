"""A real PostgreSQL server on 127.0.0.1 for the example app's tests, from the server
binaries scripts/test.sh installs (Debian's `postgresql` package).

PostgreSQL refuses to run as root, so as root the server runs as the package's
`postgres` user, in a directory of its own outside pytest's (root-only) temp tree.
Stopped by `pg_ctl stop` on its own data directory, never by name.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

USER = "app"
PASSWORD = "correct horse battery staple"
DATABASE = "app"


def server_binaries() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent  # symlinks: the other tools are beside the target
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(versions[-1]).parent if versions else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Postgres:
    directory: Path
    port: int
    ca_file: Path  # the self-signed certificate the server presents (also its own CA)
    tls: bool
    bin_dir: Path

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def run(self, *args: str) -> subprocess.CompletedProcess:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        environment = {**os.environ, "PGPASSWORD": PASSWORD}
        return subprocess.run(
            command, capture_output=True, text=True, timeout=120, check=True, env=environment
        )

    def start(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.directory / "log"), "-w", "start")

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def environment(self) -> dict[str, str]:
        """What the launcher would give app.py for this server."""
        return {
            "DB_HOST": "127.0.0.1",
            "DB_PORT": str(self.port),
            "DB_NAME": DATABASE,
            "DB_USER": USER,
            "DB_PASSWORD": PASSWORD,
            "DB_CA_FILE": str(self.ca_file),
        }


def create(tls: bool) -> Postgres:
    """initdb a cluster with a password user, TLS on (and required) or off, and start it."""
    bin_dir = server_binaries()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL server binaries; scripts/test.sh installs them")
    directory = Path(tempfile.mkdtemp(prefix="example-app-pg-", dir="/tmp"))
    server = Postgres(directory, free_port(), directory / "server.crt", tls, bin_dir)
    (directory / "password").write_text(PASSWORD + "\n")
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(directory / "server.key"), "-out", str(server.ca_file),
        ],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    (directory / "server.key").chmod(0o600)
    if os.geteuid() == 0:
        postgres = pwd.getpwnam("postgres")
        for path in [directory, *directory.iterdir()]:
            os.chown(path, postgres.pw_uid, postgres.pw_gid)
    server.run(
        "initdb", "-D", str(server.data), "-U", USER, "--auth=scram-sha-256",
        f"--pwfile={directory / 'password'}", "--no-sync",
    )  # fmt: skip
    settings = [
        "listen_addresses = '127.0.0.1'",
        f"port = {server.port}",
        f"unix_socket_directories = '{directory}'",
        f"ssl = {'on' if tls else 'off'}",
        f"ssl_cert_file = '{server.ca_file}'",
        f"ssl_key_file = '{directory / 'server.key'}'",
    ]
    with (server.data / "postgresql.conf").open("a") as conf:
        conf.write("\n".join(settings) + "\n")
    # Like RDS with rds.force_ssl: with TLS on, plain connections are refused.
    entry = "hostssl" if tls else "host"
    (server.data / "pg_hba.conf").write_text(f"{entry} all all 127.0.0.1/32 scram-sha-256\n")
    server.start()
    server.run("createdb", "-h", "127.0.0.1", "-p", str(server.port), "-U", USER, DATABASE)
    return server


def destroy(server: Postgres) -> None:
    try:
        server.stop()
    except subprocess.CalledProcessError:
        pass  # already stopped by the test
    shutil.rmtree(server.directory, ignore_errors=True)
