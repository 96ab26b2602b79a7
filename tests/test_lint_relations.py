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


# --- Tags a lint view copy may leave out ---------------------------------------------

# Top-level keys of a provider schema that describe the type (how CloudFormation
# handles it, which properties are read-only, its tagging) rather than constrain how one
# property's value goes with another's. Anything else that names Tags ties them to the
# rest: `required`, dependencies, `oneOf`/`anyOf`/`allOf`, `if`, `not`, and what a later
# schema may add.
SCHEMA_DESCRIPTION_KEYS = {
    "$schema", "$id", "typeName", "description", "sourceUrl", "documentationUrl",
    "tagging", "handlers", "primaryIdentifier", "additionalIdentifiers",
    "readOnlyProperties", "writeOnlyProperties", "createOnlyProperties",
    "conditionalCreateOnlyProperties", "deprecatedProperties", "nonPublicProperties",
    "nonPublicDefinitions", "propertyTransform", "replacementStrategy", "resourceLink",
    "additionalProperties", "properties", "definitions",
}  # fmt: skip
# The rules that read a resource's Tags: E3024 checks them alone; the modules rule
# refuses Tags on a module (`::MODULE` types, none listed); E3724 checks the `Globals`
# section of a template with the serverless transform (SAM types, none listed).
RULES_READING_TAGS = {"E3024", "E5001", "E3724"}


def _names_tags(node) -> bool:
    text = json.dumps(node)
    return '"Tags"' in text or "/properties/Tags" in text


def test_the_types_whose_tags_copies_leave_out_have_them_checked_alone_in_every_region():
    from cfnlint.helpers import REGIONS
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    from compiler import cfn_lint_shortcuts
    from compiler.lint_relations import TAGS_VALIDATED_ALONE

    checked = 0
    with cfn_lint_shortcuts.applied():  # one schema per file, whichever regions name it
        for resource_type in sorted(TAGS_VALIDATED_ALONE):
            for region in REGIONS:
                schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema
                assert "Tags" in schema["properties"], (resource_type, region)
                ties = {key for key, value in schema.items()
                        if key not in SCHEMA_DESCRIPTION_KEYS and _names_tags(value)}  # fmt: skip
                assert not ties, (resource_type, region, ties)
                checked += 1
    assert checked == len(TAGS_VALIDATED_ALONE) * len(REGIONS)


def test_no_rule_but_the_tagging_rules_reads_tags():
    """A rule that reads a resource's Tags with its other properties (in its code, or a
    schema file it loads) could find in a copy what it does not find in the original: none
    does but those of RULES_READING_TAGS."""
    readers = set()
    for rule_id, rule in cfn_lint_rules().items():
        for path in _sources(rule):
            source = path.read_text(encoding="utf-8")
            if re.search(r"[\"']Tags[\"']", source):
                readers.add(rule_id)
            for name in re.findall(r"[\"']([\w.-]+\.json)[\"']", source):
                for data in (ROOT / "data" / "schemas").rglob(name):
                    if "providers" not in data.parts and _names_tags(
                        json.loads(data.read_text(encoding="utf-8"))
                    ):
                        readers.add(rule_id)
    assert readers == RULES_READING_TAGS


def test_every_tagged_type_the_builders_write_is_reviewed(tmp_path):
    """A type the builders tag but the review does not list keeps its Tags in the copies
    (sound, slower): the list follows the builders."""
    from compiler.lint_relations import TAGS_VALIDATED_ALONE

    tagged = set()
    for path in Path(__file__).parent.glob("fixtures/golden/*/*.json"):
        template = json.loads(path.read_text(encoding="utf-8"))
        for resource in (template.get("Resources") or {}).values():
            if isinstance(resource.get("Properties"), dict) and "Tags" in resource["Properties"]:
                tagged.add(resource["Type"])
    assert tagged and tagged <= TAGS_VALIDATED_ALONE, sorted(tagged - TAGS_VALIDATED_ALONE)


# --- statements of a policy document a lint view copy may leave out -------------------

# The rules that validate policy documents whole, by the schema of their kind.
POLICY_RULES = ("E3510", "E3512")
# What a provider schema may say of a policy document and of the properties on the way
# to it (an inline policy list, one of its items) for a copy to hold fewer statements:
# its type and shape. Not a length, pattern or format (E3033 and others check the whole
# document as JSON text) nor `uniqueItems` (two shortened policies could become equal).
SHAPE_KEYWORDS = {
    "type", "items", "$ref", "properties", "required", "additionalProperties",
    "insertionOrder", "description", "default", "title", "markdownDescription",
}  # fmt: skip
# The rules that cfn-lint calls for one statement, or one value of one, in those
# documents (the schemas' `cfnLint` keywords), with what they read.
STATEMENT_RULES = {
    "I3510": "one statement's actions against its own resources",
    "E3514": "one statement's resources",
    "W3037": "one statement's actions",
}
# Keywords of a policy schema's `Statement` list that constrain its items one by one,
# and `uniqueKeys` on `Sid` (which the lint view keeps the original's: see
# `lint_view._differing_statements`).
PER_ITEM_KEYWORDS = {"$ref", "items", "type"}


