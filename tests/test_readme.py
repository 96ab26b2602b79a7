"""A newcomer follows the README's first screen in a clean clone.

The commands are read out of the README, so the test follows the text as written:
`git clone` of this repository into an empty directory, the "Two commands" compile
command run exactly as the README gives it (a new virtual environment, `pip install`,
`infra compile`), then `source .venv/bin/activate` and `infra` found on the PATH.
Slow (it installs the package from scratch), so marked `slow`; it runs in the full suite.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

README = REPO_ROOT / "README.md"
# Read before the autouse fixture points XDG_CACHE_HOME at a scratch directory: the pip
# cache of the machine is shared, so packages need not be downloaded again.
PIP_CACHE_DIR = os.environ.get("PIP_CACHE_DIR") or str(
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pip"
)
STACK_ROW = re.compile(r"^storefront-production-\S+\s+\S+\.json\s+\d+\s+[\d,]+\s+clean\s", re.M)


def first_screen_commands() -> list[str]:
    """The shell blocks of the README from the top to the tour, in order."""
    text = README.read_text(encoding="utf-8")
    first_screen = text[: text.index("\n## A five-step tour")]
    return [block.strip() for block in re.findall(r"^```sh\n(.*?)^```", first_screen, re.M | re.S)]


def test_the_first_screen_gives_the_two_commands_and_the_activation():
    compile_command, test_command, activate = first_screen_commands()
    assert compile_command == (
        "python3 -m venv .venv && .venv/bin/pip install -q -e . && .venv/bin/infra compile infra.yaml"
    )
    assert test_command == "bash scripts/test.sh"
    assert activate == "source .venv/bin/activate"
    text = README.read_text(encoding="utf-8")
    first_screen = text[: text.index("\n## A five-step tour")]
    for prerequisite in ("Python 3.11", "AWS CLI", "Graphviz"):
        assert prerequisite in first_screen


def newcomer_environment() -> dict[str, str]:
    """A shell as a newcomer has it: no virtual environment active, so `python3` and
    `infra` are not this test run's."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    ours = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != ours)
    env["PIP_CACHE_DIR"] = PIP_CACHE_DIR
    return env


@pytest.mark.slow
def test_a_newcomer_compiles_the_example_in_a_clean_clone(tmp_path):
    if shutil.which("python3", path=newcomer_environment()["PATH"]) is None:
        pytest.skip("no python3 on the PATH outside the test's virtual environment")
    compile_command, _test_command, activate = first_screen_commands()
    clone = tmp_path / "infra-compiler"
    subprocess.run(["git", "clone", "-q", str(REPO_ROOT), str(clone)], check=True)
    assert not (clone / ".venv").exists()
    manifest = clone / "templates_out" / "manifest.json"
    os.utime(manifest, (0, 0))  # so the test can tell the compile wrote it

    env = newcomer_environment()
    done = subprocess.run(
        ["bash", "-c", compile_command], cwd=clone, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert len(STACK_ROW.findall(done.stdout)) == 5, done.stdout  # global, two regions, StackSet, health alarms
    assert "cfn-lint: 5 templates, no findings" in done.stdout
    assert manifest.stat().st_mtime > 0
    for template in ("global.json", "regions/us-east-1.json", "regions/us-west-2.json"):
        assert (clone / "templates_out" / template).stat().st_size > 10_000
    # The templates written are the ones committed: a clean clone compiles to itself.
    status = subprocess.run(
        ["git", "status", "--porcelain", "--", "templates_out"],
        cwd=clone, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert status.stdout == ""

    activated = subprocess.run(
        ["bash", "-c", f"{activate} && command -v infra && infra validate"],
        cwd=clone, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert activated.returncode == 0, activated.stdout + activated.stderr
    assert activated.stdout.splitlines()[0] == str(clone / ".venv" / "bin" / "infra")
    assert "infra.yaml: valid (2 regions)" in activated.stdout
