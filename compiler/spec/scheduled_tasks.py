"""Spec model for scheduled tasks: small Lambda functions run on an EventBridge schedule.

A task's code is read here, in the validate stage, from the file its `source` names
(relative to the spec file's directory, passed as validation context `spec_dir`), so a
missing, oversized or broken file is a located spec error and builders stay free of I/O.
"""

from __future__ import annotations

import ast
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, ValidationInfo, field_validator

from compiler.spec.files import SpecFile, read_beside_spec, spec_dir
from compiler.spec.storage import BucketName
from compiler.spec.types import (
    SPEC_MODEL_CONFIG,
    LogRetentionDays,
    Slug,
    check_single_spaced,
    empty_dict,
    empty_list,
    pattern_str,
)

# --- schedule expressions -------------------------------------------------------------
# EventBridge's syntax (docs: eb-scheduled-rule-pattern / eb-cron-expressions):
#   cron(Minutes Hours Day-of-month Month Day-of-week Year), six fields, and
#   rate(N minute|minutes|hour|hours|day|days), singular exactly when N is 1.

MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


def _is_number(text: str) -> bool:
    return re.fullmatch(r"[0-9]+", text) is not None  # ASCII only: str.isdigit takes "²"


class _Field:
    """One cron field: its name, value range, the names that stand for numbers, and
    whether `/STEP` increments are allowed (EventBridge lists them for all but day-of-week)."""

    def __init__(self, name: str, low: int, high: int, names: tuple[str, ...] = (), steps=True):
        self.name, self.low, self.high, self.steps = name, low, high, steps
        self.names = {n: low + i for i, n in enumerate(names)}

    def number(self, text: str) -> int:
        upper = text.upper()
        if upper in self.names:
            return self.names[upper]
        if not _is_number(text):
            hint = f" or {self.names_hint()}" if self.names else ""
            raise ValueError(
                f"'{text}' in the {self.name} field is not a number {self.low}-{self.high}{hint}"
            )
        value = int(text)
        if not self.low <= value <= self.high:
            raise ValueError(f"{value} in the {self.name} field is outside {self.low}-{self.high}")
        return value

    def names_hint(self) -> str:
        names = list(self.names)
        return f"{names[0]}-{names[-1]}"


CRON_FIELDS = (
    _Field("minutes", 0, 59),
    _Field("hours", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, MONTH_NAMES),
    _Field("day-of-week", 1, 7, DAY_NAMES, steps=False),
    _Field("year", 1970, 2199),
)
DAY_OF_MONTH, DAY_OF_WEEK = 2, 4


def _check_item(field: _Field, item: str) -> None:
    """One comma-separated part: `*`, `N` or `A-B`, each optionally followed by `/STEP`."""
    base, slash, step = item.partition("/")
    if slash:
        span = field.high - field.low + 1
        if not field.steps:
            raise ValueError(
                f"'{item}': increments ('/') are not allowed in the {field.name} field"
            )
        if not _is_number(step) or not 1 <= int(step) <= span:
            raise ValueError(
                f"'{item}' in the {field.name} field: the increment after '/' must be 1-{span}"
            )
    if base == "*":
        return
    start, dash, end = base.partition("-")
    if not start or (dash and not end):
        raise ValueError(f"'{item}' in the {field.name} field is missing a value")
    first = field.number(start)
    if dash and field.number(end) < first:
        raise ValueError(
            f"'{base}' in the {field.name} field runs backwards; write the smaller value first"
        )


def _is_special_day(index: int, text: str) -> bool:
    """The day fields' special forms, each the whole field: day-of-month `L` (last day)
    and `15W` (weekday nearest the 15th); day-of-week `L` (last day of the week), `6L`
    (last Friday of the month) and `3#2` (second Tuesday)."""
    if index not in (DAY_OF_MONTH, DAY_OF_WEEK):
        return False
    upper = text.upper()
    if upper == "L":
        return True
    field = CRON_FIELDS[index]
    if index == DAY_OF_MONTH and upper.endswith("W") and _is_number(upper[:-1]):
        field.number(upper[:-1])
        return True
    if index == DAY_OF_WEEK and upper.endswith("L") and "," not in upper and "-" not in upper:
        field.number(upper[:-1])
        return True
    if index == DAY_OF_WEEK and "#" in upper:
        if "," in upper or upper.count("#") > 1:
            raise ValueError(f"'{text}': a day-of-week with '#' must be the only one in its field")
        day, _, nth = upper.partition("#")
        field.number(day)
        if nth not in ("1", "2", "3", "4", "5"):
            raise ValueError(f"'{text}' in the day-of-week field: after '#' comes the week, 1-5")
        return True
    return False


