"""Access to the data in ``lexicons/``: word lists, patterns and frameworks, read by name.

Why: words and patterns are data that teams tune; code only reads them. A study may add its own
lists in ``<study>/lexicons/`` which extend the bundled ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path

import yaml

LEXICON_DIR = Path(__file__).resolve().parent.parent / "lexicons"


def lexicon_path(name: str) -> Path:
    return LEXICON_DIR / name


def phrase_alternation(phrases: Iterable[str]) -> str:
    """A regular expression body matching any of ``phrases`` (longest first, so "my key worker"
    wins over "my key"), each written with any run of spaces between its words."""
    unique = sorted({p for p in phrases if p.strip()}, key=lambda p: (-len(p), p))
    return "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in unique)


def fill_placeholders(pattern: str, parts: Mapping[str, str]) -> str:
    """A pattern from a YAML lexicon with its ``{name}`` placeholders (the keys of ``parts``)
    replaced by their regular expressions; quantifiers such as ``{1,2}`` are left alone."""
    for name, body in parts.items():
        pattern = pattern.replace("{" + name + "}", body)
    return pattern


def parse_word_list(text: str) -> list[str]:
    """One entry per line; ``#`` starts a comment; blank lines ignored; lower-cased."""
    out = []
    for line in text.splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry:
            out.append(entry.lower())
    return out


def read_word_list(name: str) -> tuple[str, ...]:
    """A bundled word list. Cached per file version: a long-lived process (``serve``, the review
    server) sees an edited list at once, as the detection cache's fingerprint does."""
    return _read_word_list(lexicon_path(name), _version(lexicon_path(name)))


def _version(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


@lru_cache(maxsize=64)
def _read_word_list(path: Path, version: tuple[int, int]) -> tuple[str, ...]:
    return tuple(parse_word_list(path.read_text(encoding="utf-8")))


def read_entries(path: Path, lower: bool = False) -> list[str]:
    """Entries of a user word list (case kept unless ``lower``); missing file = empty list."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry:
            out.append(entry.lower() if lower else entry)
    return out


def read_yaml(name: str) -> dict:
    """A bundled YAML file, cached per file version like ``read_word_list``."""
    return _read_yaml(lexicon_path(name), _version(lexicon_path(name)))


@lru_cache(maxsize=32)
def _read_yaml(path: Path, version: tuple[int, int]) -> dict:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)
