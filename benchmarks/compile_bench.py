"""Compile benchmark: whole processes, timed side by side in one run.

Not a test: it measures, prints a table and writes JSON. Every command runs as its own
process (interpreter start-up included, as a user pays it); each is run N times and
the median wall time is reported, with the peak resident memory of the worst run
(from wait4's rusage, so no external tool is needed).

    python benchmarks/compile_bench.py [--runs 7] [--json benchmarks/results.json]

Rows:
  floor            bare troposphere builds and writes the example's templates
  floor-gc         the same, with the garbage-collector threshold `infra` uses
  imports          only the imports compile --no-lint needs from its libraries
                   (click, pydantic, PyYAML, orjson, troposphere): floor_imports.py
  compile-no-lint  infra compile --no-lint --no-cache on the example (a full compile)
  validate         infra validate on the example
  compile-lint     infra compile with cfn-lint, caches off (--no-cache)
  recompile-lint-cached
                   infra compile with lint on, nothing changed, the compile cache
                   cleared: compiles in full, the lint cache skips cfn-lint
  recompile-cached infra compile with lint on, nothing changed: the compile cache
                   finds inputs, compiler and output as the last compile left them
  regions-N        infra compile --no-lint --no-cache on a generated spec with N regions
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
INFRA = str(VENV_BIN / "infra")
PYTHON = sys.executable
REGION_COUNTS = (2, 4, 8, 16)
# floor_troposphere.py run as a script after raising the GC threshold as compiler/entry.py does.
FLOOR_WITH_GC = (
    "import gc, runpy, sys; from compiler.entry import GC_THRESHOLDS; "
    "gc.set_threshold(*GC_THRESHOLDS); sys.argv = sys.argv[1:]; "
    "runpy.run_path(sys.argv[0], run_name='__main__')"
)
# Regions the generated specs draw from, in order; CIDRs are 10.<index>.0.0/16.
REGIONS = (
    "us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1", "ap-northeast-1",
    "us-east-2", "eu-west-2", "ap-southeast-2", "ca-central-1", "eu-north-1", "ap-south-1",
    "sa-east-1", "eu-west-3", "ap-northeast-2", "us-west-1",
)  # fmt: skip


def run_once(argv: list[str], cwd: Path, env: dict) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one process."""
    start = time.perf_counter()
    process = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    stderr = process.stderr.read().decode() if process.stderr else ""
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {process.returncode}:\n{stderr}")
    return elapsed, usage.ru_maxrss  # Linux reports KiB


def display(argv: list[str]) -> str:
    return " ".join(
        Path(a).name if a in (INFRA, PYTHON) else "'...'" if a == FLOOR_WITH_GC else a for a in argv
    )


def measure(
    commands: dict[str, list[str]],
    runs: int,
    cwd: Path,
    env: dict,
    before: dict | None = None,
    envs: dict | None = None,
) -> list[dict]:
    """Run every command once per round, `runs` rounds: interleaved, so a change in the
    machine's load during the run touches every row alike, and ratios stay fair.
    `before[name]`, if given, runs (untimed) before each run of that command;
    `envs[name]` replaces `env` for that command."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    peaks: dict[str, list[int]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            if before and name in before:
                before[name]()
            elapsed, peak = run_once(argv, cwd, (envs or {}).get(name, env))
            times[name].append(elapsed)
            peaks[name].append(peak)
    return [
        {
            "name": name,
            "command": display(argv),
            "runs": runs,
            "median_s": round(statistics.median(times[name]), 3),
            "min_s": round(min(times[name]), 3),
            "peak_mib": round(max(peaks[name]) / 1024, 1),
        }
        for name, argv in commands.items()
    ]


def generated_spec(region_count: int) -> str:
    regions = "\n".join(
        f"  - {{name: {name}, cidr: 10.{index}.0.0/16}}"
        for index, name in enumerate(REGIONS[:region_count])
    )
    return f"""project: bench
environment: perf
tags: {{Team: platform, CostCenter: cc-1}}
regions:
{regions}
access:
  admin_principals: [arn:aws:iam::123456789012:role/platform-team]
