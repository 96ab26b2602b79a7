"""The reviewed list of the cfn-lint rules that read other resources (`compiler/lint_relations.py`)
against the installed cfn-lint's rule sources: every rule that can read more than the
resource it validates is in the list, so that a cfn-lint upgrade that adds one fails
here instead of letting the lint view share copies that rule needs per region."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import cfnlint
import pytest

from compiler.lint import cfn_lint_rules
from compiler.lint_relations import (
    ANY,
    COMPARED_WITH_EARLIER,
    RELATED_TYPES,
    STATE_OF_ONE_RESOURCE,
    UNRELATED,
    related,
)

ROOT = Path(cfnlint.__file__).parent
# Attributes of cfn-lint's template object that tell a rule about the file, the
# transforms or the regions, and nothing of any resource.
ABOUT_THE_FILE = {
    "filename",
    "get_location_yaml",
    "has_language_extensions_transform",
    "has_serverless_transform",
    "is_cdk_template",
    "regions",
    "yaml_aliases",
}
# The base of every rule: its `match` hands each resource of the listed types to the
# rule's own `match_resource_properties`, with that resource's properties only.
RULE_BASE = "rules/_rule.py"


def _sources(rule) -> list[Path]:
    """The files of cfn-lint that define the rule's class and its bases (cfn-lint loads
    rule modules without registering them, so by the file of their functions' code)."""
    files: list[Path] = []
    for cls in type(rule).__mro__:
        for member in vars(cls).values():
            code = getattr(getattr(member, "__func__", member), "__code__", None)
            if code and Path(code.co_filename).is_relative_to(ROOT):
                files.append(Path(code.co_filename))
                break
    return [f for f in dict.fromkeys(files) if f.relative_to(ROOT).as_posix() != RULE_BASE]


def _gathered(source: str) -> list[str]:
    """The types (ANY when unfiltered) whose properties a cfnGather schema extension the
    rule loads reads from a resource its own properties name."""
    targets: list[str] = []
    for name in re.findall(r"[\"']([\w.-]+\.json)[\"']", source):
        for path in (ROOT / "data" / "schemas" / "extensions").rglob(name):
            targets += _remote_types(json.loads(path.read_text(encoding="utf-8")))
    return targets


def _remote_types(node) -> list[str]:
    if isinstance(node, list):
        return [t for item in node for t in _remote_types(item)]
    if not isinstance(node, dict):
        return []
    found = [t for value in node.values() for t in _remote_types(value)]
    gather = node.get("cfnGather")
    if isinstance(gather, dict):
        for entry in (gather.get("gather") or {}).values():
            if "reference" in entry:
                found.append((entry.get("filter") or {}).get("type", ANY))
    return found


def reads_other_resources(rule) -> list[str]:
    """Why the rule may read more than the resource it validates: empty when it cannot."""
    why: list[str] = []
    for path in _sources(rule):
        source = path.read_text(encoding="utf-8")
        why += [f"cfn.{name}" for name in re.findall(r"\bcfn\.(\w+)", source)
                if name not in ABOUT_THE_FILE]  # fmt: skip
        if "get_resource_by_name" in source:
            why.append("get_resource_by_name")
        if re.search(r"def match\(self, cfn", source):
            why.append("a template-level rule")
        if "def initialize(" in source:
            why.append("state kept between resources")
        why += [f"cfnGather of {target}" for target in _gathered(source)]
    return sorted(set(why))


@pytest.fixture(scope="module")
def scanned() -> dict[str, list[str]]:
    found = {rule_id: reads_other_resources(rule) for rule_id, rule in cfn_lint_rules().items()}
    return {rule_id: why for rule_id, why in found.items() if why}


def test_every_rule_that_reads_other_resources_is_reviewed(scanned):
    reviewed = set(RELATED_TYPES) | set(UNRELATED)
    missing = {rule_id: why for rule_id, why in scanned.items() if rule_id not in reviewed}
    assert not missing, f"classify in compiler/lint_relations.py: {missing}"


