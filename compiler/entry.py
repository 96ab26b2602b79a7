"""The `infra` console script: process settings for a short-lived command, then the CLI.

These settings must take effect before the imports that `compiler.cli` triggers
(pydantic, troposphere), so they live here and the CLI is imported after them.
Library use (`from compiler.cli import main`, the tests) keeps Python's defaults.
"""

from __future__ import annotations

import gc
import os

# One `infra compile` allocates a few hundred thousand long-lived objects (pydantic
# schemas, troposphere classes and resources) and almost no garbage cycles, so the
# default threshold (a collection every 700 allocations) spends about 7% of the run
# collecting nothing (benchmarks/compile_bench.py, row compile-no-lint). A threshold
# this high still collects, so memory stays bounded; cfn-lint's workers inherit it and
# lint the example about 12% faster for about 35 MiB more at their peak (232 MiB).
GC_THRESHOLDS = (50_000, 50, 100)


def apply_process_settings() -> None:
    gc.set_threshold(*GC_THRESHOLDS)
    # We use no pydantic plugins; looking for them reads every installed package's
    # metadata on the first model. A user who sets the variable keeps their value.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")


def main() -> None:
    apply_process_settings()
    from compiler.cli import main as cli

    cli()
