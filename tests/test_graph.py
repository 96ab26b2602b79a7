"""`infra graph`: the architecture read back from the compiled example, as Mermaid, DOT, SVG."""

from __future__ import annotations

import dataclasses
import html
import re
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from troposphere import GetAtt, Ref, Sub, Template, awslambda, chatbot, ecr, iam, sns

from compiler.assemble import StackTemplate
from compiler.cli import EXIT_OK, EXIT_SPEC, EXIT_TOOL, main
from compiler.errors import GraphvizError
from compiler.graph import Architecture, Cluster, architecture
from compiler.graph.readme import BEGIN, END, SVG_PATH, readme_block
from compiler.graph.render import dot_to_svg, render_picture, to_dot, to_mermaid
from compiler.pipeline import CompileResult, compile_in_memory
from tests.builders.example import EXAMPLE_SPEC, copy_example
from tests.conftest import REPO_ROOT
from tests.infra_command import run_infra
from tests.test_environments import STAGED_TEXT

REGIONS = ("us-east-1", "us-west-2")
HAS_DOT = shutil.which("dot") is not None


@pytest.fixture(scope="module")
def compiled() -> CompileResult:
    return compile_in_memory(EXAMPLE_SPEC)


@pytest.fixture(scope="module")
def picture(compiled) -> Architecture:
    return architecture(compiled)


@pytest.fixture(scope="module")
def mermaid(picture) -> str:
    return to_mermaid(picture)


def key(region: str) -> str:
    return region.replace("-", "_")


def cluster_of(picture: Architecture, node_id: str) -> list[str]:
    """The clusters holding a node, outermost first; [] for a node outside every stack."""

    def search(cluster: Cluster, trail: list[str]) -> list[str] | None:
        trail = [*trail, cluster.id]
        if any(node.id == node_id for node in cluster.nodes):
            return trail
        for inner in cluster.clusters:
            found = search(inner, trail)
            if found:
                return found
        return None

    for top in picture.clusters:
        found = search(top, [])
        if found:
            return found
    assert any(node.id == node_id for node in picture.nodes), f"no node {node_id}"
    return []


def node_lines(picture: Architecture, node_id: str) -> tuple[str, ...]:
    nodes = {n.id: n for n in picture.nodes}
    for top in picture.clusters:
        for cluster in top.walk():
            nodes.update({n.id: n for n in cluster.nodes})
    return nodes[node_id].lines


def edges(picture: Architecture) -> dict[tuple[str, str], str]:
    return {(e.source, e.target): e.label for e in picture.edges}


# --- what the picture holds -----------------------------------------------------------------


def clusters(picture: Architecture) -> dict[str, Cluster]:
    return {cluster.id: cluster for cluster in picture.clusters}


def test_one_cluster_per_stack_but_the_stackset(picture, compiled):
    drawn = [s for s in compiled.stacks if s.kind != "stackset"]
    assert len(picture.clusters) == len(drawn) == len(compiled.stacks) - 1
    found = clusters(picture)
    assert found["us_east_1"].label == "us-east-1 (primary) · storefront-production-us-east-1"
    assert found["us_west_2"].label == "us-west-2 · storefront-production-us-west-2"
    assert not any("regional" in c.label for c in picture.clusters)  # the StackSet's name


@pytest.mark.parametrize("region", REGIONS)
def test_each_region_has_a_vpc_with_three_tiers_of_subnets(picture, region):
    k = key(region)
    (vpc,) = clusters(picture)[k].clusters
    second_octet = "10" if region == "us-east-1" else "20"
    assert vpc.label == f"VPC 10.{second_octet}.0.0/16"
    assert [(c.id, c.label) for c in vpc.clusters] == [
        (f"{k}_public", "public subnets"),
        (f"{k}_private", "private subnets"),
        (f"{k}_database", "database subnets"),
    ]
    assert node_lines(picture, f"{k}_public_subnets") == (
        f"AZ1 10.{second_octet}.0.0/21",
        f"AZ2 10.{second_octet}.8.0/21",
        f"AZ3 10.{second_octet}.16.0/21",
    )