def check_cron(body: str) -> None:
    fields = body.split()
    if len(fields) != 6:
        raise ValueError(
            f"cron({body}) has {len(fields)} fields; EventBridge needs 6: minutes hours "
            "day-of-month month day-of-week year, like cron(0 6 * * ? *)"
        )
    for index, text in enumerate(fields):
        field = CRON_FIELDS[index]
        if text == "?" and index in (DAY_OF_MONTH, DAY_OF_WEEK):
            continue
        if "?" in text:
            raise ValueError(
                f"'{text}' in the {field.name} field: '?' stands alone, and only in "
                "day-of-month or day-of-week"
            )
        if _is_special_day(index, text):
            continue
        for item in text.split(","):
            _check_item(field, item)
    day_of_month, day_of_week = fields[DAY_OF_MONTH], fields[DAY_OF_WEEK]
    if (day_of_month == "?") == (day_of_week == "?"):
        raise ValueError(
            f"cron({body}): exactly one of day-of-month ('{day_of_month}') and day-of-week "
            f"('{day_of_week}') must be '?', e.g. cron(0 6 * * ? *) for every day or "
            "cron(0 6 ? * MON *) for Mondays"
        )


RATE_UNITS = {"minute": "minutes", "hour": "hours", "day": "days"}


def check_rate(body: str) -> None:
    match = re.fullmatch(r"(\S+) (\S+)", body)
    if not match:
        raise ValueError(f"rate({body}) is not 'rate(VALUE UNIT)', like rate(5 minutes)")
    value, unit = match.groups()
    if not _is_number(value) or int(value) < 1 or value.startswith("0"):
        raise ValueError(f"rate({body}): the value must be a whole number of at least 1")
    plural = {p: s for s, p in RATE_UNITS.items()}
    if unit not in RATE_UNITS and unit not in plural:
        raise ValueError(f"rate({body}): the unit is one of minute(s), hour(s), day(s)")
    if int(value) == 1 and unit in plural:
        raise ValueError(
            f"rate({body}): with the value 1 the unit is singular: rate(1 {plural[unit]})"
        )
    if int(value) > 1 and unit in RATE_UNITS:
        raise ValueError(
            f"rate({body}): with a value above 1 the unit is plural: rate({value} {RATE_UNITS[unit]})"
        )


def check_schedule(value: str) -> str:
    check_single_spaced(value)
    match = re.fullmatch(r"(cron|rate)\((.*)\)", value)
    if not match:
        raise ValueError(
            f"'{value}' is not an EventBridge schedule; write cron(minutes hours day-of-month "
            "month day-of-week year), like cron(0 6 * * ? *), or rate(N unit), like rate(1 hour)"
        )
    kind, body = match.groups()
    (check_cron if kind == "cron" else check_rate)(body.strip())
    return value


Schedule = Annotated[str, AfterValidator(check_schedule)]


# --- runtimes and code --------------------------------------------------------------------

# Inline (ZipFile) code works only for Python and Node.js. Each runtime with the day Lambda
# deprecates it (docs: lambda/latest/dg/lambda-runtimes.html); from that day cfn-lint warns,
# and soon after Lambda refuses to create or update functions that use it.
RUNTIME_DEPRECATION = {
    "python3.11": date(2027, 6, 30),
    "python3.12": date(2028, 10, 31),
    "python3.13": date(2029, 6, 30),
    "python3.14": date(2029, 6, 30),
    "nodejs22.x": date(2027, 4, 30),
    "nodejs24.x": date(2028, 4, 30),
}
LambdaRuntime = Literal[
    "python3.11", "python3.12", "python3.13", "python3.14", "nodejs22.x", "nodejs24.x"
]
DEFAULT_RUNTIME = "python3.13"


