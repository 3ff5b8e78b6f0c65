from __future__ import annotations

import pytest

from pipeline.review.surrogates import surrogate_renderer


@pytest.mark.parametrize("text, expected", [
    ("Then [PERSON_1] came round.", "Then Alex came round."),
    ("[PERSON_2] and [PERSON_1] from [PLACE_1].", "Sam and Alex from Eastfield."),
    ("Ring [PHONE_1].", "Ring [PHONE_1]."),
    ("At [ORG_2] with [PERSON_41].", "At the College with Alex 2."),
])
def test_surrogates(text: str, expected: str) -> None:
    assert surrogate_renderer([])(text) == expected


def test_surrogate_never_a_real_identifier() -> None:
    render = surrogate_renderer([("Alex", "PERSON", "[PERSON_7]"), ("sam", "PERSON", "[PERSON_9]")])
    assert render("[PERSON_1] and [PERSON_2]") == "Jo and Chris"
