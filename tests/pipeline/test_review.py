from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import ReviewError
from pipeline.review.workspace import Workspace
from tests.fakes import E1, E2, E3, make_run


@pytest.fixture()
def ws(tmp_path: Path) -> Workspace:
    make_run(tmp_path / "study")
    return Workspace.open(tmp_path / "study")


def _act(ws: Workspace, action: str, pid: str = "sp01-01", element: str = E1,
         reviewer: str = "ana", **kw):  # noqa: ANN202
    return ws.decide({"action": action, "passage_id": pid, "element": element,
                      "reviewer": reviewer, **kw})


@pytest.mark.parametrize("steps,expected", [
    ([("accept", {})], ("accepted", E1, None, None)),
    ([("reject", {})], ("rejected", E1, None, None)),
    ([("relabel", {"label": E2})], ("relabelled", E2, None, None)),
    ([("trim", {"trim_start": 0, "trim_end": 34})], ("accepted", E1, 0, 34)),
    ([("relabel", {"label": E2}), ("trim", {"trim_start": 4, "trim_end": 10})],
     ("relabelled", E2, 4, 10)),
    ([("trim", {"trim_start": 0, "trim_end": 33}), ("untrim", {})], ("accepted", E1, None, None)),
    ([("accept", {}), ("undo", {})], ("undecided", E1, None, None)),
    ([("accept", {}), ("note", {"note": "strong"})], ("accepted", E1, None, None)),
])
def test_actions(ws: Workspace, steps: list, expected: tuple) -> None:
    for action, kw in steps:
        d = _act(ws, action, **kw)
    assert (d.status, d.label, d.trim_start, d.trim_end) == expected
    assert len(ws.store.history()) == len(steps)


def test_trimmed_quote_is_the_selected_words(ws: Workspace) -> None:
    d = _act(ws, "trim", trim_start=0, trim_end=34)
    assert d.quote == "The course changed how I see work."
    acc = ws.accepted()
    assert list(acc["quote"]) == ["The course changed how I see work."]
    assert list(acc["attribution"]) == ["Service User, Area 1, Year 1"]


@pytest.mark.parametrize("payload,message", [
    ({"action": "explode"}, "unknown action"),
    ({"action": "accept", "reviewer": ""}, "reviewer"),
    ({"action": "accept", "passage_id": "nope"}, "not in run"),
    ({"action": "relabel", "label": "nonsense"}, "unknown element"),
    ({"action": "trim", "trim_start": "x", "trim_end": 3}, "not a character offset"),
    ({"action": "note", "note": "ask mandy brightwater again"}, "the note names someone"),
    ({"action": "note", "note": "ask m\u0430ndy brightw\u0430ter again"}, "the note names someone"),
    ({"action": "accept", "reviewer": "Mandy Brightwater"}, "the reviewer names someone"),
])
def test_refused(ws: Workspace, payload: dict, message: str) -> None:
    base = {"passage_id": "sp01-01", "element": E1, "reviewer": "ana"}
    with pytest.raises(ReviewError, match=message) as refused:
        ws.decide({**base, **payload})
    assert "PERSON" not in str(refused.value) and "mandy" not in str(refused.value).lower()
    assert ws.store.history().empty


