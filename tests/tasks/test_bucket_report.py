"""The example task tasks/bucket_report.py, run against a fake S3 client."""

from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[2] / "tasks" / "bucket_report.py"


@pytest.fixture(scope="module")
def task():
    # Loaded from its file, as Lambda loads index.py: tasks/ is not a package.
    spec = importlib.util.spec_from_file_location("bucket_report", SOURCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakePaginator:
    def __init__(self, pages: dict[str, list[dict]], calls: list):
        self.pages, self.calls = pages, calls

    def paginate(self, **kwargs):
        self.calls.append(kwargs)
        return iter(self.pages[kwargs["Bucket"]])


class FakeS3:
    """What the task uses of boto3's S3 client: the list_objects_v2 paginator."""

    def __init__(self, pages: dict[str, list[dict]]):
        self.pages = pages
        self.calls: list[dict] = []

    def get_paginator(self, operation: str) -> FakePaginator:
        assert operation == "list_objects_v2"
        return FakePaginator(self.pages, self.calls)


def objects(*sizes: int) -> dict:
    return {"Contents": [{"Key": f"k{i}", "Size": size} for i, size in enumerate(sizes)]}


def test_counts_objects_and_bytes_of_each_bucket_across_pages(task, capsys):
    client = FakeS3(
        {
            "assets-bucket": [objects(10, 20), objects(5)],
            "empty-bucket": [{"KeyCount": 0}],  # S3 leaves out Contents when there is none
        }
    )
    result = task.handler(
        {}, None, client=client, environ={"TASK_BUCKETS": "assets-bucket,empty-bucket"}
    )
    assert result == {
        "buckets": [
            {"bucket": "assets-bucket", "objects": 3, "bytes": 35},
            {"bucket": "empty-bucket", "objects": 0, "bytes": 0},
        ]
    }
    assert client.calls == [{"Bucket": "assets-bucket"}, {"Bucket": "empty-bucket"}]
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines == [
        {"report": "bucket-usage", "bucket": "assets-bucket", "objects": 3, "bytes": 35},
        {"report": "bucket-usage", "bucket": "empty-bucket", "objects": 0, "bytes": 0},
    ]


def test_report_name_comes_from_the_environment(task, capsys):
    client = FakeS3({"b": [objects(1)]})
    task.handler({}, None, client=client, environ={"TASK_BUCKETS": "b", "REPORT_NAME": "nightly"})
    assert json.loads(capsys.readouterr().out)["report"] == "nightly"


@pytest.mark.parametrize(
    ("value", "names"),
    [("", []), (" a , b ,", ["a", "b"]), ("only", ["only"])],
)
def test_bucket_names_from_the_environment(task, value, names):
    assert task.bucket_names({"TASK_BUCKETS": value}) == names
    assert task.bucket_names({}) == []


def test_no_buckets_no_calls_and_no_output(task, capsys):
    client = FakeS3({})
    assert task.handler({}, None, client=client, environ={}) == {"buckets": []}
    assert client.calls == [] and capsys.readouterr().out == ""


def test_the_task_imports_nothing_beyond_the_lambda_runtime():
    # Inline code has no packaging step: only the standard library and boto3 exist there.
    tree = ast.parse(SOURCE.read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported <= {"json", "os", "boto3"}
