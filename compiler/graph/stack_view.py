"""One stack's template read as nodes, their places (stack, VPC, tier) and edges."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import TYPE_CHECKING

from compiler import naming
from compiler.conditions import resources_in_region
from compiler.context import TIERS
from compiler.graph.kinds import EDGE_RULES, HIDDEN, KINDS, NOT_USERS
from compiler.graph.model import INTERNET, Cluster, Edge, EdgeKind, Node
from compiler.graph.template_values import (
    Resources,
    in_region,
    prop,
    readable,
    ref_id,
    references,
    values_at,
)

if TYPE_CHECKING:
    from compiler.assemble import StackTemplate


# An endpoint of an AWS service (AWS Chatbot's is https://global.sns-api.chatbot...).
_AWS_ENDPOINT = re.compile(r"https://[^/]*\.amazonaws\.com(/|$)")
# A topic named by ARN text: the way a stack refers to a topic of another stack or region.
_ARN_PART = r"(?:\$\{[^}]*\}|[^:$]*)"  # a literal, or a whole ${...} (AWS::Partition has colons)
_TOPIC_ARN = re.compile(rf"arn:{_ARN_PART}:sns:([a-z0-9-]+):{_ARN_PART}:([\w-]+)$")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")


def _ports(rule: dict) -> str:
    if str(rule.get("IpProtocol")) == "-1":
        return "all"
    low, high = rule.get("FromPort"), rule.get("ToPort")
    return str(low) if low == high else f"{low}-{high}"


def _az(subnet: dict) -> str:
    zone = prop(subnet, "AvailabilityZone")
    selected = zone.get("Fn::Select") if isinstance(zone, dict) else None
    if isinstance(selected, list) and isinstance(selected[0], int):
        return f"AZ{selected[0] + 1}"
    return readable(zone)


class StackView:
    """One stack's template read as nodes, places and edges."""

    def __init__(self, key: str, stack: StackTemplate, label: str):
        self.key = key
        self.stack = stack
        # a stack runs in one region: name it where the template asks for `AWS::Region`
        # and as it is there: a replica region has no writer-only resources or properties
        self.resources: Resources = in_region(
            resources_in_region(stack.template.to_dict(), stack.region), stack.region
        )
        self.cluster = Cluster(key, label, "stack")
        self.edges: list[Edge] = []
        self.external: dict[str, Node] = {}
        self.node_of: dict[str, str] = {}  # logical ID -> node ID, for shown resources
        self.referrers: dict[str, set[str]] = defaultdict(set)
        for name, resource in self.resources.items():
            for target in references(resource.get("Properties", {})):
                self.referrers[target].add(name)
        used = {
            name
            for name, referrers in self.referrers.items()
            if any(self.resources[r]["Type"] not in NOT_USERS for r in referrers)
        }
        self.shown = {
            name: kind
            for name, resource in self.resources.items()
            if (kind := KINDS.get(resource["Type"])) and (kind.show != "unused" or name not in used)
        }
        self.tier_of = self._subnet_tiers()

    # placement

    def _subnet_tiers(self) -> dict[str, str]:
        tiers = {}
        for tier in TIERS:
            prefix = naming.logical_id(tier, "subnet")
            for name, resource in self.resources.items():
                if resource["Type"] == "AWS::EC2::Subnet" and re.fullmatch(rf"{prefix}\d+", name):
                    tiers[name] = tier
        return tiers

    def _reach(self, name: str) -> set[str]:
        """What a resource refers to, directly or through plumbing it owns: hidden
        resources no other shown resource refers to (an Auto Scaling group's launch
        template, a database's subnet group; not a target group alarms also watch)."""
        seen: set[str] = set()
        todo = list(references(self.resources[name].get("Properties", {})))
        while todo:
            current = todo.pop()
            if current in seen or current not in self.resources:
                continue
            seen.add(current)
            owned = {r for r in self.referrers[current] if r in self.shown} <= {name}
            if owned and self.resources[current]["Type"] in HIDDEN:
                todo.extend(references(self.resources[current].get("Properties", {})))
        return seen

    def _place(self, name: str) -> str:
        reached = self._reach(name)
        tiers = {self.tier_of[n] for n in reached if n in self.tier_of}
        if len(tiers) == 1:
            return tiers.pop()
        if any(self.resources[n]["Type"] == "AWS::EC2::VPC" for n in reached):
            return "vpc"
        return "stack"

    # nodes

    def build(self) -> None:
        places: dict[str, list[Node]] = defaultdict(list)
        counted: dict[tuple[str, str], list[str]] = defaultdict(list)
        other: Counter[str] = Counter()
        order = {resource_type: index for index, resource_type in enumerate(KINDS)}
        in_order = sorted(
            self.resources.items(), key=lambda item: order.get(item[1]["Type"], len(order))
        )
        for name, resource in in_order:
            kind = self.shown.get(name)
            if kind is None:
                if resource["Type"] not in HIDDEN and resource["Type"] not in KINDS:
                    other[resource["Type"]] += 1
                continue
            place = self._place(name)
            if kind.show == "count":
                counted[(resource["Type"], place)].append(name)
                continue
            detail = kind.detail(name, resource, self.resources) if kind.detail else []
            node = Node(f"{self.key}_{_slug(name)}", (kind.label, *detail), kind.shape)
            self.node_of[name] = node.id
            places[place].append(node)
        for (resource_type, place), names in counted.items():
            kind = KINDS[resource_type]
            plural = "" if len(names) == 1 else "s"
            node_id = f"{self.key}_{_slug(resource_type.split('::')[-1])}_{place}"
            places[place].append(Node(node_id, (f"{len(names)} {kind.label}{plural}",), kind.shape))
            for name in names:
                self.node_of[name] = node_id
        if other:
            lines = [f"{count} × {t.removeprefix('AWS::')}" for t, count in sorted(other.items())]
            places["stack"].append(Node(f"{self.key}_other", ("other resources", *lines)))
        self._arrange(places)

    def _arrange(self, places: dict[str, list[Node]]) -> None:
        vpcs = [n for n, r in self.resources.items() if r["Type"] == "AWS::EC2::VPC"]
        if not vpcs:
            self.cluster.nodes = [n for nodes in places.values() for n in nodes]
            return
        vpc = Cluster(
            f"{self.key}_vpc", f"VPC {readable(prop(self.resources[vpcs[0]], 'CidrBlock'))}", "vpc"
        )
        vpc.nodes = places.get("vpc", [])
        for tier in TIERS:
            subnets = [n for n, t in self.tier_of.items() if t == tier]
            if not subnets and not places.get(tier):
                continue
            cluster = Cluster(f"{self.key}_{tier}", f"{tier} subnets", tier)
            if subnets:
                lines = [
                    f"{_az(self.resources[s])} {readable(prop(self.resources[s], 'CidrBlock'))}"
                    for s in subnets
                ]
                self.node_of.update({s: f"{self.key}_{tier}_subnets" for s in subnets})
                cluster.nodes.append(Node(f"{self.key}_{tier}_subnets", tuple(lines)))
            cluster.nodes += places.get(tier, [])
            vpc.clusters.append(cluster)
        self.cluster.clusters.append(vpc)
        self.cluster.nodes = places.get("stack", [])

    # edges

    def connect(self) -> None:
        self._security_group_edges()
        self._route_edges()
        self._rule_edges()
        self._subscription_edges()

    def _edge(
        self, source: str | None, target: str | None, label: str, kind: EdgeKind, ranked=True
    ) -> None:
        if source and target and source != target:
            self.edges.append(Edge(source, target, label, kind, ranked))

    def _security_group_owners(self) -> dict[str, set[str]]:
        owners: dict[str, set[str]] = defaultdict(set)
        for name in self.shown:
            for reached in self._reach(name):
                if self.resources[reached]["Type"] == "AWS::EC2::SecurityGroup":
                    owners[reached].add(self.node_of[name])
        return owners

    def _security_group_edges(self) -> None:
        owners = self._security_group_owners()
        flows: dict[tuple[str, str], set[str]] = defaultdict(set)

        def flow(source: str | None, group: str | None, rule: dict, *, inbound: bool) -> None:
            if group not in owners:
                return
            if source in owners:
                ends = [(s, g) for s in owners[source] for g in owners[group]]
            elif inbound and isinstance(rule.get("CidrIp"), str):
                cidr = rule["CidrIp"]
                outside = INTERNET if cidr == "0.0.0.0/0" else f"net_{_slug(cidr)}"
                if outside != INTERNET:
                    self.external[outside] = Node(outside, ("network", cidr), "external")
                ends = [(outside, g) for g in owners[group]]
            else:
                return  # egress to an address range: the default routes show where it goes
            for a, b in ends if inbound else [(g, s) for s, g in ends]:
                flows[(a, b)].add(_ports(rule))

        for name, resource in self.resources.items():
            kind = resource["Type"]
            if kind == "AWS::EC2::SecurityGroup":
                for rule in prop(resource, "SecurityGroupIngress", []):
                    flow(ref_id(rule.get("SourceSecurityGroupId")), name, rule, inbound=True)
                for rule in prop(resource, "SecurityGroupEgress", []):
                    flow(ref_id(rule.get("DestinationSecurityGroupId")), name, rule, inbound=False)
            elif kind in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"):
                rule = resource.get("Properties", {})
                group = ref_id(rule.get("GroupId"))
                if kind.endswith("Ingress"):
                    flow(ref_id(rule.get("SourceSecurityGroupId")), group, rule, inbound=True)
                else:
                    flow(ref_id(rule.get("DestinationSecurityGroupId")), group, rule, inbound=False)
        for (source, target), ports in flows.items():
            label = ", ".join(sorted(ports, key=lambda p: (len(p), p)))
            self._edge(source, target, label, "traffic")

    def _route_edges(self) -> None:
        subnets_of: dict[str, set[str]] = defaultdict(set)
        for resource in self.resources.values():
            if resource["Type"] == "AWS::EC2::SubnetRouteTableAssociation":
                table = ref_id(prop(resource, "RouteTableId"))
                subnet = ref_id(prop(resource, "SubnetId"))
                if table and subnet in self.node_of:
                    subnets_of[table].add(self.node_of[subnet])
        for resource in self.resources.values():
            if resource["Type"] != "AWS::EC2::Route":
                continue
            if prop(resource, "DestinationCidrBlock") != "0.0.0.0/0":
                continue
            # only routes through a shown node (a NAT gateway): the internet gateway's
            # route is what makes the public tier public, which its name already says
            target = self.node_of.get(ref_id(prop(resource, "NatGatewayId")) or "")
            for source in subnets_of.get(ref_id(prop(resource, "RouteTableId")) or "", ()):
                self._edge(source, target, "default route", "traffic")

    def _rule_edges(self) -> None:
        for name, resource in self.resources.items():
            for rule in EDGE_RULES:
                if resource["Type"] != rule.resource_type:
                    continue
                label = rule.label(resource) if callable(rule.label) else rule.label
                sources = self._nodes_at(name, resource, rule.source)
                targets = self._nodes_at(name, resource, rule.target)
                for source in sources:
                    for target in targets:
                        self._edge(source, target, label, rule.kind, rule.ranked)

    def _nodes_at(self, name: str, resource: dict, path: str | None) -> list[str]:
        if path is None:
            return [self.node_of[name]] if name in self.node_of else []
        values = values_at(resource.get("Properties", {}), path)
        found = {self.node_of[t] for v in values for t in references(v) if t in self.node_of}
        return sorted(found)

    def _subscription_edges(self) -> None:
        for resource in self.resources.values():
            if resource["Type"] != "AWS::SNS::Subscription":
                continue
            topic = self.node_of.get(ref_id(prop(resource, "TopicArn")) or "")
            endpoint = prop(resource, "Endpoint")
            protocol = str(prop(resource, "Protocol", ""))
            if isinstance(endpoint, str) and _AWS_ENDPOINT.match(endpoint):
                continue  # delivery to an AWS service: drawn from that service's resource
            target = self.node_of.get(ref_id(endpoint) or "")
            if target is None and isinstance(endpoint, str):
                target = f"{protocol}_{_slug(endpoint)}"
                self.external[target] = Node(target, (protocol, endpoint), "external")
            self._edge(topic, target, "notifies", "notification")


