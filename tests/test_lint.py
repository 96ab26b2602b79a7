"""cfn-lint through its API: the example templates are clean, a broken one is reported
with its rule and line. cfn-lint is slow, so the example is linted once per module."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from compiler import lint as lint_module
from compiler.cli import EXIT_LINT, main
from compiler.lint import (
    IGNORED_RULES,
    LintFinding,
    LintJob,
    compact_message,
    in_spec_terms,
    lint_template,
    lint_templates,
)
from compiler.pipeline import compile_spec, lint_regions
from compiler.spec_map import SpecIndex
from tests.conftest import EXAMPLE_SPEC, REPO_ROOT
from tests.test_cfn_lint_shortcuts import GETATT_FAULTS

_LINTED: dict[tuple[str, tuple[str, ...]], list[LintFinding]] = {}


def lint_once(path: Path, regions: list[str]) -> list[LintFinding]:
    """`lint_template`, remembering results by template content for the test session:
    the example's templates take cfn-lint most of a minute, and two test modules
    (this one and test_cli) need them linted."""
    key = (hashlib.sha256(path.read_bytes()).hexdigest(), tuple(regions))
    if key not in _LINTED:
        _LINTED[key] = lint_template(path, regions)
    return [dataclasses.replace(f, template=str(path)) for f in _LINTED[key]]


@pytest.fixture(scope="module")
def example_findings(tmp_path_factory) -> dict[str, list[LintFinding]]:
    out = tmp_path_factory.mktemp("lint") / "templates_out"
    compiled = compile_spec(EXAMPLE_SPEC, out, lint=False)
    return {
        stack.path: lint_once(out / stack.path, lint_regions(compiled.spec, stack))
        for stack in compiled.stacks
    }


@pytest.mark.full  # cfn-lint of all the example's templates: the full tier's
def test_example_templates_lint_clean(example_findings):
    assert any(path.startswith("regions/") for path in example_findings)
    for path, findings in example_findings.items():
        assert findings == [], f"{path}:\n" + "\n".join(str(f) for f in findings)


def test_no_rule_is_switched_off_without_a_reason():
    for rule, reason in IGNORED_RULES.items():
        assert reason.strip(), rule


def test_broken_template_is_reported_with_rule_and_line(tmp_path):
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Vpc": {
                "Type": "AWS::EC2::VPC",
                "Properties": {"CidrBlock": "10.0.0.0/16", "EnableDnsSupprt": True},
            }
        },
    }
    path = tmp_path / "broken.json"
    text = json.dumps(template, indent=2)
    path.write_text(text, encoding="utf-8")
    typo_line = next(i for i, line in enumerate(text.splitlines(), 1) if "EnableDnsSupprt" in line)

    findings = lint_template(path, ["us-east-1"])
    assert findings, "cfn-lint found nothing in a broken template"
    (finding,) = [f for f in findings if "EnableDnsSupprt" in f.message]
    assert finding.rule.startswith("E3")
    assert finding.level == "error"
    assert finding.line == typo_line
    assert finding.column > 0
    assert finding.template == str(path)
    assert str(finding).startswith(f"{path}:{typo_line}:{finding.column}: error {finding.rule}: ")


def test_finding_formats_like_a_compiler_message():
    finding = LintFinding("t.json", 3, 7, "W2001", "warning", "Parameter X not used")
    assert str(finding) == "t.json:3:7: warning W2001: Parameter X not used"


def test_lint_regions_of_a_regional_stack():
    from compiler.assemble import assemble
    from compiler.pipeline import load_and_validate

    spec = load_and_validate(EXAMPLE_SPEC)
    for stack in assemble(spec):
        regions = lint_regions(spec, stack)
        assert regions, stack.path
        if stack.kind == "region":
            assert regions == [stack.region]


@pytest.fixture
def counted_clean_lint(tmp_path, monkeypatch):
    """One clean template; cfn-lint replaced by a stub that finds nothing and counts calls.
    Returns the template, its jobs, the cache directory and the list of linted paths."""
    template = tmp_path / "t.json"
    template.write_text(json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}))
    calls: list[Path] = []
    monkeypatch.setattr(lint_module, "lint_template", lambda p, r: calls.append(p) or [])
    return template, [LintJob(template, ("us-east-1",))], tmp_path / "cache", calls


def test_clean_templates_are_not_linted_again_until_they_change(counted_clean_lint):
    template, jobs, cache, calls = counted_clean_lint
    assert lint_templates(jobs, cache_dir=cache) == []
    assert lint_templates(jobs, cache_dir=cache) == []
    assert len(calls) == 1, "an unchanged clean template was linted twice"
    template.write_text(json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}))
    lint_templates(jobs, cache_dir=cache)
    assert len(calls) == 2, "a changed template was not linted"
    lint_templates([LintJob(template, ("eu-west-1",))], cache_dir=cache)
    assert len(calls) == 3, "other regions must not reuse the cached result"
    lint_templates(jobs, cache_dir=None)
    assert len(calls) == 4, "no cache means lint everything"


def test_another_cfn_lint_version_lints_again(counted_clean_lint, monkeypatch):
    _, jobs, cache, calls = counted_clean_lint
    monkeypatch.setattr(lint_module, "cfn_lint_version", lambda: "1.0.0")
    lint_templates(jobs, cache_dir=cache)
    lint_templates(jobs, cache_dir=cache)
    monkeypatch.setattr(lint_module, "cfn_lint_version", lambda: "1.0.1")
    lint_templates(jobs, cache_dir=cache)
    assert len(calls) == 2, "a cfn-lint upgrade must not trust what the old version passed"


def test_the_cfn_lint_version_is_the_installed_one():
    from importlib.metadata import version

    assert lint_module.cfn_lint_version() == version("cfn-lint")


def test_a_fully_cached_lint_starts_no_worker_processes(tmp_path, monkeypatch):
    monkeypatch.setattr(lint_module, "parallel_workers", lambda count: pytest.fail("workers"))
    assert lint_module.run_jobs([]) == []


def test_templates_with_findings_are_not_cached(tmp_path, monkeypatch):
    template = tmp_path / "t.json"
    template.write_text("{}")
    finding = LintFinding(str(template), 1, 1, "E0000", "error", "broken")
    monkeypatch.setattr(lint_module, "lint_template", lambda p, r: [finding])
    jobs = [LintJob(template, ("us-east-1",))]
    assert lint_templates(jobs, cache_dir=tmp_path / "c") == [finding]
    assert lint_templates(jobs, cache_dir=tmp_path / "c") == [finding]


@pytest.mark.full  # starts cfn-lint in worker processes and again in this one: the full tier's
def test_several_templates_are_linted_in_parallel_with_the_same_results(tmp_path):
    paths = []
    for index, kind in enumerate(["AWS::SNS::Topic", "AWS::SQS::Queue", "AWS::S3::Bucket"]):
        path = tmp_path / f"t{index}.json"
        path.write_text(
            json.dumps({"Resources": {"R": {"Type": kind, "Properties": {"Bogus": 1}}}})
        )
        paths.append(path)
    jobs = [LintJob(p, ("us-east-1",)) for p in paths]
    together = lint_templates(jobs)
    one_by_one = [f for p in paths for f in lint_template(p, ["us-east-1"])]
    assert together == one_by_one
    assert {f.template for f in together} == {str(p) for p in paths}


def test_a_template_larger_than_the_others_together_is_linted_by_two_shared_runs(tmp_path):
    """The largest template, when it outweighs the others together, is two runs side by
    side (`lint._shared_resources`), or it keeps one core busy alone; the whole runs
    start first, so that the shared runs, which end together, take up the slack."""

    def job(name: str, size: int) -> LintJob:
        path = tmp_path / name
        path.write_text(json.dumps({"Resources": {}}).ljust(size))
        return LintJob(path, ("us-east-1",))

    stackset, global_, bootstrap = (
        job("s.json", 200_000),
        job("g.json", 70_000),
        job("b.json", 3_000),
    )
    runs = lint_module._runs([bootstrap, global_, stackset], 2)
    assert [(at, part.path.name, part.share) for at, part in runs] == [
        (1, "g.json", None), (0, "b.json", None), (2, "s.json", 0), (2, "s.json", 1),
    ]  # fmt: skip
    # One pair at most: the global template, larger than the bootstrap one, is whole.
    # Not without a second core, nor for a template the others outweigh (two of about
    # the same size run whole side by side: two pairs would set each up twice), nor for
    # a small one (two runs would each set up the whole template for a few resources).
    assert {part.share for _, part in lint_module._runs([global_, stackset], 1)} == {None}
    east, west = job("e.json", 194_778), job("w.json", 194_775)
    assert [part.share for _, part in lint_module._runs([east, west], 2)] == [None, None]
    assert [part.share for _, part in lint_module._runs([east, west, bootstrap], 2)] == [None] * 3
    assert [part.share for _, part in lint_module._runs([stackset, east, global_], 2)] == [None] * 3
    assert [part.share for _, part in lint_module._runs([bootstrap], 2)] == [None]
    assert [part.share for _, part in lint_module._runs([global_], 2)] == [0, 1]


def test_cfn_lint_rules_are_loaded_once_per_process(tmp_path, monkeypatch):
    import cfnlint.runner

    template = tmp_path / "t.json"
    template.write_text(
        json.dumps({"Resources": {"R": {"Type": "AWS::SNS::Topic", "Properties": {"Bogus": 1}}}})
    )
    first = lint_template(template, ["us-east-1"])
    assert [f.rule for f in first] == ["E3002"]

    def reload(*args, **kwargs):
        raise AssertionError("cfn-lint's rules loaded again")

    monkeypatch.setattr(cfnlint.runner.Runner, "__init__", reload)
    assert lint_template(template, ["us-east-1"]) == first


def test_lint_processes_leave_ctrl_c_to_the_parent(tmp_path, monkeypatch):
    """A Ctrl-C reaches every process of the group; raised in a lint process it would
    print a traceback. They ignore it: the parent reports it and ends them."""
    import signal

    def handler_of_the_process(path: Path, regions: list[str]) -> list[LintFinding]:
        ignored = signal.getsignal(signal.SIGINT) == signal.SIG_IGN
        return [LintFinding(str(path), 1, 1, "X", "error", f"ignored={ignored}")]

    monkeypatch.setattr(lint_module, "lint_template", handler_of_the_process)
    monkeypatch.setattr(lint_module, "parallel_workers", lambda count: 2)
    paths = [tmp_path / "a.json", tmp_path / "b.json"]
    for path in paths:
        path.write_text("{}")
    # A known handler here: a test run started in the background inherits SIGINT ignored.
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        found = lint_templates([LintJob(path, ("us-east-1",)) for path in paths])
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # not here
    finally:
        signal.signal(signal.SIGINT, inherited)
    assert [f.message for f in found] == ["ignored=True", "ignored=True"]


# --- findings in spec terms ------------------------------------------------------------

INSTANCE_TYPE = ("Resources", "LaunchTemplate", "Properties", "LaunchTemplateData", "InstanceType")


def test_long_enumerations_are_cut_to_the_closest_values():
    allowed = [f"m{n}.large" for n in range(900)] + ["t3.small", "t3.micro"]
    message = f"'t3.smal' is not one of {allowed!r} in 'us-east-1'"
    assert len(message) > 10_000
    assert compact_message(message) == (
        "'t3.smal' is not one of the allowed values (closest: 't3.small') in 'us-east-1'"
    )
    far = compact_message(f"'zzzz' is not one of {allowed!r}")
    assert far == (
        f"'zzzz' is not one of the {len(allowed)} allowed values (first: 'm0.large', "
        "'m1.large', 'm2.large', 'm3.large', 'm4.large', ...)"
    )
    assert compact_message("'a' is not one of ['b', 'c']") == "'a' is not one of ['b', 'c']"


def test_messages_become_one_bounded_line():
    numbers = list(range(1, 200))
    cut = compact_message(f"Expected one of\n  {numbers}\n got 0")
    assert cut == "Expected one of [1, 2, 3, 4, 5, ... 194 more] got 0"
    long = compact_message("word " * 500)
    assert len(long) == lint_module.MAX_MESSAGE and long.endswith("…") and "\n" not in long


@pytest.fixture(scope="module")
def broken_example(tmp_path_factory):
    """The example compiled, then its us-east-1 template broken the way a spec value
    validation let through would break it; linted by cfn-lint for real, once."""
    out = tmp_path_factory.mktemp("broken") / "templates_out"
    compiled = compile_spec(EXAMPLE_SPEC, out, lint=False)
    path = out / "regions" / "us-east-1.json"
    template = json.loads(path.read_text(encoding="utf-8"))
    template["Resources"]["LaunchTemplate"]["Properties"]["LaunchTemplateData"]["InstanceType"] = (
        "t3.smal"
    )
    text = json.dumps(template, indent=2)
    path.write_text(text, encoding="utf-8")
    line = next(n for n, row in enumerate(text.splitlines(), 1) if '"t3.smal"' in row)
    return compiled, path, line, lint_template(path, ["us-east-1"])


def test_a_real_finding_is_reported_at_the_spec_key(broken_example):
    compiled, path, line, findings = broken_example
    (finding,) = [f for f in findings if "t3.smal" in f.message]
    assert finding.path == INSTANCE_TYPE and finding.line == line
    index = SpecIndex.build(compiled.spec, compiled.stacks, compiled.loaded)
    (located,) = in_spec_terms([finding], lambda f: index.locate("regions/us-east-1.json", f.path))

    spec_line, spec_column = next(
        (n, row.index("t3.small") + 1)
        for n, row in enumerate(EXAMPLE_SPEC.read_text().splitlines(), 1)
        if row.startswith("  instance_type: t3.small")
    )
    text = str(located)
    assert text.startswith(
        f"{EXAMPLE_SPEC}:{spec_line}:{spec_column}: compute.instance_type: "
        f"error {finding.rule}: 't3.smal' is not one of the allowed values (closest: 't3.small'"
    )
    assert text.endswith(f" ({path}:{line})")
    assert "\n" not in text and len(text) < 400


def test_compile_prints_findings_in_spec_terms(runner_with_broken_lint):
    result, out = runner_with_broken_lint
    assert result.exit_code == EXIT_LINT
    lines = [line for line in result.stderr.splitlines() if "compute.instance_type" in line]
    template = out / "regions" / "us-east-1.json"
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{EXAMPLE_SPEC}:")
    assert ": compute.instance_type: error E" in lines[0]
    assert "closest: 't3.small'" in lines[0]
    assert f"({template}:" in lines[0]
    assert "cfn-lint: 1 finding(s)" in result.stderr


@pytest.fixture
def runner_with_broken_lint(tmp_path, monkeypatch, broken_example):
    """`infra compile` of the example whose us-east-1 template cfn-lint sees broken: the
    findings of `broken_example`, moved to where this compile writes; the other templates
    lint clean (they are, see test_example_templates_lint_clean)."""
    from click.testing import CliRunner

    _, broken_path, _, findings = broken_example

    def lint_with_the_break(path: Path, regions: list[str]) -> list[LintFinding]:
        if path.name != broken_path.name:
            return []
        return [dataclasses.replace(f, template=str(path)) for f in findings]

    monkeypatch.setattr(lint_module, "lint_template", lint_with_the_break)
    monkeypatch.setattr(lint_module, "parallel_workers", lambda count: 1)
    out = tmp_path / "out"
    # Each regional template linted on its own, as before lint once (tests/test_lint_once.py).
    argv = ["compile", "--lint-every-template", str(EXAMPLE_SPEC), "-o", str(out)]
    return CliRunner().invoke(main, argv), out


def test_resources_sharing_an_identifier_are_named_in_one_order(tmp_path):
    """cfn-lint's E3019 names the resources that share a primary identifier as a Python
    set, whose order changes with each process's string hashing; the finding sorts
    them, so that the same template gives the same output (six names: by chance in
    order once in 720)."""
    names = [f"Bucket{letter}" for letter in "QWERTY"]
    bucket = {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "one-name-for-all"}}
    path = tmp_path / "buckets.json"
    path.write_text(json.dumps({"Resources": dict.fromkeys(names, bucket)}), encoding="utf-8")
    findings = lint_template(path, ["us-east-1"])
    listed = ", ".join(f"'{name}'" for name in sorted(names))
    assert [f.rule for f in findings] == ["E3019"] * len(names)
    assert all(f.message.endswith(f"across the resources {{{listed}}}") for f in findings)


LINT_RUN_PROBE = """
import json, sys
from pathlib import Path
from compiler import lint
lint.prepare_to_lint()
prepared = sorted(m for m in ("pydantic", "troposphere", "compiler.spec") if m in sys.modules)
findings = lint.lint_template(Path(sys.argv[1]), sys.argv[2:])
linted = sorted(m for m in ("pydantic", "troposphere", "compiler.spec") if m in sys.modules)
print(json.dumps({"prepared": prepared, "linted": linted, "findings": len(findings)}))
"""


def test_a_lint_run_needs_neither_the_spec_models_nor_troposphere(tmp_path):
    """The lint process is forked before the compile imports them, and gets ready on the
    critical path of every linted compile: what it imports, each run would otherwise
    import again (pydantic, the spec models and troposphere: a third of a second). A
    StackSet-shaped template (a region mapping), so that the lint view is made."""
    from compiler.naming import REGION_MAP

    cidr = {"Fn::FindInMap": [REGION_MAP, {"Ref": "AWS::Region"}, "Cidr"]}
    template = {
        "Mappings": {REGION_MAP: {"us-east-1": {"Cidr": "10.0.0.0/16"}, "eu-west-1": {"Cidr": "10.1.0.0/16"}}},
        "Resources": {"Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": cidr}}},
    }  # fmt: skip
    stackset = tmp_path / "stackset.json"
    stackset.write_text(json.dumps(template, indent=2))
    completed = subprocess.run(
        [sys.executable, "-c", LINT_RUN_PROBE, str(stackset), "us-east-1", "eu-west-1"],
        capture_output=True, text=True, timeout=300, cwd=REPO_ROOT,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == {"prepared": [], "linted": [], "findings": 0}


def test_a_cfnlintrc_where_the_compile_runs_changes_no_finding(tmp_path, monkeypatch):
    """cfn-lint reads `.cfnlintrc` from the home and the current directory unless told
    which file to read; its ignore_checks would hide findings (and the lint cache would
    keep the verdict)."""
    path = tmp_path / "getatts.json"
    path.write_text(json.dumps(GETATT_FAULTS, indent=2))
    home, project = tmp_path / "home", tmp_path / "project"
    for directory in (home, project):
        directory.mkdir()
        (directory / ".cfnlintrc").write_text("ignore_checks:\n  - E1010\n  - E1019\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(project)
    found = {f.rule for f in lint_template(path, ["us-east-1"])}
    assert {"E1010", "E1019"} <= found


def test_an_enumeration_counts_each_allowed_value_once():
    """A lint view's copies are named as their originals in messages, and the two shared
    runs hold different copies: counted with repeats, one finding read "200 allowed
    values" from one run and "199" from the other (at 16 regions)."""
    names = [f"Resource{n}" for n in range(12)]
    from_one_run = f"'Nothing' is not one of {names + names[:3]!r}"
    from_the_other = f"'Nothing' is not one of {names + names[:2]!r}"
    assert (
        compact_message(from_one_run)
        == compact_message(from_the_other)
        == (
            "'Nothing' is not one of the 12 allowed values (first: 'Resource0', 'Resource1', "
            "'Resource2', 'Resource3', 'Resource4', ...)"
        )
    )
    # and a list short enough to show whole, once its repeats are gone
    few = ["Aaa", "Bbb"]
    assert (
        compact_message(f"'zzz' is not one of {few * 3!r} in 'us-east-1'")
        == (compact_message(f"'zzz' is not one of {few * 2!r} in 'us-east-1'"))
        == "'zzz' is not one of ['Aaa', 'Bbb'] in 'us-east-1'"
    )


