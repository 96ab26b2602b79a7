"""What AWS offers where, read from cfn-lint's data, and the checks that use it: an EC2
instance type, an RDS class and a PostgreSQL version are refused at the spec's line, per
region of the spec, with a did-you-mean, before cfn-lint would flag the template.

Values that exist in one region and not another are looked up in the data rather than
written down, so that a cfn-lint upgrade moves them instead of breaking the tests.
"""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from compiler.spec import offerings
from compiler.spec.regions import commercial_regions
from tests.spec.helpers import assert_problem, edit, only_problem, set_value, validate

EXAMPLE_REGIONS = ("us-east-1", "us-west-2")


def offered_in_both(offered, exclude=frozenset()) -> frozenset[str]:
    first, second = (offered(region) for region in EXAMPLE_REGIONS)
    return (first & second) - exclude


# -- the data ---------------------------------------------------------------------------


def test_every_supported_region_has_instance_types_and_postgres_classes():
    for region in commercial_regions():
        assert "t3.small" in offerings.instance_types(region), region
        assert "db.t3.medium" in offerings.db_instance_classes(region), region


def test_a_region_without_data_is_not_judged():
    assert offerings.instance_types("xx-nowhere-1") is None
    assert offerings.db_instance_classes("xx-nowhere-1") is None


def test_postgres_versions_leave_out_the_deprecated():
    versions = offerings.engine_versions()
    assert "17.5" in versions
    assert offerings.is_deprecated("17.1")
    assert "17.1" not in versions
    assert not offerings.is_deprecated("17.5")


def test_classes_for_a_version_follow_its_minor_version():
    assert "db.t3.medium" in offerings.classes_for_version("17.5")
    assert offerings.classes_for_version("99.1") is None  # no rule names it: not judged


