"""compile_cache: an unchanged compile is skipped, and anything that could change the
output (spec, task source, compiler, libraries, the output directory itself) is not.

Compiles go through the CLI as users run them. "Skipped" is observed by making the
real pipeline unavailable: a compile that would need it fails the test."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler import compile_cache, pipeline
from compiler import lint as lint_module
from compiler import write as write_module
from compiler.cli import EXIT_LINT, EXIT_OK, main
from compiler.lint import LintFinding
from tests.builders.example import copy_example
from tests.test_cli import written
from tests.test_environments import with_environments


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the example spec with its task source, compiled once (no lint)."""
    spec = copy_example(tmp_path / "project")
    compile_once(spec)
    return spec


def compile_once(spec: Path, *args: str):
    result = CliRunner().invoke(
        main, ["compile", "--no-lint", str(spec), "-o", str(spec.parent / "out"), *args]
    )
    assert result.exit_code == EXIT_OK, result.output
    return result


def refuse_to_compile(monkeypatch, compiled: list[str]) -> None:
    """Make the real pipeline unavailable: a compile records its spec and exits 99."""

    def refuse(spec_path, *args, **kwargs):
        compiled.append(str(spec_path))
        raise SystemExit(99)

    monkeypatch.setattr(pipeline, "compile_spec", refuse)


@pytest.fixture
def no_pipeline(monkeypatch) -> list[str]:
    compiled: list[str] = []
    refuse_to_compile(monkeypatch, compiled)
    return compiled


def test_an_unchanged_compile_is_skipped_and_says_so(project, no_pipeline):
    result = compile_once(project)
    assert no_pipeline == []
    assert "nothing changed since the last compile" in result.stdout
    for template in ("global.json", "regions/us-east-1.json", "stackset.json"):
        assert f" {template} " in result.stdout
    assert result.stdout.count("unchanged") == 5  # one row per stack
    assert "skipped" in result.stdout  # --no-lint


def recompiles(spec: Path, *args: str, out: Path | None = None) -> bool:
    """True when `infra compile --no-lint` had to run the pipeline; False only when it
    cleanly reported that nothing changed (a crash in the check is a failure)."""
    compiled: list[str] = []
    out = out or spec.parent / "out"
    with pytest.MonkeyPatch.context() as patch:
        refuse_to_compile(patch, compiled)
        result = CliRunner().invoke(
            main, ["compile", "--no-lint", str(spec), "-o", str(out), *args]
        )
    if compiled:
        assert result.exit_code == 99, result.output
        return True
    assert result.exit_code == EXIT_OK, result.output
    assert "nothing changed since the last compile" in result.stdout
    return False


def test_an_edited_spec_compiles(project):
    project.write_text(project.read_text(encoding="utf-8") + "# a comment\n")
    assert recompiles(project)


def test_an_edited_task_source_compiles(project):
    source = project.parent / "tasks" / "bucket_report.py"
    source.write_text(source.read_text(encoding="utf-8") + "\n# changed\n")
    assert recompiles(project)


def test_an_edited_user_data_script_compiles(project):
    script = project.parent / "examples" / "app" / "user-data.sh"
    script.write_text(script.read_text(encoding="utf-8") + "\n# changed\n")
    assert recompiles(project)


def test_a_hand_edited_or_deleted_template_compiles_and_is_restored(project):
    out = project.parent / "out"
    template = out / "regions" / "us-east-1.json"
    original = template.read_bytes()
    template.write_bytes(original.replace(b'"Resources"', b'"Resources" ', 1))
    assert recompiles(project)
    compile_once(project)
    assert template.read_bytes() == original
    template.unlink()
    assert recompiles(project)


def test_a_file_added_to_the_output_is_not_taken_for_compiled_nor_deleted(project):
    stray = project.parent / "out" / "notes.txt"
    stray.write_text("mine\n")
    assert recompiles(project)
    refused = CliRunner().invoke(
        main, ["compile", "--no-lint", str(project), "-o", str(project.parent / "out")]
    )
    assert refused.exit_code == 2 and "did not write (notes.txt)" in refused.output
    assert stray.read_text() == "mine\n"
    compile_once(project, "--force")
    assert "notes.txt" not in written(project.parent / "out")


def test_no_cache_other_output_and_other_environment_compile(project):
    assert recompiles(project, "--no-cache")
    assert not recompiles(project)
    result = CliRunner().invoke(
        main, ["compile", "--no-lint", str(project), "-o", str(project.parent / "elsewhere")]
    )
    assert result.exit_code == EXIT_OK
    assert "new" in result.stdout


def test_each_environment_is_remembered_on_its_own(tmp_path):
    spec = copy_example(tmp_path / "project", with_environments())
    out = spec.parent / "out"
    compile_once(spec, "--env", "staging")
    assert not recompiles(spec, "--env", "staging", out=out)
    assert recompiles(spec, out=out)  # the base was never compiled into `out`


def test_a_task_source_symlink_pointed_elsewhere_compiles(project):
    tasks = project.parent / "tasks"
    source = tasks / "bucket_report.py"
    (tasks / "v1.py").write_bytes(source.read_bytes())
    (tasks / "v2.py").write_bytes(source.read_bytes() + b"\n# v2\n")
    source.unlink()
    source.symlink_to("v1.py")
    compile_once(project)
    assert not recompiles(project)
    source.unlink()
    source.symlink_to("v2.py")
    assert recompiles(project)