@pytest.mark.parametrize("region", REGIONS)
def test_resources_sit_in_the_tier_of_their_subnets(picture, region):
    k = key(region)
    assert cluster_of(picture, f"{k}_LoadBalancer") == [k, f"{k}_vpc", f"{k}_public"]
    assert cluster_of(picture, f"{k}_NatGateway_public")[-1] == f"{k}_public"
    assert cluster_of(picture, f"{k}_AutoScalingGroup")[-1] == f"{k}_private"
    assert cluster_of(picture, f"{k}_BucketReportTaskFunction")[-1] == f"{k}_private"
    assert cluster_of(picture, f"{k}_Database")[-1] == f"{k}_database"
    # outside the VPC: the bucket, the WAF, DNS, alarms (watching the load balancer's
    # target group does not put them in the VPC)
    for node in ("AssetsBucket", "WebAcl", "RecordSet", "HealthCheck", "Alarm_stack"):
        assert cluster_of(picture, f"{k}_{node}") == [k], node


@pytest.mark.parametrize(("region", "role"), [("us-east-1", "PRIMARY"), ("us-west-2", "SECONDARY")])
def test_failover_records_point_at_their_region_load_balancer(picture, region, role):
    k = key(region)
    assert node_lines(picture, f"{k}_RecordSet") == (
        "Route 53 record",
        "shop.example.com A",
        f"failover {role}",
    )
    found = edges(picture)
    assert found[(f"{k}_RecordSet", f"{k}_LoadBalancer")] == role
    assert found[(f"{k}_RecordSet", f"{k}_HealthCheck")] == "evaluates"
    assert found[(f"{k}_HealthCheck", f"{k}_LoadBalancer")] == "checks"
    assert node_lines(picture, f"{k}_HealthCheck") == ("Route 53 health check", "HTTPS /health")


@pytest.mark.parametrize("region", REGIONS)
def test_traffic_follows_the_security_group_rules(picture, region):
    k = key(region)
    found = {pair: label for pair, label in edges(picture).items() if k in "".join(pair)}
    assert found[("internet", f"{k}_LoadBalancer")] == "80, 443"
    assert found[(f"{k}_LoadBalancer", f"{k}_AutoScalingGroup")] == "80, 443"
    assert found[(f"{k}_AutoScalingGroup", f"{k}_Database")] == "5432"
    assert found[("net_10_255_0_0_24", f"{k}_AutoScalingGroup")] == "22"
    assert found[(f"{k}_WebAcl", f"{k}_LoadBalancer")] == "filters"
    assert found[(f"{k}_private_subnets", f"{k}_NatGateway_public")] == "default route"
    # nothing reaches the database but the application, and the database reaches nothing
    assert [s for s, t in found if t == f"{k}_Database"] == [f"{k}_AutoScalingGroup"]
    assert not [t for s, t in found if s == f"{k}_Database"]


@pytest.mark.parametrize("region", REGIONS)
def test_alarms_reach_the_email_subscribers_through_the_topic(picture, region):
    k = key(region)
    found = edges(picture)
    # A replica region has one more: its replica's lag; us-east-1 has one more too: the
    # health-check alarm, where Route 53's metrics are.
    alarms = 22
    assert node_lines(picture, f"{k}_Alarm_stack") == (f"{alarms} CloudWatch alarms",)
    assert found[(f"{k}_Alarm_stack", f"{k}_AlarmTopic")] == "alarm"
    assert found[(f"{k}_AlarmTopic", "email_ops_example_com")] == "notifies"
    assert node_lines(picture, "email_ops_example_com") == ("email", "ops@example.com")
    assert found[(f"{k}_BucketReportTaskSchedule", f"{k}_BucketReportTaskFunction")] == "triggers"
    assert found[(f"{k}_BucketReportTaskFunction", f"{k}_AssetsBucket")] == "uses"
    assert found[(f"{k}_LoadBalancer", f"{k}_LogsBucket")] == "access logs"


def test_details_come_from_the_templates(picture):
    assert node_lines(picture, "us_east_1_AutoScalingGroup") == (
        "Auto Scaling group",
        "2-10 instances · t3.small",
    )
    assert node_lines(picture, "us_east_1_Database") == (
        "RDS database",
        "postgres 17.5",
        "db.t3.medium · Multi-AZ",
    )
    assert node_lines(picture, "us_east_1_NatGateway_public") == ("3 NAT gateways",)