def test_reading_the_data_does_not_import_cfn_lint():
    # importing cfn-lint takes over a second; `validate` must not pay it
    code = (
        "import sys; from compiler.spec import offerings as o; o.instance_types('us-east-1'); "
        "o.db_instance_classes('us-east-1'); o.classes_for_version('17.5'); "
        "print('cfnlint' in sys.modules)"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert completed.stdout.strip() == "False", completed.stderr


def test_did_you_mean():
    choices = frozenset({"t3.small", "t3.medium"})
    assert offerings.did_you_mean("t3.smal", choices) == "; did you mean 't3.small'?"
    assert offerings.did_you_mean("zzzzzz", choices) == ""


# -- EC2 instance types -------------------------------------------------------------------


def test_misspelt_instance_type_gets_a_suggestion(example_text):
    bad = set_value(example_text, "instance_type", "t3.smal")
    assert_problem(
        only_problem(bad),
        bad,
        "t3.smal",
        "compute.instance_type",
        "EC2 instance type 't3.smal' is not offered in us-east-1 (regions[0]), us-west-2 "
        "(regions[1]); did you mean 't3.small'?",
    )


def test_instance_type_missing_in_one_region_names_that_region(example_text):
    target = "me-south-1"
    missing = sorted(offerings.instance_types("us-east-1") - offerings.instance_types(target))
    assert missing, "every us-east-1 type is offered in me-south-1 now; pick another region"
    wanted = missing[0]
    text = edit(example_text, "name: us-west-2", f"name: {target}")
    text = edit(
        text, "    us-west-2: arn:aws:acm:us-west-2", "    me-south-1: arn:aws:acm:me-south-1"
    )
    bad = set_value(text, "instance_type", wanted)
    assert_problem(
        only_problem(bad),
        bad,
        wanted,
        "compute.instance_type",
        f"EC2 instance type '{wanted}' is not offered in {target} (regions[1])",
        exact=False,
    )


def test_instance_type_offered_everywhere_is_accepted(example_text):
    wanted = sorted(offered_in_both(offerings.instance_types))[0]
    assert (
        validate(set_value(example_text, "instance_type", wanted)).compute.instance_type == wanted
    )


# -- RDS classes and PostgreSQL versions ----------------------------------------------------


def test_misspelt_db_class_gets_a_suggestion(example_text):
    bad = set_value(example_text, "instance_class", "db.t3.meduim")
    assert_problem(
        only_problem(bad),
        bad,
        "db.t3.meduim",
        "database.instance_class",
        "RDS PostgreSQL instance class 'db.t3.meduim' is not offered in us-east-1 "
        "(regions[0]), us-west-2 (regions[1]); did you mean 'db.t3.medium'?",
    )


def test_db_class_that_cannot_run_the_version(example_text):
    runs = offerings.classes_for_version("17.5")
    candidates = sorted(offered_in_both(offerings.db_instance_classes, exclude=runs))
    assert candidates, "every class of both regions runs 17.5; pick another version"
    wanted = candidates[0]
    bad = set_value(example_text, "instance_class", wanted)
    assert_problem(
        only_problem(bad),
        bad,
        wanted,
        "database.instance_class",
        f"'{wanted}' cannot run PostgreSQL 17.5",
        exact=False,
    )


def test_deprecated_version_names_the_newest_minor(example_text):
    newest = max(
        (v for v in offerings.engine_versions() if v.startswith("17.")),
        key=lambda v: int(v.split(".")[1]),
    )
    bad = set_value(example_text, "engine_version", '"17.1"')
    assert_problem(
        only_problem(bad),
        bad,
        '"17.1"',
        "database.engine_version",
        f"PostgreSQL 17.1 is deprecated: RDS no longer creates instances with it; use {newest}",
    )


def test_version_rds_does_not_know(example_text):
    bad = set_value(example_text, "engine_version", '"17.99"')
    problem = only_problem(bad)
    assert_problem(
        problem,
        bad,
        '"17.99"',
        "database.engine_version",
        "RDS offers no PostgreSQL 17.99; the newest 17 is ",
        exact=False,
    )


def test_default_class_missing_in_a_region_points_at_that_region(example_text, monkeypatch):
    # the default db.t3.medium, not written: the region lacking it is where to look
    real = offerings.db_instance_classes
    monkeypatch.setattr(
        offerings,
        "db_instance_classes",
        lambda region: real(region) - {"db.t3.medium"} if region == "us-west-2" else real(region),
    )
    text = example_text.replace("  instance_class: db.t3.medium\n", "")
    assert_problem(
        only_problem(text),
        text,
        "us-west-2",
        "regions[1].name",
        "RDS PostgreSQL instance class 'db.t3.medium' is not offered in us-west-2 (regions[1])",
        exact=False,
    )


# -- the extract kept in the cache directory ------------------------------------------------


def cached_entries() -> list:
    from compiler.caches import cache_root

    return sorted((cache_root() / "offerings").glob("postgres-*.json"))


def test_the_postgres_extract_is_kept_and_read_back(monkeypatch):
    offerings._postgres.cache_clear()
    first = offerings._postgres()
    (entry,) = cached_entries()
    offerings._postgres.cache_clear()
    monkeypatch.setattr(offerings, "_extract_postgres", lambda: pytest.fail("not read back"))
    assert offerings._postgres() == first
    assert entry.stat().st_size < 1_000_000  # a fraction of the 9 MB it comes from
    offerings._postgres.cache_clear()


@pytest.mark.parametrize(
    "content",
    [b"", b"not json", b"[]", b'{"classes": {"us-east-1": [1]}}', b'{"classes": {}}'],
)
def test_a_cache_entry_of_the_wrong_shape_is_ignored_and_rewritten(content):
    offerings._postgres.cache_clear()
    fresh = offerings._postgres()
    (entry,) = cached_entries()
    entry.write_bytes(content)
    offerings._postgres.cache_clear()
    assert offerings._postgres() == fresh
    assert offerings._is_table(orjson.loads(entry.read_bytes()))
    offerings._postgres.cache_clear()