def test_refusals_are_rate_limited_and_logged_without_the_text(
        ws: Workspace, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 23: the note check answered 2,231 guessed names in 46 s, naming each pseudonym.
    After 5 refusals in a minute every note and decision waits; the log has no text."""
    from pipeline.errors import TooManyRefusalsError
    from pipeline.review.workspace import RefusalLimit

    now = [0.0]
    ws.refusals = RefusalLimit(limit=5, window=60, clock=lambda: now[0])
    for guess in ["mandy", "Mandy", "MANDY", "m\u0430ndy", "mandy\u200b"]:
        with pytest.raises(ReviewError):
            _act(ws, "note", note=f"ask {guess} brightwater")
    with pytest.raises(TooManyRefusalsError):
        _act(ws, "note", note="nothing wrong here")
    with pytest.raises(TooManyRefusalsError):
        _act(ws, "accept")
    assert "brightwater" not in caplog.text.lower() and "mandy" not in caplog.text.lower()
    assert caplog.text.count("refused a note") == 5
    now[0] = 61.0
    assert _act(ws, "note", note="nothing wrong here").note == "nothing wrong here"


def test_rerun_keeps_decisions_and_lists_orphans(tmp_path: Path) -> None:
    study = tmp_path / "study"
    make_run(study, "20260101T000000000Z")
    ws = Workspace.open(study)
    _act(ws, "accept", "sp01-01", E1)
    _act(ws, "reject", "st02-03", E1)
    _act(ws, "accept", "st02-02", E3)
    # The next run: st02's transcript changed and passage st02-02 is gone.
    make_run(study, "20260102T000000000Z", drop_passages=("st02:2",))
    ws2 = Workspace.open(study)
    assert ws2.run_id == "20260102T000000000Z"
    data = ws2.page_data()
    assert [(o["passage_id"], o["element"]) for o in data["orphans"]] == [("st02-02", E3)]
    assert data["orphans"][0]["text"].startswith("Parents choose their own route.")
    assert {(d["passage_id"], d["status"]) for d in data["decisions"]} == {
        ("sp01-01", "accepted"), ("st02-03", "rejected"), ("st02-02", "accepted")}
    dec = ws2.decisions()
    assert dict(zip(dec["passage_id"], dec["in_run"])) == {"sp01-01": True, "st02-03": True,
                                                            "st02-02": False}
    assert len(ws2.store.history()) == 3


def test_agreement_and_disagreements(ws: Workspace) -> None:
    for pid, a, b in [("sp01-01", "accept", "accept"), ("st02-03", "accept", "reject")]:
        _act(ws, a, pid, E1, "ana")
        _act(ws, b, pid, E1, "ben")
    _act(ws, "accept", "st02-01", E2, "ana")  # only one reviewer: no pair
    pairs, dis = ws.agreement()
    # pooled over elements, with n; no per-element row from 2 items (issue 22: kappa -0.33
    # from 2 items misled)
    assert pairs.to_dict("records") == [{"element": "all", "reviewer_a": "ana",
                                         "reviewer_b": "ben", "n": 2, "agreement": 0.5,
                                         "kappa": 0.0, "ac1": 0.2, "span_agreement": 1.0}]
    assert list(zip(dis["passage_id"], dis["verdict_a"], dis["verdict_b"])) == [
        ("st02-03", "accept", "reject")]


def test_trimmed_and_untrimmed_agree_on_the_code_and_the_spans_are_measured_apart(
        ws: Workspace) -> None:
    _act(ws, "trim", "sp01-01", E1, "ana", trim_start=0, trim_end=34)
    _act(ws, "accept", "sp01-01", E1, "ben")
    pairs, dis = ws.agreement()
    text = ws.tables["passages"].set_index("passage_id").loc["sp01-01", "text"]
    row = pairs.iloc[0]
    assert (row["n"], row["agreement"], dis.empty) == (1, 1.0, True)
    assert row["span_agreement"] == round(34 / len(text), 4)


def test_accepted_groups_reviewers_in_framework_order(ws: Workspace) -> None:
    _act(ws, "accept", "st02-01", E2, "ana")
    _act(ws, "accept", "st02-01", E2, "ben")
    _act(ws, "accept", "sp01-01", E1, "ben")
    _act(ws, "reject", "st02-02", E3, "ana")
    acc = ws.accepted()
    assert list(zip(acc["element"], acc["passage_id"], acc["reviewers"])) == [
        (E1, "sp01-01", "ben"), (E2, "st02-01", "ana, ben")]


def test_no_run_yet(tmp_path: Path) -> None:
    (tmp_path / "study" / "outputs").mkdir(parents=True)
    with pytest.raises(ReviewError, match="no finished run"):
        Workspace.open(tmp_path / "study")


def test_quotes_rescanned_against_a_grown_key(ws: Workspace) -> None:
    from pipeline.keys import PseudonymKey

    key = PseudonymKey.load(ws.study.root / "keys" / "pseudonyms.json")
    key.assign("nursery", "ORG")  # found in a later block after this run was made
    key.save()
    items = {it["passage_id"]: it for it in ws.page_data()["items"]}
    assert items["sp01-03"]["withheld"] and "nursery" not in items["sp01-03"]["text"]
    assert items["sp01-03"]["context"] == []
    assert not items["sp01-01"]["withheld"]


def test_two_servers_on_one_study_lose_no_change(tmp_path: Path) -> None:
    """Issue 23: two review servers, one reviewer, a trim and a note sent at the same moment:
    60 of 60 pairs lost one change. Each change now builds on the other."""
    import threading

    make_run(tmp_path / "study")
    servers = [Workspace.open(tmp_path / "study"), Workspace.open(tmp_path / "study")]
    for i in range(20):
        barrier = threading.Barrier(2)

        def send(ws: Workspace, payload: dict) -> None:
            barrier.wait()
            ws.decide({"passage_id": "sp01-01", "element": E1, "reviewer": "ana", **payload})

        end = 10 + i % 5
        threads = [threading.Thread(target=send, args=(servers[0], {
                       "action": "trim", "trim_start": 0, "trim_end": end})),
                   threading.Thread(target=send, args=(servers[1], {
                       "action": "note", "note": f"note {i}"}))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        current = servers[0].store.current("ana").iloc[-1]
        assert (current["trim_end"], current["note"]) == (end, f"note {i}"), i


def _two_reviewers(ws: Workspace) -> None:
    """Issue 22's scenario in small: ana and ben agree on one quote, disagree on two."""
    for reviewer, action, pid, element, kw in [
        ("ana", "accept", "sp01-01", E1, {}), ("ben", "accept", "sp01-01", E1, {}),
        ("ana", "trim", "st02-01", E2, {"trim_start": 0, "trim_end": 39}),
        ("ben", "reject", "st02-01", E2, {}),
        ("ana", "accept", "st02-03", E1, {}), ("ben", "relabel", "st02-03", E1, {"label": E2}),
    ]:
        _act(ws, action, pid, element, reviewer, **kw)


def test_accepted_quotes_are_one_row_per_passage_with_the_disagreement_said(
        ws: Workspace) -> None:
    """Issue 22: a quote ben rejected showed as 'Accepted by: ana' with no flag, and a passage
    accepted twice (trimmed and not) was listed twice."""
    _two_reviewers(ws)
    rows = [(r.passage_id, r.element, r.reviewers, r.decision, r.quote)
            for r in ws.accepted().itertuples()]
    assert rows == [
        ("sp01-01", E1, "ana, ben", "agreed", ws.tables["passages"].set_index(
            "passage_id").loc["sp01-01", "text"]),
        ("st02-03", E1, "ana, ben",
         "disputed: ana accepted, ben relabelled to Joint ownership", rows[1][4]),
        ("st02-01", E2, "ana", "disputed: ana accepted (trimmed), ben rejected",
         "We sit round one table with the college"),
    ]


@pytest.mark.parametrize("final, expected", [
    ({"adopt": "ben"}, []),                                                  # ben's reject
    ({"adopt": "ana"}, [("st02-01", E2, "carol", "We sit round one table with the college")]),
    ({"action": "reject"}, []),
])
def test_a_final_decision_settles_a_disputed_quote(ws: Workspace, final: dict,
                                                   expected: list) -> None:
    _two_reviewers(ws)
    ws.adjudicate({"passage_id": "st02-01", "element": E2, "adjudicator": "carol", **final})
    got = [(r.passage_id, r.element, r.reviewers, r.quote) for r in ws.accepted().itertuples()
           if r.passage_id == "st02-01"]
    assert got == expected
    decision = [r.decision for r in ws.accepted().itertuples() if r.passage_id == "st02-01"]
    assert all(d.startswith("final (carol); ana accepted (trimmed), ben rejected")
               for d in decision)
    # taken back: the dispute shows again; every step stays in the record
    ws.adjudicate({"passage_id": "st02-01", "element": E2, "adjudicator": "carol",
                   "action": "undo"})
    assert [r.decision for r in ws.accepted().itertuples() if r.passage_id == "st02-01"] == [
        "disputed: ana accepted (trimmed), ben rejected"]


@pytest.mark.parametrize("payload, message", [
    ({"adopt": "zoe"}, "zoe has no decision"),
    ({}, "adopts one reviewer's decision"),
    ({"adopt": "ana", "action": "reject"}, "adopts one reviewer's decision"),
    ({"action": "explode"}, "adopts one reviewer's decision"),
    ({"adopt": "ana", "adjudicator": ""}, "reviewer name"),
    ({"adopt": "ana", "adjudicator": "Mandy Brightwater"}, "adjudicator names someone"),
])
def test_a_final_decision_is_refused(ws: Workspace, payload: dict, message: str) -> None:
    _two_reviewers(ws)
    with pytest.raises(ReviewError, match=message):
        ws.adjudicate({"passage_id": "st02-01", "element": E2, "adjudicator": "carol",
                       **payload})
    assert ws.store.finals().empty


def test_the_final_decision_is_what_the_next_run_learns(ws: Workspace) -> None:
    """An adjudicated quote teaches the team's decision, not the reviewers' split."""
    from pipeline.review.labels import review_labels

    _two_reviewers(ws)

    def polarity(pid: str, element: str) -> list[int]:
        labels = review_labels(ws.store)
        return list(labels[(labels["passage_id"] == pid) & (labels["element"] == element)]
                    ["polarity"])

    assert polarity("st02-01", E2) == [1]          # ana accepted, ben rejected: any accept
    ws.adjudicate({"passage_id": "st02-01", "element": E2, "adjudicator": "cat",
                   "adopt": "ben"})
    assert polarity("st02-01", E2) == [-1]         # the team rejected it
