"""Linting the StackSet template once, in every spec region, is no weaker than linting
each regional template: faults seeded into one region's values are found by both, at the
same spec key and for the same region.

A regional template is the StackSet template with one region's values
(tests/test_assemble.py), so the faults are seeded into the StackSet template and the
regional templates made from it by the same resolution. cfn-lint is slow: the faults are
seeded all at once (each touches another resource), so the proof costs three lints.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from compiler import lint as lint_module
from compiler.assemble import assemble
from compiler.lint import LintFinding, LintJob, lint_template
from compiler.lint_view import lint_view
from compiler.pipeline import compile_spec, lint_jobs, load_and_validate
from compiler.render import to_json_bytes
from compiler.spec_map import SpecMap
from tests.conftest import EXAMPLE_SPEC
from tests.test_assemble import resolve_region_lookups

EAST, WEST = "us-east-1", "us-west-2"


def _row(template: dict, region: str) -> dict:
    return template["Mappings"]["RegionMap"][region]


def _launch_template(template: dict) -> dict:
    return template["Resources"]["LaunchTemplate"]["Properties"]["LaunchTemplateData"]


# name -> (region whose template holds the fault, how it is seeded into the StackSet
# template). Each shows in that region's values only.
FAULTS = {
    "invalid VPC CIDR": (WEST, lambda t: _row(t, WEST).update(VpcCidr="10.20.0.0/33")),
    "subnet outside its VPC": (EAST, lambda t: _row(t, EAST).update(PublicSubnet2Cidr="10.99.8.0/21")),
    # Offered in us-east-1, not in us-west-2 (cfn-lint's per-region instance type list).
    "instance type not offered in the region": (
        WEST,
        lambda t: _launch_template(t).update(InstanceType="hpc7g.4xlarge"),
    ),
    "unknown failover role": (WEST, lambda t: _row(t, WEST).update(FailoverRole="TERTIARY")),
    # cfn-lint 1.58 checks no format of an ELBv2 listener's certificate ARN, in either
    # template (the spec validator does, see spec/consistency.py): both find nothing.
    "bad certificate ARN": (EAST, lambda t: _row(t, EAST).update(CertificateArn="arn:aws:acm:x")),
}  # fmt: skip
CAUGHT_BY_CFN_LINT = set(FAULTS) - {"bad certificate ARN"}


def _seed_database_fault(template: dict) -> None:
    """A Performance Insights retention the database does not offer, the same in every
    region's row: the database keeps the same values in every region, so the lint view
    copies it once for both (`lint_view`), and the fault must be found for each region."""
    properties = template["Resources"]["Database"]["Properties"]
    properties["PerformanceInsightsRetentionPeriod"] = {
        "Fn::FindInMap": ["RegionMap", {"Ref": "AWS::Region"}, "InsightsDays"]
    }
    for region in (EAST, WEST):
        _row(template, region)["InsightsDays"] = 8  # 7, 31, 62, ... are offered


def spec_keys(findings: list[LintFinding], spec_map: SpecMap, region: str) -> set[tuple]:
    return {(f.rule, spec_map.spec_path(f.path, region)) for f in findings}


@pytest.fixture(scope="module")
def seeded(seeded_stackset):
    """Findings of each regional template and of the StackSet template, faults seeded."""
    maps, regional, path = seeded_stackset
    return maps, regional, lint_template(path, [EAST, WEST])


@pytest.fixture(scope="module")
def seeded_stackset(tmp_path_factory):
    """The spec maps, the findings of each regional template and the StackSet template's
    path, faults seeded."""
    out = tmp_path_factory.mktemp("seeded")
    spec, stacks, stackset = write_seeded_stackset(out / "stackset.json")
    rest = copy.deepcopy(stackset)
    mappings, _ = rest.pop("Mappings"), rest.pop("Rules")
    regional = {}
    for region in (EAST, WEST):
        path = out / f"{region}.json"
        path.write_bytes(to_json_bytes(resolve_region_lookups(rest, mappings, region)))
        regional[region] = lint_template(path, [region])
    maps = {path: SpecMap.for_stack(spec, stack) for path, stack in stacks.items()}
    return maps, regional, out / "stackset.json"


def write_seeded_stackset(path: Path) -> tuple:
    """The example's spec, its stacks and its StackSet template with every fault above
    seeded, written to `path`."""
    spec = load_and_validate(EXAMPLE_SPEC)
    stacks = {stack.path: stack for stack in assemble(spec)}
    stackset = json.loads(stacks["stackset.json"].template.to_json())
    for _region, seed in FAULTS.values():
        seed(stackset)
    _seed_database_fault(stackset)
    path.write_bytes(to_json_bytes(stackset))
    return spec, stacks, stackset


def _owned_by(share_of: dict[str, int], path, regions=(EAST, WEST)) -> None:
    """The shared runs' claim table with each named resource given to its run, the rest
    to run 0."""
    import multiprocessing
    import zlib

    claims = multiprocessing.get_context("fork").Array("b", lint_module.CLAIM_SLOTS)
    view = lint_view(json.loads(path.read_text()), regions).template
    for name in view["Resources"]:
        slot = zlib.crc32(f"{path}\0{name}".encode()) % len(claims)
        claims[slot] = share_of.get(name, 0) + 1
    return claims


@pytest.mark.full  # `seeded`: cfn-lint runs of whole seeded templates (about 25 s of CPU)
def test_two_shared_runs_find_what_one_run_finds(seeded, seeded_stackset, monkeypatch):
    """A StackSet lint is two runs that share the resources' own validation
    (`lint._shared_resources`): each resource is validated by one of them, every rule
    that relates resources runs in both. Here run 1 owns the VPC and its copies and run
    0 all else: the VPC's invalid CIDR is found by run 1, and so is the subnet outside
    its VPC (cfn-lint checks it with the VPC, reading the subnets that run 0 validates);
    the rest by run 0; the two together find every seeded fault one run finds, at the
    same places, for the same regions."""
    _maps, _regional, whole = seeded
    path = seeded_stackset[2]
    view = lint_view(json.loads(path.read_text()), [EAST, WEST])
    vpcs = {"Vpc"} | {copy for copy, (name, _) in view.copies.items() if name == "Vpc"}
    monkeypatch.setattr(lint_module, "_claims", _owned_by(dict.fromkeys(vpcs, 1), path))
    first = lint_template(path, [EAST, WEST], share=0)
    second = lint_template(path, [EAST, WEST], share=1)
    assert {(f.rule, f.path[1], f.region) for f in second} == {
        ("E3002", "Vpc", WEST),  # the CIDR
        ("E3059", "PublicSubnet2", EAST),
    }
    assert {f.rule for f in first} >= {"E3628", "E3030"}
    assert not {f.rule for f in first} & {"E3002", "E3059"}
    assert lint_module._merged([*first, *second]) == whole
    assert {f.rule for f in whole} >= {"E3002", "E3059", "E3628", "E3030"}
    # cfn-lint's rules are as they were: the sharing is for one run in one process.
    assert not any("validate" in vars(rule) for rule in lint_module.cfn_lint_rules().values())


def test_shared_runs_compare_each_subnet_with_every_other(tmp_path, monkeypatch):
    """cfn-lint's E3060 compares each subnet's CIDR with the subnets of its VPC validated
    before it: two overlapping subnets claimed by different runs are still compared,
    since both runs validate every subnet."""
    subnet = {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}}}
    template = {
        "Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
            "A": copy.deepcopy(subnet),
            "B": copy.deepcopy(subnet),
        }
    }
    template["Resources"]["A"]["Properties"]["CidrBlock"] = "10.0.0.0/24"
    template["Resources"]["B"]["Properties"]["CidrBlock"] = "10.0.0.0/25"
    path = tmp_path / "subnets.json"
    path.write_bytes(to_json_bytes(template))
    (alone,) = lint_template(path, [EAST])
    assert alone.rule == "E3060"
    monkeypatch.setattr(lint_module, "_claims", _owned_by({"B": 1}, path, []))
    both = lint_template(path, [EAST], share=0) + lint_template(path, [EAST], share=1)
    assert lint_module._merged(both) == [alone]


def test_a_copy_only_one_shared_run_holds_is_validated_whatever_the_claims(tmp_path, monkeypatch):
    """Each shared run holds the copies of some of the regions. The claim table is a hash
    table: a copy only run 1 holds can share its slot with a resource of both, which
    run 0 may claim first; run 1 must validate its copy all the same (it used to skip
    it, and the fault in that region went unreported). Here run 0 has claimed every
    slot: the fault in us-west-2's row is still found, once, for us-west-2."""
    record = {
        "Type": "AWS::Route53::RecordSet",
        "Properties": {
            "HostedZoneId": "Z0123456789ABCDEFGHIJ",
            "Name": "app.example.com",
            "Type": "A",
            "TTL": "60",
            "ResourceRecords": ["192.0.2.1"],
            "SetIdentifier": "app",
            "Failover": {"Fn::FindInMap": ["RegionMap", {"Ref": "AWS::Region"}, "Role"]},
        },
    }
    rows = {EAST: {"Role": "PRIMARY"}, WEST: {"Role": "TERTIARY"}}
    template = {"Mappings": {"RegionMap": rows}, "Resources": {"Record": record}}
    path = tmp_path / "stackset.json"
    path.write_bytes(to_json_bytes(template))
    one_run = lint_template(path, [EAST, WEST])
    assert [(f.rule, f.path[1], f.region) for f in one_run] == [("E3030", "Record", WEST)]
    import multiprocessing

    claims = multiprocessing.get_context("fork").Array("b", lint_module.CLAIM_SLOTS)
    claims[:] = [1] * len(claims)  # every slot run 0's
    monkeypatch.setattr(lint_module, "_claims", claims)
    both = [
        *lint_template(path, [EAST, WEST], share=0, copies_in=(EAST,)),
        *lint_template(path, [EAST, WEST], share=1, copies_in=(WEST,)),
    ]
    assert lint_module._merged(both) == one_run


