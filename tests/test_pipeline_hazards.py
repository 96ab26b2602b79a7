"""`infra compile` and `infra validate` refuse a spec that would destroy data deployed over
the last compile in the output directory (compiler/data_hazards.py), at the spec key."""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler.errors import SpecError
from compiler.pipeline import compile_spec
from tests.builders.example import copy_example
from tests.infra_command import infra_in_process, run_infra

EAST_FIRST = """\
  - name: us-east-1
    cidr: 10.10.0.0/16
  - name: us-west-2
    cidr: 10.20.0.0/16
"""
WEST_FIRST = """\
  - name: us-west-2
    cidr: 10.20.0.0/16
  - name: us-east-1
    cidr: 10.10.0.0/16
"""
PROMOTED = """\
database:
  promoted:
    identifier: storefront-production-database-1a2b3c4d
    source_region: us-east-1
"""


def reorder(spec: Path, promoted: bool = False) -> None:
    text = spec.read_text(encoding="utf-8")
    assert EAST_FIRST in text
    text = text.replace(EAST_FIRST, WEST_FIRST)
    if promoted:
        text = text.replace("database:\n", PROMOTED, 1)
    spec.write_text(text, encoding="utf-8")


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


@pytest.fixture
def compiled(tmp_path) -> tuple[Path, Path]:
    """The example compiled once into `out`: what is deployed."""
    spec = copy_example(tmp_path / "project")
    out = tmp_path / "out"
    compile_spec(spec, out, lint=False)
    return spec, out


def test_moving_the_writer_without_a_promotion_is_refused_at_regions(compiled):
    spec, out = compiled
    before = snapshot(out)
    reorder(spec)
    with pytest.raises(SpecError) as raised:
        compile_spec(spec, out, lint=False)
    (problem,) = raised.value.problems
    lines = spec.read_text(encoding="utf-8").splitlines()
    assert problem.path == ("regions",)
    assert lines[problem.line - 1].strip() == "- name: us-west-2"  # the list's first item
    assert "deploy.sh promote us-west-2" in problem.message
    assert "--allow-data-loss" in problem.message
    assert snapshot(out) == before  # nothing written


def test_allow_data_loss_compiles_it_with_the_error_as_a_warning(compiled):
    spec, out = compiled
    reorder(spec)
    result = compile_spec(spec, out, lint=False, allow_data_loss=True)
    messages = [w.message for w in result.warnings if w.path == ("regions",)]
    assert any(
        m.startswith("warning: the writer database moves")
        and m.endswith("(allowed by --allow-data-loss)")
        for m in messages
    )
    assert '"region": "us-west-2"' in (out / "manifest.json").read_text()


def test_a_promoted_failover_compiles_with_a_warning_and_keeps_the_global_stack(compiled):
    spec, out = compiled
    reorder(spec, promoted=True)
    result = compile_spec(spec, out, lint=False)
    assert [w.path for w in result.warnings] == [("database", "promoted")]
    assert result.stacks[0].kind == "global" and result.stacks[0].region == "us-east-1"


def test_an_environment_is_refused_where_its_overlay_moves_the_writer(tmp_path):
    text = copy_example(tmp_path / "probe").read_text(encoding="utf-8")
    overlay = "environments:\n  staging:\n    regions:\n" + "\n".join(
        "    " + line for line in EAST_FIRST.splitlines()
    )
    spec = copy_example(tmp_path / "project", text + "\n" + overlay + "\n")
    out = tmp_path / "out"
    compile_spec(spec, out, environment="staging", lint=False)
    spec.write_text(spec.read_text(encoding="utf-8").replace(
        overlay, "environments:\n  staging:\n    regions:\n" + "\n".join(
            "    " + line for line in WEST_FIRST.splitlines()
        )
    ), encoding="utf-8")  # fmt: skip
    with pytest.raises(SpecError) as raised:
        compile_spec(spec, out, environment="staging", lint=False)
    (problem,) = raised.value.problems
    assert problem.path == ("environments", "staging", "regions")
    line = spec.read_text(encoding="utf-8").splitlines()[problem.line - 1]
    assert line.strip() == "- name: us-west-2"


def test_validate_reads_the_default_output_directory(tmp_path):
    spec = copy_example(tmp_path)
    compiled = infra_in_process("compile", "--no-lint", "-q", spec.name, cwd=tmp_path)  # set-up
    assert compiled.exit_code == 0, compiled.stderr
    reorder(spec)
    refused = run_infra("validate", spec.name, cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert f"{spec.name}:13:" in refused.stderr and "regions: the writer database moves" in (
        refused.stderr
    )
    assert "Traceback" not in refused.stderr
    allowed = run_infra("validate", "--allow-data-loss", spec.name, cwd=tmp_path)
    assert allowed.returncode == 0, allowed.stderr
    assert "warning: the writer database moves" in allowed.stderr
    compile_refused = run_infra("compile", "--no-lint", spec.name, cwd=tmp_path)
    assert compile_refused.returncode == 2
    assert "nothing was written" in compile_refused.stderr


def test_stacks_compiled_before_the_databases_had_fixed_names_are_refused(compiled):
    """A manifest without `database_identifiers` comes from a compile that let
    CloudFormation name the databases without replicas: naming them now replaces them."""
    import json

    from compiler.data_hazards import read_previous_layout

    spec, out = compiled
    assert read_previous_layout(out).generated_database_names is False  # this compile's
    text = spec.read_text(encoding="utf-8").replace(
        "database:\n", "database:\n  replicas: false\n", 1
    )
    spec.write_text(text, encoding="utf-8")
    compile_spec(spec, out, lint=False, allow_data_loss=True)  # replicas off: a warning
    manifest = json.loads((out / "manifest.json").read_text())
    del manifest["database_identifiers"]
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SpecError) as raised:
        compile_spec(spec, out, lint=False)
    (problem,) = raised.value.problems
    assert problem.path == ("database",)
    assert "new, empty one named storefront-production-db" in problem.message
