"""Codebooks teams bring: CSV (``code, parent, definition`` and optional ``examples``, several
separated by `` | ``) as exported from NVivo, ATLAS.ti or MAXQDA via a spreadsheet, and REFI-QDA
codebooks (``.qdc``). Both become a ``Framework`` whose elements keep their ``parent``.

Usage::

    fw = load_codebook(Path("codebook.csv"))
"""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from pathlib import Path

from pipeline.errors import ConfigError
from pipeline.mapping.framework import Element, Framework

QDA_NS = "urn:QDA-XML:codebook:1.0"


def load_codebook(path: Path) -> Framework:
    if path.suffix.lower() == ".qdc":
        return _load_qdc(path)
    return _load_csv(path)


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
        if not code or code in seen:
            continue
        seen.add(code)
        examples = tuple(x.strip() for x in (row.get("examples") or "").split(" | ") if x.strip())
        parent = (row.get("parent") or "").strip() or None
        elements.append(Element(code, code.split(" > ")[-1], (row.get("definition") or "").strip(),
                                (), examples, parent))
    return Framework(path.stem, path.stem, tuple(elements))


def _load_qdc(path: Path) -> Framework:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ConfigError(f"not a REFI-QDA codebook: {exc}", path) from exc
    ns = root.tag[1:].split("}")[0] if root.tag.startswith("{") else QDA_NS
    elements: list[Element] = []

    def walk(node: ET.Element, parent: str | None, prefix: str) -> None:
        for code in node.findall(f"{{{ns}}}Code"):
            name = code.get("name", "")
            full = f"{prefix} > {name}" if prefix else name
            desc = code.find(f"{{{ns}}}Description")
            elements.append(Element(full, name, (desc.text or "").strip() if desc is not None
                                    else "", (), (), parent))
            walk(code, full, full)

    codes = root.find(f".//{{{ns}}}Codes")
    if codes is None:
        raise ConfigError("REFI-QDA codebook has no <Codes>", path)
    walk(codes, None, "")
    return Framework(path.stem, path.stem, tuple(elements))
