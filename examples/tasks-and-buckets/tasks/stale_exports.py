"""Scheduled task: report export files older than $MAX_AGE_DAYS that nobody cleared.

Inlined by the compiler as index.py (handler index.report). The task may only read its
buckets ($TASK_BUCKETS), so it reports and leaves deleting to a person or to the
bucket's lifecycle rules. The log line's `stale` count is what an alarm would watch.
"""

import json
import os
from datetime import UTC, datetime, timedelta


def stale_objects(client, bucket, cutoff):
    """Keys of `bucket` last modified before `cutoff`, oldest first."""
    found = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        found += [
            (item["LastModified"], item["Key"])
            for item in page.get("Contents", [])
            if item["LastModified"] < cutoff
        ]
    return [key for _, key in sorted(found)]


def report(event, context):
    import boto3  # part of the Lambda Python runtime

    client = boto3.client("s3")
    max_age = timedelta(days=int(os.environ.get("MAX_AGE_DAYS", "30")))
    cutoff = datetime.now(UTC) - max_age
    results = []
    for bucket in filter(None, os.environ.get("TASK_BUCKETS", "").split(",")):
        keys = stale_objects(client, bucket, cutoff)
        result = {"bucket": bucket, "stale": len(keys), "oldest": keys[:5]}
        print(json.dumps(result))
        results.append(result)
    return {"buckets": results}
