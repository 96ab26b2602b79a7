"""entry: the console script sets its process settings before the heavy imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys

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
