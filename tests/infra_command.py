"""`infra` as users run it: the installed console script, in a fresh process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# The venv that runs the tests has the console script next to its interpreter.
INFRA = Path(sys.executable).with_name("infra")


def run_infra(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [str(INFRA)] if INFRA.exists() else [sys.executable, "-c", _FALLBACK]
    return subprocess.run(
        [*command, *args], cwd=cwd, env=os.environ.copy(), capture_output=True, text=True
    )


_FALLBACK = "import sys; from compiler.cli import main; sys.argv[0] = 'infra'; main()"
