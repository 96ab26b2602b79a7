"""Shared test fixtures: paths to the example spec and a loader for spec text."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_SPEC = REPO_ROOT / "infra.yaml"


@pytest.fixture
def example_text() -> str:
    return EXAMPLE_SPEC.read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def isolated_lint_cache(tmp_path_factory, monkeypatch):
    """Each test gets an empty lint cache, never the user's ~/.cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