def test_an_environment_draws_its_own_values(tmp_path):
    spec = copy_example(tmp_path, STAGED_TEXT)
    staged = architecture(compile_in_memory(spec, "staging"))
    assert staged.title == "storefront (staging)"
    assert clusters(staged)["us_east_1"].label == (
        "us-east-1 (primary) · storefront-staging-us-east-1"
    )
    assert node_lines(staged, "us_east_1_AutoScalingGroup")[1] == "1-2 instances · t3.micro"
    assert node_lines(staged, "us_east_1_NatGateway_public") == ("1 NAT gateway",)
    assert node_lines(staged, "us_east_1_Database")[2] == "db.t3.micro · single AZ"


def _with_stack(result: CompileResult, stack: StackTemplate) -> CompileResult:
    return dataclasses.replace(result, stacks=[*result.stacks, stack])


def test_the_global_stack_shows_its_zone_trail_and_roles(picture):
    glob = clusters(picture)["global"]
    assert glob.label == "global · storefront-production-global (us-east-1)"
    shown = {node.id: node.lines for node in glob.nodes}
    assert shown["global_HostedZone"] == ("Route 53 hosted zone", "example.com")
    assert shown["global_Trail"] == ("CloudTrail trail", "multi-region")
    assert {"global_ManagementRole", "global_ExecutionRole"} <= set(shown)
    found = edges(picture)
    assert found[("global_Trail", "global_TrailBucket")] == "logs"
    # the zone holds the regional stacks' records, found by name across stacks
    for region in REGIONS:
        assert found[("global_HostedZone", f"{key(region)}_RecordSet")] == "record"


def test_only_roles_nothing_runs_as_are_drawn(compiled):
    template = Template()
    trust = {"Version": "2012-10-17", "Statement": []}
    for name in ("PeopleRole", "InstanceRole", "FunctionRole"):
        template.add_resource(iam.Role(name, AssumeRolePolicyDocument=trust))
    policy = {"Version": "2012-10-17", "Statement": []}
    template.add_resource(
        iam.ManagedPolicy("Attached", PolicyDocument=policy, Roles=[Ref("PeopleRole")])
    )
    template.add_resource(iam.InstanceProfile("Profile", Roles=[Ref("InstanceRole")]))
    template.add_resource(
        awslambda.Function(
            "Function",
            Role=GetAtt("FunctionRole", "Arn"),
            Code=awslambda.Code(ZipFile="x"),
            Runtime="python3.13",
            Handler="index.handler",
        )
    )
    stack = StackTemplate("sandbox", "roles", "eu-west-1", "roles.json", template)
    sandbox = clusters(architecture(_with_stack(compiled, stack)))["sandbox"]
    assert [n.id for n in sandbox.nodes] == ["sandbox_Function", "sandbox_PeopleRole"]


def test_a_slack_channel_is_reached_by_the_topics_it_lists_by_arn(compiled):
    """AWS Chatbot's channel lives in one stack and names every region's topics by ARN."""
    template = Template()
    arns = [
        Sub(
            f"arn:${{AWS::Partition}}:sns:{region}:${{AWS::AccountId}}:storefront-production-alarms"
        )
        for region in REGIONS
    ]
    template.add_resource(
        chatbot.SlackChannelConfiguration(
            "Channel",
            ConfigurationName="ops",
            IamRoleArn="arn:aws:iam::123456789012:role/chatbot",
            SlackChannelId="C1",
            SlackWorkspaceId="T1",
            SnsTopicArns=arns,
        )
    )
    template.add_resource(sns.Topic("Local", TopicName="local"))
    for name, endpoint in (
        ("ToChatbot", "https://global.sns-api.chatbot.amazonaws.com"),
        ("ToHook", "https://hooks.example.com/x"),
    ):
        template.add_resource(
            sns.SubscriptionResource(
                name, TopicArn=Ref("Local"), Protocol="https", Endpoint=endpoint
            )
        )
    stack = StackTemplate("sandbox", "chat", "us-east-1", "chat.json", template)
    picture = architecture(_with_stack(compiled, stack))
    found = edges(picture)
    assert node_lines(picture, "sandbox_Channel") == ("Slack channel", "ops")
    for region in REGIONS:
        assert found[(f"{key(region)}_AlarmTopic", "sandbox_Channel")] == "notifies"
    # a subscription delivering to an AWS service is that service's edge, not a web hook
    assert [t for s, t in found if s == "sandbox_Local"] == ["https_https_hooks_example_com_x"]


