"""The picture `infra graph` draws: clusters (stacks, the VPC, its tiers), nodes, edges."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

Shape = Literal["box", "store", "external", "event"]
EdgeKind = Literal["traffic", "notification", "dns", "logs"]

INTERNET = "internet"


@dataclass(frozen=True)
class Node:
    id: str
    lines: tuple[str, ...]  # the first names what it is, the others tell which one
    shape: Shape = "box"


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str
    kind: EdgeKind
    ranked: bool = True  # False: peers; the layout may put both ends side by side


@dataclass
class Cluster:
    id: str
    label: str
    kind: str  # "stack", "vpc" or a tier name: how the renderers colour it
    nodes: list[Node] = field(default_factory=list)
    clusters: list[Cluster] = field(default_factory=list)

    def walk(self) -> Iterator[Cluster]:
        yield self
        for cluster in self.clusters:
            yield from cluster.walk()


@dataclass
class Architecture:
    title: str
    nodes: list[Node]  # outside every stack: the internet, people, other networks
    clusters: list[Cluster]
    edges: list[Edge]
