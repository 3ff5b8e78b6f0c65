"""Reading frameworks and codebooks: themeflow's YAML frameworks, CSV codebooks (``code, parent,
definition`` and optional ``examples``, several separated by `` | ``, and ``question_id``) as exported from NVivo,
ATLAS.ti or MAXQDA via a spreadsheet, and REFI-QDA codebooks (``.qdc``). Each becomes a
``Framework`` whose elements keep their ``parent``. A new format is one loader in ``LOADERS``.

Usage::

    fw = load_framework("collaborative_innovation")   # bundled, by name
    fw = load_codebook(Path("codebook.csv"))           # a team's file
"""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import yaml

from pipeline.errors import ConfigError
from pipeline.lexicons import lexicon_path
from pipeline.mapping.framework import Element, Framework

QDA_NS = "urn:QDA-XML:codebook:1.0"


def load_codebook(path: Path) -> Framework:
    """A team's codebook file, read by the loader for its suffix (CSV by default)."""
    return LOADERS.get(path.suffix.lower(), _load_csv)(path)


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
    """``map.framework``: a bundled framework's name (``lexicons/frameworks/<name>.yaml``), or a
    path, absolute or in the study folder, to a framework or codebook file of any ``LOADERS``
    format."""
    path = framework_path(name, study_root)
    return LOADERS.get(path.suffix.lower(), _load_yaml)(path)


def _load_yaml(path: Path) -> Framework:
    """themeflow's own format: ``elements``, each with ``id``, ``definition`` and optional
    ``label``, ``indicators`` and ``examples``."""
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


def _load_csv(path: Path) -> Framework:
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        raise ConfigError(f"codebook cannot be read as CSV: {exc}", path) from exc
    if not rows or "code" not in rows[0]:
        raise ConfigError("codebook CSV needs a 'code' column (and parent, definition)", path)
    elements, seen = [], set()
    for row in rows:
        code = (row.get("code") or "").strip()
        # a question_id column (open-ended survey answers) makes each question's codes its own:
        # "memory" under two questions is two codes, ids "<question>/<code>"
        question = (row.get("question_id") or "").strip() or None
        key = f"{question}/{code}" if question else code
        if not code or key in seen:
            continue
        seen.add(key)
        examples = tuple(x.strip() for x in (row.get("examples") or "").split(" | ") if x.strip())
        parent = (row.get("parent") or "").strip() or None
        if parent and question:
            parent = f"{question}/{parent}"
        elements.append(Element(key, code.split(" > ")[-1], (row.get("definition") or "").strip(),
                                (), examples, parent, question))
    return Framework(path.stem, path.stem, tuple(elements))


def _load_qdc(path: Path) -> Framework:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ConfigError(f"not a REFI-QDA codebook: {exc}", path) from exc
    ns = xml_namespace(root) or QDA_NS
    codes = root.find(f".//{{{ns}}}Codes")
    if codes is None:
        raise ConfigError("REFI-QDA codebook has no <Codes>", path)
    elements = []
    for code, full, parent in qda_codes(codes, ns):
        desc = code.find(f"{{{ns}}}Description")
        elements.append(Element(full, code.get("name", ""), (desc.text or "").strip()
                                if desc is not None else "", (), (), parent))
    return Framework(path.stem, path.stem, tuple(elements))


def xml_namespace(root: ET.Element) -> str:
    """The namespace of an element's tag ("" when it has none)."""
    return root.tag[1:].split("}")[0] if root.tag.startswith("{") else ""


def qda_codes(codes: ET.Element, ns: str) -> list[tuple[ET.Element, str, str | None]]:
    """Every ``<Code>`` under a REFI-QDA ``<Codes>``, depth first, with its element id (its
    path, ``Parent > Child``) and its parent's id: one rule for the ``.qdc`` loader and
    ``themeflow import``, whose codings name these ids."""
    out: list[tuple[ET.Element, str, str | None]] = []

    def walk(node: ET.Element, parent: str | None) -> None:
        for code in node.findall(f"{{{ns}}}Code" if ns else "Code"):
            full = f"{parent} > {code.get('name', '')}" if parent else code.get("name", "")
            out.append((code, full, parent))
            walk(code, full)

    walk(codes, None)
    return out


LOADERS: dict[str, Callable[[Path], Framework]] = {
    ".yaml": _load_yaml, ".yml": _load_yaml, ".csv": _load_csv, ".qdc": _load_qdc}
