"""NO_COLOR (https://no-color.org): `infra` on a terminal colours its summary unless
NO_COLOR is set to a non-empty value. Run through the console script on a real
pseudo-terminal, since colour is only ever written to a terminal."""

from __future__ import annotations

import os
import pty
import shutil
import subprocess

import pytest

from compiler.terminal import colour_setting
from tests.conftest import REPO_ROOT
from tests.infra_command import INFRA

ESCAPE = "\x1b["


def compile_on_a_terminal(project, no_color: str | None) -> str:
    """What `infra compile --no-lint` shows on a terminal, with NO_COLOR as given."""
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    if no_color is not None:
        env["NO_COLOR"] = no_color
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [str(INFRA), "compile", "--no-lint", "--no-cache", "-o", "out"],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the terminal closed with the process
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    assert process.wait(timeout=120) == 0, b"".join(chunks)
    return b"".join(chunks).decode("utf-8")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    directory = tmp_path_factory.mktemp("project")
    shutil.copy(REPO_ROOT / "infra.yaml", directory / "infra.yaml")
    shutil.copytree(REPO_ROOT / "tasks", directory / "tasks")
    return directory


def test_a_terminal_gets_colour_without_no_color(project):
    shown = compile_on_a_terminal(project, None)
    assert ESCAPE in shown and "storefront-production-us-east-1" in shown


def test_an_empty_no_color_is_the_same_as_unset(project):
    assert ESCAPE in compile_on_a_terminal(project, "")


@pytest.mark.parametrize("value", ["1", "0", "false"])
def test_any_non_empty_no_color_disables_colour(project, value):
    shown = compile_on_a_terminal(project, value)
    assert "storefront-production-us-east-1" in shown and "skipped" in shown
    assert ESCAPE not in shown


def test_colour_setting_leaves_the_terminal_check_to_click():
    assert colour_setting({}) is None
    assert colour_setting({"NO_COLOR": ""}) is None
    assert colour_setting({"NO_COLOR": "yes"}) is False
