from __future__ import annotations

import pytest

from pipeline.config import SegmentConfig
from pipeline.turns import Turn
from pipeline.segment import (
    layout_turns,
    locate_passage,
    model_text,
    passage_id,
    raw_offsets,
    segment_document,
)

TURNS = [
    Turn(0, "Interviewer", False, "What helped most?"),
    Turn(1, "Respondent", True,
         "My keyworker came with me to the housing office. She knew everybody there. "
         "It got sorted in two weeks. Then we looked at courses together. I picked admin."),
    Turn(2, "Interviewer", False, "And now?"),
    Turn(3, "Respondent", True, "Yeah."),
]


def test_layout_offsets_point_at_turn_text() -> None:
    text, spans = layout_turns(TURNS)
    assert [text[a:b] for a, b in spans] == [t.text for t in TURNS]
    assert text.startswith("Interviewer: What helped most?\n\nRespondent: My keyworker")


@pytest.mark.parametrize("window, stride, min_words, expected", [
    (3, 3, 10, ["My keyworker came with me to the housing office. She knew everybody there. "
               "It got sorted in two weeks. Then we looked at courses together. I picked admin."]),
    (3, 3, 8, ["My keyworker came with me to the housing office. She knew everybody there. "
               "It got sorted in two weeks.", "Then we looked at courses together. I picked admin."]),
    (2, 2, 8, ["My keyworker came with me to the housing office. She knew everybody there.",
            "It got sorted in two weeks. Then we looked at courses together. I picked admin."]),
])
def test_windows_inside_respondent_turns(window: int, stride: int, min_words: int,
                                         expected: list[str]) -> None:
    text, spans = layout_turns(TURNS)
    cfg = SegmentConfig(window_sentences=window, stride_sentences=stride, min_words=min_words)
    passages = segment_document("d1", TURNS, spans, cfg)
    assert [p.text for p in passages] == expected
    assert all(text[p.start:p.end] == p.text for p in passages)
    assert all(p.context.startswith("What helped most?") for p in passages)


def test_passage_ids_are_stable_and_position_sensitive() -> None:
    assert passage_id("d1", 0, 10, "abc") == passage_id("d1", 0, 10, "abc")
    assert passage_id("d1", 0, 10, "abc") != passage_id("d1", 5, 15, "abc")
    assert passage_id("d1", 0, 10, "abc") != passage_id("d2", 0, 10, "abc")


@pytest.mark.parametrize("shown, embedded", [
    ("Um, I was, you know, scared [inaudible] of it.", "I was, scared of it."),
    ("[PERSON_3] phoned me, uh, twice.", "someone phoned me, twice."),
    ("We went to [PLACE_2] (laughs) yesterday.", "We went to a place yesterday."),
    # any run of whitespace (tabs, newlines, no-break and em spaces) becomes one space
    ("\tSo\u00a0 we\n\nwaited\u2003[ORG_4]  um ", "So we waited an organisation"),
])
def test_model_text_strips_fillers_notes_and_pseudonyms(shown: str, embedded: str) -> None:
    assert model_text(shown) == embedded


@pytest.mark.parametrize("text, expected", [
    ("It was my decision. [PERSON_3] would give me the options.",
     ["It was my decision.", "[PERSON_3] would give me the options."]),
    ("That's the manager, [PERSON_1]. Then we left.",
     ["That's the manager, [PERSON_1].", "Then we left."]),
    ("Ask [ORG_12]? Yes, [PLACE_2]'s hub.", ["Ask [ORG_12]?", "Yes, [PLACE_2]'s hub."]),
])
def test_sentences_never_split_a_pseudonym(text: str, expected: list[str]) -> None:
    from pipeline.segment import sentence_spans

    assert [text[a:b] for a, b in sentence_spans([text])[0]] == expected


def test_sentence_cache_reuses_offsets_without_text(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    import pipeline.segment as seg

    texts = ["One. Two [PERSON_1] here.", "Three? Four."]
    first = seg.SentenceCache(tmp_path)
    assert first.spans(texts) == seg.sentence_spans(texts) == [[(0, 4), (5, 25)], [(0, 6), (7, 12)]]
    first.save()
    shard = next((tmp_path / "sentences").glob("shard-*.json")).read_text()
    assert "One" not in shard and "PERSON" not in shard  # offsets only
    monkeypatch.setattr(seg, "sentence_spans", lambda ts: pytest.fail("sentencizer called"))
    assert seg.SentenceCache(tmp_path).spans(texts) == [[(0, 4), (5, 25)], [(0, 6), (7, 12)]]


def test_turn_prompts_are_the_last_interviewer_turn_before_each_answer() -> None:
    import pandas as pd

    from pipeline.segment import turn_prompts

    turns = pd.DataFrame({"doc_id": ["d", "d", "d", "d", "e"], "turn_index": [0, 1, 2, 3, 0],
                          "is_respondent": [False, True, True, False, True],
                          "text": ["Why did you join?", "A friend.", "And the pay.", "Thanks.",
                                   "No question before me."]})
    assert turn_prompts(turns) == {("d", 1): "Why did you join?", ("d", 2): "Why did you join?",
                                   ("e", 0): ""}


def test_locate_passage_with_pseudonyms_in_raw_text() -> None:
    raw = "Dan: Hi there.\n\nParticipant: We typically use them to identify trends, Dan said so."
    start, end = locate_passage(raw, "We typically use them to identify trends, [PERSON_1] said so.", 0)
    assert raw[start:end].startswith("We typically use them")
    assert abs(end - raw.index("said so.") - len("said so.")) <= 10


def test_raw_offsets_search_on_from_the_last_passage_of_each_document() -> None:
    """A sentence said twice is found where it was said the second time (the search goes on
    from where the passage before it was found), and a passage too short to anchor (under
    three words besides pseudonyms) is not found."""
    import pandas as pd

    raw = {"d": "Yes it helped a lot. Then much later. Yes it helped a lot.", "e": "Hi Ann."}
    passages = pd.DataFrame({"doc_id": ["d", "d", "d", "e"],
                             "text": ["Yes it helped a lot.", "Then much later.",
                                      "Yes it helped a lot.", "Hi [PERSON_1]."]})
    placed = raw_offsets(passages, raw)
    assert list(zip(placed["raw_start"], placed["raw_end"])) == [(0, 20), (21, 37), (38, 58),
                                                                (-1, -1)]
