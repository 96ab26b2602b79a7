"""Prints how many inputs the property tests generated, even under `pytest -q`."""

from __future__ import annotations

from tests.property.tally import COUNTS, NOTES


def pytest_terminal_summary(terminalreporter) -> None:
    if not COUNTS:
        return
    terminalreporter.section("generated inputs")
    for what, count in sorted(COUNTS.items()):
        terminalreporter.write_line(f"{count:>6}  {what}")
    for note in NOTES:
        terminalreporter.write_line(note)