def check_runtime_current(value: str) -> str:
    today = date.today()
    if RUNTIME_DEPRECATION[value] <= today:
        family = value.rstrip("0123456789.x")
        current = [
            r for r, day in RUNTIME_DEPRECATION.items() if day > today and r.startswith(family)
        ]
        raise ValueError(
            f"Lambda deprecated {value} on {RUNTIME_DEPRECATION[value]}; use "
            f"{' or '.join(current) or 'a newer runtime'}"
        )
    return value


# The file CloudFormation writes ZipFile code to is `index.py` or `index.js`, so the
# handler is always `index.<function>`.
Handler = pattern_str(
    r"^index\.[A-Za-z_$][A-Za-z0-9_$]*$",
    "inline code is saved as index.py or index.js, so the handler is index.<function>, "
    "like index.handler",
    max_length=128,
)
SOURCE_SUFFIXES = {"python": (".py",), "nodejs": (".js", ".cjs")}

# CloudFormation once capped ZipFile code at 4,096 characters; since 2022 the cap is the
# 4 MB zip it builds. What binds now is the template: the code is repeated in every
# region's template, whose body may be at most 1 MB. Ten tasks of 32 KiB stay well inside.
MAX_TASK_SOURCE_BYTES = 32 * 1024
MAX_TASKS = 10


# The path as written with the code it names (see spec.files).
TaskSource = SpecFile


