"""Spans: what a detector finds (offsets, type, detector, score) and the audit row it becomes.

Detection returns ``Span``s; ``merge_spans`` settles overlaps by ``PRIORITY``; ``apply_spans``
rewrites text with pseudonyms, as Presidio separates analysis from anonymisation. Every other
redaction module builds on these, and this module imports none of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The model's lower-case guesses on common words rank below every other detector: on their own
# they need the study to confirm them (``is_common_phrase``); another detector's hit does not.
PRIORITY = {"pattern": 5, "presidio": 5, "deny_list": 4, "speaker_label": 4, "name_cue": 3,
            "ner": 2, "rampart": 2, "proper_noun": 2, "gazetteer": 2, "ner_lower": 1.5,
            "rampart_lower": 1.5, "recurrence": 1}
# A model's guess that a common English word in lower case is a name ("fancy", "to the max"):
# kept only if the study also capitalises the word mid-sentence (planning decides).
MODEL_LOWER = {"ner_lower", "rampart_lower"}
# Hits the study must confirm before they count (``plan.is_common_phrase``): the model's, and a
# rare capitalised word's, can be a common word the study writes in lower case. Every other
# detector's hit stands on its own, and vouches for a merged span it is part of: a lower-case
# "dana" that spaCy and the first-name list both found stays redacted when the study never
# capitalises it.
STUDY_CONFIRMED = {"ner", "proper_noun", *MODEL_LOWER}


@dataclass(frozen=True)
class Span:
    """``detector`` is the kind of evidence (it sets the priority in a merge); ``rule`` is what
    fired: a pattern's name, the model's label, the cue ("cue: my son"). Never the text."""

    start: int
    end: int
    label: str
    detector: str
    score: float
    rule: str = ""


@dataclass
class Redaction:
    """An audit row: where, what kind, found by what; never the identifier itself."""

    doc_id: str
    turn_index: int
    start: int
    end: int
    label: str
    detector: str
    score: float
    pseudonym: str


def clean_entity(text: str) -> tuple[int, int]:
    """Trim 'the ', possessive 's and punctuation from an entity; returns (left, right) trims."""
    left, right = 0, len(text)
    while True:
        m = re.match(r"(?:the\s+|[^\w\[]+)", text[left:right], re.IGNORECASE)
        if m and m.end() > 0 and left + m.end() < right:
            left += m.end()
            continue
        m = re.search(r"(?:['’]s|['’]|[^\w\]]+)$", text[left:right])
        if m and m.start() > 0:
            right = left + m.start()
            continue
        return left, right


def merge_spans(spans: list[Span]) -> list[Span]:
    """Overlapping spans become one covering span (privacy first) with the type of the
    strongest (priority, then length; among equals the first in ``spans``). Its detector, score
    and rule are the strongest's too, unless that hit needs the study's confirmation
    (``STUDY_CONFIRMED``) and an overlapping one of the same priority does not: then they are
    that one's, so planning cannot drop what another detector vouched for."""
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        if merged and span.start < merged[-1].end:
            prev = merged[-1]
            best = max((prev, span), key=lambda s: (PRIORITY.get(s.detector, 0), s.end - s.start))
            vouch = best if best.detector not in STUDY_CONFIRMED else next(
                (s for s in (prev, span) if s.detector not in STUDY_CONFIRMED
                 and PRIORITY.get(s.detector, 0) == PRIORITY.get(best.detector, 0)), best)
            merged[-1] = Span(prev.start, max(prev.end, span.end), best.label, vouch.detector,
                              vouch.score, vouch.rule)
        else:
            merged.append(span)
    return merged


def apply_spans(text: str, spans: list[Span], pseudonyms: list[str]
                ) -> tuple[str, list[tuple[int, int]]]:
    """Replace each span by its pseudonym; returns new text and the pseudonyms' new offsets."""
    pieces: list[str] = []
    offsets: list[tuple[int, int]] = []
    cursor = 0
    length = 0
    for span, pseudo in zip(spans, pseudonyms):
        pieces.append(text[cursor:span.start])
        length += span.start - cursor
        offsets.append((length, length + len(pseudo)))
        pieces.append(pseudo)
        length += len(pseudo)
        cursor = span.end
    pieces.append(text[cursor:])
    return "".join(pieces), offsets