def test_the_policy_documents_copies_shorten_are_those_the_policy_rules_validate():
    from compiler.lint_relations import ANY, POLICY_DOCUMENTS

    keywords = {
        keyword for rule_id in POLICY_RULES for keyword in cfn_lint_rules()[rule_id].keywords
    }
    for resource_type, paths in POLICY_DOCUMENTS.items():
        for path in paths:
            keyword = "/".join(
                ["Resources", resource_type, *("*" if s == ANY else s for s in path)]
            )
            assert keyword in keywords, keyword


def test_the_provider_schemas_check_the_shortened_documents_by_type_and_shape_alone():
    """cfn-lint checks a document against its provider schema as a whole (E3033 measures
    IAM::Policy's as JSON text): a copy may hold fewer statements only where the schema
    says nothing of the whole document, or of the lists and items on the way to it, but
    their type and shape. IAM::Policy's document, for one, is limited in length."""
    from cfnlint.helpers import REGIONS
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    from compiler import cfn_lint_shortcuts
    from compiler.lint_relations import ANY, POLICY_DOCUMENTS

    def resolved(schema: dict, node: dict) -> dict:
        while "$ref" in node:
            assert set(node) <= {"$ref", "description"}, node
            node = schema["definitions"][node["$ref"].removeprefix("#/definitions/")]
        return node

    def shape_only(schema: dict, node: dict, where: tuple) -> None:
        """`node` and, below it, every schema of its properties and items."""
        extra = set(node) - SHAPE_KEYWORDS - {"uniqueItems"}
        assert not extra, (*where, extra)
        assert node.get("uniqueItems", False) is False, where
        for name, below in (node.get("properties") or {}).items():
            shape_only(schema, resolved(schema, below), (*where, name))
        if isinstance(node.get("items"), dict):
            shape_only(schema, resolved(schema, node["items"]), (*where, ANY))

    with cfn_lint_shortcuts.applied():
        for resource_type, paths in POLICY_DOCUMENTS.items():
            for region in REGIONS:
                schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema
                for path in paths:
                    node = schema
                    for step in path[1:]:  # from the properties' schemas down
                        node = resolved(
                            schema, node["items"] if step == ANY else node["properties"][step]
                        )
                        extra = set(node) - SHAPE_KEYWORDS - {"uniqueItems"}
                        assert not extra, (resource_type, region, path, extra)
                        assert node.get("uniqueItems", False) is False, (resource_type, path)
                    # ... and whatever it says of the document's own parts.
                    shape_only(schema, node, (resource_type, region, *path))
    # The limited ones the review found are not listed.
    assert "AWS::IAM::Policy" not in POLICY_DOCUMENTS
    assert ("Properties", "AssumeRolePolicyDocument") not in POLICY_DOCUMENTS["AWS::IAM::Role"]


def test_the_policy_schemas_check_each_statement_alone_but_for_unique_sids():
    schemas = {}
    for path in (ROOT / "data" / "schemas" / "other" / "iam").glob("*.json"):
        schemas[path.name] = json.loads(path.read_text(encoding="utf-8"))
    assert {"policy.json", "policy_identity.json", "policy_resource.json",
            "policy_trust.json"} <= set(schemas)  # fmt: skip
    for name, schema in schemas.items():
        statements = schema.get("properties", {}).get("Statement")
        if statements is None:
            continue
        rest = set(statements) - PER_ITEM_KEYWORDS
        assert rest <= {"uniqueKeys"}, (name, rest)
        assert statements.get("uniqueKeys", ["Sid"]) == ["Sid"], name


def test_the_rules_called_inside_a_statement_read_that_statement_only():
    inside = set()
    for rule_id, rule in cfn_lint_rules().items():
        for keyword in getattr(rule, "keywords", None) or ():
            if "/Statement" in str(keyword):
                inside.add(rule_id)
    assert inside == set(STATEMENT_RULES)
    for rule_id in STATEMENT_RULES:
        for path in _sources(cfn_lint_rules()[rule_id]):
            source = path.read_text(encoding="utf-8")
            # Nothing that walks up to the document or the template from the statement.
            assert not re.search(r"\bcfn\.template\b|get_resource_by_name|\.parent\b", source), path
