"""Speaker turns: the layouts transcripts come in, read into exact turns (speaker, side, text)."""

from __future__ import annotations

import pytest

from pipeline.config import IngestConfig
from pipeline.turns import TurnParser


@pytest.mark.parametrize("text, expected", [
    ("Interviewer: Hi?\nRespondent: Yes, fine.",
     [("Interviewer", False, "Hi?"), ("Respondent", True, "Yes, fine.")]),
    ("I: Hi?\nR: Yes.", [("Interviewer", False, "Hi?"), ("Respondent", True, "Yes.")]),
    ("Q: Hi?\nA: Yes.", [("Interviewer", False, "Hi?"), ("Respondent", True, "Yes.")]),
    ("[00:12:31] Interviewer 1: Hi?\n[00:12:40] Interviewee: Yes [inaudible] ok.",
     [("Interviewer 1", False, "Hi?"), ("Interviewee", True, "Yes [inaudible] ok.")]),
    ("12:31 Interviewer: Hi?\n12:40 Sarah: Yes, 10:15 was fine.",
     [("Interviewer", False, "Hi?"), ("Respondent 1", True, "Yes, was fine.")]),
    ("Interviewer: Tell me.\nRespondent: Line one\ncontinues here.",
     [("Interviewer", False, "Tell me."), ("Respondent", True, "Line one continues here.")]),
    ("Training Provider: We run courses.", [("Training Provider", True, "We run courses.")]),
    ("Interviewer: Hi?\nInterviewee 1 & Interviewee 2: We both agree.",
     [("Interviewer", False, "Hi?"), ("Interviewee 1 & Interviewee 2", True, "We both agree.")]),
    ("Interviewee 1 or Interviewee 2 or Interviewee 3: Maybe.\nInterviewee 1 and/or Interviewee 2: No.",
     [("Interviewee 1 or Interviewee 2 or Interviewee 3", True, "Maybe."),
      ("Interviewee 1 and/or Interviewee 2", True, "No.")]),
    ("No labels at all here.\n\nA second paragraph.",
     [("Respondent", True, "No labels at all here."), ("Respondent", True, "A second paragraph.")]),
])
def test_turn_conventions(text: str, expected: list[tuple[str, bool, str]]) -> None:
    turns, _ = TurnParser(IngestConfig()).parse(text)
    assert [(t.speaker, t.is_respondent, t.text) for t in turns] == expected


def test_name_labels_become_roles_and_are_reported() -> None:
    turns, names = TurnParser(IngestConfig()).parse("Interviewer: Hi?\nSarah Jones: Hello.")
    assert [t.speaker for t in turns] == ["Interviewer", "Respondent 1"]
    assert names == ["Sarah Jones"]


def test_named_speaker_beside_participant_is_the_interviewer() -> None:
    turns, names = TurnParser(IngestConfig()).parse(
        "Dan: Do you use ICE plots?\n\nParticipant: Yes, all the time.\n\nDan: Why?")
    assert [(t.speaker, t.is_respondent) for t in turns] == [
        ("Interviewer", False), ("Participant", True), ("Interviewer", False)]
    assert names == ["Dan"]


def test_sentence_with_colon_is_not_a_label() -> None:
    turns, _ = TurnParser(IngestConfig()).parse(
        "Respondent: I told them this: it is not working for me at all.")
    assert len(turns) == 1


THINK_ALOUD = """MODERATOR: Thanks for joining. Can you hear me?

Yes, I can hear you fine.

MODERATOR: Great. Please read the first task.

3.a Please explain what this chart shows.
OK so this chart shows the average prediction, and it goes up with age.

It is a bit confusing at first.
"""

OWN_LINE = """Speaker 1  00:00:03
How did you come to join the programme?

Speaker 2  00:00:09
My keyworker told me about it.
She came round twice.

Speaker 1  00:00:20
And what happened then?
"""

OWN_LINE_ROLES = """INTERVIEWER
How are you finding the course?

RESPONDENT
It's fine, yes.
"""


@pytest.mark.parametrize("text, convention, expected", [
    (THINK_ALOUD, "only the interviewer labelled", [
        ("MODERATOR", False, "Thanks for joining. Can you hear me?"),
        ("Respondent", True, "Yes, I can hear you fine."),
        ("MODERATOR", False, "Great. Please read the first task."),
        ("Prompt", False, "3.a Please explain what this chart shows."),
        ("Respondent", True, "OK so this chart shows the average prediction, and it goes up "
                             "with age."),
        ("Respondent", True, "It is a bit confusing at first.")]),
    (OWN_LINE, "labels on their own line; Speaker 1 taken for the interviewer (asks the "
               "questions)", [
        ("Speaker 1", False, "How did you come to join the programme?"),
        ("Speaker 2", True, "My keyworker told me about it. She came round twice."),
        ("Speaker 1", False, "And what happened then?")]),
    (OWN_LINE_ROLES, "labels on their own line", [
        ("INTERVIEWER", False, "How are you finding the course?"),
        ("RESPONDENT", True, "It's fine, yes.")]),
    ("Interviewer: Hi?\nRespondent: Yes.", "labelled turns",
     [("Interviewer", False, "Hi?"), ("Respondent", True, "Yes.")]),
    ("Just speech.\n\nMore speech.", "no labels: paragraphs",
     [("Respondent", True, "Just speech."), ("Respondent", True, "More speech.")]),
])
def test_transcript_layouts(text: str, convention: str, expected: list) -> None:
    """Issue 21: only the moderator labelled (16 of 17 think-aloud sessions were quarantined),
    labels on their own line (transcription services), numbered task prompts."""
    parser = TurnParser(IngestConfig())
    turns, _ = parser.parse(text)
    assert [(t.speaker, t.is_respondent, t.text) for t in turns] == expected
    assert parser.convention == convention


@pytest.mark.parametrize("text, sources", [
    (THINK_ALOUD, ["MODERATOR: Thanks for joining. Can you hear me?", "Yes, I can hear you fine.",
                   "MODERATOR: Great. Please read the first task.",
                   "3.a Please explain what this chart shows.",
                   "OK so this chart shows the average prediction, and it goes up with age.",
                   "It is a bit confusing at first."]),
    (OWN_LINE, ["Speaker 1  00:00:03\nHow did you come to join the programme?",
                "Speaker 2  00:00:09\nMy keyworker told me about it.\nShe came round twice.",
                "Speaker 1  00:00:20\nAnd what happened then?"]),
    ("Interviewer: Hi?\nRespondent: Line one\ncontinues.\n\nInterviewer: Bye.",
     ["Interviewer: Hi?", "Respondent: Line one\ncontinues.", "Interviewer: Bye."]),
    ("Just speech.\n  \n\nMore speech\nover two lines.\n",
     ["Just speech.", "More speech\nover two lines."]),
])
def test_turns_know_where_they_lie_in_the_source(text: str, sources: list[str]) -> None:
    """Issue 21: ``themeflow inspect`` shows each turn's offsets in the text as read (its lines,
    label included, trailing blank lines not)."""
    turns, _ = TurnParser(IngestConfig()).parse(text)
    assert [text[t.source_start:t.source_end] for t in turns] == sources
