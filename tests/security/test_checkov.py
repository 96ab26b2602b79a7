"""checkov, a second security scanner, finds nothing to fail in the compiled example.

checkov lives in its own virtual environment (`scripts/install-checkov.sh`, which
`scripts/test.sh` runs first) because it pins old versions of packages we also use; it
is run here as the separate tool it is. A check that cannot be met is waived on its
resource with `compiler.builders.skip_check`, which records the reason in the template.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from compiler.pipeline import compile_spec
from tests.conftest import EXAMPLE_SPEC, REPO_ROOT

CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
# What checkov writes when a skip has no comment of its own.
NO_COMMENT = "No comment provided"


def run_checkov(directory: Path) -> list[dict]:
    if not CHECKOV.exists():
        pytest.fail(
            f"{CHECKOV.relative_to(REPO_ROOT)} is missing: run `bash scripts/install-checkov.sh` "
            "(scripts/test.sh and CI do this before pytest)",
            pytrace=False,
        )
    env = {
        **os.environ,
        "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true",  # no look-up of newer checkov releases
        "BC_SKIP_MAPPING": "TRUE",  # no download of check metadata from the vendor
    }
    completed = subprocess.run(
        [str(CHECKOV), "--directory", str(directory), "--framework", "cloudformation",
         "--output", "json", "--skip-download", "--soft-fail"],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, f"checkov crashed:\n{completed.stderr[-4000:]}"
    report = json.loads(completed.stdout)
    # One framework gives one report object; several give a list of them.
    return report if isinstance(report, list) else [report]


@pytest.fixture(scope="module")
def checkov_results(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], dict]:
    out = tmp_path_factory.mktemp("compiled")
    result = compile_spec(EXAMPLE_SPEC, out, lint=False)
    reports = run_checkov(out)
    merged: dict[str, list] = {"passed_checks": [], "failed_checks": [], "skipped_checks": []}
    parsing_errors: list[str] = []
    for report in reports:
        assert report.get("check_type") == "cloudformation", f"unexpected report: {report}"
        for kind in merged:
            merged[kind] += report["results"][kind]
        parsing_errors += report["results"].get("parsing_errors", [])
    assert not parsing_errors, f"checkov could not parse: {parsing_errors}"
    return [stack.path for stack in result.stacks], merged


def describe(check: dict) -> str:
    return f"{check['check_id']} {check['resource']} in {check['file_path']}: {check['check_name']}"


def test_every_compiled_template_is_scanned(checkov_results):
    paths, results = checkov_results
    scanned = {check["file_path"].lstrip("/") for kind in results.values() for check in kind}
    assert sorted(scanned) == sorted(paths)


def test_no_failed_checks(checkov_results):
    _, results = checkov_results
    failed = sorted(describe(check) for check in results["failed_checks"])
    assert not failed, (
        f"{len(failed)} failed checkov check(s); fix the builder, or waive a check that "
        "cannot be met with compiler.builders.skip_check(resource, id, reason):\n"
        + "\n".join(failed)
    )


def test_every_skipped_check_gives_its_reason(checkov_results):
    _, results = checkov_results
    unexplained = sorted(
        describe(check)
        for check in results["skipped_checks"]
        if (check["check_result"].get("suppress_comment") or "").strip() in ("", NO_COMMENT)
    )
    assert not unexplained, "skipped without a reason:\n" + "\n".join(unexplained)
