from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.config import QuotesConfig
from pipeline.quotes import attribution, rank_candidates, readability

LONG = ("My keyworker sorted the nursery place and came with me to the college on the first "
        "day, which made all the difference to me.")


@pytest.mark.parametrize("text, ok", [
    (LONG, True),
    ("It was " + LONG[3:], False),                 # leans on context
    ("and " + LONG, False),                        # lower-case opening
    (LONG[:-1] + " and", False),                   # unfinished
    ("Too short to quote.", False),
])
def test_readability(text: str, ok: bool) -> None:
    assert (readability(text, QuotesConfig()) > 0) == ok


QUESTION = "How do you find your keyworker? … I was nervous at first."


@pytest.mark.parametrize("text, context, weight, expected_asked", [
    ("She " + LONG[3:], QUESTION, 0.85, "How do you find your keyworker?"),
    ("Yes, " + LONG[0].lower() + LONG[1:], QUESTION, 0.85, "How do you find your keyworker?"),
    ("It's " + LONG[3:], QUESTION, 0.85, "How do you find your keyworker?"),
    ("She " + LONG[3:], "Tell me about the college … I was nervous.", 0.0, ""),  # no question
    ("She " + LONG[3:], "", 0.0, ""),
    ("And " + LONG[3:], QUESTION, 0.0, ""),             # a conjunction leans on the speaker
    ("But " + LONG[3:], QUESTION, 0.0, ""),
    (LONG, QUESTION, 1.0, ""),                           # stands alone: full readability
])
def test_a_pronoun_opener_stands_beside_its_question(text: str, context: str, weight: float,
                                                     expected_asked: str) -> None:
    """Issue 19: authors publish answers opening with "She", "It's" or "Yes" when the question
    names the referent; they were all dropped."""
    from pipeline.quotes import asked

    assert readability(text, QuotesConfig(), context) == pytest.approx(weight)
    assert asked(text, context) == expected_asked
    assert readability(text, QuotesConfig(question_opener_weight=0), context) == (
        1.0 if weight == 1.0 else 0.0)


@pytest.mark.parametrize("role, area, block, expected", [
    ("Service User", "5", "2017", "Service User, Area 5, Year 4"),
    ("Keyworker", "Area 1", "2015", "Keyworker, Area 1, Year 2"),
])
def test_attribution_in_study_style(role: str, area: str, block: str, expected: str) -> None:
    assert attribution(role, area, block, ["2014", "2015", "2016", "2017"],
                       "role_area_year") == expected


def _passages(n: int, participants: list[str]) -> pd.DataFrame:
    return pd.DataFrame({
        "passage_id": [f"p{i}" for i in range(n)], "doc_id": [f"d{i}" for i in range(n)],
        "text": [f"Passage number {i} says " + LONG for i in range(n)],
        "context": [""] * n, "attribution": ["x"] * n, "participant": participants,
        "block": ["2014"] * n, "area": ["1"] * n, "role": ["Service User"] * n, "best": ["a"] * n})


def test_one_quote_per_participant_while_others_exist() -> None:
    participants = ["P1", "P1", "P1", "P2", "P3"]
    frame = _passages(5, participants)
    scores = np.array([[0.9], [0.8], [0.7], [0.2], [0.1]])
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(5, 8))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    out = rank_candidates(frame, scores, ["a"], vectors, QuotesConfig(per_element=3))
    assert list(out["participant"]) == ["P1", "P2", "P3"]
    assert list(out["rank"]) == [1, 2, 3]


def test_near_duplicates_are_skipped() -> None:
    frame = _passages(3, ["P1", "P2", "P3"])
    scores = np.array([[0.9], [0.85], [0.1]])
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    out = rank_candidates(frame, scores, ["a"], vectors, QuotesConfig(per_element=3))
    assert list(out["passage_id"]) == ["p0", "p2"]


@pytest.mark.parametrize("weak, expected", [
    ("mark", [("p0", False), ("p1", False), ("p2", True)]),
    ("omit", [("p0", False), ("p1", False)]),
])
def test_candidates_the_mapping_put_elsewhere_are_weak(weak: str, expected: list) -> None:
    """Issue 22: to fill 10 per element, passages below the threshold were listed unmarked."""
    frame = _passages(4, ["P1", "P2", "P3", "P4"]).assign(best=["a", "a", "b", "b"])
    scores = np.array([[0.9], [0.8], [0.7], [0.1]])
    vectors = np.eye(4)
    out = rank_candidates(frame, scores, ["a"], vectors, QuotesConfig(per_element=3, weak=weak))
    assert list(zip(out["passage_id"], out["weak"])) == expected
