"""Valid specs drawn from the schema's space: each compiles, its templates keep the
structural promises of the README, and a deterministic subset lints clean.

Linting is what costs: about 2.5 s per regional template per core, so linting the
primary regional and the global template of all specs would take many minutes. Every
`LINT_EVERY`-th spec is linted (the same ones on every run: hypothesis is derandomized);
the summary at the end of the run names them.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import itertools
import json
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings

from compiler.lint import LintJob, known_clean, lint_templates
from compiler.pipeline import CompileResult, compile_in_memory
from compiler.spec.regions import is_commercial_region
from tests.builders.example import EXAMPLE_SPEC, copy_example, resources, walk
from tests.builders.test_security_groups import ingress_rules, source
from tests.property.tally import COUNTS, NOTES
from tests.property.valid_specs import valid_specs
from tests.test_assemble import resolve_region_lookups

pytestmark = pytest.mark.full  # hundreds of generated inputs: the full tier's

VALID_SPECS = 200
LINT_EVERY = 10
ANYWHERE = "0.0.0.0/0"
ALB, APP, DB = "LoadBalancerSecurityGroup", "AppSecurityGroup", "DatabaseSecurityGroup"


@functools.cache
def tag_property_of(resource_type: str) -> str | None:
    """The property holding a type's tags per CloudFormation's schema (as cfn-lint ships
    it), so a resource the compiler forgot to tag cannot go unnoticed."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema
    tagging = schema.get("tagging", {})
    if tagging.get("taggable") or "Tags" in schema["properties"]:
        return tagging.get("tagProperty", "/properties/Tags").removeprefix("/properties/")
    return None


def tag_map(value) -> dict[str, str]:
    if isinstance(value, dict):  # e.g. AWS::SSM::Parameter takes a plain map
        return value
    return {tag["Key"]: tag["Value"] for tag in value}


def effective(data: dict, section: str, key: str, default):
    return data.get(section, {}).get(key, default)


def check_network(data: dict, template: dict, region: dict) -> None:
    azs = effective(data, "network", "availability_zones", 3)
    (vpc,) = resources(template, "AWS::EC2::VPC").values()
    assert vpc["Properties"]["CidrBlock"] == region["cidr"]
    block = ipaddress.IPv4Network(region["cidr"])
    subnets = [
        ipaddress.IPv4Network(s["Properties"]["CidrBlock"])
        for s in resources(template, "AWS::EC2::Subnet").values()
    ]
    assert len(subnets) == 3 * azs  # public, private, database in each AZ
    for subnet in subnets:
        assert subnet.subnet_of(block), f"{subnet} is outside the VPC {block}"
    for a, b in itertools.combinations(subnets, 2):
        assert not a.overlaps(b), f"subnets {a} and {b} overlap"
    nats = resources(template, "AWS::EC2::NatGateway")
    per_az = effective(data, "network", "nat_gateways", "per_az") == "per_az"
    assert len(nats) == (azs if per_az else 1)


def allowed_ingress(data: dict) -> set[tuple[str, str, int, int, str]]:
    """The only flows in: internet -> ALB, ALB -> app, management networks -> SSH, app -> DB."""
    app_port = effective(data, "compute", "app_port", 80)
    flows = {(ALB, "tcp", port, port, ANYWHERE) for port in (80, 443)}
    flows |= {(APP, "tcp", port, port, ALB) for port in {80, 443, app_port}}
    flows |= {(APP, "tcp", 22, 22, cidr) for cidr in effective(data, "compute", "ssh_cidrs", [])}
    flows.add((DB, "tcp", 5432, 5432, APP))
    return flows


def check_security_groups(data: dict, template: dict) -> None:
    found = {
        (group, rule["IpProtocol"], rule.get("FromPort"), rule.get("ToPort"), source(rule))
        for group, rule in ingress_rules(template)
    }
    # every group not listed above (the scheduled tasks' one, say) takes nothing in
    assert found == allowed_ingress(data)


def check_tags(data: dict, path: str, template: dict) -> int:
    expected = {"Environment": data["environment"], **data["tags"]}
    tagged = 0
    for name, resource in template["Resources"].items():
        prop = tag_property_of(resource["Type"])
        if prop is None:
            continue
        tags = resource.get("Properties", {}).get(prop)
        assert tags, f"{path}: {name} ({resource['Type']}) has no {prop}"
        assert tag_map(tags).items() >= expected.items(), f"{path}: {name}"
        tagged += 1
    return tagged


def check_no_wildcard_actions(path: str, template: dict) -> int:
    """No IAM or resource policy statement allows every action; returns the statements seen."""
    seen = 0
    for node in walk(template["Resources"]):
        # a policy document, not a WAF rule (whose `Statement` is a match condition)
        if isinstance(node, dict) and "Statement" in node and "Version" in node:
            statements = node["Statement"]
            for statement in statements if isinstance(statements, list) else [statements]:
                actions = statement.get("Action", [])
                actions = actions if isinstance(actions, list) else [actions]
                assert "*" not in actions, f"{path}: a statement allows every action: {statement}"
                seen += 1
    return seen


