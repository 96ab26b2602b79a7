"""entry: the console script sets its process settings before the heavy imports."""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from compiler import entry, pydantic_plugins_off
from tests.builders.example import copy_example

PROBE = """
import gc, json, os, sys
from compiler import entry
heavy_before = sorted(m for m in ("pydantic", "troposphere", "click", "yaml") if m in sys.modules)
sys.argv = ["infra", "--version"]
try:
    entry.main()
except SystemExit as stop:
    code = stop.code
print(json.dumps({
    "heavy_before": heavy_before,
    "threshold": list(gc.get_threshold()),
    "plugins": os.environ.get("PYDANTIC_DISABLE_PLUGINS"),
    "code": code,
    "thresholds_wanted": list(entry.GC_THRESHOLDS),
}))
"""


def probe(**env: str) -> dict:
    environ = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    completed = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout.splitlines()[-1])


def test_settings_come_before_pydantic_troposphere_and_click_are_imported():
    result = probe()
    assert result["heavy_before"] == []
    assert result["code"] == 0
    assert result["threshold"] == result["thresholds_wanted"]
    assert result["threshold"][0] > 700  # Python's default, which the entry raises
    assert result["plugins"] == "__all__"


def test_a_users_pydantic_plugin_setting_is_kept():
    assert probe(PYDANTIC_DISABLE_PLUGINS="")["plugins"] == ""


# What each command must not import: cfn-lint without lint; importlib.metadata (pydantic's
# plugin loader imports it, `pydantic_plugins_off` stands in); the real cfn_flip and the
# logging it brings (troposphere's `to_yaml` only, deferred); zipfile (importlib.resources);
# troposphere for a command that builds no template. Each is start-up time every
# command would pay again, unnoticed, if an import crept back.
NEVER_IMPORTED = ("cfnlint", "importlib.metadata", "cfn_flip.main", "logging", "zipfile")

COMMAND_PROBE = """
import json, sys
from compiler import entry
sys.argv = ["infra", *json.loads(sys.argv[1])]
try:
    entry.main()
except SystemExit as stop:
    code = stop.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def command_modules(tmp_path, *args: str) -> set[str]:
    environ = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    environ["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    completed = subprocess.run(
        [sys.executable, "-c", COMMAND_PROBE, json.dumps(args)],
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(completed.stdout.splitlines()[-1])
    assert result["code"] in (0, None), completed.stderr
    return set(result["modules"])


def test_compile_without_lint_imports_only_what_it_uses(tmp_path):
    spec = copy_example(tmp_path / "project")
    modules = command_modules(
        tmp_path, "compile", "--no-lint", str(spec), "-o", str(tmp_path / "out")
    )
    assert "troposphere.ec2" in modules and "pydantic" in modules  # it did compile
    assert modules.isdisjoint(NEVER_IMPORTED), sorted(modules & set(NEVER_IMPORTED))


def test_validate_imports_no_troposphere(tmp_path):
    spec = copy_example(tmp_path / "project")
    modules = command_modules(tmp_path, "validate", str(spec))
    assert "compiler.spec" in modules and "compiler.data_hazards" in modules
    assert modules.isdisjoint(("troposphere", *NEVER_IMPORTED))


DEFERRED_PROBE = """
import sys
from compiler import entry
entry.apply_process_settings()
from troposphere import Template, s3
template = Template()
template.add_resource(s3.Bucket("Assets"))
print(type(sys.modules["cfn_flip"]).__name__)
print(template.to_yaml().strip())
print(type(sys.modules["cfn_flip"]).__name__)
"""


def test_a_deferred_module_is_imported_on_first_use():
    completed = subprocess.run(
        [sys.executable, "-c", DEFERRED_PROBE], capture_output=True, text=True, check=True
    )
    before, *yaml_lines, after = completed.stdout.strip().splitlines()
    assert before == "_Deferred"
    assert yaml_lines == ["Resources:", "  Assets:", "    Type: AWS::S3::Bucket"]
    assert after == "module"


def test_the_plugin_loader_stand_in_has_every_name_pydantic_imports_from_its_loader():
    import pydantic

    wanted = set()
    for source in Path(pydantic.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("_loader"):
                wanted |= {alias.name for alias in node.names}
    assert "get_plugins" in wanted
    assert wanted <= set(vars(pydantic_plugins_off))


def test_the_plugin_loader_stand_in_answers_as_pydantics_loader(monkeypatch):
    from pydantic.plugin import _loader

    for setting in entry.PLUGINS_OFF:
        monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", setting)
        assert tuple(pydantic_plugins_off.get_plugins()) == tuple(_loader.get_plugins()) == ()
    # Any other name is the real loader's.
    assert pydantic_plugins_off.PYDANTIC_ENTRY_POINT_GROUP == _loader.PYDANTIC_ENTRY_POINT_GROUP


EXIT_PROBE = """
import gc, json, sys
from compiler import entry
sys.argv = ["infra", "compile", "--no-lint", sys.argv[1], "-o", sys.argv[2]]
try:
    entry.main()
except SystemExit as stop:
    code = stop.code
print(json.dumps({"code": code, "frozen": gc.get_freeze_count(), "left": len(gc.get_objects())}))
"""


def test_the_console_script_leaves_nothing_for_the_collection_at_exit(tmp_path):
    """Python's full collection at exit would walk every object the command made; frozen,
    they are left to the end of the process (see `entry.main`)."""
    spec = copy_example(tmp_path / "project")
    completed = subprocess.run(
        [sys.executable, "-c", EXIT_PROBE, str(spec), str(tmp_path / "out")],
        env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")},
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(completed.stdout.splitlines()[-1])
    assert result["code"] in (0, None), completed.stderr
    assert (tmp_path / "out" / "manifest.json").is_file()
    assert result["frozen"] > 10_000  # the compile's objects: pydantic, troposphere, ...
    assert result["left"] < 1_000  # what the collection at exit still walks


@pytest.fixture
def sigint_handler_restored():
    """entry.main installs its own SIGINT handler, as the console script's process would."""
    previous = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_during_the_imports_is_one_line_and_exit_130(
    monkeypatch, capsys, sigint_handler_restored
):
    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(entry, "apply_process_settings", interrupted)
    with pytest.raises(SystemExit) as stop:
        entry.main()
    assert (stop.value.code, capsys.readouterr().err) == (130, "infra: interrupted\n")


def test_ctrl_c_while_click_parses_the_arguments_is_not_abort_and_exit_1(
    monkeypatch, capsys, sigint_handler_restored
):
    """click catches a KeyboardInterrupt outside a command's run and exits 1 ("Aborted!"),
    which a script reads as lint findings. The handler entry installs passes through it."""
    import click

    from compiler import cli

    @click.command()
    def parsing():
        handler = signal.getsignal(signal.SIGINT)  # what a SIGINT now would run
        handler(signal.SIGINT, None)

    monkeypatch.setattr(cli, "main", parsing)
    monkeypatch.setattr(sys, "argv", ["infra"])
    with pytest.raises(SystemExit) as stop:
        entry.main()
    assert (stop.value.code, capsys.readouterr().err) == (130, "infra: interrupted\n")
