"""`infra` as users run it: the installed console script, in a fresh process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# The venv that runs the tests has the console script next to its interpreter.
INFRA = Path(sys.executable).with_name("infra")


def run_infra(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    """`infra ARGS` in `cwd`, with the test's environment plus `env`."""
    command = [str(INFRA)] if INFRA.exists() else [sys.executable, "-c", _FALLBACK]
    return subprocess.run(
        [*command, *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def one_line_error(result: subprocess.CompletedProcess[str], exit_code: int) -> str:
    """The single stderr line of a command that failed as it should: the exit code, no
    traceback, nothing on stdout."""
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert result.returncode == exit_code, output
    assert result.stdout == "", output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, output
    return lines[0]


_FALLBACK = "import sys; from compiler.cli import main; sys.argv[0] = 'infra'; main()"
