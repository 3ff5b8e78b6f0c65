from __future__ import annotations

import pandas as pd
import pytest

from pipeline.indirect import flag_passages, flag_text


@pytest.mark.parametrize("text, expected", [
    ("My son was 7 years old then.", [("exact_age", "7 years old")]),
    ("She's twenty-three years old and aged 19 when she had him.",
     [("exact_age", "twenty-three years old"), ("exact_age", "aged 19")]),
    ("He was born on the 3rd of March, at home.", [("exact_date", "3rd of March")]),
    ("I'm a headteacher, so everybody knows me.", [("rare_occupation", "I'm a headteacher")]),
    ("The headteacher was lovely.", []),                       # not about the speaker
    ("I have epilepsy and go to [ORG_2] every week.", [("health_with_place", "epilepsy")]),
    ("I have epilepsy, it's under control.", []),              # no place: not flagged
    ("I was the only black mum at the school gate.", [("unique_circumstance", "the only black")]),
    ("I worked sixteen hours a week in May.", []),
])
def test_flags(text: str, expected: list[tuple[str, str]]) -> None:
    assert [(kind, term) for kind, _, _, term in flag_text(text)] == expected
    for _, a, b, term in flag_text(text):
        assert text[a:b] == term


def test_flag_passages_table() -> None:
    passages = pd.DataFrame({"passage_id": ["p1", "p2"], "doc_id": ["d", "d"],
                             "text": ["Nothing here at all.", "Aged 42 with diabetes in [PLACE_1]."]})
    flags = flag_passages(passages)
    assert list(flags.itertuples(index=False, name=None)) == [
        ("p2", "d", "exact_age", 0, 7, "Aged 42"), ("p2", "d", "health_with_place", 13, 21,
                                                    "diabetes")]
