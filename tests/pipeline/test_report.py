"""The report's account of change: what moved since the last run, and what the mapping learnt."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pipeline.report import _learning_sentence, since_last_run


def _tables(elements: list[str], blocks: list[str]) -> dict[str, pd.DataFrame]:
    ids = [f"p{i}" for i in range(len(elements))]
    return {
        "passages": pd.DataFrame({"passage_id": ids, "block": blocks}),
        "passage_themes": pd.DataFrame({"passage_id": ids, "element": elements}),
        "passage_topics": pd.DataFrame({"passage_id": ids, "topic": [0] * len(ids)}),
        "topics": pd.DataFrame({"topic": [0], "keywords": ["k"]}),
        "candidates": pd.DataFrame({"element": ["a"], "rank": [1], "passage_id": ["p0"],
                                    "text": ["t"], "attribution": ["x"]}),
    }


def _manifest(labels: tuple[int, int], config: str = "c1") -> dict:
    return {"counts": {"review_exemplars": labels[0], "review_rejections": labels[1]},
            "config_fingerprint": config, "models": {"embedding": "m"}}


@pytest.mark.parametrize("now, blocks, labels, config, expected", [
    # 16 review decisions and no new data: 2 of 4 passages moved, and the labels say why
    (["a", "b", "b", "none"], ["2014"] * 4, (12, 4), "c1",
     {"n": 4, "changed": 2, "share": 50.0, "new_blocks": [], "labels_before": 0,
      "labels_now": 16, "config_changed": False, "models_changed": False}),
    # a new block: its passages are not "moved", the old ones may be
    (["a", "a", "none", "none", "b"], ["2014"] * 4 + ["2015"], (0, 0), "c2",
     {"n": 4, "changed": 0, "share": 0.0, "new_blocks": ["2015"], "labels_before": 0,
      "labels_now": 0, "config_changed": True, "models_changed": False}),
])
def test_since_the_last_run_says_what_moved_and_why(tmp_path: Path, now: list, blocks: list,
                                                    labels: tuple, config: str,
                                                    expected: dict) -> None:
    """Issue 22: after review decisions alone 41% of passages moved element, and the report
    said only "no new block; 26 new candidate quotation(s)"."""
    previous = tmp_path / "r1"
    previous.mkdir()
    old = _tables(["a", "a", "none", "none"], ["2014"] * 4)
    old["passage_themes"].to_parquet(previous / "passage_themes.parquet")
    old["candidates"].to_parquet(previous / "candidates.parquet")
    pd.DataFrame({"doc_id": ["d"], "block": ["2014"], "status": ["ok"]}).to_parquet(
        previous / "documents.parquet")
    (previous / "manifest.json").write_text(json.dumps(_manifest((0, 0))))
    since = since_last_run(_tables(now, blocks), previous, {"a": "A", "b": "B"},
                           _manifest(labels, config))
    assert since["moved"] == expected


@pytest.mark.parametrize("counts, learner, expected", [
    ((0, 0), "classifier", "No analyst decision was learnt from"),
    ((3, 2), "classifier", "learnt from 5 analyst label(s) (3 for and 2 against an element"),
    ((3, 0), "exemplars", "accepted passages joined their element's examples"),
])
def test_the_methods_paragraph_says_what_the_mapping_learnt_from(counts: tuple, learner: str,
                                                                 expected: str) -> None:
    sentence = _learning_sentence({"review_exemplars": counts[0],
                                   "review_rejections": counts[1]},
                                  {"map": {"learner": learner, "learn_from_reviews": True}})
    assert expected in sentence