@pytest.mark.full  # lints the seeded StackSet template again, in two processes
def test_shared_runs_side_by_side_find_what_one_run_finds(seeded, seeded_stackset, monkeypatch):
    """As `compile` runs them: two processes claiming resources as they go, each with
    the view's copies of some of the regions (here one region each)."""
    _maps, _regional, whole = seeded
    monkeypatch.setattr(lint_module, "parallel_workers", lambda count: 2)
    job = LintJob(seeded_stackset[2], (EAST, WEST))
    parts = [part for _, part in lint_module._runs([job], 2)]
    assert [(part.share, part.copies_in) for part in parts] == [(0, (EAST,)), (1, (WEST,))]
    assert lint_module.run_jobs([job]) == [whole]


@pytest.mark.full  # `seeded` lints three whole templates (14 s of CPU): the full tier's
def test_each_fault_of_a_regional_template_is_found_in_the_stackset_template(seeded):
    maps, regional, stackset = seeded
    for region, findings in regional.items():
        wanted = spec_keys(findings, maps[f"regions/{region}.json"], region)
        mine = [f for f in stackset if f.region in (region, None)]
        found = spec_keys(mine, maps["stackset.json"], region)
        assert wanted <= found, f"{region}: missed {wanted - found}"


@pytest.mark.full  # `seeded` lints three whole templates (14 s of CPU): the full tier's
def test_the_seeded_faults_are_real(seeded):
    """Each fault cfn-lint can see is found in its region's template, and only there: the
    proof above compares something."""
    maps, regional, _stackset = seeded
    expected = {
        "invalid VPC CIDR": ("E3002", ("regions", 1, "cidr")),
        "subnet outside its VPC": ("E3059", ("regions", 0, "cidr")),
        "instance type not offered in the region": ("E3628", ("compute", "instance_type")),
        "unknown failover role": ("E3030", ("dns", "routing")),
    }
    assert set(expected) == CAUGHT_BY_CFN_LINT
    keys = {
        region: spec_keys(findings, maps[f"regions/{region}.json"], region)
        for region, findings in regional.items()
    }
    for name, key in expected.items():
        region = FAULTS[name][0]
        other = WEST if region == EAST else EAST
        assert key in keys[region], f"{name}: {keys[region]}"
        assert key not in keys[other], name