def test_a_finding_in_a_shortened_list_of_a_copy_names_the_original_s_index():
    from compiler.lint import _renumbered, _renumbered_in_text

    items = ("Properties", "PolicyDocument", "Statement")
    where = ("Resources", "PolicyLintUsWest2", *items, 0, "Principal")
    assert _renumbered(where, items, (2,)) == (
        "Resources",
        "PolicyLintUsWest2",
        *items,
        2,
        "Principal",
    )
    # Outside the shortened list, or not at an item: as it was.
    assert _renumbered(("Resources", "P", "Properties", "Bucket"), items, (2,)) == (
        "Resources", "P", "Properties", "Bucket")  # fmt: skip
    assert _renumbered(("Resources", "P", *items), items, (2,)) == ("Resources", "P", *items)
    named = "Resources/PolicyLintUsWest2/Properties/PolicyDocument/Statement"
    for before, after in (
        (f"resolved at '{named}/0/Effect'", f"resolved at '{named}/2/Effect'"),
        (f"resolved at '{named}/0'", f"resolved at '{named}/2'"),
        (f"at {named}/0", f"at {named}/2"),
        (f"at '{named}/10/Effect'", f"at '{named}/10/Effect'"),  # not an index it holds
        (f"at '{named}Other/0/Effect'", f"at '{named}Other/0/Effect'"),
    ):
        assert _renumbered_in_text(before, "PolicyLintUsWest2", items, (2,)) == after


