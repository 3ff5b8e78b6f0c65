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
import os
import re
import tempfile
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from pipeline.errors import ConfigError


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
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            entries = {normalise_identifier(e["identifier"]): e for e in data["entries"]}
            counters = {k: int(v) for k, v in data.get("counters", {}).items()}
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"pseudonym key is damaged ({exc}); restore it from backup, "
                              "themeflow will not overwrite it", path) from exc
        return cls(path, entries, counters)

    def get(self, identifier: str) -> str | None:
        entry = self.entries.get(normalise_identifier(identifier))
        return entry["pseudonym"] if entry else None

    def assign(self, identifier: str, label: str, pseudonym: str | None = None) -> str:
        """The pseudonym for ``identifier``, creating ``[LABEL_n]`` (or the given one) if new."""
        norm = normalise_identifier(identifier)
        if norm in self.entries:
            return self.entries[norm]["pseudonym"]
        if pseudonym is None:
            self.counters[label] = self.counters.get(label, 0) + 1
            pseudonym = f"[{label}_{self.counters[label]}]"
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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"version": 1, "counters": dict(sorted(self.counters.items())),
                "entries": [self.entries[k] for k in sorted(self.entries)]}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".pseudonyms-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, ensure_ascii=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)
        self.dirty = False