@pytest.mark.full  # `seeded` lints three whole templates (14 s of CPU): the full tier's
def test_stackset_findings_name_their_region(seeded):
    _maps, _regional, stackset = seeded
    by_rule = {f.rule: f.region for f in stackset}
    assert by_rule["E3002"] == WEST  # found on us-west-2's copy of the VPC
    assert by_rule["E3059"] == EAST
    assert by_rule["E3628"] == WEST  # cfn-lint's own "... in 'us-west-2'"
    assert all(
        f.path[1] in {"Vpc", "PublicSubnet2", "LaunchTemplate", "RecordSet", "Database"}
        for f in stackset
    )


@pytest.mark.full  # `seeded` lints three whole templates (14 s of CPU): the full tier's
def test_a_fault_in_a_copy_shared_by_the_regions_is_found_for_each_of_them(seeded, seeded_stackset):
    maps, regional, stackset = seeded
    view = lint_view(json.loads(seeded_stackset[2].read_text()), [EAST, WEST])
    assert [regions for name, regions in view.copies.values() if name == "Database"] == [
        (EAST, WEST)
    ]
    where = ("Resources", "Database", "Properties", "PerformanceInsightsRetentionPeriod")
    for region, findings in regional.items():
        assert ("E3030", where) in {(f.rule, f.path[:4]) for f in findings}, region
        mine = {(f.rule, f.path[:4]) for f in stackset if f.region == region}
        assert ("E3030", where) in mine, region
    # Reported for each region, not once without one (the original's finding, made of
    # every row's value, gives way to the copy's: `lint._merged`).
    assert not [f for f in stackset if (f.rule, f.path[:4]) == ("E3030", where) and not f.region]


