"""`infra graph -o FILE`: the suffix names the format; a --format that contradicts it is
a usage error and nothing is written. Through the console script, as users run it; of the
suffixes, one through the console script and the others in this process (the same
command, without 0.5 s of starting Python for each)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from compiler.graph.output_format import GraphFormatError, output_format
from tests.builders.example import copy_example
from tests.infra_command import infra_in_process, run_infra


@pytest.fixture
def project(tmp_path):
    copy_example(tmp_path)  # the spec with the files it names
    return tmp_path


@pytest.mark.parametrize(
    ("name", "starts_with"),
    [
        ("arch.dot", "digraph architecture {"),
        ("arch.GV", "digraph architecture {"),
        ("arch.mmd", "%% storefront (production)"),
        ("arch.md", "```mermaid\n%% storefront (production)"),
        ("arch.txt", "%% storefront (production)"),  # a suffix that names no format
    ],
)
def test_the_suffix_decides_the_format(project, name, starts_with):
    if name == "arch.dot":
        done = run_infra("graph", "-o", name, cwd=project)
        assert done.returncode == 0 and done.stdout == f"{name}: written\n", done.stderr
    else:
        done = infra_in_process("graph", "-o", name, cwd=project)
        assert done.exit_code == 0 and done.stdout == f"{name}: written\n", done.stderr
    written = (project / name).read_text(encoding="utf-8")
    assert written.startswith(starts_with)
    if name.endswith(".md"):
        assert written.endswith("```\n")


def test_svg_suffix_draws_svg(project):
    if shutil.which("dot") is None:
        pytest.skip("Graphviz `dot` is not installed")
    done = run_infra("graph", "-o", "arch.svg", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "<svg" in (project / "arch.svg").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("requested", "name"),
    [("mermaid", "arch.svg"), ("svg", "arch.mmd"), ("dot", "arch.md"), ("mermaid", "a.gv")],
)
def test_a_format_that_contradicts_the_suffix_is_refused(project, requested, name):
    done = run_infra("graph", "--format", requested, "-o", name, cwd=project)
    assert done.returncode == 2
    assert f"Error: --format {requested} does not match '{name}'" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (project / name).exists()


def test_an_explicit_format_that_agrees_or_a_neutral_suffix_is_obeyed(project):
    done = run_infra("graph", "--format", "dot", "-o", "arch.txt", cwd=project)
    assert done.returncode == 0, done.stderr
    assert (project / "arch.txt").read_text(encoding="utf-8").startswith("digraph")
    assert output_format("dot", Path("x.gv")) == "dot"


def test_stdout_stays_mermaid_unless_asked():
    assert output_format(None, None) == "mermaid"
    assert output_format("dot", None) == "dot"
    with pytest.raises(GraphFormatError, match=r"\.svg"):
        output_format("dot", Path("picture.svg"))


@pytest.mark.parametrize("output", ["infra.yaml", "./infra.yaml", "link-to-spec.mmd"])
def test_graph_never_writes_over_the_spec_it_draws(project, output):
    """`infra graph -o infra.yaml` (a slip for `-o infra.mmd`) would replace the spec with
    the picture: refused, by any path or link to it, and the spec kept byte for byte."""
    (project / "link-to-spec.mmd").symlink_to("infra.yaml")
    spec = (project / "infra.yaml").read_bytes()
    done = run_infra("graph", "-o", output, cwd=project)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr == f"infra: {Path(output)}: is the spec being drawn; give -o another file\n"
    assert (project / "infra.yaml").read_bytes() == spec


def test_graph_replaces_a_file_keeping_its_mode_and_a_link_to_it(project):
    (project / "pictures").mkdir()
    (project / "pictures" / "arch.mmd").write_text("old\n")
    (project / "pictures" / "arch.mmd").chmod(0o640)
    (project / "arch.mmd").symlink_to("pictures/arch.mmd")
    done = run_infra("graph", "-o", "arch.mmd", cwd=project)
    assert done.returncode == 0, done.stderr
    assert (project / "arch.mmd").is_symlink()
    assert (project / "pictures" / "arch.mmd").read_text().startswith("%% storefront")
    assert (project / "pictures" / "arch.mmd").stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in (project / "pictures").iterdir()) == ["arch.mmd"]
