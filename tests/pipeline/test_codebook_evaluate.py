from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.evaluate import gold_labels
from pipeline.mapping.codebook import load_codebook
from pipeline.mapping.framework import top_level
from pipeline.review.agreement import gwet_ac1

CSV = """code,parent,definition,examples
Barriers,,Things that stop parents working,
Barriers > Childcare,Barriers,No childcare or too expensive,no nursery place | fees too high
Barriers > Transport,Barriers,Buses and travel,
Support,,Help from keyworkers,she phoned me back
"""

QDC = """<?xml version="1.0" encoding="utf-8"?>
<CodeBook xmlns="urn:QDA-XML:codebook:1.0" origin="test">
  <Codes>
    <Code guid="a" name="Barriers" isCodable="true">
      <Description>Things that stop parents working</Description>
      <Code guid="b" name="Childcare" isCodable="true"><Description>No childcare</Description></Code>
    </Code>
    <Code guid="c" name="Support" isCodable="true"/>
  </Codes>
</CodeBook>
"""


def test_csv_codebook_hierarchy_and_top_level(tmp_path: Path) -> None:
    path = tmp_path / "codebook.csv"
    path.write_text(CSV)
    fw = load_codebook(path)
    assert [(e.id, e.parent) for e in fw.elements] == [
        ("Barriers", None), ("Barriers > Childcare", "Barriers"),
        ("Barriers > Transport", "Barriers"), ("Support", None)]
    assert fw.element("Barriers > Childcare").examples == ("no nursery place", "fees too high")
    top = top_level(fw)
    assert [e.id for e in top.elements] == ["Barriers", "Support"]
    assert top.element("Barriers").indicators == ("No childcare or too expensive",
                                                  "Buses and travel")
    assert top.element("Barriers").examples == ("no nursery place", "fees too high")


def test_refi_qda_codebook(tmp_path: Path) -> None:
    path = tmp_path / "book.qdc"
    path.write_text(QDC)
    fw = load_codebook(path)
    assert [(e.id, e.parent, e.definition) for e in fw.elements] == [
        ("Barriers", None, "Things that stop parents working"),
        ("Barriers > Childcare", "Barriers", "No childcare"), ("Support", None, "")]


@pytest.mark.parametrize("a, b, expected", [
    (["x", "x", "y", "y"], ["x", "x", "y", "y"], 1.0),
    (["x", "y", "x", "y"], ["y", "x", "y", "x"], -1.0),
])
def test_gwet_ac1(a: list[str], b: list[str], expected: float) -> None:
    assert gwet_ac1(a, b) == pytest.approx(expected)


def test_gold_labels_roll_up_to_top_level() -> None:
    passages = pd.DataFrame({"doc_id": ["P1", "P1"], "raw_start": [0, 100], "raw_end": [50, 150]})
    segments = pd.DataFrame({"doc": ["P1", "P1"], "code": ["Barriers > Childcare", "Support"],
                             "start": [10, 140], "end": [60, 400]})
    parents = {"Barriers > Childcare": "Barriers", "Barriers": None, "Support": None}
    sets, primary = gold_labels(passages, segments, parents, ["Barriers", "Support"])
    assert sets == [{"Barriers"}, {"Support"}] and primary == ["Barriers", "Support"]


def test_few_shot_exemplars_come_from_training_segments_only() -> None:
    import random

    import numpy as np

    from pipeline.evaluate import few_shot_exemplars
    from pipeline.mapping.framework import Element, Framework

    passages = pd.DataFrame({"passage_id": ["a1", "a2", "b1"], "doc_id": ["A", "A", "B"],
                             "raw_start": [0, 100, 0], "raw_end": [90, 190, 90],
                             "start": [0, 100, 0], "end": [90, 190, 90]})
    train = pd.DataFrame({"doc": ["A"], "code": ["Barriers > Childcare"], "text": ["no nursery"],
                          "start": [120], "end": [150]})
    fw = Framework("t", "t", (Element("Barriers", "Barriers", "d"), Element("Support", "S", "d")))
    vectors = np.eye(3)
    new_fw, ex = few_shot_exemplars(fw, passages, vectors, vectors * 2, train,
                                    {"Barriers > Childcare": "Barriers"}, 5, random.Random(0))
    assert new_fw.element("Barriers").examples == ("no nursery",)
    assert new_fw.element("Support").examples == ()
    assert ex.elements == ["Barriers"]
    np.testing.assert_array_equal(ex.vectors, [[0, 1, 0]])
    np.testing.assert_array_equal(ex.contexts, [[0, 2, 0]])
    np.testing.assert_allclose(ex.positions, [100 / 190], atol=1e-6)


def test_reliability_bins_and_calibration_error() -> None:
    import numpy as np

    from pipeline.evaluate import reliability

    conf = np.array([0.1, 0.1, 0.9, 0.9])
    agree = np.array([False, False, True, False])
    bins, ece = reliability(conf, agree)
    assert [(b["bin"], b["passages"], b["agreement"]) for b in bins] == [
        ("0.0-0.2", 2, 0.0), ("0.8-1.0", 2, 0.5)]
    assert ece == pytest.approx(0.5 * 0.1 + 0.5 * 0.4)


@pytest.mark.parametrize(("code", "expected"), [
    ("A", (2, 0.5, 0.5, 0.5)),     # one hit, one false alarm, one miss
    ("B", (1, 1.0, 1.0, 1.0)),
    ("C", (0, 0.0, 0.0, 0.0)),     # never coded, never predicted
])
def test_code_f1_is_multi_label(code: str, expected: tuple) -> None:
    from pipeline.evaluate import code_f1

    predicted = [{"A", "B"}, {"A"}, set()]
    gold = [{"A", "B"}, set(), {"A"}]
    assert code_f1(predicted, gold, code) == pytest.approx(expected)


def test_question_codebook_keeps_each_questions_codes_apart(tmp_path):
    path = tmp_path / "codebook.csv"
    path.write_text("code,parent,definition,question_id\nbad_memory,,,q1\nmemory,,,q1\n"
                    "memory,,,q2\nmemory->theme,memory,,q2\n", encoding="utf-8")
    full = load_codebook(path)
    assert [(e.id, e.parent, e.question) for e in full.elements] == [
        ("q1/bad_memory", None, "q1"), ("q1/memory", None, "q1"), ("q2/memory", None, "q2"),
        ("q2/memory->theme", "q2/memory", "q2")]
    tops = top_level(full)
    assert [(e.id, e.definition, e.question) for e in tops.elements] == [
        ("q1/bad_memory", "bad memory", "q1"), ("q1/memory", "memory", "q1"),
        ("q2/memory", "memory", "q2")]