def test_a_message_names_each_copy_s_original_as_a_whole_name():
    """A copy's ID may be the tail of another copy's (`BucketPolicyLintUsWest2` in
    `LogsBucketPolicyLintUsWest2`) or the head of another resource's name: each is
    replaced as a whole name, after its shortened lists are renumbered."""
    from compiler.lint import _originals_named

    copies = {
        "BucketPolicyLintUsWest2": ("BucketPolicy", ("us-west-2",)),
        "LogsBucketPolicyLintUsWest2": ("LogsBucketPolicy", ("us-west-2",)),
        "PolicyLintUsEast1": ("Policy", ("us-east-1",)),
    }
    statements = ("Properties", "PolicyDocument", "Statement")
    renumbered = {"LogsBucketPolicyLintUsWest2": {statements: (1, 3)}}
    message = (
        "'Alloww' is not one of ['Allow', 'Deny'] when 'Ref' is resolved at "
        "'Resources/LogsBucketPolicyLintUsWest2/Properties/PolicyDocument/Statement/1/Effect'"
    )
    assert _originals_named(message, copies, renumbered).endswith(
        "'Resources/LogsBucketPolicy/Properties/PolicyDocument/Statement/3/Effect'"
    )
    assert _originals_named("across {'BucketPolicyLintUsWest2', 'X'}", copies, {}) == (
        "across {'BucketPolicy', 'X'}"
    )
    # Another resource whose name starts with a copy's ID keeps its name.
    assert _originals_named("'Resources/PolicyLintUsEast10/Properties'", copies, {}) == (
        "'Resources/PolicyLintUsEast10/Properties'"
    )
    assert _originals_named("GetAtt PolicyLintUsEast1.Arn", copies, {}) == "GetAtt Policy.Arn"


