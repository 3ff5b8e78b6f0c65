"""Span growth: detected identifiers cover the whole identifier, and ordinary speech beside them
is left alone. Patterns only (no spaCy): the detectors here are regexes, cues and gazetteers."""

from __future__ import annotations

import pytest

from pipeline.config import RedactConfig
from pipeline.redact import Redactor, Span
from pipeline.redact.growth import join_adjacent


@pytest.fixture(scope="module")
def patterns_only() -> Redactor:
    return Redactor(RedactConfig(detectors=[d for d in RedactConfig().detectors
                                            if d not in ("spacy", "rampart")]), nlp=None)


@pytest.mark.parametrize("text, expected", [
    # addresses take in house numbers, unit lines, town, region, postal code and country
    ("Send it to 20789 Allika 46\n Suite 501\n Riisa\n Estonia 62488 please.",
     [("20789 Allika 46\n Suite 501\n Riisa\n Estonia 62488", "ADDRESS")]),
    ("It is 5638 Aasa 43\nHumilimont, 78618", [("5638 Aasa 43\nHumilimont, 78618", "ADDRESS")]),
    ("Meet me at PSC 0413, Box 8144\nAPO AA 42323", [("PSC 0413, Box 8144\nAPO AA 42323",
                                                      "ADDRESS")]),
    ("The bus station is on Villacher Strasse 89", [("Villacher Strasse 89", "ADDRESS")]),
    ("She lives on 69 Av Sidi Lakhmi street.", [("69 Av Sidi Lakhmi", "ADDRESS")]),
    ("It is the corner of Csabai kapu 39. and Mathias Pass",
     [("the corner of Csabai kapu 39. and Mathias Pass", "ADDRESS")]),
    # a sentence end or a blank line ends the address; the full stop stays in the text
    ("I live at 14 Crown Street. Then we moved", [("14 Crown Street", "ADDRESS")]),
    ("I lived at 14 Crown Street and 3 years later left", [("14 Crown Street", "PLACE")]),
    # phones with groups and extensions; years are not phone numbers
    ("Desk: +1-903-140-4508x769", [("+1-903-140-4508x769", "PHONE")]),
    ("Phone:\n467 3395\n", [("467 3395", "PHONE")]),
    ("Call 21 284 698 2548 today", [("21 284 698 2548", "PHONE")]),
    ("we met in 2014 2015 2016 and 2017", []),
    # firms of three surnames; three first names or three weekdays are not firms
    ("The Davis, Reynolds and Williamson Orchestra", [("Davis, Reynolds and Williamson Orchestra",
                                                       "ORG")]),
    ("Come on Friday, Saturday, and Sunday.", []),
    # lower-case names after a naming cue, with a rare surname; not after 'called' + a noun
    ("my name is hubert", [("hubert", "PERSON")]),
    ("they're called overflows, when they fill", []),
    ("My son is at the nursery and my keyworker said it was fine.", []),
])
def test_spans_grow_to_the_whole_identifier(patterns_only: Redactor, text: str,
                                            expected: list[tuple[str, str]]) -> None:
    spans = patterns_only.detect([text])[0]
    assert [(text[s.start:s.end], s.label) for s in spans] == expected


def test_names_in_a_list_with_a_found_name_are_names(patterns_only: Redactor) -> None:
    text = "My son Kayden, jayden and bella came"
    spans = patterns_only.detect([text])[0]
    assert [text[s.start:s.end] for s in spans] == ["Kayden", "jayden", "bella"]


@pytest.mark.parametrize("text, spans, expected", [
    ("Donald trump said", [Span(0, 6, "PERSON", "ner", 0.85), Span(7, 12, "PERSON",
                                                                      "recurrence", 1.0)],
     [(0, 12)]),
    ("Sarah, Tom", [Span(0, 5, "PERSON", "ner", 0.85), Span(7, 10, "PERSON", "ner", 0.85)],
     [(0, 5), (7, 10)]),
    ("Sarah 07700 900461", [Span(0, 5, "PERSON", "ner", 0.85), Span(6, 18, "PHONE", "pattern",
                                                                   0.9)],
     [(0, 5), (6, 18)]),
])
def test_adjacent_names_join(text: str, spans: list[Span], expected: list[tuple[int, int]]
                             ) -> None:
    assert [(s.start, s.end) for s in join_adjacent(text, spans)] == expected
