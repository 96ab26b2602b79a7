"""The `infra` console script: process settings for a short-lived command, then the CLI.

These settings must take effect before the imports that `compiler.cli` triggers
(pydantic, troposphere), so they live here and the CLI is imported after them.
Library use (`from compiler.cli import main`, the tests) keeps Python's defaults, but for
lint: the lint process and a lint in the caller's process set the collector's thresholds
for cfn-lint (`lint_processes.LINT_GC_THRESHOLDS`).
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import types

# One `infra compile` allocates a few hundred thousand long-lived objects (pydantic
# schemas, troposphere classes and resources) and almost no garbage cycles, so the
# default threshold (a collection every 700 allocations) spends about 7% of the run
# collecting nothing (benchmarks/compile_bench.py, row compile-no-lint), and at 50,000
# one collection of the young objects still took 10 ms and freed a few hundred: at
# 200,000 a compile of the example collects nothing, 0.242 s -> 0.230 s (medians of 10,
# interleaved), 0.3 MiB more at its peak. A threshold this high still collects, so
# memory stays bounded. The lint process sets its own (`lint_processes.LINT_GC_THRESHOLDS`).
GC_THRESHOLDS = (200_000, 50, 100)

# What pydantic's plugin loader reads as "no plugins at all" (`get_plugins`).
PLUGINS_OFF = ("__all__", "1", "true")

# Imported eagerly by a library, used by no command: loaded on first use instead.
# troposphere imports cfn_flip (and with it logging) for `Template.to_yaml` only, which
# the compiler never calls: 5-10 ms of every command that builds templates.
DEFERRED_MODULES = ("cfn_flip",)


def apply_process_settings() -> None:
    gc.set_threshold(*GC_THRESHOLDS)
    # We use no pydantic plugins; looking for them reads every installed package's
    # metadata on the first model. A user who sets the variable keeps their value.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    if os.environ["PYDANTIC_DISABLE_PLUGINS"] in PLUGINS_OFF:
        # pydantic imports its plugin loader on the first model even when plugins are
        # off, and the loader imports importlib.metadata (with email, zipfile, csv and
        # socket): about 20 ms of every command's start-up, for a list it never reads.
        from compiler import pydantic_plugins_off

        sys.modules.setdefault(pydantic_plugins_off.LOADER, pydantic_plugins_off)  # type: ignore[arg-type]
    for name in DEFERRED_MODULES:
        _defer_import(name)


def _defer_import(name: str) -> None:
    """Make `import name` give a stand-in that imports the module on its first attribute
    access; nothing if it is not installed or already imported. (The standard library's
    `importlib.util.LazyLoader` does not serve: a second `import name` reads the lazy
    module's `__spec__`, which loads it, and troposphere's own import is that second.)"""
    import importlib.util

    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None:
        return
    module = _Deferred(name)
    module.__spec__ = spec  # what `import name` checks, once it is in sys.modules
    sys.modules[name] = module


class _Deferred(types.ModuleType):
    def __getattr__(self, attribute: str):
        # Only for what the stand-in lacks: the real module replaces it in sys.modules,
        # and its namespace is copied here for those that kept a reference to the stand-in.
        import importlib

        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        real = importlib.import_module(self.__name__)
        self.__dict__.update(real.__dict__)
        return getattr(real, attribute)


class _Interrupted(BaseException):
    """Ctrl-C outside a command's run (click's parsing of the arguments, the imports
    before it): click turns a KeyboardInterrupt there into "Aborted!" and exit status 1,
    which a script reads as lint findings; this passes through click instead."""


def _interrupted(signum, frame):
    raise _Interrupted


def main() -> None:
    # A command's run has its own handler (cli.py), which puts this one back after it.
    signal.signal(signal.SIGINT, _interrupted)
    try:
        apply_process_settings()
        from compiler.cli import main as cli

        try:
            cli()
        finally:
            # Python's last act is a full garbage collection, which walks every object the
            # command made (30 ms after a compile, 15% of it) to find cycles to free in a
            # process that is ending. Frozen objects are not walked; they are freed with
            # the process. Everything else still happens: atexit handlers, the flush of
            # stdout and stderr, each object released as its last reference goes. Only a
            # finalizer on an object in a reference cycle would not run: every file the
            # compiler writes is closed where it is written.
            gc.freeze()
    except (KeyboardInterrupt, _Interrupted):
        # The same one line and exit status as an interrupted command's
        # (`cli.EXIT_INTERRUPTED`), not a traceback from the middle of an import.
        sys.stderr.write("infra: interrupted\n")
        sys.exit(130)
