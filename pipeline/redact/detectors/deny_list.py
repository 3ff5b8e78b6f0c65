"""Identifiers a team lists itself (``deny.txt``, bundled and the study's own): always redacted,
case-insensitively, as whole words. A line may name its type: ``Bellshill, PLACE``."""

from __future__ import annotations

import re
from pathlib import Path

from pipeline.config import RedactConfig
from pipeline.keys import normalise_identifier
from pipeline.lexicons import lexicon_path, phrase_alternation, read_entries
from pipeline.redact.detectors.base import Context, Detector
from pipeline.redact.spans import Span


def alternation(words: list[str]) -> re.Pattern[str] | None:
    """Any of ``words`` as a whole word, longest first, any case, any run of spaces."""
    body = phrase_alternation(words)
    return re.compile(rf"(?<![\w\[])(?:{body})(?![\w\]])", re.IGNORECASE) if body else None


class DenyList(Detector):
    name = "deny_list"
    version = 1

    def __init__(self, cfg: RedactConfig, study_lexicons: Path | None = None) -> None:
        entries = read_entries(lexicon_path(f"redaction/{cfg.deny_list}"))
        if study_lexicons is not None:
            entries += read_entries(study_lexicons / cfg.deny_list)
        self.deny = []
        for entry in entries:
            text, _, label = entry.partition(",")
            self.deny.append((text.strip(), (label.strip() or "PERSON").upper()))
        self.pattern = alternation([d for d, _ in self.deny])
        self.types = {normalise_identifier(d): t for d, t in self.deny}

    def reads(self) -> tuple[object, ...]:
        return (self.deny,)

    def find(self, texts: list[str], context: Context) -> list[list[Span]]:
        if self.pattern is None:
            return [[] for _ in texts]
        return [[Span(m.start(), m.end(), self.types.get(normalise_identifier(m.group()),
                                                         "PERSON"), "deny_list", 1.0, "deny list")
                 for m in self.pattern.finditer(text)] for text in texts]
