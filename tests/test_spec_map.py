"""The spec map: which spec key produced each template entry, and where it is written."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from compiler.assemble import assemble
from compiler.load import load_spec_file
from compiler.pipeline import compile_in_memory
from compiler.spec import InfraSpec
from compiler.spec_map import (
    ITEM,
    MAPPED_SOURCES,
    PROPERTY_SOURCES,
    REGION,
    REGION_NAME,
    SpecIndex,
    SpecLocator,
    SpecMap,
)
from tests.builders.example import EXAMPLE_SPEC, copy_example
from tests.conftest import REPO_ROOT

TASKS_AND_BUCKETS = REPO_ROOT / "examples" / "tasks-and-buckets" / "infra.yaml"


@pytest.fixture(scope="module")
def example_maps() -> dict[str, SpecMap]:
    result = compile_in_memory(EXAMPLE_SPEC)
    return {stack.path: SpecMap.for_stack(result.spec, stack) for stack in result.stacks}


@pytest.fixture(scope="module")
def tasks_maps() -> dict[str, SpecMap]:
    result = compile_in_memory(TASKS_AND_BUCKETS)
    return {stack.path: SpecMap.for_stack(result.spec, stack) for stack in result.stacks}


def _fields(model: type[BaseModel]) -> dict[str, typing.Any]:
    return {name: field.annotation for name, field in model.model_fields.items()}


def _is_spec_path(parts: tuple[str, ...]) -> bool:
    """Whether `parts` (placeholders allowed) names a key of the spec's models."""
    annotation: typing.Any = InfraSpec
    for part in parts:
        if part in (REGION, ITEM, REGION_NAME):
            continue  # a list index or a mapping key: the element's type follows
        models = [
            t
            for arg in (annotation, *typing.get_args(annotation))
            for t in (arg, *typing.get_args(arg))
            if isinstance(t, type) and issubclass(t, BaseModel)
        ]
        if not models or part not in _fields(models[0]):
            return False
        annotation = _fields(models[0])[part]
    return True


def test_every_target_is_a_key_of_the_spec():
    targets = [t for table in PROPERTY_SOURCES.values() for t in table.values()]
    targets += list(MAPPED_SOURCES.values())
    # An ITEM target is relative to a list item (`scheduled_tasks[0]`): the next test.
    bad = [t for t in targets if t[0] != ITEM and not _is_spec_path(t)]
    assert bad == []
    assert len(targets) > 40


def test_item_targets_name_keys_of_their_items():
    for (section, _), table in PROPERTY_SOURCES.items():
        for target in table.values():
            if target[0] == ITEM:
                item = {"scheduled_tasks": ("scheduled_tasks",), "storage": ("storage", "buckets")}
                assert _is_spec_path((*item[section], REGION, *target[1:])), target


def test_every_entry_of_every_template_has_a_spec_path(example_maps, tasks_maps):
    for maps, spec_path in [(example_maps, EXAMPLE_SPEC), (tasks_maps, TASKS_AND_BUCKETS)]:
        spec = compile_in_memory(spec_path).spec
        for stack in assemble(spec):
            spec_map = maps[stack.path]
            for section in ("Resources", "Outputs", "Parameters", "Conditions"):
                for name in stack.template.to_dict().get(section, {}):
                    found = spec_map.spec_path((section, name))
                    assert found, (stack.path, section, name)
                    assert _is_spec_path(tuple(p for p in found if isinstance(p, str))), found


def test_properties_map_to_the_keys_that_set_them(example_maps):
    east, west = example_maps["regions/us-east-1.json"], example_maps["regions/us-west-2.json"]
    stackset = example_maps["stackset.json"]
    instance_type = ("Resources", "LaunchTemplate", "Properties", "LaunchTemplateData")
    assert east.spec_path((*instance_type, "InstanceType")) == ("compute", "instance_type")
    # Deeper than the table's prefix, and the section when no key is closer.
    assert east.spec_path(("Resources", "Database", "Properties", "DBInstanceClass")) == (
        "database",
        "instance_class",
    )
    assert east.spec_path(("Resources", "Database", "Properties", "StorageEncrypted")) == (
        "database",
    )
    assert west.spec_path(("Resources", "Vpc", "Properties", "CidrBlock")) == ("regions", 1, "cidr")
    assert west.spec_path(("Resources", "PrivateSubnet2", "Properties", "CidrBlock")) == (
        "regions",
        1,
        "cidr",
    )
    assert west.spec_path(("Resources", "DataKey")) == ("regions", 1)
    assert west.spec_path(("Resources", "HttpsListener", "Properties", "Certificates", 0)) == (
        "load_balancer",
        "certificate_arns",
        "us-west-2",
    )
    assert east.spec_path(("Resources", "AppSecurityGroup", "Properties", "Tags", 2)) == ("tags",)
    # The StackSet template serves every region: region keys stop at `regions`.
    assert stackset.spec_path(("Resources", "Vpc", "Properties", "CidrBlock")) == ("regions",)
    assert stackset.spec_path(("Resources", "DataKey")) == ("regions",)
    # ... except in its region mapping, which names the region.
    mapping = ("Mappings", "RegionMap", "us-west-2")
    assert stackset.spec_path((*mapping, "PrivateSubnet2Cidr")) == ("regions", 1, "cidr")
    assert stackset.spec_path((*mapping, "CertificateArn")) == (
        "load_balancer",
        "certificate_arns",
        "us-west-2",
    )
    assert stackset.spec_path((*mapping, "FailoverRole")) == ("dns", "routing")
    # A finding of the StackSet template for one region (lint once for all regions).
    assert stackset.spec_path(("Resources", "Vpc", "Properties", "CidrBlock"), "us-west-2") == (
        "regions",
        1,
        "cidr",
    )
    assert example_maps["global.json"].spec_path(("Resources", "Trail")) == ("audit",)
    assert east.spec_path(("Description",)) == ()


