"""What a definition refers to: other segments, events, traits and event properties.

Used to refuse cycles between segments, to refresh a segment after the segments it
builds on, and to warn about names the workspace has never seen (a typo, not an error).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from loopline.domain.segments.definition import (
    And,
    EventStep,
    Inactive,
    InSegment,
    Not,
    Or,
    Performed,
    PropertyFilter,
    Sequence,
    Trait,
)


def walk(condition: Any) -> Iterator[Any]:
    """Yield a condition and every condition nested in it."""
    yield condition
    if isinstance(condition, And | Or):
        for child in condition.conditions:
            yield from walk(child)
    elif isinstance(condition, Not):
        yield from walk(condition.condition)


@dataclass
class References:
    """The names a definition uses, each with where it is used (a path for messages)."""

    segments: set[str] = field(default_factory=set)
    events: set[str] = field(default_factory=set)
    traits: set[str] = field(default_factory=set)
    properties: set[tuple[str, str]] = field(default_factory=set)  # (event, property path)


def references(condition: Any) -> References:
    """Return what ``condition`` refers to."""
    found = References()

    def steps(event: str, where: list[PropertyFilter]) -> None:
        found.events.add(event)
        found.properties.update((event, item.property) for item in where)

    for node in walk(condition):
        if isinstance(node, InSegment):
            found.segments.add(node.segment_id)
        elif isinstance(node, Trait):
            found.traits.add(node.trait)
        elif isinstance(node, Performed):
            steps(node.event, node.where)
        elif isinstance(node, Sequence):
            for step in (node.first, node.then):
                assert isinstance(step, EventStep)
                steps(step.event, step.where)
        elif isinstance(node, Inactive) and node.event is not None:
            found.events.add(node.event)
        # Engagement counts message events, which appear once messages go out: not a typo.
    return found


def find_cycle(start: str, uses: Mapping[str, set[str]]) -> list[str] | None:
    """Return a path of segment ids from ``start`` back to itself through ``uses``, if any."""
    path: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in path:
            return [*path[path.index(node):], node]
        if node in done:
            return None
        path.append(node)
        for used in sorted(uses.get(node, ())):
            cycle = visit(used)
            if cycle is not None:
                return cycle
        path.pop()
        done.add(node)
        return None

    return visit(start)


def refresh_order(start: str, uses: Mapping[str, set[str]]) -> list[str]:
    """Return ``start`` and the segments it builds on, each after those it uses (no cycles)."""
    order: list[str] = []

    def visit(node: str) -> None:
        if node in order:
            return
        for used in sorted(uses.get(node, ())):
            visit(used)
        order.append(node)

    visit(start)
    return order