dns:
  zone_name: example.com
  record_name: bench.example.com
  routing: {"failover" if region_count == 2 else "latency"}
network: {{availability_zones: 2}}
storage:
  buckets: [{{name: assets}}]
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--lint-runs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results.json")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="infra-bench-"))
    env = {**os.environ, "XDG_CACHE_HOME": str(work / "cache")}
    # An installed package has byte-compiled modules; so should the editable checkout.
    subprocess.run([PYTHON, "-m", "compileall", "-q", str(REPO / "compiler")], check=True)
    example = REPO / "infra.yaml"
    out = work / "out"
    run_once([INFRA, "compile", "--no-lint", str(example), "-o", str(out)], REPO, env)

    floor_script = str(REPO / "benchmarks" / "floor_troposphere.py")
    # --no-cache: these rows measure compiling, not finding that nothing changed.
    no_lint = [INFRA, "compile", "--no-lint", "--no-cache"]
    fast = {
        "floor": [PYTHON, floor_script, str(out), str(work / "floor")],
        "floor-gc": [PYTHON, "-c", FLOOR_WITH_GC, floor_script, str(out), str(work / "fgc")],
        "imports": [PYTHON, str(REPO / "benchmarks" / "floor_imports.py")],
        "compile-no-lint": [*no_lint, str(example), "-o", str(work / "o1")],
        "validate": [INFRA, "validate", str(example)],
        "recompile-lint-cached": [INFRA, "compile", str(example), "-o", str(work / "o4")],
        "recompile-cached": [INFRA, "compile", str(example), "-o", str(work / "o3")],
    }
    for count in REGION_COUNTS:
        spec = work / f"regions-{count}.yaml"
        spec.write_text(generated_spec(count))
        fast[f"regions-{count}"] = [*no_lint, str(spec), "-o", str(work / f"r{count}")]
    # Both caches must know the example before the recompile rows are timed. The
    # lint-cached row has a cache directory of its own, whose compile half is cleared
    # before each run.
    lint_only = {"recompile-lint-cached": {**env, "XDG_CACHE_HOME": str(work / "cache-lint")}}
    run_once(fast["recompile-cached"], REPO, env)
    run_once(fast["recompile-lint-cached"], REPO, lint_only["recompile-lint-cached"])
    compiles = work / "cache-lint" / "infra-compiler" / "compile"
    forget = {"recompile-lint-cached": lambda: shutil.rmtree(compiles, ignore_errors=True)}
    rows = measure(fast, args.runs, REPO, env, before=forget, envs=lint_only)
    lint_command = [INFRA, "compile", "--no-cache", str(example), "-o", str(work / "o2")]
    (lint_row,) = measure({"compile-lint": lint_command}, args.lint_runs, REPO, env)
    rows.insert([row["name"] for row in rows].index("recompile-lint-cached"), lint_row)

    by_name = {row["name"]: row for row in rows}
    floor = by_name["floor"]["median_s"]
    two = by_name["regions-2"]["median_s"]
    for row in rows:
        row["x_floor"] = round(row["median_s"] / floor, 2)
        row["x_2_regions"] = (
            round(row["median_s"] / two, 2) if row["name"].startswith("regions-") else None
        )

    machine = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }
    print(f"machine: {machine['platform']}, {machine['cpus']} CPUs, Python {machine['python']}")
    print(
        f"{'row':<23}{'median s':>10}{'min s':>8}{'peak MiB':>10}{'x floor':>9}{'x 2-reg':>9}  command"
    )
    for row in rows:
        x2 = f"{row['x_2_regions']:.2f}" if row["x_2_regions"] is not None else "-"
        print(
            f"{row['name']:<23}{row['median_s']:>10.3f}{row['min_s']:>8.3f}{row['peak_mib']:>10.1f}{row['x_floor']:>9.2f}{x2:>9}  {row['command']}"
        )
    args.json.write_text(json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n")
    print(f"wrote {args.json}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
