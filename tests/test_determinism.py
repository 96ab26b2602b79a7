"""The same spec gives the same bytes: whatever the hash seed of the Python process, the
working directory, or how the spec's path is written.

Each compile runs `infra compile --no-lint` in a process of its own, since the hash seed
is fixed when the interpreter starts (set iteration order depends on it).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.builders.example import EXAMPLE_SPEC, copy_example
from tests.infra_command import INFRA

# hash seed -> (working directory, how the spec is named); "random" is Python's default
RUNS = [
    ("0", "spec directory", "relative"),
    ("1", "elsewhere", "absolute"),
    ("12345", "elsewhere", "relative"),
    ("random", "nested elsewhere", "relative"),
]


def richer_spec() -> str:
    """The example grown where order could leak: three regions with latency routing, a
    region without a certificate ARN, several buckets, tasks, countries, networks."""
    data = yaml.safe_load(EXAMPLE_SPEC.read_text(encoding="utf-8"))
    data["regions"].append({"name": "eu-west-1", "cidr": "10.30.0.0/16"})
    data["dns"]["routing"] = "latency"
    data["storage"]["buckets"] += [{"name": "uploads"}, {"name": "exports"}]
    first_task = data["scheduled_tasks"][0]
    data["scheduled_tasks"].append(
        {**first_task, "name": "export-report", "buckets": ["exports", "assets", "uploads"]}
    )
    data["waf"]["blocked_countries"] = ["KP", "IR", "CU", "SY"]
    data["compute"]["ssh_cidrs"] = ["10.255.0.0/24", "192.168.0.0/28", "172.16.4.0/22"]
    data["compute"]["app_port"] = 8080
    data["notifications"]["emails"] = ["ops@example.com", "oncall@example.com", "b@example.org"]
    return yaml.safe_dump(data, sort_keys=False)


def tree(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("spec_name", ["infra.yaml", "richer.yaml"])
def test_same_bytes_under_any_hash_seed_and_working_directory(tmp_path, spec_name):
    spec = copy_example(tmp_path / "project")
    if spec_name != spec.name:
        spec = spec.with_name(spec_name)
        spec.write_text(richer_spec(), encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    nested = elsewhere / "a" / "b"
    nested.mkdir(parents=True)
    directories = {
        "spec directory": spec.parent,
        "elsewhere": elsewhere,
        "nested elsewhere": nested,
    }

    processes = []
    for index, (seed, where, naming) in enumerate(RUNS):
        cwd = directories[where]
        out = tmp_path / f"out-{index}"
        spec_arg = str(spec) if naming == "absolute" else os.path.relpath(spec, cwd)
        out_arg = str(out) if naming == "absolute" else os.path.relpath(out, cwd)
        env = {**os.environ, "PYTHONHASHSEED": seed}
        command = [str(INFRA), "compile", "--no-lint", spec_arg, "-o", out_arg]
        processes.append(
            (
                out,
                subprocess.Popen(
                    command,
                    cwd=cwd,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
            )
        )
    outputs = []
    for out, process in processes:
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        outputs.append(tree(out))

    first = outputs[0]
    assert "manifest.json" in first and len(first) >= 4
    for run, output in zip(RUNS[1:], outputs[1:], strict=True):
        assert output.keys() == first.keys(), run
        different = [path for path in first if output[path] != first[path]]
        assert not different, f"{run}: {different} differ from the first run's"
    manifest = json.loads(first["manifest.json"])
    hashes = [entry["sha256"] for entry in manifest["stacks"]]
    assert len(hashes) >= 3
    for entry in manifest["stacks"]:
        assert entry["sha256"] == hashlib.sha256(first[entry["template"]]).hexdigest()
    for content in first.values():  # no path of this machine leaks into the output
        assert str(tmp_path).encode() not in content
