"""Spec model for OS patching: a patch baseline and the maintenance window that applies it."""

from __future__ import annotations

import functools
import re
import zoneinfo
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, ValidationInfo, field_validator

from compiler.spec.types import SPEC_MODEL_CONFIG, check_single_spaced, pattern_str

# Operating systems whose baselines take the classifications and severities below; both are
# Amazon Linux images that the compute section can launch.
OperatingSystem = Literal["AMAZON_LINUX_2023", "AMAZON_LINUX_2"]
# Patch properties of Amazon Linux (DescribePatchProperties CLASSIFICATION / SEVERITY).
Classification = Literal["Security", "Bugfix", "Enhancement", "Recommended", "Newpackage"]
Severity = Literal["Critical", "Important", "Medium", "Low"]

DEFAULT_SCHEDULE = "cron(0 3 ? * SUN *)"

# Systems Manager's own patterns for MaxConcurrency and MaxErrors (RegisterTaskWithMaintenanceWindow).
MaxConcurrency = pattern_str(
    r"^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$",
    "use a number of instances like 1, or a percentage from 1% to 100% like 50%",
)
MaxErrors = pattern_str(
    r"^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$",
    "use a number of failed instances like 1 (0 stops at the first), or a percentage like 10%",
)

# One item of a cron field: `*`, `?`, a value, a range, a step, or the L/W/# specials that
# Systems Manager takes in the day fields (reference: cron and rate expressions for SSM).
_MONTHS = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC"
_DAYS = "SUN|MON|TUE|WED|THU|FRI|SAT"


def _item(value: str, *, extra: str = "") -> re.Pattern[str]:
    single = rf"(?:{value})"
    ranged = rf"(?:\*|{single}(?:-{single})?)(?:/\d+)?"
    return re.compile(rf"^(?:{ranged}{extra})$")


_CRON_FIELDS: tuple[tuple[str, re.Pattern[str], int, int], ...] = (
    ("minutes", _item(r"\d{1,2}"), 0, 59),
    ("hours", _item(r"\d{1,2}"), 0, 23),
    ("day-of-month", _item(r"\d{1,2}", extra=r"|\?|L|LW|L-\d{1,2}|\d{1,2}W"), 1, 31),
    ("month", _item(rf"\d{{1,2}}|{_MONTHS}"), 1, 12),
    ("day-of-week", _item(rf"[1-7]|{_DAYS}", extra=rf"|\?|(?:[1-7]|{_DAYS})(?:L|#[1-5])"), 1, 7),
    ("year", _item(r"\d{4}"), 1970, 2199),
)
_CRON = re.compile(r"^cron\((.*)\)$")
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON_HINT = (
    "write cron(minutes hours day-of-month month day-of-week year) with '?' in one of the "
    "day fields, like cron(0 3 ? * SUN *), or rate(N unit) like rate(7 days)"
)


def _named_numbers(item: str) -> list[int]:
    """The values an item names: not its step, its nth weekday or its offset from L."""
    base = item.split("/")[0].split("#")[0]
    return [] if base.startswith("L") else [int(n) for n in re.findall(r"\d+", base)]


def _check_cron_field(name: str, text: str, pattern: re.Pattern[str], low: int, high: int) -> None:
    for item in text.split(","):
        if not pattern.match(item):
            raise ValueError(f"the {name} field '{text}' is not valid; {_CRON_HINT}")
        for number in _named_numbers(item):
            if not low <= number <= high:
                raise ValueError(f"{number} is outside {low}..{high} in the {name} field")


def check_schedule(value: str) -> str:
    """A maintenance window schedule as Systems Manager accepts it: cron() with six fields
    or rate(); one-off `at()` schedules make no sense for recurring patching."""
    check_single_spaced(value)
    rate = _RATE.match(value)
    if rate:
        number, unit = int(rate.group(1)), rate.group(2)
        if number == 0:
            raise ValueError(f"'{value}': the rate must be at least 1")
        if (number == 1) == unit.endswith("s"):
            right = unit.rstrip("s") if number == 1 else unit + "s"
            raise ValueError(f"'{value}': Systems Manager wants rate({number} {right})")
        return value
    cron = _CRON.match(value)
    if not cron:
        raise ValueError(f"'{value}' is not a schedule; {_CRON_HINT}")
    fields = cron.group(1).split()
    if len(fields) != len(_CRON_FIELDS):
        raise ValueError(f"'{value}' has {len(fields)} fields, not 6; {_CRON_HINT}")
    for text, (name, pattern, low, high) in zip(fields, _CRON_FIELDS, strict=True):
        _check_cron_field(name, text, pattern, low, high)
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        raise ValueError(
            f"'{value}': exactly one of day-of-month ('{day_of_month}') and day-of-week "
            f"('{day_of_week}') must be '?', like cron(0 3 ? * SUN *)"
        )
    return value


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())  # reads the system's zone database