def test_the_review_names_no_rule_the_scan_does_not_find(scanned):
    """A listed rule that no longer reads other resources (or no longer exists) is taken
    out of the list, which says what the installed cfn-lint does."""
    listed = (set(RELATED_TYPES) - {"context"}) | set(UNRELATED)
    assert listed - set(scanned) == set()
    assert not set(RELATED_TYPES) & set(UNRELATED)
    assert all(reason.strip() for reason in UNRELATED.values())


def test_the_scan_finds_the_rules_known_to_relate_resources(scanned):
    """The scan is not blind: the subnet rules, the ECS port rule, the instance's launch
    template rule and a schema-declared relation are among what it finds."""
    assert {"E3059", "E3060", "E3049", "E3673", "E3707"} <= set(scanned)
    assert "cfnGather of AWS::RDS::DBCluster" in scanned["E3707"]
    assert "E3062" not in scanned  # the database class rule reads the instance alone


def test_each_schema_declared_relation_is_listed_with_its_types(scanned):
    rules = cfn_lint_rules()
    for rule_id, why in scanned.items():
        targets = [w.removeprefix("cfnGather of ") for w in why if w.startswith("cfnGather")]
        if not targets:
            continue
        sources = {str(k).split("/")[1] for k in rules[rule_id].keywords if str(k).count("/") >= 2}
        for source in sources:
            for target in targets:
                assert (source, target) in RELATED_TYPES.get(rule_id, ()), (rule_id, target)


def test_another_resource_in_cfn_lint_context_is_its_type_and_condition():
    """What a Ref or Fn::GetAtt resolves against: the properties only of a nested stack
    (listed as `context`), so a copy naming an original is checked as one naming a copy."""
    from cfnlint.context.context import Resource

    source = inspect.getsource(Resource.__post_init__)
    assert set(re.findall(r'resource\.get\("(\w+)"\)', source)) == {
        "Type",
        "Condition",
        "Properties",
    }
    stack = source.index('self.type == "AWS::CloudFormation::Stack"')
    assert stack < source.index('resource.get("Properties")')
    assert related("AWS::Lambda::Function", "AWS::CloudFormation::Stack")


def test_related_is_symmetric_and_takes_any():
    assert related("AWS::EC2::Subnet", "AWS::EC2::VPC")
    assert related("AWS::EC2::VPC", "AWS::EC2::Subnet")
    assert related("AWS::EC2::Subnet", "AWS::IAM::Role")  # E3060 groups by any VpcId
    assert not related("AWS::RDS::DBInstance", "AWS::SecretsManager::Secret")
    assert not related("AWS::CloudWatch::Dashboard", "AWS::RDS::DBInstance")


def test_each_rule_that_keeps_state_between_resources_is_reviewed(scanned):
    """A keyword rule validates one resource at a time, in whichever of a lint's two
    shared runs claims it (`lint._shared_resources`): one that compares a resource with
    those it validated before must have every resource of its type in both runs."""
    from cfnlint.rules.jsonschema import CfnLintJsonSchema, CfnLintKeyword

    rules = cfn_lint_rules()
    stateful = {
        rule_id
        for rule_id, why in scanned.items()
        if "state kept between resources" in why
        and isinstance(rules[rule_id], (CfnLintKeyword, CfnLintJsonSchema))
    }
    assert stateful == set(COMPARED_WITH_EARLIER) | set(STATE_OF_ONE_RESOURCE)
    for rule_id, resource_type in COMPARED_WITH_EARLIER.items():
        assert f"Resources/{resource_type}/Properties" in rules[rule_id].keywords


def test_the_schema_keywords_read_other_resources_only_through_cfn_gather():
    """cfn-lint's JSON-schema keywords (`cfnlint/jsonschema`) read the template only to
    gather a referenced resource's properties for `cfnGather`, whose uses the scan reads
    from the schema extensions."""
    import ast

    readers: set[str] = set()
    for path in (ROOT / "jsonschema").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef):
                body = ast.get_source_segment(source, node) or ""
                if re.search(r"cfn\.template|get_resource_by_name|get_resources\(", body):
                    readers.add(f"{path.name}:{node.name}")
    assert readers == {"_keywords_cfn.py:_gather_properties"}
