"""The JSON Schema of infra.yaml: current, documented, and in agreement with the models."""

from __future__ import annotations

import json
from collections.abc import Iterator

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from compiler.cli import main
from compiler.schema import DEFAULT_SCHEMA_PATH, JSON_SCHEMA_DIALECT, infra_schema, schema_bytes
from tests.conftest import EXAMPLE_SPEC, REPO_ROOT
from tests.infra_command import run_infra

COMMITTED = REPO_ROOT / DEFAULT_SCHEMA_PATH


def properties(schema: dict) -> Iterator[tuple[str, dict]]:
    """Every property of the root and of every definition, as (where, property schema)."""
    for model, definition in [("(root)", schema), *schema["$defs"].items()]:
        for name, prop in definition.get("properties", {}).items():
            yield f"{model}.{name}", prop


def validator(schema: dict) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema)


def test_committed_schema_is_current():
    assert COMMITTED.read_bytes() == schema_bytes(), "run `infra schema` and review the change"


def test_example_spec_points_editors_at_the_schema():
    first_line = EXAMPLE_SPEC.read_text(encoding="utf-8").splitlines()[0]
    assert first_line == "# yaml-language-server: $schema=./schemas/infra.schema.json"
    assert (EXAMPLE_SPEC.parent / "schemas" / "infra.schema.json").resolve() == COMMITTED


def test_schema_names_its_dialect_and_title_first():
    schema = infra_schema()
    assert list(schema)[:2] == ["$schema", "title"]
    assert schema["$schema"] == JSON_SCHEMA_DIALECT
    jsonschema.Draft202012Validator.check_schema(schema)


def test_every_property_has_a_description_and_examples():
    found = dict(properties(infra_schema()))
    assert len(found) > 80  # every section's keys, not just the root's
    assert [where for where, prop in found.items() if not prop.get("description")] == []
    assert [where for where, prop in found.items() if not prop.get("examples")] == []


def test_every_example_is_valid_for_its_property():
    schema = infra_schema()
    invalid = []
    for where, prop in properties(schema):
        check = validator({"$defs": schema["$defs"], **prop})
        invalid += [(where, example) for example in prop["examples"] if not check.is_valid(example)]
    assert invalid == []


def test_example_spec_validates_against_the_schema():
    spec = yaml.safe_load(EXAMPLE_SPEC.read_text(encoding="utf-8"))
    errors = [e.message for e in validator(infra_schema()).iter_errors(spec)]
    assert errors == []


@pytest.mark.parametrize(
    ("section", "change", "complaint"),
    [
        ("compute", {"instance_typ": "t3.small"}, "instance_typ"),  # typo: extra='forbid'
        ("network", {"nat_gateways": "double"}, "double"),
        ("compute", {"min_size": 0}, "0 is less than the minimum of 1"),
    ],
)
def test_schema_rejects_what_the_models_reject(section, change, complaint):
    spec = yaml.safe_load(EXAMPLE_SPEC.read_text(encoding="utf-8"))
    spec[section] = {**spec[section], **change}
    messages = " ".join(e.message for e in validator(infra_schema()).iter_errors(spec))
    assert complaint in messages


def test_schema_keeps_field_order_for_completion_lists():
    root = infra_schema()["properties"]
    assert list(root)[:5] == ["project", "environment", "tags", "regions", "dns"]


def test_schema_command_writes_the_file(tmp_path):
    runner = CliRunner()
    target = tmp_path / "schemas" / "infra.schema.json"
    first = runner.invoke(main, ["schema", "--output", str(target)])
    assert first.exit_code == 0, first.output
    assert target.read_bytes() == schema_bytes()
    assert f"{target}: written" in first.stdout
    second = runner.invoke(main, ["schema", "-o", str(target)])
    assert f"{target}: already up to date" in second.stdout


def test_schema_command_prints_to_stdout():
    result = CliRunner().invoke(main, ["schema", "-o", "-"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == infra_schema()


def test_schema_command_as_a_process_writes_the_default_path(tmp_path):
    completed = run_infra("schema", cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / DEFAULT_SCHEMA_PATH).read_bytes() == COMMITTED.read_bytes()