def check_timezone(value: str) -> str:
    known = _time_zones()
    # Without a local time zone database, leave the check to Systems Manager.
    if known and value not in known:
        raise ValueError(f"'{value}' is not an IANA time zone name like Europe/Berlin or UTC")
    return value


def check_no_duplicates(values: list[str]) -> list[str]:
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"listed more than once: {', '.join(repeated)}")
    return values


def check_classifications(values: list[str]) -> list[str]:
    if "Security" not in values:
        raise ValueError("must include Security: patching exists to install security fixes")
    return check_no_duplicates(values)


Schedule = Annotated[str, AfterValidator(check_schedule)]
Timezone = Annotated[str, AfterValidator(check_timezone)]


class PatchingSpec(BaseModel):
    """Systems Manager Patch Manager for the web instances: which patches are approved, and
    when and how many instances at a time are patched (and rebooted if needed)."""

    model_config = SPEC_MODEL_CONFIG

    operating_system: OperatingSystem = Field(
        "AMAZON_LINUX_2023",
        description="Operating system of the instances' image; the patch baseline is for it.",
        examples=["AMAZON_LINUX_2023"],
    )
    approve_after_days: int = Field(
        7,
        ge=0,
        le=360,
        description="Days after a patch's release before it is approved (0..360).",
        examples=[7],
    )
    classifications: Annotated[list[Classification], AfterValidator(check_classifications)] = Field(
        default_factory=lambda: ["Security", "Bugfix"],
        min_length=1,
        description="Patch classifications approved; Security is required. Severities "
        "filter the Security patches, the other classifications are approved at any "
        "severity (as AWS's own Amazon Linux baselines do).",
        examples=[["Security", "Bugfix"]],
    )
    severities: Annotated[list[Severity], AfterValidator(check_no_duplicates)] = Field(
        default_factory=lambda: ["Critical", "Important"],
        min_length=1,
        description="Severities of the Security patches that are approved.",
        examples=[["Critical", "Important"]],
    )
    schedule: Schedule = Field(
        DEFAULT_SCHEDULE,
        description="When the maintenance window opens: cron(...) with six fields "
        "(minutes hours day-of-month month day-of-week year) or rate(...).",
        examples=[DEFAULT_SCHEDULE, "rate(7 days)"],
    )
    schedule_timezone: Timezone | None = Field(
        None,
        description="IANA time zone the schedule is read in; UTC when not set.",
        examples=["Europe/Berlin"],
    )
    duration_hours: int = Field(
        3,
        ge=1,
        le=24,
        description="How long the maintenance window stays open (1..24 hours).",
        examples=[3],
    )
    cutoff_hours: int = Field(
        1,
        ge=0,
        le=23,
        validate_default=True,
        description="Hours before the window closes when no new instance starts patching; "
        "less than duration_hours.",
        examples=[1],
    )
    max_concurrency: MaxConcurrency = Field(
        "50%",
        description="Instances patched at the same time, a number or a percentage; must "
        "leave at least one of compute.min_size instances serving.",
        examples=["50%", "1"],
    )
    max_errors: MaxErrors = Field(
        "1",
        description="Failed instances (number or percentage) after which patching stops.",
        examples=["1", "10%"],
    )

    @field_validator("cutoff_hours")
    @classmethod
    def _cutoff_before_end(cls, cutoff: int, info: ValidationInfo) -> int:
        duration = info.data.get("duration_hours")
        if duration is not None and cutoff >= duration:
            raise ValueError(
                f"cutoff_hours ({cutoff}) must be less than duration_hours ({duration}), "
                "or no instance could start patching; lower the cutoff or lengthen the window"
            )
        return cutoff