def test_a_resolved_value_s_message_names_the_original_s_statement(tmp_path):
    """cfn-lint reports a parameter's default that a `Ref` in a policy statement resolves
    to at the parameter, naming in its message where it is used: in a shortened copy's
    statement, that names the original's statement, and is then the original's finding."""
    from compiler.render import to_json_bytes

    rows = {"us-east-1": {"Act": "s3:GetObject"}, "us-west-2": {"Act": "s3:PutObject"}}

    def statement(sid: str, **changes) -> dict:
        return {"Sid": sid, "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", **changes}  # fmt: skip

    lookup = {"Fn::FindInMap": ["RegionMap", {"Ref": "AWS::Region"}, "Act"]}
    template = {
        "Parameters": {"Effect": {"Type": "String", "Default": "Alow"}},
        "Mappings": {"RegionMap": rows},
        "Resources": {
            "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {}},
            "Policy": {"Type": "AWS::S3::BucketPolicy", "Properties": {
                "Bucket": {"Ref": "Bucket"}, "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                    statement("A"), statement("C"),
                    statement("B", Action=lookup, Effect={"Ref": "Effect"})]}}},
        },
    }  # fmt: skip
    path = tmp_path / "stackset.json"
    path.write_bytes(to_json_bytes(template))
    resolved = [f for f in lint_template(path, list(rows)) if f.path[:1] == ("Parameters",)]
    assert [f.rule for f in resolved] == ["W1030"]
    assert "Resources/Policy/Properties/PolicyDocument/Statement/2/Effect" in resolved[0].message


