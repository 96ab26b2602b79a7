"""Weekly maintenance windows: when patching runs, and when RDS may work on the database.

The two must not overlap: patching reboots and replaces web instances while RDS may fail
over, restart or upgrade the database, and two outages at once look like one incident
nobody planned. RDS takes its window in UTC (`ddd:hh:mm-ddd:hh:mm`); the patch window is a
Systems Manager cron schedule, read in its own time zone.
"""

from __future__ import annotations

import datetime
import re
import zoneinfo
from collections.abc import Iterator

DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
WEEK_MINUTES = 7 * 24 * 60

# The database's weekly maintenance window (UTC). After the default patch window
# (Sunday 03:00 for 3 hours) closes, with an hour to spare.
DATABASE_MAINTENANCE_WINDOW = "sun:07:00-sun:08:00"

# A week in January and one in July: a time zone with daylight saving time is at both of
# its offsets in one of them.
_REFERENCE_SUNDAYS = (datetime.date(2026, 1, 4), datetime.date(2026, 7, 5))
_NUMBER = re.compile(r"^\d+$")


def rds_window_minutes(window: str) -> tuple[int, int]:
    """`sun:07:00-sun:08:00` -> (start, end) in minutes from Sunday 00:00 UTC."""

    def at(text: str) -> int:
        day, hour, minute = text.split(":")
        return DAYS.index(day) * 1440 + int(hour) * 60 + int(minute)

    start, end = window.split("-")
    return at(start), at(end)


def _days_of_week(field: str) -> list[int] | None:
    """Day indexes (Sunday 0) of a cron day-of-week field, or None if it cannot be read
    as plain days (`L`, `#` and the like)."""
    if field in ("*", "?"):
        return list(range(7))
    days: list[int] = []
    for item in field.split(","):
        ends = item.split("-")
        if len(ends) > 2:
            return None
        indexes = []
        for end in ends:
            if end.lower() in DAYS:
                indexes.append(DAYS.index(end.lower()))
            elif _NUMBER.match(end) and 1 <= int(end) <= 7:
                indexes.append(int(end) - 1)  # cron counts Sunday as 1
            else:
                return None
        first, last = indexes[0], indexes[-1]
        days += (
            list(range(first, last + 1)) if first <= last else [*range(first, 7), *range(last + 1)]
        )
    return days


def _numbers(field: str, high: int) -> list[int] | None:
    if field == "*":
        return list(range(high + 1))
    values = field.split(",")
    if all(_NUMBER.match(v) for v in values):
        return [int(v) for v in values]
    return None


def patch_window_starts(schedule: str, timezone: str | None) -> Iterator[int]:
    """Minutes from Sunday 00:00 UTC at which the cron schedule opens its window, in
    each reference week; nothing when the schedule is a rate() or a cron that names
    days of the month (then its week is not fixed and the check cannot judge)."""
    if not schedule.startswith("cron("):
        return
    minute, hour, day_of_month, _month, day_of_week, _year = schedule[5:-1].split()
    minutes, hours = _numbers(minute, 59), _numbers(hour, 23)
    days = _days_of_week(day_of_week) if day_of_month in ("?", "*") else None
    if minutes is None or hours is None or days is None:
        return
    zone = zoneinfo.ZoneInfo(timezone or "UTC")
    for sunday in _REFERENCE_SUNDAYS:
        for day in days:
            for h in hours:
                for m in minutes:
                    local = datetime.datetime.combine(
                        sunday + datetime.timedelta(days=day), datetime.time(h, m), zone
                    )
                    utc = local.astimezone(datetime.UTC)
                    offset = (utc.date() - sunday).days * 1440 + utc.hour * 60 + utc.minute
                    yield offset % WEEK_MINUTES


def overlap(start: int, length: int, window: tuple[int, int]) -> bool:
    """Whether [start, start + length) meets the window, around the end of the week."""
    window_start, window_end = window
    for shift in (-WEEK_MINUTES, 0, WEEK_MINUTES):
        if start + shift < window_end and window_start < start + shift + length:
            return True
    return False