def test_a_resource_type_nobody_taught_the_graph_still_shows(compiled):
    template = Template()
    template.add_resource(ecr.Repository("Images"))
    template.add_resource(ecr.Repository("MoreImages"))
    stack = StackTemplate("sandbox", "images", "us-east-1", "images.json", template)
    picture = architecture(_with_stack(compiled, stack))
    assert node_lines(picture, "sandbox_other") == ("other resources", "2 × ECR::Repository")


def test_latency_records_name_their_region(tmp_path):
    text = EXAMPLE_SPEC.read_text(encoding="utf-8").replace(
        "  routing: failover ", "  routing: latency  "
    )
    picture = architecture(compile_in_memory(copy_example(tmp_path, text)))
    for region in REGIONS:
        k = key(region)
        assert node_lines(picture, f"{k}_RecordSet")[-1] == f"latency {region}"
        assert edges(picture)[(f"{k}_RecordSet", f"{k}_LoadBalancer")] == f"latency {region}"


# --- Mermaid and DOT ------------------------------------------------------------------------


def test_mermaid_is_a_flowchart_with_every_part(mermaid):
    lines = mermaid.splitlines()
    assert lines[1] == "flowchart LR"
    for region in REGIONS:
        k = key(region)
        assert any(line.strip().startswith(f'subgraph {k}["{region}') for line in lines)
        for tier in ("public", "private", "database"):
            assert f'    subgraph {k}_{tier}["{tier} subnets"]' in mermaid
        assert f'  {k}_LoadBalancer -->|"80, 443"| {k}_AutoScalingGroup' in lines
        assert f'  {k}_AutoScalingGroup -->|"5432"| {k}_Database' in lines
    assert '  us_east_1_RecordSet ==>|"PRIMARY"| us_east_1_LoadBalancer' in lines
    assert '  us_west_2_RecordSet ==>|"SECONDARY"| us_west_2_LoadBalancer' in lines
    assert '  us_east_1_Alarm_stack -.->|"alarm"| us_east_1_AlarmTopic' in lines


def test_mermaid_is_well_formed(mermaid, picture):
    """Every subgraph is closed and every edge joins nodes that are declared."""
    lines = mermaid.splitlines()
    opened = sum(1 for line in lines if line.strip().startswith("subgraph "))
    subgraphs = sum(len(list(cluster.walk())) for cluster in picture.clusters)
    assert opened == sum(1 for line in lines if line.strip() == "end") == subgraphs
    declared = {m.group(1) for line in lines if (m := re.match(r"\s+(\w+)[\[(]", line))}
    declared |= {m.group(1) for line in lines if (m := re.match(r"\s+subgraph (\w+)\[", line))}
    for line in lines:
        edge = re.match(r"\s+(\w+) (-->|-\.->|==>)(\|\"[^\"]*\"\|)? (\w+)$", line)
        if edge:
            assert edge.group(1) in declared and edge.group(4) in declared, line
    labels = re.findall(r'"([^"]*)"', mermaid)
    assert labels and not any("<" in label.replace("<br/>", "") for label in labels)


def test_the_pictures_are_deterministic(compiled, mermaid, tmp_path):
    again = architecture(compile_in_memory(copy_example(tmp_path)))
    assert to_mermaid(again) == mermaid
    assert to_dot(again) == to_dot(architecture(compiled))


