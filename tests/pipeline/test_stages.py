"""The stages' tables on real study layouts (no models: ingest and the documents table)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from pipeline import stages
from pipeline.config import Config
from pipeline.quotes import with_attribution
from pipeline.study import Study


def test_a_duplicate_id_in_a_later_block_leaves_the_first_file_alone(demo_copy: Path) -> None:
    """Issue 23: a second su-2014-01.txt in transcripts/2017/ is quarantined (TF206); the 2014
    file keeps one row, its block and its 'Year 1' attribution."""
    shutil.copy(demo_copy / "transcripts/2014/su-2014-01.txt",
                demo_copy / "transcripts/2017/su-2014-01.txt")
    study, cfg = Study(demo_copy), Config()
    docs, bad = stages.ingest_stage(study, cfg, None)
    red = stages._redacted_tables(study, docs, bad, [], 0)

    rows = red.documents[red.documents["doc_id"] == "su-2014-01"]
    assert list(zip(rows["block"], rows["status"])) == [("2014", "ok"), ("2017", "quarantined")]
    assert "TF206" in rows["error"].iloc[1] and "2017/su-2014-01.txt" in rows["error"].iloc[1]
    assert len(red.documents) == 17 and (red.documents["status"] == "ok").sum() == 16
    assert rows["participant"].nunique() == 1

    passages = pd.DataFrame({"passage_id": ["p1"], "doc_id": ["su-2014-01"]})
    attributed = with_attribution(passages, red.documents, study.blocks(), cfg.attribution)
    assert attributed.loc[0, "block"] == "2014"
    assert "Year 1" in attributed.loc[0, "attribution"]


def test_segmenting_splits_every_new_sentence_at_once_wherever_asked(tmp_path: Path) -> None:
    # The flow hands the segment stage the run's workers as ``split``: every respondent turn
    # not yet cached goes to it in one call, and the passages are those of this process.
    from pipeline.segment import sentence_spans

    texts = ["Right. So how was it?", "It was hard. [PERSON_1] helped a lot, though.",
             "And the course?", "Good. I went every week! It got me out."]
    turns = pd.DataFrame({
        "doc_id": ["d1"] * 2 + ["d2"] * 2, "turn_index": [0, 1, 0, 1],
        "speaker": ["Interviewer", "Respondent"] * 2, "is_respondent": [False, True] * 2,
        "text": texts, "start": [0] * 4, "end": [len(t) for t in texts]})
    calls: list[list[str]] = []

    def split(batch: list[str]) -> list[list[tuple[int, int]]]:
        calls.append(batch)
        return sentence_spans(batch)

    asked = stages.segment_stage(turns, Config(), tmp_path / "cache", split)
    assert calls == [[texts[1], texts[3]]]
    assert asked.equals(stages.segment_stage(turns, Config(), None))
    calls.clear()
    assert stages.segment_stage(turns, Config(), tmp_path / "cache", split).equals(asked)
    assert calls == []  # cached: nothing asked again
