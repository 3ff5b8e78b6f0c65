from __future__ import annotations

import threading
from pathlib import Path

import pytest

from pipeline.errors import ReviewError
from pipeline.review_store import Decision, ReviewStore, review_labels, validate

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
    labels = review_labels(store)
    assert list(zip(labels["passage_id"], labels["element"], labels["polarity"])) == [
        ("p1", "a", 1), ("p2", "a", -1), ("p4", "a", 1), ("p3", "b", 1)]
    assert review_labels(ReviewStore(tmp_path / "none.sqlite")).empty
