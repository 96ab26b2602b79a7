"""checkov, a second security scanner, finds nothing to fail in any compiled example
(the root infra.yaml and each examples/<name>/infra.yaml, in one checkov run).

checkov lives in its own virtual environment (`scripts/install-checkov.sh`, which
`scripts/test.sh` runs first) because it pins old versions of packages we also use; it
is run here as the separate tool it is. A check that cannot be met is waived on its
resource with `compiler.builders.skip_check`, which records the reason in the template.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from compiler.caches import write_entry
from compiler.render import RenderedFile
from compiler.write import write_output
from tests.conftest import REPO_ROOT
from tests.fixtures.examples import compile_example, examples

pytestmark = pytest.mark.full  # checkov, set up by scripts/test.sh: the full tier's

CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
# What checkov writes when a skip has no comment of its own.
NO_COMMENT = "No comment provided"


# checkov's options besides the directory: part of what a remembered scan is keyed by.
OPTIONS = ["--framework", "cloudformation", "--output", "json", "--skip-download", "--soft-fail"]


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
        [str(CHECKOV), "--directory", str(directory), *OPTIONS],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, f"checkov crashed:\n{completed.stderr[-4000:]}"
    report = json.loads(completed.stdout)
    # One framework gives one report object; several give a list of them.
    return report if isinstance(report, list) else [report]


def checkov_scan(directory: Path, cache_dir: Path | None) -> dict[str, list]:
    """`merge_reports(run_checkov(directory))`, remembered in `cache_dir` (the
    `checkov_cache` fixture: beside the dependencies, shared by every clone) under the hash
    of checkov's version, its options, the environment variables it reads (CKV_*, BC_*)
    and every file under `directory` by relative path and bytes: a scan of templates that
    are byte for byte those of an earlier scan is not run again (about 5 s of CPU a
    template). A report is only remembered once it was read without parsing errors."""
    digest = hashlib.sha256(json.dumps([checkov_version(), OPTIONS]).encode())
    settings = sorted((k, v) for k, v in os.environ.items() if k.startswith(("CKV_", "BC_")))
    digest.update(json.dumps(settings).encode())
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        name = path.relative_to(directory).as_posix()
        digest.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    entry = cache_dir / f"{digest.hexdigest()}.json" if cache_dir else None
    if entry and entry.is_file():
        try:
            return json.loads(entry.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass  # a damaged entry: scan again
    merged = merge_reports(run_checkov(directory))
    if entry:
        write_entry(entry, json.dumps(merged).encode())
    return merged


def checkov_version() -> str:
    found = sorted(CHECKOV.parents[1].glob("lib/python*/site-packages/checkov-*.dist-info"))
    return found[-1].name if found else "unknown"


# Resource types checkov (3.x) has no CloudFormation check for: a template of these alone
# (the us-east-1 health-alarm stack, when it only adds alarms) appears in no report.
UNCHECKED_TYPES = {"AWS::CloudWatch::Alarm"}


def checkable(content: bytes) -> bool:
    types = {r["Type"] for r in json.loads(content)["Resources"].values()}
    return not types <= UNCHECKED_TYPES


def scanned_templates(files: dict[str, bytes]) -> list[str]:
    """The templates checkov should report on: those the manifests list, stacks and
    deploy.sh's bootstrap."""
    templates = []
    for path, content in files.items():
        if path.rsplit("/", 1)[-1] == "manifest.json":
            directory = path.rsplit("/", 1)[0]
            manifest = json.loads(content)
            templates += [
                f"{directory}/{stack['template']}"
                for stack in manifest["stacks"]
                if checkable(files[f"{directory}/{stack['template']}"])
            ]
            templates.append(f"{directory}/{manifest['bootstrap']['template']}")
    return sorted(templates)


def merge_reports(reports: list[dict]) -> dict[str, list]:
    merged: dict[str, list] = {"passed_checks": [], "failed_checks": [], "skipped_checks": []}
    parsing_errors: list[str] = []
    for report in reports:
        assert report.get("check_type") == "cloudformation", f"unexpected report: {report}"
        for kind in merged:
            # Only what the tests read: the full records are large to keep in the cache.
            merged[kind] += [
                {
                    "check_id": check["check_id"],
                    "check_name": check["check_name"],
                    "resource": check["resource"],
                    "file_path": check["file_path"],
                    "suppress_comment": (check.get("check_result") or {}).get("suppress_comment"),
                }
                for check in report["results"][kind]
            ]
        parsing_errors += report["results"].get("parsing_errors", [])
    assert not parsing_errors, f"checkov could not parse: {parsing_errors}"
    return merged


@pytest.fixture(scope="module")
def checkov_results(
    tmp_path_factory: pytest.TempPathFactory, checkov_cache: Path | None
) -> tuple[list[str], dict]:
    """Every example compiled into `<example>/...` of one directory, scanned by one checkov
    process (about 5 s per template), or the remembered scan of the same bytes
    (`checkov_scan`)."""
    files = {
        f"{example.name}/{file.path}": file.content
        for example in examples()
        for file in compile_example(example)
    }
    out = tmp_path_factory.mktemp("compiled") / "examples"
    write_output([RenderedFile(path, content) for path, content in files.items()], out)
    return scanned_templates(files), checkov_scan(out, checkov_cache)


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
        if (check["suppress_comment"] or "").strip() in ("", NO_COMMENT)
    )
    assert not unexplained, "skipped without a reason:\n" + "\n".join(unexplained)
