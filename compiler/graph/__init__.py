"""`infra graph`: the architecture of a compiled spec, read back from its templates.

Nothing here is drawn by hand: nodes come from the resource types in the assembled
templates (one table says how each type is shown), placement from the subnets a
resource sits in, and edges from what the templates say: security group rules give
the traffic paths, references give alarms -> topic -> subscribers, WAF -> load
balancer, Route 53 record -> load balancer with its failover role. A resource type
the table does not know yet is still shown, counted in an "other resources" node of
its stack, so a new builder appears in the picture before anyone teaches it here.

The result is an `Architecture` (clusters, nodes, edges) that `compiler.graph.render`
writes as Mermaid, Graphviz DOT or SVG. The StackSet template is left out: it creates the
same regional stack the per-region templates show.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

from compiler.graph.model import INTERNET, Architecture, Cluster, Edge, EdgeKind, Node
from compiler.graph.render import Format, render_picture
from compiler.graph.stack_view import StackView, stack_label, topic_arn_edges, zone_edges

if TYPE_CHECKING:
    from compiler.pipeline import CompileResult

__all__ = ["Architecture", "Cluster", "Edge", "Node", "architecture", "draw"]


def architecture(result: CompileResult) -> Architecture:
    """The picture of a compiled spec: one cluster per stack, in deploy order."""
    spec = result.spec
    views = []
    for stack in result.stacks:
        if stack.kind == "stackset":
            continue  # the same regional stack again
        key, label = stack_label(spec.primary_region, stack)
        view = StackView(key, stack, label)
        view.build()
        view.connect()
        views.append(view)
    external: dict[str, Node] = {}
    edges: list[Edge] = []
    for view in views:
        external.update(view.external)
        edges += view.edges
    edges += zone_edges(views) + topic_arn_edges(views)
    merged: dict[tuple[str, str, EdgeKind, bool], set[str]] = defaultdict(set)
    for edge in edges:
        merged[(edge.source, edge.target, edge.kind, edge.ranked)].add(edge.label)
    final = [
        Edge(source, target, ", ".join(sorted(labels)), kind, ranked)
        for (source, target, kind, ranked), labels in merged.items()
    ]
    nodes = []
    if any(INTERNET in (e.source, e.target) for e in final):
        nodes.append(Node(INTERNET, ("Internet",), "external"))
    nodes += [external[k] for k in sorted(external)]
    return Architecture(
        title=f"{spec.project} ({spec.environment})",
        nodes=nodes,
        clusters=[v.cluster for v in views],
        edges=sorted(final, key=lambda e: (e.source, e.target, e.kind)),
    )


def draw(spec_path: Path, environment: str | None, output_format: Format) -> bytes:
    """`infra graph`: compile `spec_path` in memory and draw it."""
    from compiler.pipeline import compile_in_memory

    return render_picture(architecture(compile_in_memory(spec_path, environment)), output_format)
