"""Source code of the Lambda functions the compiler itself deploys.

Each function is a plain module here, so tests import and run it like any other code; the
builders inline its text as ZipFile code (Lambda saves it as index.py). The text is read
once, when this package is imported, so builders stay free of I/O.
"""

from __future__ import annotations

from importlib.resources import files


def _source(module: str) -> str:
    return files(__name__).joinpath(f"{module}.py").read_text(encoding="utf-8")


# Posts the region's change and alarm notifications to a Slack incoming webhook.
SLACK_WEBHOOK_SOURCE = _source("slack_webhook")
