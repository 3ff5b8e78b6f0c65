"""Leak check: no identifier from the pseudonym key may appear in anything themeflow wrote.

Every file under a folder is scanned (parquet tables cell by cell, everything else as text) for
every name-like identifier in the key, whole-word and case-insensitive; structured identifiers
(phones, emails) are matched exactly. A hit fails the run; the report names the file and the
pseudonym, never the identifier, so the error message itself cannot leak.

Usage::

    leaks = scan_folder(run_dir, key.identifiers())
    if leaks: raise LeakError(...)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd

NAME_TYPES = {"PERSON", "PLACE", "ORG"}


@dataclass(frozen=True)
class Leak:
    path: Path
    pseudonym: str
    count: int


def _matchers(identifiers: Iterable[tuple[str, str, str]], skip: Callable[[str], bool]
              ) -> list[tuple[re.Pattern[str], dict[str, str]]]:
    """Two alternations (names case-insensitive, the rest exact) and match -> pseudonym maps."""
    groups: dict[bool, dict[str, str]] = {True: {}, False: {}}
    for ident, label, pseudo in identifiers:
        ident = " ".join(ident.split())
        if skip(ident) or len(ident) < 3:
            continue
        fold = label in NAME_TYPES
        groups[fold][ident.casefold() if fold else ident] = pseudo
    out = []
    for fold, table in groups.items():
        if not table:
            continue
        words = sorted(table, key=len, reverse=True)
        body = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in words)
        regex = re.compile(rf"(?<![\w\[])(?:{body})(?![\w\]])", re.IGNORECASE if fold else 0)
        out.append((regex, {("f:" if fold else "x:") + k: v for k, v in table.items()}))
    return out


def _file_texts(path: Path) -> Iterable[str]:
    """The text a file holds: parquet cell by cell (its raw bytes are binary noise in which short
    acronyms turn up by chance), anything else decoded as text."""
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
        yield "\n".join(map(str, frame.columns))
        for col in frame.columns:
            if not pd.api.types.is_numeric_dtype(frame[col]):
                yield "\n".join(map(str, frame[col].tolist()))
        return
    if path.suffix in (".npz", ".npy", ".png"):  # binary; figures hold no text chunks
        return
    data = path.read_bytes()
    yield data.decode("utf-8", errors="ignore")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        yield data.decode("utf-16", errors="ignore")


def scan_texts(texts: Iterable[str], identifiers: Iterable[tuple[str, str, str]],
               skip: Callable[[str], bool] = lambda s: False) -> dict[str, int]:
    """pseudonym -> hits, over the given texts."""
    matchers = _matchers(identifiers, skip)
    hits: dict[str, int] = {}
    for text in texts:
        for regex, table in matchers:
            for m in regex.finditer(text):
                found = " ".join(m.group().split())
                pseudo = table.get("f:" + found.casefold()) or table.get("x:" + found) or "?"
                hits[pseudo] = hits.get(pseudo, 0) + 1
    return hits


def scan_folder(root: Path, identifiers: Iterable[tuple[str, str, str]],
                skip: Callable[[str], bool] = lambda s: False) -> list[Leak]:
    idents = list(identifiers)
    leaks = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        for pseudo, n in sorted(scan_texts(_file_texts(path), idents, skip).items()):
            leaks.append(Leak(path, pseudo, n))
    return leaks
