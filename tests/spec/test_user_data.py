"""`compute.user_data`: a shell script beside the spec, read at validation, size-checked
against EC2's 16 KB with room for what the compiler adds, every problem located."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from compiler.builders.compute import render_user_data
from compiler.errors import SpecError
from compiler.load import load_spec_file
from compiler.spec import validate_spec
from compiler.spec.compute import MAX_USER_DATA_BYTES, USER_DATA_LIMIT
from tests.builders.example import copy_example
from tests.spec.helpers import where

SETTING = "user_data: examples/app/user-data.sh"
SCRIPT = "examples/app/user-data.sh"


def problem_with(tmp_path: Path, text: str, script: bytes | None) -> tuple[str, str]:
    """Validate `text` in a project whose user-data script is `script`; its one problem."""
    spec_path = copy_example(tmp_path / "project", text)
    target = spec_path.parent / SCRIPT
    if script is not None:
        target.write_bytes(script)
    with pytest.raises(SpecError) as raised:
        validate_spec(load_spec_file(spec_path))
    (problem,) = [str(p) for p in raised.value.problems]
    return problem, str(spec_path)


def assert_at_the_setting(problem: str, file: str, text: str, message: str) -> None:
    line, column = where(text, SCRIPT, after="user_data: ")
    assert problem.startswith(f"{file}:{line}:{column}: compute.user_data: "), problem
    assert message in problem, problem


def test_the_script_is_read_beside_the_spec(example_text, tmp_path, monkeypatch):
    spec_path = copy_example(tmp_path / "project", example_text)
    monkeypatch.chdir(tmp_path)  # not the spec's directory
    spec = validate_spec(load_spec_file(spec_path))
    assert spec.compute.user_data == SCRIPT
    assert spec.compute.user_data_script == (spec_path.parent / SCRIPT).read_text()


def test_without_user_data_there_is_none(example_text):
    from tests.spec.helpers import edit, validate

    spec = validate(edit(example_text, SETTING, "# no user data"))
    assert spec.compute.user_data is None
    assert spec.compute.user_data_script == ""


@pytest.mark.parametrize(
    ("script", "message"),
    [
        (None, "missing user data file 'examples/app/user-data.sh'"),
        (b"  \n", "is empty"),
        (b"#!/bin/bash\n\xff\xfe\n", "is not UTF-8 text"),
        (b"#cloud-config\nruncmd: []\n", "must be a shell script whose first line is a shebang"),
        (b"#!/usr/bin/env python3\nprint(1)\n", "like #!/bin/bash"),
        (b"echo no shebang\n", "must be a shell script"),
    ],
)
def test_broken_scripts_are_located_at_the_setting(example_text, tmp_path, script, message):
    if script is None:
        spec_path = copy_example(tmp_path / "project", example_text)
        (spec_path.parent / SCRIPT).unlink()
        with pytest.raises(SpecError) as raised:
            validate_spec(load_spec_file(spec_path))
        (problem,) = [str(p) for p in raised.value.problems]
        file = str(spec_path)
    else:
        problem, file = problem_with(tmp_path, example_text, script)
    assert_at_the_setting(problem, file, example_text, message)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/etc/passwd", "is an absolute path"),
        ("../outside.sh", "is outside the spec file's directory"),
        ("examples/app", "is a directory"),
    ],
)
def test_the_script_must_be_a_file_beside_the_spec(example_text, tmp_path, path, message):
    text = example_text.replace(SETTING, f"user_data: {path}")
    (tmp_path / "outside.sh").write_text("#!/bin/sh\n")
    problem, file = problem_with(tmp_path, text, None)
    line, column = where(text, path, after="user_data: ")
    assert problem.startswith(f"{file}:{line}:{column}: compute.user_data: "), problem
    assert message in problem


def test_a_script_over_the_limit_is_refused(example_text, tmp_path):
    script = b"#!/bin/bash\n" + b"#" * (USER_DATA_LIMIT - 12) + b"\n"  # one byte over
    problem, file = problem_with(tmp_path, example_text, script)
    assert_at_the_setting(
        problem, file, example_text,
        f"is {USER_DATA_LIMIT + 1:,} bytes; it may be at most {USER_DATA_LIMIT:,} bytes "
        f"(EC2 takes {MAX_USER_DATA_BYTES:,} bytes of user data",
    )  # fmt: skip


def test_a_script_at_the_limit_still_fits_ec2_once_rendered(example_text, tmp_path):
    """The reserve covers the compiler's lines for the longest project and environment."""
    script = "#!/bin/bash\n" + "#" * (USER_DATA_LIMIT - 13) + "\n"
    spec_path = copy_example(tmp_path / "project", example_text)
    (spec_path.parent / SCRIPT).write_text(script)
    spec = validate_spec(load_spec_file(spec_path))
    assert len(spec.compute.user_data_script.encode()) == USER_DATA_LIMIT
    longest = "/" + "p" * 20 + "/" + "e" * 20 + "/"  # Slug allows 20 characters
    rendered = render_user_data(spec.compute.user_data_script, longest).encode()
    assert len(rendered) <= MAX_USER_DATA_BYTES
    assert len(base64.b64encode(rendered)) <= 21848  # what EC2's API field accepts
