"""`infra` as users run it: the installed console script, in a fresh process; and the
same command in the test's own process, for set-up steps (`infra_in_process`)."""

from __future__ import annotations

import contextlib
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


def infra_in_process(*args: str, cwd: Path, env: dict[str, str] | None = None):
    """`infra ARGS` in `cwd`, run in this process by click's CliRunner: a click Result
    (exit_code, stdout, stderr). For steps that only set a test up, such as the compile
    whose output the test then works on, where the process is not what is tested: about
    0.1 s of CPU where `run_infra` takes 0.6 s, most of it starting Python and importing.
    Exit codes, stderr and the absence of tracebacks of the real binary are tested
    through `run_infra`."""
    from click.testing import CliRunner

    from compiler.cli import main

    with contextlib.chdir(cwd):
        return CliRunner(env=env).invoke(main, list(args), catch_exceptions=False)


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
