"""Counts of generated inputs, which `conftest.py` prints at the end of every run: the
property tests promise a number of inputs per CI run, and the log shows it was kept."""

from __future__ import annotations

from collections import Counter

# what was generated -> how many
COUNTS: Counter[str] = Counter()
# notes printed under the counts (e.g. which specs were linted)
NOTES: list[str] = []
