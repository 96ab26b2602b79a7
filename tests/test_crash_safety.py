"""`infra compile` killed (SIGKILL) while it writes leaves the output directory complete:
the old output or the new one, never a mix; the next run removes what the killed one
left behind.

The child is the real compile command, started through a small wrapper that slows
`compiler.write`'s file writes and announces each step on stdout. That makes the
moments worth killing at reachable: the test waits for a step's announcement, sleeps a
random part of the step's delay, and kills. The slowing exists only in that child.
"""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from compiler.pipeline import compile_in_memory, compile_spec
from compiler.write import write_output
from tests.builders.example import EXAMPLE_SPEC, copy_example

TRIALS = 20
STEP_SECONDS = 0.2

# Runs `infra compile` with every file write and the directory swap of compiler.write
# announced and slowed. argv: step seconds, then the command's arguments.
CHILD = """
import builtins, sys, time
import compiler.write as write

step = float(sys.argv[1])

def announce(what):
    print(what, flush=True)
    time.sleep(step)

def slow_open(path, mode="r", *args, **kwargs):
    if "w" in mode:
        announce(f"write {path}")
    return builtins.open(path, mode, *args, **kwargs)

real_exchange = write._exchange

def slow_exchange(a, b):
    announce("swap")
    swapped = real_exchange(a, b)
    announce("swapped")
    return swapped

write.open = slow_open  # shadows the builtin in compiler.write only
write._exchange = slow_exchange

from compiler.cli import main
sys.argv = ["infra", *sys.argv[2:]]
main()
"""


def other_spec() -> str:
    """A spec whose output differs from the example's in names, regions and file set."""
    data = yaml.safe_load(EXAMPLE_SPEC.read_text(encoding="utf-8"))
    data["project"] = "other"
    data["regions"] = [
        {"name": "eu-west-1", "cidr": "10.40.0.0/16"},
        {"name": "eu-central-1", "cidr": "10.50.0.0/16"},
        {"name": "eu-north-1", "cidr": "10.60.0.0/16"},
    ]
    data["dns"]["routing"] = "latency"
    data["load_balancer"].pop("certificate_arns", None)
    return yaml.safe_dump(data, sort_keys=False)


def hashes(directory: Path) -> dict[str, str]:
    return {
        p.relative_to(directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def leftovers(out: Path) -> list[Path]:
    return sorted(out.parent.glob(f".{out.name}.*"))


def kill_at_step(spec: Path, out: Path, step: int, delay: float) -> list[str]:
    """Run the slowed compile, kill it `delay` seconds after its `step`-th announcement
    (or let it finish if it makes fewer); the announcements it made."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            str(STEP_SECONDS),
            "compile",
            "--no-lint",
            "-q",
            "--force",  # the other project's spec over the example's output, on purpose
            str(spec),
            "-o",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[str] = []
    try:
        for line in child.stdout:
            seen.append(line.strip())
            if len(seen) == step:
                time.sleep(delay)
                child.kill()
                break
    finally:
        child.wait(timeout=120)
        stderr = child.stderr.read()
        child.stdout.close()
        child.stderr.close()
    assert child.returncode in (0, -9), stderr
    return seen


@dataclass
class Lane:
    """Trials that share an output directory; lanes run side by side, one per core."""

    out: Path
    rng: random.Random
    outcomes: dict[str, int] = field(default_factory=lambda: {"old": 0, "new": 0})
    left_behind: int = 0


def run_lane(lane: Lane, trials: range, steps: int, new_spec: Path, old_files, old, new) -> None:
    for trial in trials:
        step = 1 + trial % steps  # every step, several times over
        kill_at_step(new_spec, lane.out, step, lane.rng.uniform(0, STEP_SECONDS))
        found = hashes(lane.out)
        assert found in (old, new), f"trial {trial}, killed at step {step}: a mix of outputs"
        lane.outcomes["old" if found == old else "new"] += 1
        lane.left_behind += bool(leftovers(lane.out))
        # the next run replaces the output, and clears what the killed one left behind
        write_output(old_files, lane.out)
        assert hashes(lane.out) == old
        assert leftovers(lane.out) == []


@pytest.mark.full  # kills dozens of compiles at random moments: the full tier's
def test_a_killed_compile_leaves_the_old_or_the_new_output(tmp_path):
    old_spec = copy_example(tmp_path / "project")
    new_spec = old_spec.with_name("other.yaml")
    new_spec.write_text(other_spec(), encoding="utf-8")
    old_files = compile_in_memory(old_spec).files
    write_output(old_files, tmp_path / "old")
    old = hashes(tmp_path / "old")
    new = hashes(compile_spec(new_spec, tmp_path / "new", lint=False).out_dir)
    assert old.keys() != new.keys()

    # one announcement per file, then the swap: counted once, in a run not cut short
    write_output(old_files, tmp_path / "count")
    steps = len(kill_at_step(new_spec, tmp_path / "count", step=0, delay=0))
    assert steps == len(new) + 2

    lanes = [Lane(tmp_path / f"lane-{n}" / "templates_out", random.Random(n)) for n in range(2)]
    for lane in lanes:
        write_output(old_files, lane.out)
    with ThreadPoolExecutor(len(lanes)) as pool:
        runs = [
            pool.submit(
                run_lane, lane, range(n, TRIALS, len(lanes)), steps, new_spec, old_files, old, new
            )
            for n, lane in enumerate(lanes)
        ]
        for run in runs:
            run.result()

    outcomes = {kind: sum(lane.outcomes[kind] for lane in lanes) for kind in ("old", "new")}
    assert sum(outcomes.values()) == TRIALS
    # the kills landed before the swap and after it, and some mid-write
    assert outcomes["old"] and outcomes["new"], outcomes
    assert sum(lane.left_behind for lane in lanes), "no kill landed mid-write"
