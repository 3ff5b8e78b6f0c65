from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
import pytest

from pipeline.errors import ReviewError
from pipeline.review.labels import review_labels
from pipeline.review.store import Coding, Decision, ReviewStore, validate, validate_coding

ELEMENTS = {"a", "b"}


def _d(**kw) -> Decision:
    base = dict(passage_id="p1", element="a", reviewer="ana", status="accepted", label="a",
                text="Ten words of quote text here.", doc_id="d1", attribution="Keyworker, Area 1",
                run_id="r1")
    return Decision(**{**base, **kw})


@pytest.mark.parametrize("kw,message", [
    ({"status": "maybe"}, "unknown status"),
    ({"reviewer": "  "}, "reviewer name"),
    ({"element": "zzz"}, "unknown element"),
    ({"status": "relabelled", "label": "a"}, "different element"),
    ({"trim_start": 3}, "both a start and an end"),
    ({"trim_start": 5, "trim_end": 5}, "non-empty span"),
    ({"trim_start": 0, "trim_end": 999}, "non-empty span"),
    ({"note": "x" * 4001}, "4000"),
])
def test_validate_refuses(kw: dict, message: str) -> None:
    with pytest.raises(ReviewError, match=message):
        validate(_d(**kw), ELEMENTS)


def test_trimmed_quote() -> None:
    assert _d(trim_start=4, trim_end=9).quote == "words"
    assert _d().quote == "Ten words of quote text here."


def test_append_only_latest_wins_history_kept(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "review" / "decisions.sqlite")
    store.record(_d(status="accepted"))
    store.record(_d(status="rejected"))
    store.record(_d(reviewer="ben", status="accepted"))
    current = store.current()
    assert list(zip(current["reviewer"], current["status"])) == [("ana", "rejected"),
                                                                  ("ben", "accepted")]
    assert list(store.history()["status"]) == ["accepted", "rejected", "accepted"]
    mode = __import__("sqlite3").connect(store.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_concurrent_reviewers_lose_nothing(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "decisions.sqlite")

    def work(name: str) -> None:
        for i in range(25):
            store.record(_d(reviewer=name, passage_id=f"p{i}"))

    threads = [threading.Thread(target=work, args=(n,)) for n in ("ana", "ben", "cai", "dee")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.history()) == 100
    assert len(store.current()) == 100


def test_review_labels_polarity(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "decisions.sqlite")
    store.record(_d(passage_id="p1", status="accepted"))
    store.record(_d(passage_id="p2", status="rejected"))
    store.record(_d(passage_id="p3", status="relabelled", label="b"))
    store.record(_d(passage_id="p4", status="rejected"))
    store.record(_d(passage_id="p4", status="accepted", reviewer="ben"))
    store.record(_d(passage_id="p5", status="accepted"))
    store.record(_d(passage_id="p5", status="undecided"))
    store.code(_c(passage_id="p6", elements=("b", "a")))
    store.code(_c(passage_id="p7", elements=("a",)))
    store.code(_c(passage_id="p7", elements=("none",)))   # the latest answer counts
    labels = review_labels(store)
    assert list(zip(labels["passage_id"], labels["element"], labels["polarity"])) == [
        ("p1", "a", 1), ("p2", "a", -1), ("p3", "a", -1), ("p4", "a", 1), ("p6", "a", 1),
        ("p3", "b", 1), ("p6", "b", 1), ("p7", "none", 1)]
    assert review_labels(ReviewStore(tmp_path / "none.sqlite")).empty


def _c(**kw) -> Coding:
    base = dict(passage_id="p1", reviewer="ana", elements=("a",), text="Ten words of quote.",
                doc_id="d1", run_id="r1")
    return Coding(**{**base, **kw})


@pytest.mark.parametrize("kw,message", [
    ({"elements": ()}, "one or more elements"),
    ({"elements": ("zzz",)}, "unknown element"),
    ({"elements": ("none", "a")}, "cannot be given with an element"),
    ({"reviewer": " "}, "reviewer name"),
])
def test_coding_refused(kw: dict, message: str) -> None:
    with pytest.raises(ReviewError, match=message):
        validate_coding(_c(**kw), ELEMENTS)


def test_codings_append_and_latest_per_reviewer(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "decisions.sqlite")
    assert store.codings().empty
    store.code(_c(elements=("b", "a")))
    store.code(_c(reviewer="ben", elements=("none",)))
    store.code(_c(elements=("b",)))
    current = store.codings()
    assert list(zip(current["reviewer"], current["elements"])) == [("ben", "none"), ("ana", "b")]
    assert "Ten words of quote." in "\n".join(store.texts())   # the leak check sees codings


LABELS_CSV = """element,passage_id,text,polarity
mutual_learning,p1,We learnt from the housing team.,1
joint_ownership,,Everyone signed the agreement.,
mutual_learning,p2,Ask Bridget Okafor about it.,1
joint_ownership,p3,They decided without us.,-1
"""


@pytest.mark.parametrize("body, message", [
    ("code,text\nx,y\n", "needs 'element'"),
    ("element,text,polarity\nx,y,2\n", "polarity must be 1 or -1"),
    ("", "cannot be read"),
])
def test_labels_csv_errors_name_the_file(tmp_path: Path, body: str, message: str) -> None:
    from pipeline.errors import ConfigError
    from pipeline.review.labels import read_labels_csv

    path = tmp_path / "labels.csv"
    path.write_text(body)
    with pytest.raises(ConfigError, match=message) as err:
        read_labels_csv(path, [], lambda _: False)
    assert "labels.csv" in str(err.value)


def test_labels_csv_rows_naming_an_identifier_are_left_out(tmp_path: Path) -> None:
    from pipeline.review.labels import merge_labels, read_labels_csv

    path = tmp_path / "labels.csv"
    path.write_text(LABELS_CSV)
    idents = [("Bridget Okafor", "PERSON", "[PERSON_1]")]
    frame = read_labels_csv(path, idents, lambda _: False)
    assert list(zip(frame["element"], frame["passage_id"], frame["polarity"])) == [
        ("mutual_learning", "p1", 1), ("joint_ownership", "", 1), ("joint_ownership", "p3", -1)]
    review = pd.DataFrame({"passage_id": ["p3", "p9"], "element": ["joint_ownership"] * 2,
                           "polarity": [1, -1], "text": ["They decided without us.", "x"]})
    merged = merge_labels(review, frame)
    assert list(zip(merged["element"], merged["passage_id"], merged["polarity"])) == [
        ("joint_ownership", "", 1), ("joint_ownership", "p3", 1), ("joint_ownership", "p9", -1),
        ("mutual_learning", "p1", 1)]
    assert "Okafor" not in merged.to_csv()
