"""``Redactor``: the configured detectors over a study's turns, their spans merged and grown,
and the recurrence matcher that finds every key identifier again.

The detectors (``pipeline/redact/detectors/``, one module each: spaCy NER, Rampart, the patterns,
Presidio's recognisers, the deny lists, name cues, speaker labels, word-rarity heuristics) are
listed in ``[redact] detectors``. Planning (``plan.py``) then redacts every recurrence, anywhere
in the study, of any identifier in the pseudonym key, so a name found once is removed everywhere.

Spans hold offsets, type, detector, score and rule, never the identifier. Raw text exists only
inside ingest and this package.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from pipeline.config import RedactConfig
from pipeline.keys import FirstWordIndex, PseudonymKey
from pipeline.lexicons import lexicon_path
from pipeline.progress import progress
from pipeline.redact import detectors as registry
from pipeline.redact import gazetteers
from pipeline.redact import growth as span_growth
from pipeline.redact.casing import is_shouting
from pipeline.redact.detectors import Context, Detector
from pipeline.redact.detectors.deny_list import alternation
from pipeline.redact.spans import Span, merge_spans
from pipeline.redact.vocabulary import Vocabulary, digest, file_digest
from pipeline.textfold import skeleton

# Guesses from word rarity and gazetteers: enough to redact, not to vouch for a neighbour.
WEAK_DETECTORS = {"proper_noun", "gazetteer"}
# Bump when the merging and growth here change what is found: detection caches are keyed on it.
DETECTOR_VERSION = 7

__all__ = ["RecurrenceMatcher", "Redactor"]


class Redactor:
    """Finds identifier spans in turn texts. Build once per run; ``detect`` is pure."""

    def __init__(self, cfg: RedactConfig, nlp: Any, study_lexicons: Path | None = None,
                 extra_allow: Iterable[str] = ()) -> None:
        self.cfg = cfg
        self.vocab = Vocabulary(cfg, study_lexicons, extra_allow)
        # ``nlp``: a spaCy pipeline, None (the spacy detector finds nothing), or a zero-argument
        # loader called on first use, so a rerun whose detections are all cached never loads it.
        self.detectors: list[Detector] = registry.build(cfg, self.vocab, nlp, study_lexicons)

    def warm(self) -> None:
        """Load everything ``detect`` uses now (models, Presidio, the word lists): a redaction
        worker does it as it starts, before its first chunk arrives."""
        for detector in self.detectors:
            detector.warm()
        gazetteers.first_names(), gazetteers.zipf("the")

    def fingerprint(self) -> str:
        """Identifies the detector set: detection caches are keyed on it. Each detector's
        fingerprint covers what it reads; the vocabulary and growth rules are shared."""
        return digest(DETECTOR_VERSION, self.cfg.name_heuristics, self.vocab.fingerprint(),
                      file_digest(lexicon_path("redaction/span_growth.yaml")),
                      [(d.name, d.fingerprint()) for d in self.detectors])

    def is_allowed(self, text: str) -> bool:
        return self.vocab.is_allowed(text)

    def find(self, texts: list[str], label_names: Iterable[str] = (), n_process: int = 1
             ) -> dict[str, list[list[Span]]]:
        """Each detector's own spans per text, before merging (``eval-redaction`` scores them
        one by one)."""
        context = Context(tuple(label_names), n_process)
        found = {}
        with progress("redact: finding identifiers (detectors)", len(self.detectors)) as advance:
            for detector in self.detectors:
                found[detector.name] = detector.find(texts, context)
                advance()
        return found

    def detect(self, texts: list[str], label_names: Iterable[str] = (), n_process: int = 1
               ) -> list[list[Span]]:
        """Spans per text from every detector (before recurrence), merged and grown, sorted.
        ``n_process`` > 1 runs spaCy in that many processes (same results, both cores busy)."""
        found = self.find(texts, label_names, n_process)
        return [self.combine(text, [s for spans in found.values() for s in spans[i]])
                for i, text in enumerate(texts)]

    def combine(self, text: str, spans: list[Span]) -> list[Span]:
        """One text's spans from all detectors, merged: first names listed beside a found
        person join it ("Silvana, adam and caleb"), then spans grow over surnames and
        addresses (``growth``)."""
        if self.cfg.name_heuristics:
            spans = spans + [Span(a, b, "PERSON", "name_list", 0.6, "listed with a name")
                             for a, b in span_growth.coordinated_names(
                                 text, [s for s in spans if s.detector not in WEAK_DETECTORS],
                                 self.vocab.is_listed_name)]
        return merge_spans(span_growth.grow_spans(
            text, merge_spans(spans), self.vocab.is_plain, gazetteers.zipf, is_shouting(text),
            gazetteers.first_names()))

    def recurrence_pattern(self, key: PseudonymKey) -> RecurrenceMatcher | None:
        """Every name-like identifier in the key, matched case-insensitively as whole words."""
        words = [ident for ident, _, _ in key.identifiers() if not self.is_allowed(ident)]
        return RecurrenceMatcher(words) if any(w.strip() for w in words) else None


class RecurrenceMatcher:
    """``finditer`` as the whole-key ``alternation(words)`` would give, but
    fast with thousands of identifiers: each turn is searched only for the identifiers that can
    occur in it (``FirstWordIndex``). Same matches, leftmost and longest first."""

    def __init__(self, words: list[str]) -> None:
        self.index = FirstWordIndex({w for w in words if w.strip()}, lambda w: w)

    @staticmethod
    @lru_cache(maxsize=4096)
    def _pattern(candidates: frozenset[str]) -> re.Pattern[str] | None:
        return alternation(list(candidates))

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        """Matches in ``skeleton(text)``: same offsets as ``text``, but "D\u0430vid" (Cyrillic
        a) is found as "David"; ``m.group()`` is the folded form, as the key spells it."""
        text = skeleton(text)
        candidates = self.index.candidates(text)
        pattern = self._pattern(candidates) if candidates else None
        return pattern.finditer(text) if pattern is not None else iter(())
