"""render: the bytes of each file. The JSON layout is the standard library's
`json.dumps(indent=2, ensure_ascii=False)`, written by orjson for speed; these tests
hold orjson to that layout so a library upgrade cannot silently reformat templates."""

from __future__ import annotations

import json

import pytest

from compiler.deploy_bootstrap import bootstrap_template
from compiler.pipeline import compile_in_memory
from compiler.render import one_entry_a_line, template_data, to_json_bytes
from tests.fixtures.examples import ROOT_EXAMPLE, compile_example, example, examples


def standard_library_layout(data) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


TRICKY_VALUES = {
    "control characters": "\x00\x01\x1f\x7f tab\tnew\nline",
    "quotes and backslashes": 'say "hi" \\ C:\\path',
    "non-ASCII": "café, 東京, 😀, \u2028",
    "markup": "</script><!--",
    "empty containers": {"list": [], "dict": {}, "nested": [[], {}]},
    "numbers": [0, -1, 2**53, 1.0, 0.5, 99.95, 1e16, 123456789.125],
    "literals": [True, False, None],
    "key order kept": {"b": 1, "a": 2, "Z": 3},
}


@pytest.mark.parametrize("name", sorted(TRICKY_VALUES))
def test_json_layout_matches_the_standard_library(name):
    value = {"Value": TRICKY_VALUES[name]}
    assert to_json_bytes(value) == standard_library_layout(value)


@pytest.mark.parametrize("name", [ROOT_EXAMPLE, "minimal"])
def test_every_compiled_json_file_has_the_standard_library_layout(name):
    indented = compact = 0
    for file in compile_example(example(name)):
        if not file.path.endswith(".json"):
            continue
        data = json.loads(file.content)
        if file.content.startswith(b"{\n  "):
            assert file.content == standard_library_layout(data), file.path
            indented += 1
        else:  # a global template over the TemplateBody limit
            assert file.content == one_entry_a_line(data), file.path
            compact += 1
    assert indented >= 4  # two regions, the StackSet template and the manifest at least
    assert indented + compact >= 5


def test_one_entry_a_line_keeps_the_data_and_puts_each_resource_on_its_own_line():
    data = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": "ünïcode"}},
            "Queue": {"Type": "AWS::SQS::Queue"},
        },
        "Outputs": {},
    }
    content = one_entry_a_line(data)
    assert json.loads(content) == data
    lines = content.decode("utf-8").splitlines()
    assert lines[3] == '"Topic":{"Type":"AWS::SNS::Topic","Properties":{"DisplayName":"ünïcode"}},'
    assert lines[4] == '"Queue":{"Type":"AWS::SQS::Queue"}'
    assert list(json.loads(content)["Resources"]) == ["Topic", "Queue"]


@pytest.mark.parametrize("name", [e.name for e in examples()])
def test_template_data_is_troposphere_to_dict(name):
    """render's one-pass encoding gives troposphere's own `to_dict`, key order included,
    for every template of every example: one built for each side, as encoding validates."""
    spec = example(name).spec
    ours = compile_in_memory(spec)
    theirs = compile_in_memory(spec)
    pairs = [(a.template, b.template) for a, b in zip(ours.stacks, theirs.stacks, strict=True)]
    pairs.append((bootstrap_template(ours.spec), bootstrap_template(theirs.spec)))
    for mine, troposphere_own in pairs:
        assert to_json_bytes(template_data(mine)) == to_json_bytes(troposphere_own.to_dict())


def test_template_data_validates_as_to_dict_does():
    from troposphere import Template, s3

    template = Template()
    template.add_resource(s3.Bucket("Assets", VersioningConfiguration=s3.VersioningConfiguration()))
    with pytest.raises(ValueError, match="Status required in"):
        template.to_dict()
    with pytest.raises(ValueError, match="Status required in"):
        template_data(template)
