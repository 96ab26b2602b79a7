"""moto_server as a child process: started on a free 127.0.0.1 port, polled until it
answers, stopped by its own PID (never by name: other moto servers may be running)."""

from __future__ import annotations

import ctypes
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .aws_cli import find_executable

READY_TIMEOUT_S = 30
STOP_TIMEOUT_S = 10
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class MotoServer:
    """A running moto_server, reachable on 127.0.0.1 only."""

    port: int
    pid: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def s3_url(self) -> str:
        # Same server; moto reads a stack's TemplateURL path-style only if it says localhost.
        return f"http://localhost:{self.port}"

    def last_traceback(self, lines: int = 12) -> str:
        """The end of the last Python traceback in the server log: behind every HTTP 500."""
        text = self.log.read_text(encoding="utf-8", errors="replace")
        start = text.rfind("Traceback (most recent call last)")
        if start < 0:
            return "(no traceback in the moto_server log)"
        block = text[start:].splitlines()
        # The traceback ends at its first unindented line after the header: the exception.
        end = next(
            (i for i, line in enumerate(block[1:], 1) if line and not line[0].isspace()),
            len(block) - 1,
        )
        return "\n".join(block[max(0, end - lines + 1) : end + 1])

    def reset(self) -> None:
        """Forget every resource: moto does not roll back failed creates."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_ready(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"moto_server exited with {process.returncode}:\n{log.read_text()[-4000:]}"
            )
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(
        f"moto_server not ready within {READY_TIMEOUT_S}s:\n{log.read_text()[-4000:]}"
    )


# moto's server with the CloudFormation gaps of one unchanged deploy.sh run closed.
LAUNCHER = Path(__file__).with_name("moto_launcher.py")


def start_moto_server(log: Path, *, patched: bool = False) -> tuple[subprocess.Popen, MotoServer]:
    """Start moto_server, logging to `log`; returns once it answers HTTP. `patched`: moto
    as moto_launcher.py patches it (stack outputs, rollbacks, ...), in its own process."""
    port = free_port()
    server = [sys.executable, str(LAUNCHER)] if patched else [find_executable("moto_server")]
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*server, "-H", "127.0.0.1", "-p", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
    server = MotoServer(port=port, pid=process.pid, log=log)
    try:
        wait_until_ready(process, server.url, log)
    except BaseException:
        stop_moto_server(process)
        raise
    return process, server


def stop_moto_server(process: subprocess.Popen) -> None:
    """Terminate this process (SIGTERM), then kill it if it has not exited in time."""
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM if pytest dies without tearing down (say,
    killed by a CI timeout), so no moto_server outlives its test session."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
