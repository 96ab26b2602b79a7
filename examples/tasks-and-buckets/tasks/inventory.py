"""Scheduled task: object count and bytes per top-level prefix of each bucket.

Inlined by the compiler as index.py (handler index.handler). The bucket names come
from $TASK_BUCKETS, comma-separated, filled from the task's `buckets`. One JSON line
per bucket and prefix goes to the task's log group, for CloudWatch Logs Insights.
"""

import json
import os
from collections import defaultdict


def top_level_prefix(key):
    return key.split("/", 1)[0] + "/" if "/" in key else "(root)"


def inventory(client, bucket):
    """{prefix: [objects, bytes]} over the current objects of `bucket`, page by page."""
    totals = defaultdict(lambda: [0, 0])
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            entry = totals[top_level_prefix(item["Key"])]
            entry[0] += 1
            entry[1] += item["Size"]
    return dict(totals)


def handler(event, context):
    import boto3  # part of the Lambda Python runtime

    client = boto3.client("s3")
    names = [n.strip() for n in os.environ.get("TASK_BUCKETS", "").split(",") if n.strip()]
    lines = []
    for bucket in names:
        for prefix, (objects, size) in sorted(inventory(client, bucket).items()):
            line = {"bucket": bucket, "prefix": prefix, "objects": objects, "bytes": size}
            print(json.dumps(line))
            lines.append(line)
    return {"lines": lines}