def test_dot_has_a_cluster_per_stack_and_tier(picture):
    dot = to_dot(picture)
    assert dot.startswith("digraph architecture {")
    for region in REGIONS:
        k = key(region)
        for cluster in (k, f"{k}_vpc", f"{k}_public", f"{k}_private", f"{k}_database"):
            assert f'subgraph "cluster_{cluster}" {{' in dot
    assert '"us_east_1_RecordSet" -> "us_east_1_LoadBalancer" [label="PRIMARY"' in dot
    # a record and its health check are peers, not steps of a path
    assert re.search(r'"us_east_1_RecordSet" -> "us_east_1_HealthCheck" \[[^]]*minlen=0', dot)


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz `dot` is not installed")
def test_svg_through_graphviz(picture):
    svg = html.unescape(render_picture(picture, "svg").decode("utf-8"))
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    for text in ("us-east-1 (primary)", "failover PRIMARY", "Auto Scaling group"):
        assert text in svg


EXAMPLES = sorted((REPO_ROOT / "examples").glob("*/infra.yaml"))


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz `dot` is not installed")
@pytest.mark.parametrize("spec", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_every_example_lays_out(spec):
    # dot gives up on some cluster layouts ("trouble in init_rank"); none of ours may
    svg = render_picture(architecture(compile_in_memory(spec)), "svg")
    assert b"<svg" in svg


def test_svg_without_graphviz_says_how_to_get_it(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(GraphvizError, match="Graphviz `dot` is not installed"):
        dot_to_svg("digraph {}")


# --- the command ------------------------------------------------------------------------------


def test_graph_prints_mermaid(mermaid):
    result = CliRunner().invoke(main, ["graph", str(EXAMPLE_SPEC)])
    assert result.exit_code == EXIT_OK, result.output
    assert result.stdout == mermaid


def test_graph_writes_a_file(tmp_path):
    out = tmp_path / "docs" / "architecture.dot"
    result = CliRunner().invoke(
        main, ["graph", str(EXAMPLE_SPEC), "--format", "dot", "-o", str(out)]
    )
    assert result.exit_code == EXIT_OK, result.output
    assert result.stdout == f"{out}: written\n"
    assert out.read_text().startswith("digraph architecture {")


def test_graph_of_a_bad_spec_is_a_spec_error(tmp_path):
    text = EXAMPLE_SPEC.read_text(encoding="utf-8").replace(
        "nat_gateways: per_az", "nat_gateways: x"
    )
    result = CliRunner().invoke(main, ["graph", str(copy_example(tmp_path, text))])
    assert result.exit_code == EXIT_SPEC
    assert "network.nat_gateways" in result.stderr and result.stdout == ""


def test_graph_svg_without_graphviz_exits_3(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    result = CliRunner().invoke(main, ["graph", str(EXAMPLE_SPEC), "--format", "svg"])
    assert result.exit_code == EXIT_TOOL == 3
    assert result.stderr.startswith("infra graph: Graphviz `dot` is not installed")
    assert result.stdout == ""


def test_graph_as_a_real_command(tmp_path):
    copy_example(tmp_path, STAGED_TEXT)
    done = run_infra("graph", "--env", "staging", "-o", "docs/staging.mmd", cwd=tmp_path)
    assert done.returncode == EXIT_OK, done.stderr
    assert done.stdout == "docs/staging.mmd: written\n"
    written = (tmp_path / "docs/staging.mmd").read_text()
    assert written.startswith("%% storefront (staging): generated by `infra graph`")
    assert '["3 NAT gateways"]' not in written and '["1 NAT gateway"]' in written


def test_graph_svg_as_a_real_command_without_graphviz(tmp_path, monkeypatch):
    copy_example(tmp_path)
    venv_bin = str(Path(sys.executable).parent)  # the interpreter and `infra`, no `dot`
    assert shutil.which("dot", path=venv_bin) is None
    monkeypatch.setenv("PATH", venv_bin)
    done = run_infra("graph", "--format", "svg", cwd=tmp_path)
    assert done.returncode == EXIT_TOOL, done.stderr
    assert "Graphviz `dot` is not installed" in done.stderr


def test_the_docs_show_the_example_as_it_compiles(picture):
    readme = (REPO_ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    committed = readme[readme.index(BEGIN) : readme.index(END) + len(END)]
    assert committed == readme_block(picture), "run `python -m compiler.graph.readme`, review"
    assert (REPO_ROOT / SVG_PATH).read_text().lstrip().startswith("<?xml")
