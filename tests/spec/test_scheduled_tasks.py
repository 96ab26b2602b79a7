"""`scheduled_tasks[]`: EventBridge schedules, the task's source file (read at validation,
relative to the spec file), runtime, handler, environment, and the buckets it may read."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import get_args

import pytest

from compiler.errors import SpecError
from compiler.load import load_spec_file
from compiler.spec import validate_spec
from compiler.spec.scheduled_tasks import (
    MAX_TASK_SOURCE_BYTES,
    RUNTIME_DEPRECATION,
    LambdaRuntime,
    check_runtime_current,
    check_schedule,
)
from tests.builders.example import copy_example
from tests.spec.helpers import assert_problem, edit, only_problem, validate, where

SCHEDULE = "schedule: cron(0 6 * * ? *)"
SOURCE = "source: tasks/bucket_report.py"
TASK = "  - name: bucket-report\n"


def with_schedule(text: str, schedule: str) -> str:
    return edit(text, SCHEDULE, f"schedule: '{schedule}'")


def problem_in_copy(tmp_path: Path, text: str, files: dict[str, bytes | str]) -> tuple[str, str]:
    """Validate `text` as the spec of a project directory holding `files`; its one problem,
    and the spec path it was written to."""
    spec_path = copy_example(tmp_path / "project", text)
    for name, content in files.items():
        target = spec_path.parent / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    with pytest.raises(SpecError) as raised:
        validate_spec(load_spec_file(spec_path))
    found = [str(p) for p in raised.value.problems]
    assert len(found) == 1, "\n".join(found)
    return found[0], str(spec_path)


def assert_located(problem: str, file: str, text: str, needle: str, path: str, message: str):
    line, column = where(text, needle)
    prefix = f"{file}:{line}:{column}: {path}: "
    assert problem.startswith(prefix), f"expected at {prefix!r}, got {problem!r}"
    assert message in problem[len(prefix) :], problem


# --- the example ----------------------------------------------------------------------


def test_the_example_task_carries_its_code(example_text):
    (task,) = validate(example_text).scheduled_tasks
    source = Path(__file__).resolve().parents[2] / "tasks" / "bucket_report.py"
    assert task.code == source.read_text(encoding="utf-8")
    assert task.source == "tasks/bucket_report.py"
    assert (task.runtime, task.handler, task.buckets) == ("python3.13", "index.handler", ["assets"])


def test_defaults(example_text, tmp_path):
    text = (
        example_text.split("scheduled_tasks:")[0]
        + (
            "scheduled_tasks:\n  - name: minimal\n    schedule: rate(1 day)\n"
            "    source: tasks/bucket_report.py\n"
        )
        + "\nmonitoring:"
        + example_text.split("\nmonitoring:", 1)[1]
    )
    spec = validate_spec(load_spec_file(copy_example(tmp_path, text)))
    (task,) = spec.scheduled_tasks
    assert task.runtime == "python3.13"
    assert task.handler == "index.handler"
    assert task.reserved_concurrency == 1
    assert task.buckets == [] and task.environment == {}
    assert (task.timeout_seconds, task.memory_mb, task.log_retention_days) == (60, 256, 90)


def test_a_spec_without_tasks_has_none(example_text):
    text = edit(example_text, "scheduled_tasks:", "unused_tasks_section:")
    text = (
        text.split("unused_tasks_section:")[0] + "monitoring:" + text.split("\nmonitoring:", 1)[1]
    )
    assert validate(text).scheduled_tasks == []


# --- schedules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "schedule",
    [
        "cron(0 6 * * ? *)",
        "cron(0/15 * * * ? *)",
        "cron(15 10 ? * 6L 2026-2030)",
        "cron(0 8 1W * ? *)",
        "cron(0 12 L * ? *)",
        "cron(0 9 ? * MON-FRI *)",
        "cron(0 9 ? * 3#2 *)",
        "cron(5,35 14 * JAN,JUL ? *)",
        "cron(0 18 ? * L *)",
        "cron(0-30/10 1-5 1,15 */2 ? 2030)",
        "rate(1 minute)",
        "rate(5 minutes)",
        "rate(1 hour)",
        "rate(12 hours)",
        "rate(1 day)",
        "rate(7 days)",
    ],
)
def test_valid_schedules(schedule):
    assert check_schedule(schedule) == schedule


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("cron(0 6 * * *)", "has 5 fields; EventBridge needs 6"),
        ("cron(0 6 * * ? * *)", "has 7 fields"),
        (
            "cron(0 6 * * * *)",
            "exactly one of day-of-month ('*') and day-of-week ('*') must be '?'",
        ),
        ("cron(0 6 ? * ? *)", "exactly one of day-of-month ('?') and day-of-week ('?')"),
        ("cron(0 6 1 * MON *)", "exactly one of day-of-month ('1') and day-of-week ('MON')"),
        ("cron(60 6 * * ? *)", "60 in the minutes field is outside 0-59"),
        ("cron(0 24 * * ? *)", "24 in the hours field is outside 0-23"),
        ("cron(0 6 32 * ? *)", "32 in the day-of-month field is outside 1-31"),
        ("cron(0 6 * 13 ? *)", "13 in the month field is outside 1-12"),
        ("cron(0 6 * FOO ? *)", "'FOO' in the month field is not a number 1-12 or JAN-DEC"),
        ("cron(0 6 ? * 8 *)", "8 in the day-of-week field is outside 1-7"),
        ("cron(0 6 * * ? 1969)", "1969 in the year field is outside 1970-2199"),
        ("cron(0 ? * * ? *)", "'?' stands alone, and only in day-of-month or day-of-week"),
        ("cron(0 6 5-1 * ? *)", "'5-1' in the day-of-month field runs backwards"),
        ("cron(0/0 * * * ? *)", "the increment after '/' must be 1-60"),
        ("cron(0 6 ? * MON/2 *)", "increments ('/') are not allowed in the day-of-week field"),
        ("cron(0 9 ? * 3#6 *)", "after '#' comes the week, 1-5"),
        ("cron(0 9 ? * 3#1,6#3 *)", "must be the only one in its field"),
        ("cron(0 6 1, * ? *)", "'' in the day-of-month field is missing a value"),
        ("cron(0 L * * ? *)", "'L' in the hours field is not a number 0-23"),
        ("cron(0 6 * * ? *", "is not an EventBridge schedule"),
        ("every day at 6", "is not an EventBridge schedule"),
    ],
)
def test_malformed_cron_is_located(example_text, schedule, message):
    bad = with_schedule(example_text, schedule)
    assert_problem(
        only_problem(bad), bad, f"'{schedule}'", "scheduled_tasks[0].schedule", message, exact=False
    )


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("rate(1 hours)", "with the value 1 the unit is singular: rate(1 hour)"),
        ("rate(5 minute)", "with a value above 1 the unit is plural: rate(5 minutes)"),
        ("rate(0 minutes)", "the value must be a whole number of at least 1"),
        ("rate(-5 minutes)", "the value must be a whole number of at least 1"),
        ("rate(05 minutes)", "the value must be a whole number of at least 1"),
        ("rate(five minutes)", "the value must be a whole number of at least 1"),
        ("rate(2 weeks)", "the unit is one of minute(s), hour(s), day(s)"),
        ("rate(5)", "is not 'rate(VALUE UNIT)'"),
    ],
)
def test_malformed_rate_is_located(example_text, schedule, message):
    bad = with_schedule(example_text, schedule)
    assert_problem(
        only_problem(bad), bad, f"'{schedule}'", "scheduled_tasks[0].schedule", message, exact=False
    )


# --- source -------------------------------------------------------------------------------


def test_missing_source_file(example_text, tmp_path):
    bad = edit(example_text, SOURCE, "source: tasks/nightly.py")
    problem, file = problem_in_copy(tmp_path, bad, {})
    assert_located(
        problem, file, bad, "tasks/nightly.py", "scheduled_tasks[0].source",
        "missing task source file 'tasks/nightly.py'",
    )  # fmt: skip


def test_source_is_read_relative_to_the_spec_file_not_the_working_directory(
    example_text, tmp_path, monkeypatch
):
    spec_path = copy_example(tmp_path / "project", example_text)
    monkeypatch.chdir(tmp_path)  # tasks/ is not here, but beside the spec
    (task,) = validate_spec(load_spec_file(spec_path)).scheduled_tasks
    assert "def handler" in task.code


def test_too_large_source_file(example_text, tmp_path):
    big = "def handler(event, context):\n    pass\n" + "#" * MAX_TASK_SOURCE_BYTES + "\n"
    problem, file = problem_in_copy(tmp_path, example_text, {"tasks/bucket_report.py": big})
    assert_located(
        problem, file, example_text, "tasks/bucket_report.py", "scheduled_tasks[0].source",
        f"is {len(big):,} bytes; it may be at most {MAX_TASK_SOURCE_BYTES:,} bytes (inline task code",
    )  # fmt: skip


def test_a_source_file_just_at_the_limit_is_accepted(example_text, tmp_path):
    code = "def handler(event, context):\n    pass\n"
    code += "#" * (MAX_TASK_SOURCE_BYTES - len(code) - 1) + "\n"
    spec_path = copy_example(tmp_path, example_text)
    (spec_path.parent / "tasks" / "bucket_report.py").write_text(code)
    (task,) = validate_spec(load_spec_file(spec_path)).scheduled_tasks
    assert len(task.code.encode()) == MAX_TASK_SOURCE_BYTES


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("def handler(event, context)\n    pass\n", "is not valid Python: line 1"),
        ("def main(event, context):\n    pass\n", "defines no top-level function 'handler'"),
        ("  \n", "is empty"),
        (b"\xff\xfe handler", "is not UTF-8 text"),
    ],
)
def test_broken_source_file(example_text, tmp_path, content, message):
    problem, file = problem_in_copy(tmp_path, example_text, {"tasks/bucket_report.py": content})
    assert_located(
        problem, file, example_text, "tasks/bucket_report.py", "scheduled_tasks[0].source", message
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("/etc/passwd", "is an absolute path"),
        ("../outside.py", "is outside the spec file's directory"),
        ("tasks", "is a directory"),
    ],
)
def test_source_path_must_be_a_file_beside_the_spec(example_text, tmp_path, source, message):
    bad = edit(example_text, SOURCE, f"source: {source}")
    (tmp_path / "outside.py").write_text("def handler(e, c):\n    pass\n")
    problem, file = problem_in_copy(tmp_path, bad, {})
    line, column = where(bad, source, after="source: ")
    assert problem.startswith(f"{file}:{line}:{column}: scheduled_tasks[0].source: "), problem
    assert message in problem


def test_source_language_must_match_the_runtime(example_text, tmp_path):
    bad = edit(example_text, "runtime: python3.13", "runtime: nodejs22.x")
    problem, file = problem_in_copy(tmp_path, bad, {})
    assert_located(
        problem, file, bad, "tasks/bucket_report.py", "scheduled_tasks[0].source",
        "the runtime is nodejs22.x, so the task source must be a .js or .cjs file",
    )  # fmt: skip


def test_node_task_must_export_its_handler(example_text, tmp_path):
    bad = edit(example_text, "runtime: python3.13", "runtime: nodejs22.x")
    bad = edit(bad, SOURCE, "source: tasks/report.js")
    spec_files = {"tasks/report.js": "async function handler(event) {}\n"}
    problem, file = problem_in_copy(tmp_path, bad, spec_files)
    assert_located(
        problem, file, bad, "tasks/report.js", "scheduled_tasks[0].source",
        "does not export 'handler'",
    )  # fmt: skip
    good = copy_example(tmp_path / "good", bad)
    (good.parent / "tasks" / "report.js").write_text("exports.handler = async (event) => {};\n")
    (task,) = validate_spec(load_spec_file(good)).scheduled_tasks
    assert task.language == "nodejs"


# --- runtime, handler, environment -----------------------------------------------------------


def test_runtime_outside_the_supported_list(example_text):
    bad = edit(example_text, "runtime: python3.13", "runtime: python3.9")
    assert_problem(
        only_problem(bad), bad, "python3.9", "scheduled_tasks[0].runtime", "python3.11",
        exact=False,
    )  # fmt: skip


def test_runtime_table_matches_the_type():
    assert set(get_args(LambdaRuntime)) == set(RUNTIME_DEPRECATION)


def test_runtimes_are_known_to_cfn_lint():
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", "AWS::Lambda::Function")
    assert set(RUNTIME_DEPRECATION) <= set(schema.schema["properties"]["Runtime"]["enum"])


def test_a_deprecated_runtime_is_refused_with_its_successors(monkeypatch):
    class Later(date):
        @classmethod
        def today(cls):
            return cls(2028, 11, 1)

    monkeypatch.setattr("compiler.spec.scheduled_tasks.date", Later)
    with pytest.raises(ValueError, match="deprecated python3.12 on 2028-10-31; use python3.13 or"):
        check_runtime_current("python3.12")
    assert check_runtime_current("python3.13") == "python3.13"


@pytest.mark.parametrize("handler", ["handler", "main.handler", "index.", "index.my-handler"])
def test_handler_names_the_index_file(example_text, handler):
    bad = edit(example_text, "handler: index.handler", f"handler: {handler}")
    assert_problem(
        only_problem(bad), bad, handler, "scheduled_tasks[0].handler",
        "inline code is saved as index.py or index.js, so the handler is index.<function>, "
        "like index.handler", exact=False, after="handler: ",
    )  # fmt: skip


def test_handler_function_must_exist_in_the_source(example_text):
    bad = edit(example_text, "handler: index.handler", "handler: index.main")
    assert_problem(
        only_problem(bad), bad, "tasks/bucket_report.py", "scheduled_tasks[0].source",
        "defines no top-level function 'main', which the handler index.main calls", exact=False,
    )  # fmt: skip


@pytest.mark.parametrize("name", ["AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME", "TZ"])
def test_environment_refuses_keys_lambda_reserves(example_text, name):
    bad = edit(example_text, "REPORT_NAME: bucket-usage", f"{name}: x")
    assert_problem(
        only_problem(bad), bad, f"{name}: x", "scheduled_tasks[0].environment",
        f"{name}: reserved by Lambda, which sets them itself",
    )  # fmt: skip


def test_environment_refuses_the_compilers_bucket_variable(example_text):
    bad = edit(example_text, "REPORT_NAME: bucket-usage", "TASK_BUCKETS: x")
    assert_problem(
        only_problem(bad), bad, "TASK_BUCKETS: x", "scheduled_tasks[0].environment",
        "TASK_BUCKETS is set by the compiler from `buckets`", exact=False,
    )  # fmt: skip


def test_environment_values_are_strings(example_text):
    bad = edit(example_text, "REPORT_NAME: bucket-usage", "RETRIES: 3")
    assert_problem(
        only_problem(bad), bad, "3", "scheduled_tasks[0].environment.RETRIES",
        "Input should be a valid string", exact=False, after="RETRIES: ",
    )  # fmt: skip


def test_environment_size_is_limited(example_text):
    bad = edit(example_text, "REPORT_NAME: bucket-usage", "REPORT_NAME: " + "x" * 4100)
    assert_problem(
        only_problem(bad), bad, "REPORT_NAME", "scheduled_tasks[0].environment",
        "Lambda allows 4,096", exact=False,
    )  # fmt: skip


# --- cross-section -------------------------------------------------------------------------


def test_unknown_bucket(example_text):
    bad = edit(example_text, "buckets: [assets]", "buckets: [assets, uploads]")
    assert_problem(
        only_problem(bad), bad, "uploads", "scheduled_tasks[0].buckets[1]",
        "'uploads' is not one of storage.buckets (assets); a task may read only the spec's "
        "own buckets",
    )  # fmt: skip


def test_task_names_are_unique(example_text):
    block = example_text[example_text.index(TASK) : example_text.index("\nmonitoring:")]
    bad = edit(example_text, block, block.rstrip("\n") + "\n" + block)
    line, column = where(bad, "bucket-report", after=block)
    problem = only_problem(bad)
    assert problem.startswith(f"infra.yaml:{line}:{column}: scheduled_tasks[1].name: ")
    assert "already used by scheduled_tasks[0]" in problem


@pytest.mark.parametrize(
    ("schedule", "tidy"),
    [
        ("cron(0  6 * * ? *)", "cron(0 6 * * ? *)"),
        ("cron( 0 6 * * ? *)", "cron(0 6 * * ? *)"),
        ("rate(5  minutes)", "rate(5 minutes)"),
        ("cron(0\t6 * * ? *)", "cron(0 6 * * ? *)"),
    ],
)
def test_schedule_with_extra_whitespace_is_refused_with_the_tidy_form(example_text, schedule, tidy):
    bad = edit(example_text, SCHEDULE, f"schedule: {schedule!r}".replace("\\t", "\t"))
    problem = only_problem(bad)
    assert problem.startswith(f"infra.yaml:{where(bad, 'schedule: ', after=TASK)[0]}:")
    assert f"scheduled_tasks[0].schedule: {schedule!r} has extra or non-space whitespace" in problem
    assert problem.endswith(f"which AWS refuses; write {tidy!r}")