@pytest.mark.parametrize(("count", "first"), [(2, 1), (3, 2), (4, 3), (8, 5), (16, 10)])
def test_the_first_shared_run_holds_more_regions_copies(tmp_path, count, first):
    """The first of a StackSet job's two shared runs starts earlier, and holds the copies
    of more regions (`FIRST_RUN_REGIONS`); each region's are in exactly one run, and the
    second always has some."""
    path = tmp_path / "stackset.json"
    path.write_text(json.dumps({"Mappings": {"RegionMap": {}}, "Resources": {}}), encoding="utf-8")
    regions = tuple(f"r{i}" for i in range(count))
    parts = lint_module._shared_parts(lint_module.LintJob(path, regions))
    assert [(part.share, part.regions) for part in parts] == [(0, regions), (1, regions)]
    assert parts[0].copies_in == regions[:first] and parts[1].copies_in == regions[first:]


def test_a_lint_in_the_caller_s_process_runs_at_the_lint_thresholds_and_restores_the_caller_s(
    tmp_path, monkeypatch
):
    """On one core (or for a caller with threads) cfn-lint runs in the caller's process:
    at the lint process's collector thresholds, the caller's again after."""
    import gc

    from compiler.lint_processes import LINT_GC_THRESHOLDS

    seen = []
    monkeypatch.setattr(lint_module, "parallel_workers", lambda count: 1)
    monkeypatch.setattr(
        lint_module, "_lint_part", lambda part: seen.append(gc.get_threshold()) or []
    )
    path = tmp_path / "t.json"
    path.write_text("{}", encoding="utf-8")
    before = gc.get_threshold()
    gc.set_threshold(200_000, 50, 100)
    try:
        assert lint_module.run_jobs([lint_module.LintJob(path, ("us-east-1",))]) == [[]]
        assert gc.get_threshold() == (200_000, 50, 100)
    finally:
        gc.set_threshold(*before)
    assert seen == [LINT_GC_THRESHOLDS]
