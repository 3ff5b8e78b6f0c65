"""Frameworks (codebooks): the elements passages are mapped onto.

A framework is YAML with ``elements``: each has ``id``, ``label``, ``definition`` and optional
``indicators`` and ``examples``. ``map.framework`` names a bundled file in
``lexicons/frameworks/`` (without ``.yaml``) or a path to a team's own file.

Usage::

    fw = load_framework("collaborative_innovation")
    [e.id for e in fw.elements]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipeline.errors import ConfigError
from pipeline.lexicons import lexicon_path


@dataclass(frozen=True)
class Element:
    id: str
    label: str
    definition: str
    indicators: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    parent: str | None = None


@dataclass(frozen=True)
class Framework:
    id: str
    name: str
    elements: tuple[Element, ...] = field(default_factory=tuple)

    def element(self, element_id: str) -> Element:
        return next(e for e in self.elements if e.id == element_id)


def framework_path(name: str, study_root: Path | None = None) -> Path:
    candidates = [Path(name)]
    if study_root is not None:
        candidates.append(study_root / name)
    candidates.append(lexicon_path(f"frameworks/{name}.yaml"))
    for path in candidates:
        if path.is_file():
            return path
    raise ConfigError(f"framework {name!r} not found (looked for a file, then "
                      f"lexicons/frameworks/{name}.yaml)")


def load_framework(name: str, study_root: Path | None = None) -> Framework:
    """A bundled or YAML framework, or a team's codebook (``.csv``, REFI-QDA ``.qdc``)."""
    path = framework_path(name, study_root)
    if path.suffix.lower() in (".csv", ".qdc"):
        from pipeline.mapping.codebook import load_codebook

        return load_codebook(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        elements = tuple(
            Element(str(e["id"]), str(e.get("label", e["id"])), " ".join(str(e["definition"]).split()),
                    tuple(e.get("indicators") or ()), tuple(e.get("examples") or ()))
            for e in data["elements"])
    except (yaml.YAMLError, KeyError, TypeError) as exc:
        raise ConfigError(f"not a valid framework file ({exc}); each element needs id and "
                          "definition", path) from exc
    ids = [e.id for e in elements]
    if not ids or len(set(ids)) != len(ids):
        raise ConfigError("framework needs at least one element and unique ids", path)
    return Framework(str(data.get("id", path.stem)), str(data.get("name", path.stem)), elements)


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
        tops.append(Element(e.id, e.label, e.definition or e.label, tuple(indicators),
                            tuple(examples)))
    return Framework(framework.id, framework.name, tuple(tops))
