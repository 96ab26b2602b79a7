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
  lint-N           infra compile --no-cache (cfn-lint on) of the example's resource mix
                   in N regions (8, 16; the 2-region row is compile-lint, the example)
  no-lint-N        the same with --no-lint
  cdk-N            `cdk synth` of benchmarks/cdk_app (the example's resource mix as a
                   CDK v2 Python app) with N regions: optional, skipped with a message
                   unless `bash benchmarks/install-cdk.sh` has installed the CDK

The heavy rows (compile-lint, lint-N, no-lint-N, cdk-N) run in rounds of their own,
interleaved with each other, `--lint-runs` times. Peak memory is the largest single
process (wait4's ru_maxrss, which covers the processes a command waited for), and
"tree MiB" the largest sum of the resident sets of the command's process tree, sampled
every 50 ms (an upper bound: pages forked workers share are counted in each).
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
HEAVY_REGION_COUNTS = (2, 8, 16)  # the lint and CDK rows
CDK_PYTHON = REPO / ".venv-cdk" / "bin" / "python"
CDK_CLI = REPO / "benchmarks" / ".cdk-cli" / "node_modules" / ".bin" / "cdk"
CDK_APP = REPO / "benchmarks" / "cdk_app"
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


def _tree_rss_kib(root: int) -> int:
    """The resident sets of `root` and its descendants, summed (KiB)."""
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        try:
            with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
                total += next(
                    (int(line.split()[1]) for line in status if line.startswith("VmRSS:")), 0
                )
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as children:
                    pending += [int(child) for child in children.read().split()]
        except (OSError, ValueError):
            continue  # the process ended while being read
    return total


def run_once(argv: list[str], cwd: Path, env: dict) -> tuple[float, int, int]:
    """Wall seconds, peak RSS of the largest process (KiB) and the largest sampled sum
    over the process tree (KiB) of one command."""
    import threading

    start = time.perf_counter()
    process = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    tree_peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            tree_peak[0] = max(tree_peak[0], _tree_rss_kib(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    # stderr is read while waiting: CDK writes enough to fill a pipe.
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {process.returncode}:\n{stderr[-4000:]}")
    # Linux reports KiB
    return elapsed, usage.ru_maxrss, max(tree_peak[0], usage.ru_maxrss)


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
    trees: dict[str, list[int]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            if before and name in before:
                before[name]()
            elapsed, peak, tree = run_once(argv, cwd, (envs or {}).get(name, env))
            times[name].append(elapsed)
            peaks[name].append(peak)
            trees[name].append(tree)
    return [
        {
            "name": name,
            "command": display(argv),
            "runs": runs,
            "median_s": round(statistics.median(times[name]), 3),
            "min_s": round(min(times[name]), 3),
            "peak_mib": round(max(peaks[name]) / 1024, 1),
            "tree_mib": round(max(trees[name]) / 1024, 1),
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
  require_mfa: false
dns:
  zone_name: example.com
  record_name: bench.example.com
  routing: {"failover" if region_count == 2 else "latency"}
network: {{availability_zones: 2}}
storage:
  buckets: [{{name: assets}}]
"""


def zone_count(region_count: int) -> int:
    """As many AZs as each of the first `region_count` REGIONS offers, three at most."""
    from compiler.spec.regions import az_count

    return min(3, *(az_count(name) for name in REGIONS[:region_count]))


def example_in_regions(region_count: int, directory: Path) -> Path:
    """The example spec moved to the first `region_count` REGIONS (with the files it
    names), as many AZs as all of them offer (three at most), a certificate given for
    each, latency routing beyond two regions: what the CDK app builds."""
    import yaml

    directory.mkdir(parents=True, exist_ok=True)
    for sibling in ("examples", "tasks"):
        shutil.copytree(REPO / sibling, directory / sibling, dirs_exist_ok=True)
    data = yaml.safe_load((REPO / "infra.yaml").read_text(encoding="utf-8"))
    regions = REGIONS[:region_count]
    data["regions"] = [{"name": r, "cidr": f"10.{i}.0.0/16"} for i, r in enumerate(regions)]
    if region_count > 2:
        data["dns"]["routing"] = "latency"
    data["network"]["availability_zones"] = zone_count(region_count)
    data["load_balancer"]["certificate_arns"] = {
        name: f"arn:aws:acm:{name}:123456789012:certificate/0a1b2c3d-1111-4e5f-8a9b-{i:012d}"
        for i, name in enumerate(regions)
    }
    spec = directory / "infra.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return spec


def cdk_missing() -> str | None:
    """Why the CDK rows cannot run, or None when they can."""
    if shutil.which("node") is None:
        return "Node.js is not installed"
    if not CDK_PYTHON.exists() or not CDK_CLI.exists():
        return "the CDK is not installed (bash benchmarks/install-cdk.sh)"
    probe = subprocess.run(
        [str(CDK_PYTHON), "-c", "from importlib.metadata import version; version('aws-cdk-lib')"],
        capture_output=True,
    )
    return "aws-cdk-lib is not installed in .venv-cdk" if probe.returncode else None


def cdk_synth(region_count: int, out: Path) -> list[str]:
    """`cdk synth` as a user runs it (default options), without the network: no notices,
    no version reporting, no telemetry (set in the environment)."""
    return [
        str(CDK_CLI), "synth", "--app", f"{CDK_PYTHON} app.py", "-o", str(out),
        "-c", f"regions={region_count}", "-c", f"azs={zone_count(region_count)}",
        "--no-notices", "--no-version-reporting",
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--lint-runs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results.json")
    parser.add_argument("--no-cdk", action="store_true", help="Leave out the CDK rows.")
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
    heavy = {"compile-lint": [INFRA, "compile", "--no-cache", str(example), "-o", str(work / "o2")]}
    for count in HEAVY_REGION_COUNTS[1:]:
        spec = example_in_regions(count, work / f"example-{count}")
        heavy[f"lint-{count}"] = [
            INFRA,
            "compile",
            "--no-cache",
            str(spec),
            "-o",
            str(work / f"l{count}"),
        ]
        heavy[f"no-lint-{count}"] = [*no_lint, str(spec), "-o", str(work / f"n{count}")]
    missing = "left out (--no-cdk)" if args.no_cdk else cdk_missing()
    heavy_envs = {}
    if missing:
        print(f"CDK rows skipped: {missing}")
    else:
        cdk_env = {
            **env,
            "CDK_DISABLE_CLI_TELEMETRY": "true",
            "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        }
        for count in HEAVY_REGION_COUNTS:
            heavy[f"cdk-{count}"] = cdk_synth(count, work / f"cdk{count}")
            heavy_envs[f"cdk-{count}"] = cdk_env
    heavy_rows = measure(heavy, args.lint_runs, CDK_APP, env, envs=heavy_envs)
    at = [row["name"] for row in rows].index("recompile-lint-cached")
    rows[at:at] = heavy_rows[:1]
    rows += heavy_rows[1:]

    by_name = {row["name"]: row for row in rows}
    floor = by_name["floor"]["median_s"]
    two = by_name["regions-2"]["median_s"]
    lint_two = by_name["compile-lint"]["median_s"]
    for row in rows:
        name = row["name"]
        row["x_floor"] = round(row["median_s"] / floor, 2)
        row["x_2_regions"] = (
            round(row["median_s"] / two, 2) if name.startswith("regions-") else None
        )
        if name.startswith("lint-"):
            row["x_2_regions"] = round(row["median_s"] / lint_two, 2)
        if name.startswith("cdk-") and name != "cdk-2":
            row["x_2_regions"] = round(row["median_s"] / by_name["cdk-2"]["median_s"], 2)
        count = {"compile-lint": "2", "compile-no-lint": "2"}.get(name, name.rsplit("-", 1)[-1])
        cdk = by_name.get(f"cdk-{count}")
        heavy_ours = name in ("compile-lint", "compile-no-lint") or name.startswith(
            ("lint-", "no-lint-")
        )
        row["x_cdk"] = round(row["median_s"] / cdk["median_s"], 3) if cdk and heavy_ours else None

    machine = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }
    print(f"machine: {machine['platform']}, {machine['cpus']} CPUs, Python {machine['python']}")
    print(
        f"{'row':<23}{'median s':>10}{'min s':>8}{'peak MiB':>10}{'tree MiB':>10}"
        f"{'x floor':>9}{'x 2-reg':>9}{'x CDK':>8}  command"
    )
    for row in rows:
        x2 = f"{row['x_2_regions']:.2f}" if row["x_2_regions"] is not None else "-"
        xc = f"{row['x_cdk']:.3f}" if row["x_cdk"] is not None else "-"
        print(
            f"{row['name']:<23}{row['median_s']:>10.3f}{row['min_s']:>8.3f}"
            f"{row['peak_mib']:>10.1f}{row['tree_mib']:>10.1f}{row['x_floor']:>9.2f}{x2:>9}"
            f"{xc:>8}  {row['command']}"
        )
    args.json.write_text(json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n")
    print(f"wrote {args.json}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
