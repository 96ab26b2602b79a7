"""cfn-lint's repeated work done once per run (`compiler/cfn_lint_shortcuts.py`) changes
no finding: templates seeded with faults that exercise the validation the shortcuts
touch (schema keywords, conditions, functions, GetAtts, IAM policies, the RDS rules'
function filters) are linted with and without them, in several regions; and each
shortcut is in use during a run and gone after it."""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
from pathlib import Path

import pytest

from compiler import cfn_lint_shortcuts
from compiler.lint import lint_template
from tests.test_lint_once import EAST, WEST, write_seeded_stackset

FAULTS_TEMPLATE = Path(__file__).parent / "fixtures" / "cfn_lint_faults.json"
WIDE_FAULTS_TEMPLATE = Path(__file__).parent / "fixtures" / "cfn_lint_faults_wide.json"
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]


# Tests of what the shortcuts do: on a cfn-lint release they were not checked against
# they are not put in place, and the release test below is the one that fails.
needs_shortcuts = pytest.mark.skipif(
    not cfn_lint_shortcuts.in_use(), reason="the shortcuts are off with this cfn-lint release"
)


def without_shortcuts(monkeypatch) -> None:
    monkeypatch.setattr(cfn_lint_shortcuts, "applied", contextlib.nullcontext)


def linted_both_ways(monkeypatch, path: Path, regions: list[str]) -> tuple:
    """`path` linted without the shortcuts, then with them (so that nothing a shortcut
    keeps can reach the plain run): each run's findings and cfn-lint's own matches, in
    the order cfn-lint reports them, before our merging, sorting and compacting."""
    import cfnlint.runner

    run = cfnlint.runner.run_template_by_data
    matches: list[tuple] = []

    def recorded(*args, **kwargs):
        for match in run(*args, **kwargs):
            matches.append(
                (match.rule.id, match.message, tuple(map(str, match.path or ())),
                 match.linenumber, match.columnnumber, match.linenumberend,
                 match.columnnumberend)
            )  # fmt: skip
            yield match

    monkeypatch.setattr(cfnlint.runner, "run_template_by_data", recorded)
    outcomes = []
    for shortcuts in (contextlib.nullcontext, cfn_lint_shortcuts.applied):
        monkeypatch.setattr(cfn_lint_shortcuts, "applied", shortcuts)
        matches.clear()
        outcomes.append((lint_template(path, regions), list(matches)))
    monkeypatch.undo()
    return outcomes[0], outcomes[1]


def test_the_shortcuts_were_checked_against_the_installed_cfn_lint():
    from cfnlint.version import __version__

    assert cfn_lint_shortcuts.in_use(), (
        f"cfn-lint {__version__} is not a release the shortcuts were checked against: "
        "read the cfn-lint code each shortcut names for changes, run this module's "
        "tests with the release added to CHECKED_RELEASES, and keep it there if they pass"
    )


def test_with_another_cfn_lint_release_cfn_lint_runs_as_it_is(monkeypatch):
    import cfnlint.version

    monkeypatch.setattr(cfnlint.version, "__version__", "1.99.0")
    before = _patched_places()
    with cfn_lint_shortcuts.applied():
        assert _patched_places() == before


def test_the_shortcuts_change_no_finding_on_a_template_of_many_faults(monkeypatch):
    plain, shortcut = linted_both_ways(monkeypatch, FAULTS_TEMPLATE, REGIONS)
    assert shortcut == plain
    findings, matches = plain
    rules = collections.Counter(finding.rule for finding in findings)
    # The faults are real and reach the rules whose validators the shortcuts make:
    # properties (E3002, E3012, E3030), functions (E1010, E1019, E1029), policies
    # (E3510), RDS (E3025, E3034), update policies (E3016).
    assert len(matches) >= len(findings) >= 45 and len(rules) >= 20, rules
    expected = {"E3002", "E3012", "E3030", "E1010", "E1019", "E1029", "E3510", "E3025", "E3016"}
    assert expected <= set(rules)