def stack_label(spec_primary: str, stack: StackTemplate) -> tuple[str, str]:
    if stack.kind == "region":
        role = " (primary)" if stack.region == spec_primary else ""
        return _slug(stack.region), f"{stack.region}{role} · {stack.stack_name}"
    return _slug(stack.kind), f"{stack.kind} · {stack.stack_name} ({stack.region})"


def zone_edges(views: list[StackView]) -> list[Edge]:
    """A hosted zone holds the records under its name, in whichever stack they are."""
    zones = [
        (str(prop(v.resources[n], "Name", "")).rstrip("."), v.node_of[n])
        for v in views
        for n in v.node_of
        if v.resources[n]["Type"] == "AWS::Route53::HostedZone"
    ]
    edges = []
    for view in views:
        for name, node_id in view.node_of.items():
            if view.resources[name]["Type"] != "AWS::Route53::RecordSet":
                continue
            record = str(prop(view.resources[name], "Name", "")).rstrip(".")
            for zone, zone_node in zones:
                if zone and (record == zone or record.endswith("." + zone)):
                    edges.append(Edge(zone_node, node_id, "record", "dns"))
    return edges


def topic_arn_edges(views: list[StackView]) -> list[Edge]:
    """Edges to topics named by ARN rather than `Ref`: AWS Chatbot's channel, in the
    global stack, lists every region's topics that way."""
    topics = {
        (view.stack.region, str(prop(view.resources[name], "TopicName"))): node_id
        for view in views
        for name, node_id in view.node_of.items()
        if view.resources[name]["Type"] == "AWS::SNS::Topic"
    }
    edges = []
    for view in views:
        for name, resource in view.resources.items():
            node_id = view.node_of.get(name)
            for rule in EDGE_RULES:
                if resource["Type"] != rule.resource_type or node_id is None:
                    continue
                label = rule.label(resource) if callable(rule.label) else rule.label
                for path, toward in ((rule.source, True), (rule.target, False)):
                    found_at = values_at(resource.get("Properties", {}), path) if path else []
                    for value in (v for f in found_at for v in (f if isinstance(f, list) else [f])):
                        text = value.get("Fn::Sub") if isinstance(value, dict) else value
                        found = _TOPIC_ARN.match(text) if isinstance(text, str) else None
                        topic = topics.get(found.groups()) if found else None
                        if topic:
                            ends = (topic, node_id) if toward else (node_id, topic)
                            edges.append(Edge(*ends, label, rule.kind, rule.ranked))
    return edges
