"""Frameworks (codebooks): the elements passages are mapped onto.

A ``Framework`` is a tuple of ``Element``s (id, label, definition, optional indicators, examples
and parent). This module holds the types only; ``pipeline.mapping.codebook`` reads them from
files (a bundled YAML framework, or a team's codebook), so the two never import each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Element:
    id: str
    label: str
    definition: str
    indicators: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    parent: str | None = None
    question: str | None = None  # a survey question's own code: only its answers are coded with it


@dataclass(frozen=True)
class Framework:
    id: str
    name: str
    elements: tuple[Element, ...] = field(default_factory=tuple)

    def element(self, element_id: str) -> Element:
        return next(e for e in self.elements if e.id == element_id)


def top_level(framework: Framework) -> Framework:
    """The top-level codes only; each keeps its descendants' definitions as indicators and their
    examples, so that a parent code is described by everything filed under it."""
    children: dict[str, list[Element]] = {}
    for e in framework.elements:
        if e.parent:
            children.setdefault(e.parent, []).append(e)

    def descendants(eid: str) -> list[Element]:
        out = []
        for child in children.get(eid, []):
            out += [child, *descendants(child.id)]
        return out

    tops = []
    for e in framework.elements:
        if e.parent:
            continue
        below = descendants(e.id)
        indicators = [*e.indicators] + [d.definition or d.label for d in below]
        examples = [*e.examples] + [x for d in below for x in d.examples]
        # a codebook without definitions still names its codes: "bad_memory" reads as words
        tops.append(Element(e.id, e.label, e.definition or e.label.replace("_", " "),
                            tuple(indicators), tuple(examples), question=e.question))
    return Framework(framework.id, framework.name, tuple(tops))