def test_the_shortcuts_change_no_finding_on_a_template_of_wider_faults(monkeypatch):
    """The outside review's template (tests/fixtures/cfn_lint_faults_wide.json): faults
    in 50 rules, among them parameters, conditions, Rules and Outputs, Step Functions, SSM
    documents, ECS log options, cfn-init, an RDS engine from a parameter with allowed
    values (W1030) and a DB cluster; in regions of three partitions."""
    regions = ["us-east-1", "eu-west-1", "ap-southeast-2", "cn-north-1", "us-gov-west-1"]
    plain, shortcut = linted_both_ways(monkeypatch, WIDE_FAULTS_TEMPLATE, regions)
    assert shortcut == plain
    rules = {finding.rule for finding in plain[0]}
    assert len(plain[0]) >= 90 and len(rules) >= 45, rules
    assert {"W1030", "E3004", "E6101", "E7001", "E8006", "W2001"} <= rules


@pytest.mark.full  # two lints of the example's whole StackSet template (about 5 s of CPU)
def test_the_shortcuts_change_no_finding_on_the_seeded_stackset_template(tmp_path, monkeypatch):
    """The example's StackSet template with one region's values broken in several ways
    (tests/test_lint_once.py), in its lint view of both regions."""
    path = tmp_path / "stackset.json"
    write_seeded_stackset(path)
    plain, shortcut = linted_both_ways(monkeypatch, path, [EAST, WEST])
    assert shortcut == plain
    assert {finding.rule for finding in plain[0]} >= {"E3002", "E3059", "E3628", "E3030"}


def _loaded_enum_rule_namespace() -> dict:
    """The namespace E3030's rule module (loaded by cfn-lint from its file) looks `enum` up in."""
    from compiler.lint import cfn_lint_rules

    return type(cfn_lint_rules()["E3030"]).enum.__globals__


def _patched_places() -> tuple:
    import cfnlint.context.context as context_module
    import cfnlint.jsonschema._filter as filter_module
    import cfnlint.jsonschema.validators as validators_module
    from cfnlint.rules.jsonschema.Base import BaseJsonSchema
    from cfnlint.schema.manager import ProviderSchemaManager
    from cfnlint.template.template import Template

    return (
        ProviderSchemaManager.get_resource_schema,
        validators_module.create,
        BaseJsonSchema.extend_validator,
        context_module.Context.evolve,
        Template.get_valid_getatts,
        validators_module.fields,
        context_module.fields,
        filter_module.fields,
        context_module.Context.__dict__["module_names"],
        _loaded_enum_rule_namespace()["enum"],
    )


@needs_shortcuts
def test_each_shortcut_is_in_place_during_a_run_and_gone_after_it():
    import cfnlint.jsonschema.validators as validators_module

    before = _patched_places()
    with cfn_lint_shortcuts.applied():
        during = _patched_places()
    assert all(now is not then for now, then in zip(during, before, strict=True))
    assert _patched_places() == before
    assert validators_module.fields is dataclasses.fields


@needs_shortcuts
def test_overlapping_runs_in_threads_leave_cfn_lint_as_it_was():
    """A caller with threads lints in its own process, so two runs can overlap: the
    shortcuts stay in place until the last of them ends, and then all go."""
    import threading

    before = _patched_places()
    first_in, second_done = threading.Event(), threading.Event()
    seen: list[tuple] = []

    def first():
        with cfn_lint_shortcuts.applied():
            first_in.set()
            second_done.wait(10)
            seen.append(_patched_places())  # the second run ended before this one

    thread = threading.Thread(target=first)
    thread.start()
    first_in.wait(10)
    with cfn_lint_shortcuts.applied():
        during = _patched_places()
    second_done.set()
    thread.join(10)
    assert seen == [during] and during != before
    assert _patched_places() == before