def test_resources_of_list_items_map_to_their_item(tasks_maps):
    spec = load_spec_file(TASKS_AND_BUCKETS).data
    east = tasks_maps["regions/us-east-2.json"]
    assert len(spec["storage"]["buckets"]) >= 2 and len(spec["scheduled_tasks"]) >= 2
    for index, bucket in enumerate(spec["storage"]["buckets"]):
        ids = [i for i in east.resource_types if i.startswith(_id(bucket["name"]) + "Bucket")]
        assert ids, bucket["name"]
        for logical_id in ids:
            assert east.spec_path(("Resources", logical_id)) == ("storage", "buckets", index)
    for index, task in enumerate(spec["scheduled_tasks"]):
        function = _id(task["name"]) + "TaskFunction"
        assert east.spec_path(("Resources", function, "Properties", "Runtime")) == (
            "scheduled_tasks",
            index,
            "runtime",
        )
        schedule = _id(task["name"]) + "TaskSchedule"
        assert east.spec_path(("Resources", schedule, "Properties", "ScheduleExpression")) == (
            "scheduled_tasks",
            index,
            "schedule",
        )


def test_a_resource_of_no_item_keeps_its_section():
    spec_map = SpecMap(
        {("Resources", "Stray"): ("scheduled_tasks",)},
        {"Stray": "AWS::Lambda::Function"},
        ["us-east-1"],
        "us-east-1",
        {"scheduled_tasks": {"ReportTask": ("scheduled_tasks", 0)}},
    )
    where = ("Resources", "Stray", "Properties", "Runtime")
    assert spec_map.spec_path(where) == ("scheduled_tasks",)
    assert spec_map.spec_path(("Resources", "Unknown")) == ()


def _id(name: str) -> str:
    return "".join(word.capitalize() for word in name.replace("_", "-").split("-"))


# --- where keys are written ----------------------------------------------------------


def _line_of(text: str, needle: str) -> tuple[int, int]:
    """1-based line of the only uncommented line holding `needle`, and its column there."""
    (found,) = [
        (n, line)
        for n, line in enumerate(text.splitlines(), 1)
        if needle in line.split("#")[0] and not line.lstrip().startswith("#")
    ]
    return found[0], found[1].index(needle) + 1


def test_locations_are_the_key_or_value_as_written():
    text = EXAMPLE_SPEC.read_text(encoding="utf-8")
    locator = SpecLocator(load_spec_file(EXAMPLE_SPEC))
    value = locator.locate(("compute", "instance_type"))
    assert (value.line, value.column) == _line_of(text, "instance_type: t3.small")[:1] + (
        _line_of(text, "t3.small")[1],
    )
    assert str(value) == f"{EXAMPLE_SPEC}:{value.line}:{value.column}: compute.instance_type"
    section = locator.locate(("monitoring",))
    assert (section.line, section.column) == _line_of(text, "monitoring:")
    # A key left to its default: its section's line, the key's own path.
    default = locator.locate(("compute", "root_volume_gb"))
    assert (default.line, default.column) == _line_of(text, "compute:")
    assert default.path == ("compute", "root_volume_gb")
    region = locator.locate(("regions", 1, "cidr"))
    assert (region.line, region.column) == _line_of(text, "10.20.0.0/16")


def test_an_environment_key_is_located_in_its_overlay(tmp_path):
    overlay = "environments:\n  staging:\n    compute: {instance_type: t3.micro}\n"
    spec = copy_example(tmp_path, EXAMPLE_SPEC.read_text(encoding="utf-8") + overlay)
    text = spec.read_text(encoding="utf-8")
    locator = SpecLocator(load_spec_file(spec), "staging")
    found = locator.locate(("compute", "instance_type"))
    assert found.path == ("environments", "staging", "compute", "instance_type")
    assert (found.line, found.column) == _line_of(text, "t3.micro")
    # What the overlay leaves alone is where the base wrote it.
    base = locator.locate(("compute", "max_size"))
    assert base.path == ("compute", "max_size")
    assert (base.line, base.column) == _line_of(text, "max_size: 10")[:1] + (
        _line_of(text, "max_size: 10")[1] + len("max_size: "),
    )


def test_the_index_locates_template_paths_and_gives_up_outside_the_compile():
    result = compile_in_memory(EXAMPLE_SPEC)
    assert result.loaded is not None
    index = SpecIndex.build(result.spec, result.stacks, result.loaded)
    where = ("Resources", "Database", "Properties", "EngineVersion")
    found = index.locate("regions/us-east-1.json", where)
    assert found is not None and found.path == ("database", "engine_version")
    assert index.locate("elsewhere.json", where) is None
    assert index.locate("regions/us-east-1.json", ("Description",)) is None
    assert isinstance(Path(found.file), Path)
