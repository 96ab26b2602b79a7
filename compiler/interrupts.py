"""Ctrl-C held back while a few steps must not be cut apart, then delivered.

Used where an interrupt would leave something wrong: while pydantic's compiled core
runs (below), and while the lint process is forked and while it is ended
(`pipeline.compile_spec`, `lint_processes.LintProcess.close`), so that it is never left
running or unreaped.

pydantic-core (Rust) calls back into Python while it builds a model's validator, which
the spec models do on first use (`defer_build`), and while it matches a pattern. A
KeyboardInterrupt raised there by a Python SIGINT handler is not passed on: pydantic-core
reports it as "String should match pattern '<unprintable str object>'" against a valid
value, or as a SchemaError, and Python prints it as an ignored exception. A user who
pressed Ctrl-C would read that their spec is wrong. Inside `interrupts_deferred()` a
SIGINT is only noted; on leaving, the handler that was there before gets it, so the
interrupt arrives at the next line of Python, as late as the block lasts (tens of
milliseconds for a first validation).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold back SIGINT for the block, then hand it to the handler that was installed.

    Outside the main thread Python allows no handler, and a handler that is not a Python
    function (ignored, or the system default that ends the process) is left alone: in
    those cases nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous):
        yield
        return
    received: list[tuple[int, object]] = []
    signal.signal(signal.SIGINT, lambda signum, frame: received.append((signum, frame)))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            # Raises KeyboardInterrupt, as the handler would have: it replaces whatever
            # the block raised (a spec error found before the Ctrl-C is not reported).
            previous(*received[0])