def test_plain_cfn_lint_accepts_a_lookup_when_one_region_is_valid(tmp_path):
    """Why the lint view exists: cfn-lint alone passes one region's invalid CIDR."""
    from cfnlint.api import ManualArgs, lint

    template = {
        "Mappings": {"RegionMap": {EAST: {"Cidr": "10.0.0.0/16"}, WEST: {"Cidr": "10.1.0.0/33"}}},
        "Resources": {
            "Vpc": {
                "Type": "AWS::EC2::VPC",
                "Properties": {
                    "CidrBlock": {"Fn::FindInMap": ["RegionMap", {"Ref": "AWS::Region"}, "Cidr"]}
                },
            }
        },
    }
    path = tmp_path / "stackset.json"
    path.write_bytes(to_json_bytes(template))
    assert lint(path.read_text(), config=ManualArgs(regions=[EAST, WEST])) == []
    (finding,) = lint_template(path, [EAST, WEST])
    assert (finding.rule, finding.region, finding.path[:2]) == ("E3002", WEST, ("Resources", "Vpc"))
    # At the original VPC's line: the copy is in no file.
    assert path.read_text().splitlines()[finding.line - 1] == '    "Vpc": {'


def test_the_view_copies_only_resources_with_region_lookups():
    spec = load_and_validate(EXAMPLE_SPEC)
    (stack,) = [s for s in assemble(spec) if s.kind == "stackset"]
    template = json.loads(stack.template.to_json())
    before = copy.deepcopy(template)
    view = lint_view(template, [EAST, WEST])
    assert template == before  # the StackSet template itself is untouched
    originals = {name for name, _regions in view.copies.values()}
    assert {"Vpc", "PublicSubnet1", "HttpsListener", "RecordSet", "Database"} <= originals
    assert "LaunchTemplate" not in originals  # no region value in it
    pairs = [(name, region) for name, regions in view.copies.values() for region in regions]
    assert sorted(pairs) == sorted((name, r) for name in originals for r in (EAST, WEST))
    copies = {pair: copy_id for copy_id, (name, regions) in view.copies.items() for pair in
              [(name, region) for region in regions]}  # fmt: skip
    # The database names the master secret in its password; no cfn-lint rule reads one's
    # properties while validating the other (`lint_relations`), and their values are the
    # same in every region: one copy of each for both regions, naming the originals.
    assert copies[("Database", EAST)] == copies[("Database", WEST)]
    database = view.template["Resources"][copies[("Database", WEST)]]["Properties"]
    assert "${DatabaseMasterSecret}" in json.dumps(database["MasterUserPassword"])
    assert copies[("Dashboard", EAST)] == copies[("Dashboard", WEST)]
    assert copies[("HttpsListener", EAST)] != copies[("HttpsListener", WEST)]  # certificates
    subnet = view.template["Resources"][copies[("PublicSubnet1", WEST)]]["Properties"]
    # The copy holds us-west-2's literal, and points to us-west-2's copy of the VPC.
    assert subnet["CidrBlock"] == template["Mappings"]["RegionMap"][WEST]["PublicSubnet1Cidr"]
    assert subnet["VpcId"] == {"Ref": copies[("Vpc", WEST)]}
    assert "Fn::FindInMap" not in json.dumps([view.template["Resources"][c] for c in view.copies])


def test_the_view_keeps_the_lines_of_the_stackset_template():
    spec = load_and_validate(EXAMPLE_SPEC)
    (stack,) = [s for s in assemble(spec) if s.kind == "stackset"]
    template = json.loads(to_json_bytes(stack.template.to_dict()))  # as written, in order
    assert list(template)[-1] == "Resources"  # the copies go last, after every section
    original = to_json_bytes(template).splitlines()
    viewed = to_json_bytes(lint_view(template, [EAST, WEST]).template).splitlines()
    # All but the last resource's closing brace (a comma follows it now) and the last two.
    assert viewed[: len(original) - 3] == original[:-3]


def test_compile_lints_the_global_and_stackset_templates_unless_asked_for_every_one(tmp_path):
    result = compile_spec(EXAMPLE_SPEC, tmp_path / "out", lint=False)
    out = result.out_dir
    once = lint_jobs(result.spec, result.stacks, out)
    assert [(job.path.name, job.regions) for job in once] == [
        ("global.json", (EAST,)),
        ("stackset.json", (EAST, WEST)),
        ("health-alarms.json", (EAST,)),  # Route 53's metrics are in us-east-1 only
        ("bootstrap.json", (EAST, WEST)),  # deploy.sh's own stack, in each region
    ]
    every = lint_jobs(result.spec, result.stacks, out, every_template=True)
    assert [job.path.relative_to(out).as_posix() for job in every] == [
        "global.json",
        f"regions/{EAST}.json",
        f"regions/{WEST}.json",
        "stackset.json",
        "health-alarms.json",
        "bootstrap.json",
    ]