@needs_shortcuts
def test_a_run_makes_far_fewer_validator_classes(monkeypatch):
    import cfnlint.jsonschema.validators as validators_module

    create = validators_module.create
    made: list[type] = []

    def counted(*args, **kwargs):
        made.append(create(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(validators_module, "create", counted)
    lint_template(FAULTS_TEMPLATE, REGIONS)
    with_shortcut = len(made)
    made.clear()
    without_shortcuts(monkeypatch)
    lint_template(FAULTS_TEMPLATE, REGIONS)
    assert 0 < with_shortcut * 4 < len(made), (with_shortcut, len(made))
    assert len(set(made)) == len(made)  # without it, a new class for each call


@needs_shortcuts
def test_validator_classes_are_kept_per_arguments_and_made_anew_when_not_comparable():
    import cfnlint.jsonschema.validators as validators_module
    from cfnlint.jsonschema._filter import FunctionFilter

    def keyword(validator, value, instance, schema):
        yield from ()

    def other(validator, value, instance, schema):
        yield from ()

    @dataclasses.dataclass
    class Unhashable:
        values: dict = dataclasses.field(default_factory=dict)

    with cfn_lint_shortcuts.applied():
        create = validators_module.create
        first = create({"type": keyword}, FunctionFilter())
        assert create({"type": keyword}, FunctionFilter()) is first  # equal arguments
        assert create({"type": keyword}, FunctionFilter(add_cfn_lint_keyword=False)) is not first
        assert create({"type": other}, FunctionFilter()) is not first
        assert create({"enum": keyword}, FunctionFilter()) is not first
        assert create({"type": keyword}, FunctionFilter(), {"Ref": other}) is not first
        odd = create({"type": keyword}, Unhashable())
        assert create({"type": keyword}, Unhashable()) is not odd


@needs_shortcuts
def test_a_validator_extended_directly_equals_one_extended_by_cfn_lint():
    from cfnlint.jsonschema import CfnTemplateValidator
    from cfnlint.rules.resources.properties.Properties import Properties
    from cfnlint.template.template import Template

    template = Template("t.json", json.loads(FAULTS_TEMPLATE.read_text()), ["us-east-1"])
    validator = CfnTemplateValidator({}).evolve(cfn=template, context=template.context)
    rule, schema = Properties(), {"type": "object", "required": ["A"]}
    context = template.context.evolve(functions=["Fn::Sub"])
    extra = {"required": lambda validator, required, instance, schema: iter(())}
    plain = rule.extend_validator(validator, schema, context)
    plain_extra = rule.extend_validator(validator, schema, context, extra)
    with cfn_lint_shortcuts.applied():
        direct = rule.extend_validator(validator, schema, context)
        direct_extra = rule.extend_validator(validator, schema, context, extra)
    assert direct_extra.validators["required"] is extra["required"]
    assert direct_extra.validators == plain_extra.validators != plain.validators
    assert not list(direct_extra.iter_errors({})) and list(direct.iter_errors({}))
    for field in dataclasses.fields(plain):
        if field.name != "resolver":
            assert getattr(direct, field.name) == getattr(plain, field.name), field.name
    assert direct.cfn is template and direct.context is context
    assert direct.resolver.resolution_scope == plain.resolver.resolution_scope
    assert [e.message for e in direct.iter_errors({})] == [e.message for e in plain.iter_errors({})]


@needs_shortcuts
def test_regions_with_the_same_provider_schema_share_one_and_others_keep_their_own():
    """cfn-lint 1.58 names one schema file per type for every region that has it; a
    region naming another file (as a later release may) keeps its own schema."""
    from cfnlint.schema.manager import PROVIDER_SCHEMA_MANAGER as manager

    vpc, bucket = "AWS::EC2::VPC", "AWS::S3::Bucket"
    manager.reset()  # nothing held from other tests
    try:
        other = dict(manager._load_provider_module("ap-south-1"))
        other[vpc] = other[bucket]  # ap-south-1's "VPC" schema: another file
        manager._provider_schema_modules["ap-south-1"] = other
        with cfn_lint_shortcuts.applied():
            east, west = (manager.get_resource_schema(r, vpc) for r in ("us-east-1", "eu-west-1"))
            odd = manager.get_resource_schema("ap-south-1", vpc)
            assert east is west and odd is not east and odd.type_name == bucket
            manager.reset()  # clears what the shortcut keeps, as it clears cfn-lint's caches
            assert manager.get_resource_schema("us-east-1", vpc) is not east
        plain = [manager.get_resource_schema(r, vpc) for r in ("us-east-1", "eu-west-1")]
        assert plain[0] is not plain[1] and plain[0].schema == east.schema
    finally:
        manager.reset()


@needs_shortcuts
def test_a_context_evolved_directly_equals_one_evolved_by_cfn_lint():
    from cfnlint.context.context import Context
    from cfnlint.context.context import Path as ContextPath

    context = Context(regions=["us-east-1"], ref_values={"A": 1, "C": 3})
    assert context.module_names == ()  # kept on the object: not carried to a copy
    changes = {"functions": ["Fn::Sub"], "path": ContextPath(path=("Resources",))}
    plain = context.evolve(**changes, ref_values={"B": 2, "C": 4})
    with cfn_lint_shortcuts.applied():
        direct = context.evolve(**changes, ref_values={"B": 2, "C": 4})
        with pytest.raises(TypeError):
            context.evolve(no_such_field=1)  # refused, as cfn-lint refuses it
    assert type(direct) is Context
    assert direct == plain and direct.ref_values == {"A": 1, "B": 2, "C": 4}
    assert "module_names" not in vars(direct)
    assert context.ref_values == {"A": 1, "C": 3}  # the original is not changed
    with pytest.raises(dataclasses.FrozenInstanceError):
        direct.regions = []  # type: ignore[misc]


# --- module names and Ref targets ----------------------------------------------------


@needs_shortcuts
def test_module_names_are_read_once_per_template_and_answer_as_cfn_lint():
    from cfnlint.context.context import Context, Resource

    resources = {
        "Bucket": Resource({"Type": "AWS::S3::Bucket"}),
        "Network": Resource({"Type": "Org::Network::VPC::MODULE"}),
        "Api": Resource({"Type": "AWS::Serverless::Api"}),
    }
    context = Context(regions=["us-east-1"], resources=resources)
    assert context.module_names == ("Network", "Api")  # cfn-lint's own answer
    other = Context(
        regions=["us-east-1"], resources={"Queue": Resource({"Type": "AWS::SQS::Queue"})}
    )
    with cfn_lint_shortcuts.applied():
        from cfnlint.context.context import Context as Patched

        compute = Patched.__dict__["module_names"].fget
        evolved = context.evolve(regions=["eu-west-1"]).evolve(strict_types=False)
        assert evolved.module_names == ("Network", "Api")
        assert evolved.module_names is context.evolve().module_names  # one tuple per template
        assert other.evolve().module_names == ()  # another template: its own
        assert compute(evolved) is compute(context.evolve())
    assert "module_names" not in vars(evolved)  # nothing left on the objects


# (allowed values, value): the value is a string; the allowed values are strings, or
# hold what cfn-lint's `equal` compares otherwise ("true"/"false" in any case, booleans,
# numbers, None, lists), or are not a list.
ENUM_CASES = [
    (["Vpc", "Subnet", "AWS::Region"], "AWS::Region"),
    (["Vpc", "Subnet", "AWS::Region"], "Missing"),
    (["Vpc", "Subnet"], "vpc"),  # case matters for names
    (["Vpc", "false"], "Missing"),  # "false" equals any other string in cfn-lint's equal
    (["Vpc", "FALSE"], "Vpc"),
    (["Vpc", "True"], "true"),
    (["Vpc"], "False"),
    (["Vpc", False], "Missing"),
    (["Vpc", True], "Missing"),
    (["1", "2"], "1"),
    ([1, 2], "1"),  # compared as str(1)
    ([None], "None"),
    ([["a"]], "['a']"),
    (("Vpc", "Subnet"), "Missing"),  # a tuple: cfn-lint's way
    ([], "Vpc"),
]


@needs_shortcuts
@pytest.mark.parametrize(("enums", "value"), ENUM_CASES)
def test_a_name_looked_up_directly_is_found_as_cfn_lint_finds_it(enums, value):
    from cfnlint.decode.node import str_node
    from cfnlint.jsonschema._keywords import enum

    namespace = _loaded_enum_rule_namespace()

    def node(value):
        return str_node(value, None, None) if isinstance(value, str) else value

    for as_nodes in (False, True):
        allowed, instance = enums, value
        if as_nodes:  # as cfn-lint reads them from a template
            allowed = [node(each) for each in enums] if isinstance(enums, list) else enums
            instance = node(value)
        plain = [error.message for error in enum(None, allowed, instance, {})]
        with cfn_lint_shortcuts.applied():
            direct = [error.message for error in namespace["enum"](None, allowed, instance, {})]
        assert direct == plain, (allowed, instance)


@needs_shortcuts
def test_refs_are_looked_up_directly_in_a_run(tmp_path, monkeypatch):
    """A Ref to a missing name is still found (E1020's message from the refs' list),
    and in a run the direct lookup answers Refs without cfn-lint's comparisons."""
    import cfnlint.jsonschema._keywords as keywords_module

    template = {
        "Parameters": {"Size": {"Type": "String"}},
        "Resources": {
            "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": {"Ref": "Size"}}},
            "Topic": {
                "Type": "AWS::SNS::Topic",
                "Properties": {
                    "TopicName": {"Ref": "Nowhere"},
                    "DisplayName": {"Ref": "AWS::Region"},
                },
            },
        },
    }
    path = tmp_path / "refs.json"
    path.write_text(json.dumps(template, indent=4), encoding="utf-8")
    names = {"Size", "Bucket", "Topic", "AWS::Region", "AWS::AccountId"}
    compared: list[str] = []  # the names cfn-lint's `equal` compared a value with
    equal = keywords_module.equal

    def counted(one, two):
        if two in names:
            compared.append(two)
        return equal(one, two)

    plain, direct = linted_both_ways(monkeypatch, path, ["us-east-1"])
    assert direct == plain
    assert any(rule == "E1020" and "'Nowhere' is not one of" in message
               for rule, message, *_ in plain[1])  # fmt: skip
    monkeypatch.setattr(keywords_module, "equal", counted)
    counts = []
    for shortcuts in (contextlib.nullcontext, cfn_lint_shortcuts.applied):
        with monkeypatch.context() as scoped:
            scoped.setattr(cfn_lint_shortcuts, "applied", shortcuts)
            compared.clear()
            lint_template(path, ["us-east-1"])
            counts.append(len(compared))
    assert counts[0] >= 3 and counts[1] == 0, counts


