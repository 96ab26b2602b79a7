"""Environments: overlays merged over the base, errors at the line they were written,
and what `--env` changes in the compiled templates (exactly the overlaid values)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import EXIT_DIFFERENT, EXIT_OK, EXIT_SPEC, main
from compiler.environments import (
    apply_environment,
    merge_environment,
    output_dir,
    validate_environment,
    validate_every_environment,
)
from compiler.errors import SpecError
from compiler.load import Position, load_spec_text
from compiler.pipeline import compile_in_memory
from tests.builders.example import EXAMPLE_SPEC, copy_example
from tests.infra_command import run_infra

EXAMPLE_TEXT = EXAMPLE_SPEC.read_text(encoding="utf-8")
FILE = "infra.yaml"


def with_environments(text: str = EXAMPLE_TEXT) -> str:
    """The example with its commented `environments:` section switched on."""
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("# environments:"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("# ")), len(lines))
    section = [line.removeprefix("# ") for line in lines[start:end]]
    return "".join(lines[:start] + section + lines[end:])


STAGED_TEXT = with_environments()


def with_overlay(overlay: str, text: str = STAGED_TEXT) -> str:
    """The staged example (or `text`) with one more environment, written after `staging`."""
    last = next(line for line in text.splitlines(True) if line.startswith("    database:"))
    return text.replace(last, last + overlay, 1)


def line_of(text: str, snippet: str, after: str | None = None) -> tuple[int, int]:
    """1-based line and column where `snippet` first occurs (after `after`, if given)."""
    offset = text.index(snippet, text.index(after) if after else 0)
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


def problems_of(error: pytest.ExceptionInfo[SpecError]) -> list[str]:
    return [str(problem) for problem in error.value.problems]


# --- merging and positions ---------------------------------------------------------------

BASE = """\
project: shop
environment: production
compute:
  instance_type: t3.small
  min_size: 2
  ssh_cidrs: [10.0.0.0/24, 10.1.0.0/24]
dns: {zone_name: example.com, hosted_zone_id: Z123}
environments:
  staging:
    compute:
      instance_type: t3.micro
      ssh_cidrs: [10.9.0.0/24]
    dns: {hosted_zone_id: null}
  qa:
    environment: test
