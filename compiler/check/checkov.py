"""checkov, the second scanner: found, run on the compiled templates, its report read.

checkov is not a dependency: it pins old versions of packages we also use, so it lives
in an environment of its own (`pipx install checkov`, or this repository's
`scripts/install-checkov.sh`, which makes .venv-checkov/) and runs as the separate
program it is. Its JSON report names a resource (`AWS::RDS::DBInstance.Database`) and,
for most checks, the properties it read (`evaluated_keys`), which is what places a
finding on the spec key behind it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from compiler.errors import CheckToolError

# Where scripts/install-checkov.sh puts it, relative to the working directory.
PROJECT_CHECKOV = Path(".venv-checkov/bin/checkov")
INSTALL_HINT = (
    "checkov is not installed, so only cfn-lint ran. Install it in an environment of its "
    "own (it pins old versions of packages infra uses): `pipx install checkov`, or "
    "`bash scripts/install-checkov.sh` in a clone of infra-compiler (makes "
    ".venv-checkov/bin/checkov); or name it with --checkov PATH."
)
# Generous: checkov takes about 5 s a template on one core, and a spec with many
# regions has many templates.
TIMEOUT_SECONDS = 1800


@dataclass(frozen=True)
class CheckovResult:
    """One check on one resource of one template, as checkov reported it."""

    check_id: str
    check_name: str
    template: str  # relative to the scanned directory
    line: int
    resource: str | None  # logical ID
    properties: tuple[str | int, ...]  # the first property path it read, under Properties
    skipped_because: str | None  # the template's own waiver comment, for a skipped check
    guideline: str | None


def find_checkov(named: Path | None) -> Path | None:
    """`named` (it must exist), else `checkov` on the PATH, else the project's
    .venv-checkov; None when there is none."""
    if named is not None:
        if not (named.is_file() and os.access(named, os.X_OK)):
            raise CheckToolError(f"--checkov {named}: no such program")
        return named
    on_path = shutil.which("checkov")
    if on_path:
        return Path(on_path)
    return PROJECT_CHECKOV if PROJECT_CHECKOV.is_file() else None


def checkov_environment() -> dict[str, str]:
    return {
        **os.environ,
        "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true",  # no look-up of newer checkov releases
        "BC_SKIP_MAPPING": "TRUE",  # no download of check metadata from the vendor
    }


def checkov_version(program: Path) -> str:
    done = _run([str(program), "--version"], timeout=120)
    return done.stdout.strip()


def run_checkov(program: Path, directory: Path) -> list[CheckovResult]:
    """Failed and skipped checks of every template under `directory`."""
    done = _run(
        [str(program), "--directory", str(directory), "--framework", "cloudformation",
         "--output", "json", "--skip-download", "--soft-fail"],
        timeout=TIMEOUT_SECONDS,
    )  # fmt: skip
    try:
        report = json.loads(done.stdout)
    except ValueError:
        raise CheckToolError(f"checkov printed no JSON report: {_tail(done.stderr)}") from None
    results: list[CheckovResult] = []
    # One framework gives one report object; several would give a list of them.
    for one in report if isinstance(report, list) else [report]:
        found = one.get("results") if isinstance(one, dict) else None
        if not isinstance(found, dict):
            # checkov prints a bare summary when it scanned nothing: never right here, as
            # every template has resources, and a gate that passes on it checks nothing.
            raise CheckToolError(
                f"checkov's report has no results for the templates: {_excerpt(done.stdout)}"
            )
        errors = found.get("parsing_errors") or []
        if errors:
            names = errors if isinstance(errors, list) else [errors]
            raise CheckToolError(f"checkov could not parse {', '.join(map(str, names))}")
        for kind in ("failed_checks", "skipped_checks"):
            checks = found.get(kind) or []
            if not isinstance(checks, list):
                raise CheckToolError(f"checkov's report: {kind} is not a list")
            results += [read_result(check, directory) for check in checks]
    return results


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:200] + "..."


def _run(command: list[str], *, timeout: int) -> subprocess.CompletedProcess[str]:
    # A session of its own, ended whole: checkov's worker processes must not outlive a
    # timeout or Ctrl-C, scanning a scratch directory that is being deleted.
    try:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            env=checkov_environment(), encoding="utf-8", start_new_session=True,
            errors="replace",  # a stray byte in its output must not stop the report
        )  # fmt: skip
    except OSError as error:
        raise CheckToolError(f"{command[0]}: {error.strerror or error}") from None
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except BaseException as error:  # the timeout, or Ctrl-C
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        if isinstance(error, subprocess.TimeoutExpired):
            raise CheckToolError(f"checkov did not finish in {timeout} s") from None
        raise
    if process.returncode != 0:  # with --soft-fail, only a crash
        raise CheckToolError(f"checkov failed (exit {process.returncode}): {_tail(stderr)}")
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def _tail(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(nothing on stderr)"


def read_result(check: object, directory: Path) -> CheckovResult:
    """One entry of checkov's report; `CheckToolError` when it is not one checkov writes
    (another program given as --checkov, or a checkov whose format changed)."""
    try:
        return _read_result(check, directory)
    except (AttributeError, KeyError, TypeError, ValueError, IndexError):
        raise CheckToolError(
            f"checkov's report has a check infra cannot read: {_excerpt(json.dumps(check))}"
        ) from None


def _read_result(check: dict, directory: Path) -> CheckovResult:
    result = check.get("check_result") or {}
    resource = str(check.get("resource") or "")
    # "AWS::RDS::DBInstance.Database": the type has no dots, the logical ID none either.
    logical_id = resource.split(".", 1)[1] if "." in resource else None
    keys = result.get("evaluated_keys") or []
    lines = check.get("file_line_range") or [0]
    skipped = result.get("result") == "SKIPPED"
    return CheckovResult(
        check_id=str(check["check_id"]),
        check_name=str(check.get("check_name") or check["check_id"]),
        template=_relative(str(check.get("file_path") or ""), directory),
        line=int(lines[0] or 0),
        resource=logical_id,
        properties=property_path(str(keys[0])) if keys else (),
        skipped_because=str(result.get("suppress_comment") or "") if skipped else None,
        guideline=str(check.get("guideline") or "") or None,
    )


def _relative(file_path: str, directory: Path) -> str:
    """checkov writes `/regions/us-east-1.json` for a file under --directory."""
    path = Path(file_path)
    if path.is_absolute() and path.is_relative_to(directory):
        return path.relative_to(directory).as_posix()
    return file_path.lstrip("/")


_INDEX = re.compile(r"^\[(\d+)\]$")


def property_path(key: str) -> tuple[str | int, ...]:
    """`Properties/BucketEncryption/[0]/X` -> `("BucketEncryption", 0, "X")`; only paths
    under Properties, the part of a resource a spec key sets."""
    parts: list[str | int] = []
    for part in key.split("/"):
        index = _INDEX.match(part)
        parts.append(int(index[1]) if index else part)
    return tuple(parts[1:]) if parts[:1] == ["Properties"] else ()
