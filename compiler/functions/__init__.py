"""Source code of the Lambda functions the compiler itself deploys.

Each function is a plain module here, so tests import and run it like any other code; the
builders inline its text as ZipFile code (Lambda saves it as index.py). The text is read
once, when this package is imported, so builders stay free of I/O.
"""

from __future__ import annotations

from pathlib import Path


# Beside this file, as the deploy libraries are (deploy_script.py): importlib.resources
# would import zipfile and tempfile for a package that is never zipped, 5 ms of start-up.
def _source(module: str) -> str:
    return Path(__file__).with_name(f"{module}.py").read_text(encoding="utf-8")


# Posts the region's change and alarm notifications to a Slack incoming webhook.
SLACK_WEBHOOK_SOURCE = _source("slack_webhook")
