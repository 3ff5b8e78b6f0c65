"""The pseudonym key: identifier -> typed pseudonym, kept in the study folder, outside outputs/.

The same identifier (compared case- and space-insensitively) always gets the same pseudonym, in
every block and every run, because the key is read before and extended after each run. The file
is only ever extended and is replaced atomically, so a crash can never lose an entry.

Usage::

    key = PseudonymKey.load(study / "keys" / "pseudonyms.json")
    key.assign("Jayden", "PERSON")   # '[PERSON_1]'
    key.save()
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from pipeline.errors import ConfigError
from pipeline.fsutil import atomic_write
from pipeline.textfold import fold

log = logging.getLogger("themeflow")

# The pseudonym token, ``[PERSON_3]`` or ``[NHS_NUMBER_1]``: a type in capitals (words joined by
# underscores), then a number. This module owns the format: every reader of pseudonyms in text
# uses these patterns, so a new type (any label in a lexicon) is read the same way everywhere.
PSEUDONYM_TOKEN = r"\[[A-Z]+(?:_[A-Z]+)*_\d+\]"   # no groups: for splitting and alternations
PSEUDONYM_RE = re.compile(r"\[(?P<label>[A-Z]+(?:_[A-Z]+)*)_(?P<number>\d+)\]")
# The marker hand anonymisation leaves in transcripts (alaska's authors left 2,187 of them).
HAND_REDACTION = "[REDACTED]"
# A pseudonym or the hand-redaction marker: the placeholders a redacted text can hold.
PLACEHOLDER_RE = re.compile(rf"{PSEUDONYM_RE.pattern}|{re.escape(HAND_REDACTION)}")
# Any tag in capitals in brackets (a pseudonym, [REDACTED], a transcriber's [INAUDIBLE]): text
# holding one is never an identifier itself.
CAPITALS_TAG_RE = re.compile(r"\[[A-Z_]+(?:_\d+)?\]")


def pseudonym_token(label: str, number: int) -> str:
    """The token for the ``number``-th identifier of type ``label``."""
    return f"[{label}_{number}]"


def _keep_private(path: Path) -> None:
    """The key names every participant: readable by its owner only. A key restored from a
    backup or copied with another mode is set back to 0600, with a warning."""
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        os.chmod(path, 0o600)
        log.warning("the pseudonym key %s was readable by other accounts (mode %03o); it is "
                    "0600 again", path, mode)


def normalise_identifier(text: str) -> str:
    return " ".join(text.split()).casefold()


_WORD = re.compile(r"\w+")
T = TypeVar("T", bound=Hashable)


class FirstWordIndex(Generic[T]):
    """Key identifiers by their first word, for searching text for thousands of them at once.

    An identifier can only match where its first word is a whole token of the text (matches are
    bounded by non-word characters), so a text need only be searched for the identifiers whose
    first word it contains: a small alternation instead of the whole key tried at every
    character. Identifiers that do not start with a word character ("+44 ...") are always
    candidates. Used by the recurrence pass and the leak check."""

    def __init__(self, items: Iterable[T], text_of: Callable[[T], str]) -> None:
        self.by_first: dict[str, set[T]] = {}
        self.always: set[T] = set()
        for item in items:
            m = _WORD.match(text_of(item).strip())
            if m:
                self.by_first.setdefault(m.group().casefold(), set()).add(item)
            else:
                self.always.add(item)

    def candidates(self, text: str) -> frozenset[T]:
        tokens = set(_WORD.findall(text.casefold()))  # one casefold, not one per token
        found = set(self.always)
        for t in tokens & self.by_first.keys():
            found |= self.by_first[t]
        return frozenset(found)


@dataclass
class PseudonymKey:
    path: Path
    entries: dict[str, dict[str, str]] = field(default_factory=dict)  # norm -> {identifier,type,pseudonym}
    counters: dict[str, int] = field(default_factory=dict)
    dirty: bool = False

    @classmethod
    def load(cls, path: Path) -> "PseudonymKey":
        if not path.exists():
            return cls(path)
        _keep_private(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            entries = {normalise_identifier(e["identifier"]): e for e in data["entries"]}
            counters = {k: int(v) for k, v in data.get("counters", {}).items()}
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"pseudonym key is damaged ({exc}); restore it from backup, "
                              "themeflow will not overwrite it", path) from exc
        return cls(path, entries, counters)

    def _entry(self, identifier: str) -> dict[str, str] | None:
        """The entry as written, else the entry its look-alike fold names ("K\u0430yden" with a
        Cyrillic a is "Kayden": same person, same pseudonym)."""
        entry = self.entries.get(normalise_identifier(identifier))
        if entry is None and not identifier.isascii():
            entry = self.entries.get(normalise_identifier(fold(identifier)))
        return entry

    def get(self, identifier: str) -> str | None:
        entry = self._entry(identifier)
        return entry["pseudonym"] if entry else None

    def assign(self, identifier: str, label: str, pseudonym: str | None = None) -> str:
        """The pseudonym for ``identifier``, creating ``[LABEL_n]`` (or the given one) if new.
        A look-alike spelling of a known identifier is added with that identifier's pseudonym."""
        norm = normalise_identifier(identifier)
        if norm in self.entries:
            return self.entries[norm]["pseudonym"]
        known = self._entry(identifier)
        if known is not None:
            label, pseudonym = known["type"], known["pseudonym"]
        if pseudonym is None:
            self.counters[label] = self.counters.get(label, 0) + 1
            pseudonym = pseudonym_token(label, self.counters[label])
        self.entries[norm] = {"identifier": " ".join(identifier.split()), "type": label,
                              "pseudonym": pseudonym}
        self.dirty = True
        return pseudonym

    def digest(self) -> str:
        """Identifies the key's content (what is in it, not where it is stored)."""
        import hashlib

        return hashlib.sha256(json.dumps(self.entries, sort_keys=True).encode()).hexdigest()

    def identifiers(self) -> list[tuple[str, str, str]]:
        """(identifier, type, pseudonym) for every entry, sorted for determinism."""
        return sorted((e["identifier"], e["type"], e["pseudonym"]) for e in self.entries.values())

    def save(self) -> None:
        if not self.dirty and self.path.exists():
            return
        data = {"version": 1, "counters": dict(sorted(self.counters.items())),
                "entries": [self.entries[k] for k in sorted(self.entries)]}
        atomic_write(self.path, json.dumps(data, indent=1, ensure_ascii=False), private=True,
                     durable=True)
        self.dirty = False