# --- cfn-lint's valid GetAtts, computed once per template run ------------------------

GETATT_FAULTS = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Resources": {
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "Queue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                # E1010: no such attribute; then a list attribute where a string goes
                "QueueName": {"Fn::GetAtt": ["Bucket", "NoSuchAttribute"]},
                "RedriveAllowPolicy": {"Fn::GetAtt": ["Vpc", "CidrBlockAssociations"]},
            },
        },
        "Topic": {
            "Type": "AWS::SNS::Topic",
            "Properties": {
                "TopicName": {"Fn::Sub": "${Bucket.NoSuchEither}"},  # E1019
                "DisplayName": "${Bucket.Arn}",  # E1029: a Sub's syntax outside a Sub
            },
        },
        "Alias": {
            "Type": "AWS::SQS::QueueInlinePolicy",
            "Properties": {
                "Queue": {"Fn::GetAtt": ["Queue", "QueueUrl"]},
                "PolicyDocument": {"Statement": []},
            },
        },
    },
}


def count_getatts_computed(monkeypatch) -> list[int]:
    from cfnlint.template.template import Template

    computed: list[int] = []
    compute = Template.get_valid_getatts

    def counted(template):
        computed.append(id(template))
        return compute(template)

    monkeypatch.setattr(Template, "get_valid_getatts", counted)
    return computed