"""


def test_mappings_merge_and_other_values_replace():
    merged = apply_environment(load_spec_text(BASE, FILE), "staging").data
    assert merged == {
        "project": "shop",
        "environment": "staging",
        "compute": {"instance_type": "t3.micro", "min_size": 2, "ssh_cidrs": ["10.9.0.0/24"]},
        "dns": {"zone_name": "example.com", "hosted_zone_id": None},
    }


def test_an_overlay_may_name_its_environment():
    assert apply_environment(load_spec_text(BASE, FILE), "qa").data["environment"] == "test"


def test_merging_leaves_the_loaded_spec_alone():
    loaded = load_spec_text(BASE, FILE)
    before = copy.deepcopy(loaded.data)
    apply_environment(loaded, "staging")
    assert loaded.data == before
    assert apply_environment(loaded, None) is loaded


def test_each_merged_value_keeps_the_position_of_the_value_that_won():
    merged = apply_environment(load_spec_text(BASE, FILE), "staging")
    assert merged.position_of(("compute", "instance_type")) == Position(11, 22)  # overlay
    assert merged.position_of(("compute", "min_size")) == Position(5, 13)  # base
    assert merged.position_of(("compute", "ssh_cidrs", 0)) == Position(12, 19)  # overlay list
    assert merged.position_of(("compute", "ssh_cidrs", 1)) == Position(12, 18)  # no such item
    assert merged.position_of(("compute", "instance_type"), key=True) == Position(11, 7)
    assert merged.position_of(("dns", "hosted_zone_id")) == Position(13, 27)
    assert merged.position_of(("dns", "zone_name")) == Position(7, 18)
    # the name stands in for the environment value the overlay did not write
    assert merged.position_of(("environment",)) == Position(9, 3)


def test_the_base_environment_name_selects_the_base():
    loaded = load_spec_text(BASE, FILE)
    merged = apply_environment(loaded, "production")
    assert merged.data == {k: v for k, v in loaded.data.items() if k != "environments"}
    assert merged.position_of(("compute", "min_size")) == Position(5, 13)


def test_merged_paths_are_named_where_the_overlay_wrote_them():
    merged = merge_environment(load_spec_text(BASE, FILE), "staging")
    assert merged.overlay_path(("compute", "instance_type")) == (
        "environments",
        "staging",
        "compute",
        "instance_type",
    )
    assert merged.overlay_path(("compute", "ssh_cidrs", 0, "x")) == (
        "environments",
        "staging",
        "compute",
        "ssh_cidrs",
        0,
        "x",
    )
    assert merged.overlay_path(("compute", "min_size")) is None
    assert merged.overlay_path(("compute",)) is None  # merged from both: the base's
    assert merged.overlay_path(("environment",)) is None  # not written anywhere


NO_ENVIRONMENTS = BASE.split("environments:")[0]


@pytest.mark.parametrize(
    ("text", "name", "written_at", "message"),
    [
        (BASE, "prod", "environments:", "no environment 'prod' in the spec (environments: "),
        (NO_ENVIRONMENTS, "staging", None, "(environments: none; or the base environment"),
        (BASE + "  bad: [1]\n", "bad", "[1]", "an environment is a mapping of the keys"),
        (BASE + "  deep:\n    environments: {}\n", "deep", "environments: {}", "cannot be nested"),
        (BASE + "  prod:\n    environment: production\n", "prod", "production\n", "like the base"),
        (BASE + "  production: {}\n", "production", "production: {}", "like the base"),
    ],
)
def test_overlay_errors_are_located(text, name, written_at, message):
    with pytest.raises(SpecError) as error:
        apply_environment(load_spec_text(text, FILE), name)
    (problem,) = error.value.problems
    # the last occurrence: each case appends what it is about to the end of BASE
    expected = (1, 1)
    if written_at is not None:
        offset = text.rindex(written_at)
        expected = (text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset))
    assert (problem.line, problem.column) == expected
    assert message in problem.message


# --- validation -------------------------------------------------------------------------


def test_the_example_is_valid_in_every_environment():
    specs = validate_every_environment(load_spec_text(STAGED_TEXT, FILE))
    assert sorted(specs, key=str) == [None, "staging"]
    assert specs[None].environment == "production"
    assert specs["staging"].environment == "staging"
    assert specs["staging"].environments == {}
    assert specs["staging"].compute.instance_type == "t3.micro"


def test_an_error_in_the_overlay_is_reported_at_the_overlay_line():
    text = STAGED_TEXT.replace("nat_gateways: single", "nat_gateways: double")
    loaded = load_spec_text(text, FILE)
    line, column = line_of(text, "double")
    expected = f"{FILE}:{line}:{column}: environments.staging.network.nat_gateways: "
    for validate in (
        lambda: validate_environment(loaded, "staging"),
        lambda: validate_every_environment(loaded),
    ):
        with pytest.raises(SpecError) as error:
            validate()
        (problem,) = problems_of(error)
        assert problem.startswith(expected) and "'double'" in problem, problem
    validate_environment(loaded, None)  # the base alone is fine


def test_an_unknown_key_in_the_overlay_is_reported_at_the_key():
    text = STAGED_TEXT.replace(" max_size: 2}", " max_sise: 2}")
    with pytest.raises(SpecError) as error:
        validate_environment(load_spec_text(text, FILE), "staging")
    line, column = line_of(text, "max_sise")
    (problem,) = problems_of(error)
    assert problem == (
        f"{FILE}:{line}:{column}: environments.staging.compute.max_sise: "
        "unknown key 'max_sise'; did you mean 'max_size'?"
    )


def test_a_base_error_is_reported_once_at_the_base_line():
    text = STAGED_TEXT.replace("flow_logs_retention_days: 365", "flow_logs_retention_days: 366")
    line, column = line_of(text, "366")
    for name in (None, "staging"):
        loaded = load_spec_text(text, FILE)
        with pytest.raises(SpecError) as error:
            if name:
                validate_environment(loaded, name)
            else:
                validate_every_environment(loaded)
        (problem,) = error.value.problems
        assert (problem.line, problem.column, problem.path) == (
            line,
            column,
            ("network", "flow_logs_retention_days"),
        )
        assert "in environment" not in problem.message


def test_a_conflict_the_overlay_causes_names_the_environment():
    # 85% target tracking with the base's 80% CPU alarm: the alarm would fire all the time
    text = STAGED_TEXT.replace(" max_size: 2}", " max_size: 2, cpu_target_percent: 85}")
    with pytest.raises(SpecError) as error:
        validate_every_environment(load_spec_text(text, FILE))
    (problem,) = error.value.problems
    # of the two values that no longer fit, the one the overlay wrote is reported
    assert problem.path == ("environments", "staging", "compute", "cpu_target_percent")
    assert (problem.line, problem.column) == line_of(text, "85}")
    assert "in environment" not in problem.message


def test_two_environments_may_not_share_an_environment_name():
    text = with_overlay("  preview:\n    environment: staging\n")
    with pytest.raises(SpecError) as error:
        validate_every_environment(load_spec_text(text, FILE))
    (problem,) = error.value.problems
    assert (problem.line, problem.column) == line_of(text, "staging", after="  preview:")
    assert problem.path == ("environments", "preview", "environment")
    assert "'staging' and 'preview' both name environment 'staging'" in problem.message


def test_a_bad_overlay_is_reported_once():
    text = EXAMPLE_TEXT + "environments:\n  Staging: {}\n  qa: [1]\n"
    with pytest.raises(SpecError) as error:
        validate_every_environment(load_spec_text(text, FILE))
    paths = sorted(str(p.path) for p in error.value.problems)
    assert paths == [str(("environments", "Staging")), str(("environments", "qa"))]


# --- what an environment changes in the templates ------------------------------------------

# The staging overlay of the example: smaller instances and database, one NAT gateway.
# Apart from the environment's name, these resources and properties, and nothing else,
# differ from production.
REMOVED_BY_ONE_NAT = {
    *(f"Nat{n}Address" for n in (2, 3)),
    *(f"NatGateway{n}" for n in (2, 3)),
    *(f"Nat{n}DroppedPacketsAlarm" for n in (2, 3)),
    *(f"Nat{n}PortAllocationErrorsAlarm" for n in (2, 3)),
}
CHANGED = {
    ("LaunchTemplate", "Properties.LaunchTemplateData"): None,  # checked in detail below
    ("AutoScalingGroup", "Properties.MinSize"): ("2", "1"),
    ("AutoScalingGroup", "Properties.DesiredCapacity"): ("2", "1"),
    ("AutoScalingGroup", "Properties.MaxSize"): ("10", "2"),
    ("AutoScalingGroup", "UpdatePolicy"): None,
    ("Database", "Properties.DBInstanceClass"): ("db.t3.medium", "db.t3.micro"),
    ("Database", "Properties.MultiAZ"): (True, False),
    # private subnets 2 and 3 route through the one NAT gateway, which the dashboard shows
    ("PrivateDefaultRoute2", "Properties.NatGatewayId"): (
        {"Ref": "NatGateway2"},
        {"Ref": "NatGateway1"},
    ),
    ("PrivateDefaultRoute3", "Properties.NatGatewayId"): (
        {"Ref": "NatGateway3"},
        {"Ref": "NatGateway1"},
    ),
    ("Dashboard", "Properties.DashboardBody"): None,
    # A replica's identifier ends in a digest of the writer's, which names the environment
    # (naming.replica_database_identifier): putting the name back does not undo a digest.
    ("Database", "Properties.DBInstanceIdentifier"): None,
    ("DatabasePostgresqlLogGroup", "Properties.LogGroupName"): None,
    ("DatabaseUpgradeLogGroup", "Properties.LogGroupName"): None,
}


def resource_differences(old: dict, new: dict) -> dict[tuple[str, str], tuple]:
    """(logical ID, 'Properties.X' or other resource key) -> (old, new), for what differs."""
    differences = {}
    for name in sorted(set(old) & set(new)):
        for key in sorted(set(old[name]) | set(new[name])):
            before, after = old[name].get(key), new[name].get(key)
            if key == "Properties":
                for prop in sorted(set(before or {}) | set(after or {})):
                    if (before or {}).get(prop) != (after or {}).get(prop):
                        differences[(name, f"Properties.{prop}")] = (
                            (before or {}).get(prop),
                            (after or {}).get(prop),
                        )
            elif before != after:
                differences[(name, key)] = (before, after)
    return differences


@pytest.fixture(scope="module")
def both_environments(tmp_path_factory):
    spec = copy_example(tmp_path_factory.mktemp("staged"), STAGED_TEXT)
    return compile_in_memory(spec), compile_in_memory(spec, "staging")


def test_staging_differs_from_production_exactly_in_the_overlaid_values(both_environments):
    production, staging = both_environments
    assert [s.path for s in production.stacks] == [s.path for s in staging.stacks]
    assert {s.kind for s in production.stacks} >= {"region", "stackset"}
    assert [s.stack_name.replace("production", "staging") for s in production.stacks] == [
        s.stack_name for s in staging.stacks
    ]
    rendered = {
        "production": {f.path: f.content.decode() for f in production.files},
        "staging": {f.path: f.content.decode() for f in staging.files},
    }
    for stack in production.stacks:
        old_text, new_text = rendered["production"][stack.path], rendered["staging"][stack.path]
        # the environment's name is the only other thing that changes, so put it back
        assert "staging" not in old_text and "production" not in new_text
        old = json.loads(old_text)
        new = json.loads(new_text.replace("staging", "production"))
        assert {k: v for k, v in old.items() if k != "Resources"} == {
            k: v for k, v in new.items() if k != "Resources"
        }, stack.path
        if stack.kind not in ("region", "stackset"):
            assert old == new, stack.path  # the overlay changes nothing global
            continue
        assert set(old["Resources"]) - set(new["Resources"]) == REMOVED_BY_ONE_NAT, stack.path
        assert set(new["Resources"]) <= set(old["Resources"])
        differences = resource_differences(old["Resources"], new["Resources"])
        assert set(differences) == set(CHANGED), stack.path
        for where, values in CHANGED.items():
            if values is not None:
                assert differences[where] == values, (stack.path, where)
        old_data, new_data = differences[("LaunchTemplate", "Properties.LaunchTemplateData")]
        assert (old_data["InstanceType"], new_data["InstanceType"]) == ("t3.small", "t3.micro")
        assert {**old_data, "InstanceType": "t3.micro"} == new_data
        old_policy, new_policy = differences[("AutoScalingGroup", "UpdatePolicy")]
        rolling = ("AutoScalingRollingUpdate", "MinInstancesInService")
        assert (old_policy[rolling[0]][rolling[1]], new_policy[rolling[0]][rolling[1]]) == (2, 1)
        old_body, new_body = differences[("Dashboard", "Properties.DashboardBody")]
        assert "NatGateway3" in json.dumps(old_body) and "NatGateway2" not in json.dumps(new_body)


# --- where the templates go ---------------------------------------------------------------


def test_output_directories():
    staged = load_spec_text(STAGED_TEXT, FILE)
    specs = validate_every_environment(staged)
    plain = load_spec_text(EXAMPLE_TEXT, FILE)
    assert output_dir(plain, validate_environment(plain, None)) == Path("templates_out")
    assert output_dir(staged, specs[None]) == Path("templates_out/production")
    assert output_dir(staged, specs["staging"]) == Path("templates_out/staging")


def test_env_naming_the_base_of_a_spec_without_environments_writes_templates_out(tmp_path):
    """`--env production` on a file with no `environments:` is its base: the same
    directory as without `--env`, as `infra compile --help` says."""
    spec = copy_example(tmp_path)
    done = run_infra("compile", "--no-lint", "-q", "--env", "production", str(spec), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "templates_out" / "manifest.json").is_file()
    assert not (tmp_path / "templates_out" / "production").exists()
    diff = run_infra("diff", "--env", "production", str(spec), cwd=tmp_path)
    assert diff.returncode == 0, diff.stdout + diff.stderr


# --- the commands -------------------------------------------------------------------------


def test_compile_each_environment_into_its_own_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    copy_example(tmp_path, STAGED_TEXT)
    runner = CliRunner()
    for args, directory in (
        (["--env", "staging"], "templates_out/staging"),
        ([], "templates_out/production"),
        (["-e", "production"], "templates_out/production"),
    ):
        result = runner.invoke(main, ["compile", "--no-lint", *args])
        assert result.exit_code == EXIT_OK, result.output
        manifest = json.loads((tmp_path / directory / "manifest.json").read_text())
        assert directory.split("/")[-1] in json.dumps(manifest)
    # compiling production did not replace staging's templates
    assert sorted(p.name for p in (tmp_path / "templates_out").iterdir()) == [
        "production",
        "staging",
    ]
    staged = (tmp_path / "templates_out/staging/regions/us-east-1.json").read_text()
    assert '"t3.micro"' in staged


def test_an_explicit_output_directory_wins(tmp_path):
    spec = copy_example(tmp_path / "project", STAGED_TEXT)
    out = tmp_path / "elsewhere"
    result = CliRunner().invoke(
        main, ["compile", "--no-lint", str(spec), "--env", "staging", "-o", str(out)]
    )
    assert result.exit_code == EXIT_OK, result.output
    assert (out / "manifest.json").is_file()
    assert not (tmp_path / "project" / "templates_out").exists()


def test_validate_checks_every_environment(tmp_path):
    text = STAGED_TEXT.replace("instance_class: db.t3.micro", "instance_class: t3.micro")
    spec = copy_example(tmp_path, text)
    line, column = line_of(text, "t3.micro", after="    database: {instance_class")
    runner = CliRunner()
    result = runner.invoke(main, ["validate", str(spec)])
    assert result.exit_code == EXIT_SPEC
    assert f"{spec}:{line}:{column}: environments.staging.database.instance_class: " in (
        result.stderr
    )
    good = copy_example(tmp_path / "good", STAGED_TEXT)
    result = runner.invoke(main, ["validate", str(good)])
    assert result.exit_code == EXIT_OK, result.output
    assert result.stdout == f"{good}: valid (2 regions; environments: staging)\n"
    result = runner.invoke(main, ["validate", str(good), "--env", "staging"])
    assert result.stdout == f"{good} (staging): valid (2 regions)\n"


def test_an_unknown_environment_is_a_spec_error(tmp_path):
    spec = copy_example(tmp_path, STAGED_TEXT)
    line, column = line_of(STAGED_TEXT, "environments:  ")
    result = CliRunner().invoke(main, ["compile", "--no-lint", str(spec), "--env", "prod"])
    assert result.exit_code == EXIT_SPEC
    assert result.stderr.startswith(
        f"{spec}:{line}:{column}: environments: no environment 'prod' in the spec "
        "(environments: staging; or the base environment 'production')\n"
    )
    assert not (tmp_path / "templates_out").exists()


def test_environments_as_a_real_command(tmp_path):
    copy_example(tmp_path, STAGED_TEXT.replace("nat_gateways: single", "nat_gateways: none"))
    failed = run_infra("compile", "--no-lint", "--env", "staging", cwd=tmp_path)
    assert failed.returncode == EXIT_SPEC, failed.stderr
    line, column = line_of(
        STAGED_TEXT.replace("nat_gateways: single", "nat_gateways: none"), "none"
    )
    assert f"infra.yaml:{line}:{column}: environments.staging.network.nat_gateways: " in (
        failed.stderr
    )
    copy_example(tmp_path / "ok", STAGED_TEXT)
    done = run_infra("compile", "--no-lint", "-q", "--env", "staging", cwd=tmp_path / "ok")
    assert done.returncode == EXIT_OK, done.stderr
    assert (tmp_path / "ok/templates_out/staging/regions/us-west-2.json").is_file()


def test_diff_compares_each_environment_with_its_own_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = copy_example(tmp_path, STAGED_TEXT)
    runner = CliRunner()
    for args in (["--env", "staging"], []):
        assert runner.invoke(main, ["compile", "--no-lint", "-q", *args]).exit_code == EXIT_OK
        result = runner.invoke(main, ["diff", *args])
        assert result.exit_code == EXIT_OK, result.output
    spec.write_text(STAGED_TEXT.replace("instance_type: t3.micro", "instance_type: t3.nano"))
    staging = runner.invoke(main, ["diff", "--env", "staging"])
    assert staging.exit_code == EXIT_DIFFERENT, staging.output
    assert '"t3.micro" -> "t3.nano"' in staging.stdout
    assert "templates_out/staging" in staging.stdout
    assert runner.invoke(main, ["diff"]).exit_code == EXIT_OK  # production is untouched


# --- every problem of every overlay in one run, each at the overlay's own line ------------


def test_overlay_sizes_out_of_order_point_at_the_overlay_key():
    # the base writes desired_capacity: 2; the overlay's max_size: 1 is what broke it
    text = STAGED_TEXT.replace(
        "{instance_type: t3.micro, min_size: 1, desired_capacity: 1, max_size: 2}",
        "{instance_type: t3.micro, max_size: 1}",
    )
    with pytest.raises(SpecError) as error:
        validate_environment(load_spec_text(text, FILE), "staging")
    line, column = line_of(text, "1}", after="max_size:")
    assert problems_of(error) == [
        f"{FILE}:{line}:{column}: environments.staging.compute.max_size: sizes must satisfy "
        "min_size <= desired_capacity <= max_size; got 2 <= 2 <= 1"
    ]


def test_every_overlay_mistake_and_a_clash_in_one_run():
    text = STAGED_TEXT.replace("instance_type: t3.micro", "instance_type: t3.nano2")
    text = text.replace("instance_class: db.t3.micro", "instance_class: db.t3.micr")
    text = text.replace("nat_gateways: single", "nat_gateways: none")
    text = with_overlay("  qa:\n    environment: staging\n", text)
    with pytest.raises(SpecError) as error:
        validate_every_environment(load_spec_text(text, FILE))
    found = problems_of(error)
    assert [problem.split(": ")[1] for problem in found] == [
        "environments.staging.compute.instance_type",
        "environments.staging.network.nat_gateways",
        "environments.staging.database.instance_class",
        "environments.qa.environment",
    ], found
    assert "did you mean 't3.nano'?" in found[0]
    assert "did you mean 'db.t3.micro'?" in found[2]


def test_compile_env_refuses_an_environment_another_overlay_also_names(tmp_path):
    text = with_overlay("  qa:\n    environment: staging\n")
    spec = copy_example(tmp_path, text)
    result = CliRunner().invoke(main, ["compile", "--no-lint", str(spec), "--env", "qa"])
    assert result.exit_code == EXIT_SPEC
    line, column = line_of(text, "staging", after="  qa:")
    assert result.stderr.startswith(
        f"{spec}:{line}:{column}: environments.qa.environment: environments 'staging' and "
        "'qa' both name environment 'staging'; they would deploy over each other\n"
    )
    assert not (tmp_path / "templates_out").exists()
    staging = CliRunner().invoke(main, ["validate", str(spec), "--env", "staging"])
    assert staging.exit_code == EXIT_SPEC
    assert "environments 'qa' and 'staging' both name environment 'staging'" in staging.stderr
