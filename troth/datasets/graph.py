"""How a dataset's collections are reached from a person's identities.

A collection with an identity field is reached directly: its rows whose identity column holds one
of the person's values. Any other collection is reached along references: its rows whose column
equals the referenced column of a reached row. A row is *reachable* when some chain of such steps
leads to it from an identity; that set is what access returns and erasure masks.

References can form cycles (a self-reference such as ``employee.manager_id -> employee.id``, or
two collections that reference each other). :func:`traverse` reports each group of collections
that reach one another, so that the runner can find their rows by repeating the step until no
new row appears, and ``troth datasets check`` can name the cycle.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .model import Dataset, Edge


@dataclass(frozen=True)
class Traversal:
    # reachable collections: identity collections first, then in the order reached
    order: tuple[str, ...]
    # for each reachable collection, the references it is reached by (from reachable sources)
    incoming: dict[str, tuple[Edge, ...]]
    # collections that no identity reaches
    unreachable: tuple[str, ...]
    # groups of reachable collections that reach one another (a self-reference is a group of one)
    cycles: tuple[tuple[str, ...], ...]

    def cyclic(self, collection: str) -> bool:
        return any(collection in group for group in self.cycles)


def traverse(dataset: Dataset) -> Traversal:
    names = [c.name for c in dataset.collections]
    seeds = [c.name for c in dataset.collections if c.identities]
    reached: list[str] = []
    queue = deque(seeds)
    seen = set(seeds)
    while queue:
        name = queue.popleft()
        reached.append(name)
        for edge in dataset.edges:
            if edge.source == name and edge.target not in seen:
                seen.add(edge.target)
                queue.append(edge.target)
    incoming = {
        name: tuple(e for e in dataset.edges if e.target == name and e.source in seen)
        for name in reached
    }
    return Traversal(
        order=tuple(reached),
        incoming=incoming,
        unreachable=tuple(n for n in names if n not in seen),
        cycles=_cycles(reached, incoming),
    )


def _cycles(nodes: list[str], incoming: dict[str, tuple[Edge, ...]]) -> tuple[tuple[str, ...], ...]:
    """Strongly connected groups of ``nodes`` with a cycle in them (Tarjan's algorithm)."""
    successors: dict[str, list[str]] = {n: [] for n in nodes}
    for target, edges in incoming.items():
        for edge in edges:
            successors[edge.source].append(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[tuple[str, ...]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in successors[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 or node in successors[node]:
                groups.append(tuple(n for n in nodes if n in group))

    for node in nodes:
        if node not in index:
            visit(node)
    return tuple(sorted(groups, key=lambda g: nodes.index(g[0])))
