"""Regular expressions for structured identifiers (``lexicons/redaction/patterns.yaml``: emails,
phone numbers, postcodes, dates of birth, ...) and firms named by three surnames ("Davis,
Reynolds and Williamson")."""

from __future__ import annotations

import regex

from pipeline.config import RedactConfig
from pipeline.lexicons import fill_placeholders, lexicon_path, read_yaml
from pipeline.redact import gazetteers
from pipeline.redact import growth as span_growth
from pipeline.redact.detectors.base import Context, Detector
from pipeline.redact.spans import Span, clean_entity
from pipeline.redact.vocabulary import Vocabulary, file_digest

NAME_TYPES = {"PERSON", "PLACE", "ORG", "NAME"}
PARTS_FILE = "redaction/date_parts.yaml"  # {day}, {month}, {year}


class Patterns(Detector):
    name = "patterns"
    version = 1

    def __init__(self, cfg: RedactConfig, vocab: Vocabulary) -> None:
        self.cfg, self.vocab = cfg, vocab
        parts = read_yaml(PARTS_FILE)
        self.patterns = [
            (p["name"], p["label"], float(p["score"]),
             regex.compile(fill_placeholders(p["regex"], parts),
                           0 if p.get("case_sensitive") else regex.IGNORECASE))
            for p in read_yaml(f"redaction/{cfg.patterns}")
        ]

    def reads(self) -> tuple[object, ...]:
        return (file_digest(lexicon_path(f"redaction/{self.cfg.patterns}")),
                file_digest(lexicon_path(PARTS_FILE)), span_growth.FIRM.pattern)

    def find(self, texts: list[str], context: Context) -> list[list[Span]]:
        return [self._find_one(text) for text in texts]

    def _find_one(self, text: str) -> list[Span]:
        spans = []
        for name, label, score, pattern in self.patterns:
            for m in pattern.finditer(text):
                if label in NAME_TYPES:
                    left, right = clean_entity(m.group())
                    if self.vocab.is_allowed(m.group()[left:right]):
                        continue
                    spans.append(Span(m.start() + left, m.start() + right, label, "pattern",
                                      score, name))
                else:
                    spans.append(Span(m.start(), m.end(), label, "pattern", score, name))
        spans += [Span(a, b, "ORG", "pattern", 0.8, "firm of surnames")
                  for a, b in span_growth.firm_names(text, gazetteers.first_names(),
                                                      self.vocab.is_plain)]
        return spans
