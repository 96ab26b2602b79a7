"""The pipeline: stages in order, a spec error before any write, lint per written template."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from compiler import lint as lint_module
from compiler import write
from compiler.assemble import HEALTH_ALARMS_KIND
from compiler.errors import SpecError
from compiler.lint import LintFinding
from compiler.pipeline import compile_in_memory, compile_spec, load_and_validate
from tests.conftest import EXAMPLE_SPEC


@pytest.fixture(scope="module")
def result():
    return compile_in_memory(EXAMPLE_SPEC)


def test_load_and_validate_the_example():
    spec = load_and_validate(EXAMPLE_SPEC)
    assert [r.name for r in spec.regions] == ["us-east-1", "us-west-2"]


def test_one_regional_stack_per_region_in_spec_order(result):
    regional = [s for s in result.stacks if s.kind == "region"]
    assert [s.region for s in regional] == [r.name for r in result.spec.regions]
    assert [s.path for s in regional] == [f"regions/{r.name}.json" for r in result.spec.regions]
    assert len({s.stack_name for s in result.stacks}) == len(result.stacks)


def test_files_are_the_stacks_then_the_manifest_bootstrap_deploy_script_and_marker(result):
    assert [f.path for f in result.files] == [s.path for s in result.stacks] + [
        "manifest.json",
        "bootstrap.json",
        "deploy.sh",
        ".infra-compiler",
    ]


def test_manifest_describes_every_file(result):
    by_path = {f.path: f.content for f in result.files}
    manifest = json.loads(by_path["manifest.json"])
    assert [e["template"] for e in manifest["stacks"]] == [s.path for s in result.stacks]
    for entry, stack in zip(manifest["stacks"], result.stacks, strict=True):
        content = by_path[entry["template"]]
        assert entry["sha256"] == hashlib.sha256(content).hexdigest()
        assert entry["bytes"] == len(content)
        assert entry["stack_name"] == stack.stack_name
        assert entry["resources"] == len(json.loads(content)["Resources"])


def test_files_are_the_templates_as_json(result):
    by_path = {f.path: f.content for f in result.files}
    for stack in result.stacks:
        assert json.loads(by_path[stack.path]) == json.loads(stack.template.to_json())
        assert by_path[stack.path].endswith(b"\n")


def test_compile_without_lint(tmp_path):
    compiled = compile_spec(EXAMPLE_SPEC, tmp_path / "out", lint=False)
    assert not compiled.linted
    assert compiled.lint_findings == []
    for file in compiled.files:
        assert (tmp_path / "out" / file.path).read_bytes() == file.content


@pytest.mark.parametrize("every_template", [False, True])
def test_each_written_template_is_linted_for_its_regions(tmp_path, monkeypatch, every_template):
    """The regional templates are linted on their own only when asked: by default the
    StackSet template's lint in their regions stands for them (tests/test_lint_once.py)."""
    seen = []

    def fake_lint(path: Path, regions: list[str]) -> list[LintFinding]:
        seen.append((path, regions, path.read_bytes()))
        return [LintFinding(str(path), 1, 1, "W1234", "warning", "look")]

    monkeypatch.setattr(lint_module, "lint_template", fake_lint)
    monkeypatch.setattr(lint_module, "parallel_workers", lambda count: 1)  # fakes record in-process
    out = tmp_path / "out"
    compiled = compile_spec(EXAMPLE_SPEC, out, lint=True, lint_every_template=every_template)
    assert compiled.linted
    stacks = [s for s in compiled.stacks if every_template or s.kind != "region"]
    # And deploy.sh's bootstrap stack, last.
    assert [path for path, _, _ in seen] == [out / s.path for s in stacks] + [
        out / "bootstrap.json"
    ]
    regional = {s.path: "stackset.json" for s in compiled.stacks if s.kind == "region"}
    assert compiled.lint_via == ({} if every_template else regional)
    for (_, regions, content), stack in zip(seen, stacks, strict=False):
        assert content == (out / stack.path).read_bytes()  # the written file is linted
        if stack.kind in ("global", "region", HEALTH_ALARMS_KIND):
            assert regions == [stack.region]
        else:  # a StackSet instance may run in any region of the spec
            assert sorted(regions) == sorted(r.name for r in compiled.spec.regions)
    # The bootstrap stack goes to every region a stack of the spec's goes to.
    (global_stack,) = [s for s in compiled.stacks if s.kind == "global"]
    every_region = {global_stack.region, *(r.name for r in compiled.spec.regions)}
    assert sorted(seen[-1][1]) == sorted(every_region)
    assert seen[-1][2] == (out / "bootstrap.json").read_bytes()
    assert len(compiled.lint_findings) == len(stacks) + 1


def test_spec_error_is_raised_before_anything_is_written(tmp_path, monkeypatch):
    spec = tmp_path / "infra.yaml"
    spec.write_text("project: Storefront\n", encoding="utf-8")
    monkeypatch.setattr(write, "write_output", lambda *a: pytest.fail("wrote output"))
    with pytest.raises(SpecError) as error:
        compile_spec(spec, tmp_path / "out")
    assert len(error.value.problems) >= 2  # every problem at once, not the first only
    assert not (tmp_path / "out").exists()