def test_two_links_to_one_spec_are_two_specs(tmp_path):
    """Task sources are read next to the spec path as given, not next to its target."""
    shared = copy_example(tmp_path / "shared")
    out = tmp_path / "out"
    for name, marker in (("a", b""), ("b", b"\n# b\n")):
        folder = tmp_path / name
        (folder / "tasks").mkdir(parents=True)
        task = shared.parent / "tasks" / "bucket_report.py"
        (folder / "tasks" / "bucket_report.py").write_bytes(task.read_bytes() + marker)
        shutil.copytree(shared.parent / "examples", folder / "examples")  # the user data
        (folder / "infra.yaml").symlink_to(shared)
    compile_once(tmp_path / "a" / "infra.yaml", "-o", str(out))
    assert recompiles(tmp_path / "b" / "infra.yaml", out=out)


def test_an_edit_made_while_compiling_is_not_taken_for_compiled(project, monkeypatch):
    source = project.parent / "tasks" / "bucket_report.py"
    real_write = write_module.write_output

    def write_then_edit(files, out_dir, **options):
        real_write(files, out_dir, **options)
        source.write_text(source.read_text(encoding="utf-8") + "\n# saved mid-compile\n")

    monkeypatch.setattr(write_module, "write_output", write_then_edit)
    project.write_text(project.read_text(encoding="utf-8") + "# so that it compiles\n")
    compile_once(project)  # reads the task source, writes, and then the edit lands
    monkeypatch.undo()
    assert recompiles(project)  # the edit was never compiled


def test_an_output_file_that_lost_its_executable_bit_compiles(project):
    script = project.parent / "out" / "deploy.sh"
    assert script.stat().st_mode & 0o111
    script.chmod(0o644)
    assert recompiles(project)
    compile_once(project)
    assert script.stat().st_mode & 0o111


def test_a_no_lint_compile_does_not_vouch_for_lint(project, no_pipeline):
    result = CliRunner().invoke(main, ["compile", str(project), "-o", str(project.parent / "out")])
    assert no_pipeline == [str(project)], result.output


@pytest.mark.parametrize("findings", [0, 1])
def test_with_lint_only_a_clean_compile_is_skipped(tmp_path, monkeypatch, findings):
    spec = copy_example(tmp_path / "project")
    out = spec.parent / "out"
    finding = LintFinding("t.json", 1, 1, "E3001", "error", "broken")
    monkeypatch.setattr(lint_module, "lint_template", lambda path, regions, **_: [finding] * findings)
    first = CliRunner().invoke(main, ["compile", str(spec), "-o", str(out)])
    assert first.exit_code == (EXIT_LINT if findings else EXIT_OK), first.output
    compiled: list[str] = []
    refuse_to_compile(monkeypatch, compiled)
    again = CliRunner().invoke(main, ["compile", str(spec), "-o", str(out)])
    if findings:
        assert compiled == [str(spec)]
    else:
        assert compiled == [] and again.exit_code == EXIT_OK
        assert "cfn-lint: 5 templates, no findings" in again.stdout
        assert again.stdout.count("cached") == 5


def test_a_damaged_entry_means_compile(project):
    entry = compile_cache.entry_path(project, None, project.parent / "out")
    entry.write_text("{not json", encoding="utf-8")
    assert recompiles(project)
    entry.write_text(json.dumps({"format": 0}), encoding="utf-8")
    assert recompiles(project)


def test_the_fingerprint_follows_compiler_sources_and_installed_packages(tmp_path, monkeypatch):
    sources = tmp_path / "compiler"
    sources.mkdir()
    (sources / "builder.py").write_text("X = 1\n")
    site = tmp_path / "site"
    (site / "troposphere-4.11.1.dist-info").mkdir(parents=True)
    monkeypatch.setattr(compile_cache, "COMPILER_DIR", sources)
    monkeypatch.setattr(sys, "path", [str(site)])
    before = compile_cache.compiler_fingerprint()
    assert compile_cache.compiler_fingerprint() == before
    (sources / "builder.py").write_text("X = 2\n")
    after_edit = compile_cache.compiler_fingerprint()
    assert after_edit != before
    (site / "troposphere-4.11.1.dist-info").rename(site / "troposphere-4.12.0.dist-info")
    assert compile_cache.compiler_fingerprint() != after_edit


def test_an_unchanged_compile_imports_neither_pydantic_nor_troposphere(project, tmp_path):
    probe = (
        "import json, sys\n"
        "from compiler.entry import main\n"
        f"sys.argv = ['infra', 'compile', '--no-lint', {str(project)!r}, '-o', "
        f"{str(project.parent / 'out')!r}]\n"
        "try:\n    main()\nexcept SystemExit as stop:\n    code = stop.code\n"
        "print(json.dumps([code, [m for m in ('pydantic', 'troposphere', 'yaml') "
        "if m in sys.modules]]))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    code, heavy = json.loads(completed.stdout.splitlines()[-1])
    assert code in (0, None)
    assert "nothing changed since the last compile" in completed.stdout
    assert heavy == []


def test_an_unwritable_cache_does_not_fail_the_compile(tmp_path, monkeypatch):
    not_a_directory = tmp_path / "cache-is-a-file"
    not_a_directory.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(not_a_directory))
    monkeypatch.setattr(lint_module, "lint_template", lambda path, regions, **_: [])
    spec = copy_example(tmp_path / "project")
    result = CliRunner().invoke(main, ["compile", str(spec), "-o", str(spec.parent / "out")])
    assert result.exit_code == EXIT_OK, result.output
    assert result.stdout.count(" clean ") == 5
    assert recompiles(spec)  # nothing could be remembered