def _check_python_defines(value: str, code: str, function: str) -> None:
    try:
        tree = ast.parse(code, filename=value)
    except SyntaxError as exc:
        raise ValueError(
            f"task source file '{value}' is not valid Python: line {exc.lineno}: {exc.msg}"
        ) from None
    except (RecursionError, MemoryError):  # CPython's parser on very deeply nested code
        raise ValueError(
            f"task source file '{value}' nests too deeply for Python to parse"
        ) from None
    defined = {
        node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    defined |= {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    if function not in defined:
        raise ValueError(
            f"task source file '{value}' defines no top-level function '{function}', "
            f"which the handler index.{function} calls"
        )


def _check_node_exports(value: str, code: str, function: str) -> None:
    # Inline Node.js code is a CommonJS module (index.js): the handler must be exported.
    pattern = rf"\b(module\.)?exports\.{re.escape(function)}\s*=|\bmodule\.exports\s*="
    if not re.search(pattern, code):
        raise ValueError(
            f"task source file '{value}' does not export '{function}'; inline Node.js code "
            f"is a CommonJS module, so write exports.{function} = async (event) => {{ ... }}"
        )


# --- environment --------------------------------------------------------------------------

EnvName = pattern_str(
    r"^[A-Za-z][A-Za-z0-9_]+$",
    "environment variable names start with a letter and use letters, digits and _ "
    "(two characters at least)",
    max_length=128,
)
# The variable through which a task learns the S3 names of its buckets.
BUCKETS_VARIABLE = "TASK_BUCKETS"
# Set by Lambda itself; a function may not define them (docs: configuration-envvars).
LAMBDA_RESERVED_VARIABLES = frozenset(
    {
        "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_SECURITY_TOKEN",
        "AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
        "TZ",
    }
)  # fmt: skip
# Lambda allows 4 KB of environment variables per function, names and values together.
MAX_ENVIRONMENT_BYTES = 4096
# An S3 bucket name is at most 63 characters, plus a comma in the list.
_BUCKET_NAME_BYTES = 64


# --- the task -----------------------------------------------------------------------------


class ScheduledTaskSpec(BaseModel):
    """A small function on a schedule, in every region: in the VPC's private subnets,
    reading only the buckets it names, with its own role, log group and dead-letter queue."""

    model_config = SPEC_MODEL_CONFIG

    name: Slug = Field(
        description="Task name; the function is named `<project>-<environment>-<name>`.",
        examples=["bucket-report"],
    )
    description: str = Field(
        "",
        max_length=256,
        description="What the task does; shown on the function.",
        examples=["Logs object count and bytes of each listed bucket"],
    )
    schedule: Schedule = Field(
        description="EventBridge schedule, in UTC: `cron(min hour day-of-month month "
        "day-of-week year)` with `?` in one of the day fields, or `rate(N minutes|hours|days)`.",
        examples=["cron(0 6 * * ? *)", "rate(1 hour)"],
    )
    runtime: Annotated[LambdaRuntime, AfterValidator(check_runtime_current)] = Field(
        DEFAULT_RUNTIME,
        description="Lambda runtime; inline code needs Python or Node.js.",
        examples=["python3.13"],
    )
    handler: Handler = Field(
        "index.handler",
        description="`index.<function>`: inline code is saved as index.py or index.js.",
        examples=["index.handler"],
    )
    source: str = Field(
        description="File with the task's code, relative to the spec file's directory; "
        f"at most {MAX_TASK_SOURCE_BYTES:,} bytes, inlined in the template.",
        examples=["tasks/bucket_report.py"],
    )
    timeout_seconds: int = Field(
        60, ge=1, le=900, description="Longest run before Lambda stops it.", examples=[60]
    )
    memory_mb: int = Field(
        256, ge=128, le=10240, description="Memory (and so CPU) of the function.", examples=[256]
    )
    buckets: list[BucketName] = Field(
        default_factory=empty_list,
        max_length=20,
        description=f"Short names of storage.buckets the task may read (list and get); their "
        f"S3 names reach the code in ${BUCKETS_VARIABLE}, comma-separated.",
        examples=[["assets"]],
    )
    environment: dict[EnvName, str] = Field(
        default_factory=empty_dict,
        description="Environment variables, KMS-encrypted at rest; not for secrets, which "
        "would show in the template.",
        examples=[{"REPORT_PREFIX": "daily"}],
    )
    reserved_concurrency: int = Field(
        1,
        ge=1,
        le=1000,
        description="Most runs at once; also keeps a runaway task bounded.",
        examples=[1],
    )
    log_retention_days: LogRetentionDays = Field(
        90, description="Days the task's log group keeps its logs.", examples=[90]
    )

    @field_validator("source")
    @classmethod
    def _load_source(cls, value: str, info: ValidationInfo) -> TaskSource:
        code = read_beside_spec(
            value,
            spec_dir(info),
            "task source",
            MAX_TASK_SOURCE_BYTES,
            "inline task code is repeated in every region's template; move helpers out of "
            "the task or make it smaller",
        )
        runtime, handler = info.data.get("runtime"), info.data.get("handler")
        if runtime is None or handler is None:  # already reported on their own keys
            return TaskSource(value, code)
        family = "python" if runtime.startswith("python") else "nodejs"
        suffixes = SOURCE_SUFFIXES[family]
        if Path(value).suffix not in suffixes:
            raise ValueError(
                f"the runtime is {runtime}, so the task source must be a "
                f"{' or '.join(suffixes)} file, not '{value}'"
            )
        function = handler.split(".", 1)[1]
        if family == "python":
            _check_python_defines(value, code, function)
        else:
            _check_node_exports(value, code, function)
        return TaskSource(value, code)

    @field_validator("environment")
    @classmethod
    def _check_environment(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        reserved = sorted(k for k in value if k in LAMBDA_RESERVED_VARIABLES)
        if reserved:
            raise ValueError(f"{', '.join(reserved)}: reserved by Lambda, which sets them itself")
        if BUCKETS_VARIABLE in value:
            raise ValueError(
                f"{BUCKETS_VARIABLE} is set by the compiler from `buckets`; choose another name"
            )
        buckets = info.data.get("buckets") or []
        size = sum(len(k) + len(v.encode("utf-8")) for k, v in value.items())
        if buckets:
            size += len(BUCKETS_VARIABLE) + _BUCKET_NAME_BYTES * len(buckets)
        if size > MAX_ENVIRONMENT_BYTES:
            raise ValueError(
                f"the environment would be about {size:,} bytes (names and values, with "
                f"{BUCKETS_VARIABLE}); Lambda allows {MAX_ENVIRONMENT_BYTES:,}"
            )
        return value

    @property
    def code(self) -> str:
        """The text of the source file, read when the spec was validated."""
        return self.source.code if isinstance(self.source, TaskSource) else ""

    @property
    def language(self) -> str:
        return "python" if self.runtime.startswith("python") else "nodejs"
