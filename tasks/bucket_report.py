"""Scheduled task: log how many objects, and how many bytes, each bucket holds.

Runs as a Lambda function (the compiler inlines this file as index.py, handler
index.handler). The buckets come from $TASK_BUCKETS, a comma-separated list of S3 names
that the compiler fills from the task's `buckets`. One JSON line per bucket goes to the
task's log group, where CloudWatch Logs Insights can chart it.
"""

import json
import os

_client = None


def s3_client():
    """One S3 client per execution environment, made on first use (boto3 ships with Lambda)."""
    global _client
    if _client is None:
        import boto3

        _client = boto3.client("s3")
    return _client


def bucket_names(environ):
    return [name.strip() for name in environ.get("TASK_BUCKETS", "").split(",") if name.strip()]


def summarize(client, bucket):
    """Count the current objects of `bucket` and add up their sizes, page by page."""
    objects = size = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            objects += 1
            size += item["Size"]
    return {"bucket": bucket, "objects": objects, "bytes": size}


def handler(event, context, client=None, environ=None):
    """Lambda's entry point; tests pass a fake `client` and `environ`."""
    client = client or s3_client()
    environ = os.environ if environ is None else environ
    label = environ.get("REPORT_NAME", "bucket-usage")
    reports = [summarize(client, name) for name in bucket_names(environ)]
    for report in reports:
        print(json.dumps({"report": label, **report}))
    return {"buckets": reports}