@needs_shortcuts
def test_the_getatts_cache_changes_no_finding(tmp_path, monkeypatch):
    """The same findings with cfn-lint's valid GetAtts computed once per template as with
    them computed at each call, on a template whose faults are the ones read from them."""
    path = tmp_path / "getatts.json"
    path.write_text(json.dumps(GETATT_FAULTS, indent=2))
    regions = ["us-east-1", "eu-west-1", "ap-southeast-2"]
    cached = lint_template(path, regions)
    monkeypatch.setattr(cfn_lint_shortcuts, "_getatts_once", contextlib.nullcontext)
    computed = count_getatts_computed(monkeypatch)
    uncached = lint_template(path, regions)
    assert {f.rule for f in cached} >= {"E1010", "E1019", "E1029"}, cached
    assert len([f for f in cached if f.rule == "E1010"]) >= 2  # the name, and the type
    assert cached == uncached
    assert len(computed) > len(set(computed))  # without the cache: again for each call


@needs_shortcuts
def test_the_getatts_are_computed_once_per_template_and_the_patch_is_undone(tmp_path, monkeypatch):
    from cfnlint.template.template import Template

    path = tmp_path / "getatts.json"
    path.write_text(json.dumps(GETATT_FAULTS, indent=2))
    computed = count_getatts_computed(monkeypatch)
    counting = Template.get_valid_getatts
    lint_template(path, ["us-east-1", "eu-west-1"])
    assert computed and len(computed) == len(set(computed))  # used, and once per template
    assert Template.get_valid_getatts is counting