def check_stackset(data: dict, templates: dict[str, dict]) -> None:
    stackset = dict(templates["stackset.json"])
    mappings = stackset.pop("Mappings")
    stackset.pop("Rules")
    for region in data["regions"]:
        resolved = resolve_region_lookups(stackset, mappings, region["name"])
        assert resolved == templates[f"regions/{region['name']}.json"], region["name"]


def check_manifest(result: CompileResult) -> None:
    files = {f.path: f.content for f in result.files}
    manifest = json.loads(files["manifest.json"])
    for entry in manifest["stacks"]:
        assert entry["sha256"] == hashlib.sha256(files[entry["template"]]).hexdigest()


def check_compiled(data: dict, result: CompileResult) -> None:
    files = {f.path: f.content for f in result.files}
    templates = {stack.path: json.loads(files[stack.path]) for stack in result.stacks}
    for region in data["regions"]:
        assert is_commercial_region(region["name"])
        template = templates[f"regions/{region['name']}.json"]
        check_network(data, template, region)
        check_security_groups(data, template)
    for path, template in templates.items():
        # and the schema lookup recognised taggable types: a regional stack has dozens
        assert check_tags(data, path, template) >= (30 if path.startswith("regions/") else 1)
        policies = check_no_wildcard_actions(path, template)
        # the health-alarm stack holds policies only with a topic (and key) of its own
        assert policies > 0 or path == "health-alarms.json", path
    check_stackset(data, templates)
    check_manifest(result)


def lint_jobs_for(result: CompileResult, directory: Path) -> list[LintJob]:
    """The primary region's template and the global one, written out for cfn-lint."""
    files = {f.path: f.content for f in result.files}
    jobs = []
    for stack in result.stacks:
        if stack.kind == "global" or (
            stack.kind == "region" and stack.region == result.spec.primary_region
        ):
            target = directory / stack.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(files[stack.path])
            jobs.append(LintJob(target, (stack.region,)))
    return jobs


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory) -> Path:
    """Where each generated spec is written: beside a copy of tasks/ for its task sources."""
    return copy_example(tmp_path_factory.mktemp("valid"))


def test_valid_specs_compile_with_their_invariants_and_lint_clean(spec_path, tmp_path, lint_cache):
    compiled: list[str] = []
    lint_jobs: list[LintJob] = []
    linted: dict[Path, str] = {}  # template -> the spec text it came from

    @settings(
        max_examples=VALID_SPECS,
        derandomize=True,
        database=None,
        deadline=None,
        # a failing spec is printed as drawn: shrinking it would take minutes, at a
        # compile (0.1-0.3 s) per attempt
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(valid_specs())
    def check(data: dict) -> None:
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        spec_path.write_text(text, encoding="utf-8")
        result = compile_in_memory(spec_path)
        check_compiled(data, result)
        if len(compiled) % LINT_EVERY == 0:
            jobs = lint_jobs_for(result, tmp_path / f"spec-{len(compiled)}")
            lint_jobs.extend(jobs)
            linted.update({job.path: text for job in jobs})
        compiled.append(text)

    started = time.perf_counter()
    check()
    compiled_in = time.perf_counter() - started
    COUNTS["valid specs compiled, invariants checked"] += len(compiled)
    assert len(compiled) >= VALID_SPECS

    started = time.perf_counter()
    # templates a clean run already linted, byte for byte (tests/conftest.py `lint_cache`)
    vouched = known_clean(lint_jobs, lint_cache) if lint_cache else set()
    findings = lint_templates(lint_jobs, cache_dir=lint_cache)
    NOTES.append(
        f"valid specs: {compiled_in:.0f} s to generate, compile and check; "
        f"{time.perf_counter() - started:.0f} s to lint"
    )
    COUNTS["templates linted (primary region + global of every 10th valid spec)"] += len(lint_jobs)
    COUNTS["templates linted, of those known clean from an earlier run (lint cache)"] += len(vouched)
    NOTES.append(
        f"linted: valid specs #0, #{LINT_EVERY}, ... #{(len(compiled) - 1) // LINT_EVERY * LINT_EVERY}"
        f" of {len(compiled)} (hypothesis derandomized: a fixed seed)"
    )
    assert not findings, "\n".join(
        f"{finding}\n--- spec ---\n{linted[Path(finding.template)]}" for finding in findings
    )


def test_fixed_size_group_lints_clean(spec_path, tmp_path, lint_cache):
    data = yaml.safe_load(EXAMPLE_SPEC.read_text(encoding="utf-8"))
    data["compute"].update(min_size=2, max_size=2, desired_capacity=2)
    spec_path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    jobs = lint_jobs_for(compile_in_memory(spec_path), tmp_path)
    assert not lint_templates(jobs, cache_dir=lint_cache)
