"""The review page over HTTP (security) and in a real browser (the analyst's workflow)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pipeline.review.app import create_app
from pipeline.review.store import as_decision
from pipeline.review.workspace import Workspace
from tests.conftest import LiveServer
from tests.fakes import E1, E2, make_run


@pytest.fixture()
def study(tmp_path: Path) -> Path:
    make_run(tmp_path / "study")
    return tmp_path / "study"


def _token(client: TestClient) -> str:
    html = client.get("/").text
    return html.split('name="csrf-token" content="')[1].split('"')[0]


BODY = {"action": "accept", "passage_id": "sp01-01", "element": E1, "reviewer": "ana"}


@pytest.mark.parametrize("headers,status", [
    ({}, 403),                                                         # no token
    ({"X-CSRF-Token": "forged"}, 403),                                 # wrong token
    ({"X-CSRF-Token": "<ok>", "Origin": "http://evil.example"}, 403),  # foreign page
    ({"X-CSRF-Token": "<ok>"}, 200),
])
def test_csrf(study: Path, headers: dict, status: int) -> None:
    client = TestClient(create_app(study), base_url="http://127.0.0.1:8765")
    token = _token(client)
    headers = {k: (token if v == "<ok>" else v) for k, v in headers.items()}
    r = client.post("/api/decisions", json=BODY, headers=headers)
    assert r.status_code == status, r.text
    assert len(Workspace.open(study).store.history()) == (1 if status == 200 else 0)


def test_refused_notes_get_400_then_429(study: Path) -> None:
    """A note naming someone in the key: 400 without the pseudonym; the sixth refusal within a
    minute is answered 429, and so is every note or decision until the minute is over."""
    client = TestClient(create_app(study), base_url="http://127.0.0.1:8765")
    headers = {"X-CSRF-Token": _token(client)}
    note = {**BODY, "action": "note", "note": "ask Mandy Brightwater"}
    codes = [client.post("/api/decisions", json=note, headers=headers) for _ in range(6)]
    assert [r.status_code for r in codes] == [400] * 5 + [429]
    assert "PERSON" not in codes[0].text and "too many refused" in codes[5].text
    assert client.post("/api/decisions", json=BODY, headers=headers).status_code == 429
    assert Workspace.open(study).store.history().empty


@pytest.mark.parametrize("body,headers,status", [
    ("{", {}, 400),                                                    # not JSON
    ("[" * 100_000 + "]" * 100_000, {}, 400),                          # nested past recursion
    ('{"note": "' + "x" * 300_000 + '"}', {}, 413),                    # over the body cap
    ({**BODY, "reviewer": {"name": "ana"}}, {}, 400),                  # a dict reviewer
    ({**BODY, "action": ["accept"]}, {}, 400),
    ({**BODY, "action": "trim", "trim_start": 0.0, "trim_end": 5.7}, {}, 400),
    ({**BODY, "action": "trim", "trim_start": False, "trim_end": True}, {}, 400),
    ({**BODY, "action": "trim", "trim_start": "0", "trim_end": "5"}, {}, 400),
    ({**BODY, "action": "note", "note": 12}, {}, 400),
    (BODY, {"Origin": "https://127.0.0.1:8765"}, 403),                # same host, other scheme
    (BODY, {"Origin": "null"}, 403),
    (BODY, {"Origin": "http://127.0.0.1:8765"}, 200),
])
def test_malformed_requests_get_4xx(study: Path, body: Any, headers: dict,
                                    status: int) -> None:
    """Issue 23: these gave 500s, were buffered whole, or were stored mangled."""
    client = TestClient(create_app(study), base_url="http://127.0.0.1:8765")
    headers = {"X-CSRF-Token": _token(client), "Content-Type": "application/json", **headers}
    content = body if isinstance(body, str) else json.dumps(body)
    r = client.post("/api/decisions", content=content, headers=headers)
    assert r.status_code == status, r.text
    assert len(Workspace.open(study).store.history()) == (1 if status == 200 else 0)


def test_ipv6_loopback_host_and_nul_in_a_download_name(study: Path) -> None:
    client = TestClient(create_app(study), base_url="http://[::1]:8765")
    assert client.get("/").status_code == 200
    assert client.get("/exports/%00").status_code == 404
    assert client.get("/exports/..%2Fkeys%2Fpseudonyms.json").status_code == 404


def test_access_token_admits_only_the_browser_that_opened_the_link(study: Path) -> None:
    """Issue 23: any account on the machine could read every quote and post as anyone."""
    app = create_app(study, access="s3cret-link-token")
    other = TestClient(app, base_url="http://127.0.0.1:8765")
    for path in ["/", "/api/data", "/api/learner", "/exports/x.csv"]:
        assert other.get(path).status_code == 401
    assert other.get("/?access=wrong").status_code == 401
    assert other.post("/api/decisions", json=BODY).status_code == 401
    analyst = TestClient(app, base_url="http://127.0.0.1:8765")
    opened = analyst.get("/?access=s3cret-link-token", follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == "/"
    assert "httponly" in opened.headers["set-cookie"].lower()
    assert "samesite=strict" in opened.headers["set-cookie"].lower()
    assert analyst.get("/").status_code == 200
    r = analyst.post("/api/decisions", json=BODY, headers={"X-CSRF-Token": _token(analyst)})
    assert r.status_code == 200
    assert len(Workspace.open(study).store.history()) == 1


def test_agreement_without_a_shared_acceptance_has_no_span_figure(study: Path) -> None:
    ws = Workspace.open(study)
    for reviewer, action in [("ana", "accept"), ("ben", "reject")]:
        ws.decide({**BODY, "reviewer": reviewer, "action": action})
    r = TestClient(create_app(study), base_url="http://127.0.0.1:8765").get("/api/agreement")
    assert r.status_code == 200
    assert r.json()["pairs"][0]["span_agreement"] is None  # NaN gave a 500 (found by the fuzz)


def test_form_post_refused(study: Path) -> None:
    client = TestClient(create_app(study), base_url="http://127.0.0.1:8765")
    r = client.post("/api/decisions", data=BODY, headers={"X-CSRF-Token": _token(client)})
    assert r.status_code == 415


@pytest.mark.parametrize("host,allowed,status", [
    ("127.0.0.1:8765", [], 200), ("localhost:8765", [], 200),
    ("attacker.example", [], 400), ("review.team.lan", ["review.team.lan"], 200),
])
def test_host_header(study: Path, host: str, allowed: list[str], status: int) -> None:
    client = TestClient(create_app(study, allowed_hosts=allowed), base_url=f"http://{host}")
    assert client.get("/").status_code == status


def test_page_escapes_markup_and_sets_csp(study: Path) -> None:
    client = TestClient(create_app(study), base_url="http://127.0.0.1:8765")
    r = client.get("/")
    assert "<script>alert(" not in r.text and "\\u003cscript\\u003e" in r.text
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'nonce-" in csp
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", r.text)  # no external assets


def test_export_download_no_traversal(study: Path) -> None:
    client = TestClient(create_app(study), base_url="http://127.0.0.1:8765")
    token = _token(client)
    client.post("/api/decisions", json=BODY, headers={"X-CSRF-Token": token})
    out = client.post("/api/export/csv", json={}, headers={"X-CSRF-Token": token}).json()
    r = client.get(out["url"])
    assert r.status_code == 200 and "The course changed how I see work" in r.text
    assert client.get("/exports/..%2Fkeys%2Fpseudonyms.json").status_code == 404
    assert client.get("/exports/../keys/pseudonyms.json").status_code == 404


def _select_in_quote(page, card, start: int, end: int) -> None:  # noqa: ANN001
    card.locator(".quote").evaluate(
        """(q, [s, e]) => { const t = q.querySelector('.kept').firstChild;
             window.getSelection().setBaseAndExtent(t, s, t, e); }""", [start, end])


def test_review_in_browser(study: Path, browser) -> None:  # noqa: ANN001
    server = LiveServer(create_app(study))
    page = browser.new_page()
    external, errors, dialogs = [], [], []
    page.on("request", lambda r: external.append(r.url)
            if not r.url.startswith(server.url) else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        page.goto(server.url + "/")
        page.fill("#reviewer", "ana")
        page.press("#reviewer", "Enter")
        page.locator("#reviewer").blur()
        cards = page.locator(".card[data-passage]")
        assert cards.count() == 2  # mutual learning: two candidates
        # accept the first with the mouse; reject the second with the keyboard
        cards.nth(0).get_by_role("button", name="Accept (a)").click()
        page.wait_for_selector('.card[data-passage="sp01-01"].accepted')
        page.keyboard.press("j")
        page.keyboard.press("r")
        page.wait_for_selector('.card[data-passage="st02-03"].rejected')
        # relabel a joint-ownership candidate to mutual learning
        page.click(f'button[data-element-nav="{E2}"]')
        card = page.locator('.card[data-passage="sp01-03"]')
        card.locator('select[data-role="relabel"]').select_option(E1)
        page.wait_for_selector('.card[data-passage="sp01-03"].relabelled')
        # trim the other one to its first sentence by selecting it and pressing t
        card = page.locator('.card[data-passage="st02-01"]')
        card.click()
        _select_in_quote(page, card, 0, 40)
        card.get_by_role("button", name="Trim to selection (t)").click()
        page.wait_for_selector('.card[data-passage="st02-01"].accepted')
        # the card with <script> in it shows the text and runs nothing
        page.click('button[data-element-nav="empowered_participation"]')
        assert "<script>alert('x')</script>" in page.locator(".quote").first.inner_text()
        page.reload()
        page.click(f'button[data-element-nav="{E2}"]')
        assert "relabelled" in page.locator('.card[data-passage="sp01-03"]').get_attribute("class")
        assert page.locator('.card[data-passage="st02-01"] .kept').inner_text() == \
            "We sit round one table with the college"
        page.click(f'button[data-element-nav="{E1}"]')
        assert "accepted" in page.locator('.card[data-passage="sp01-01"]').get_attribute("class")
        assert "rejected" in page.locator('.card[data-passage="st02-03"]').get_attribute("class")
        # issue 22: the quote relabelled to mutual learning is listed under it too
        moved = page.locator('.card[data-passage="sp01-03"] [data-role="moved"]')
        assert moved.inner_text() == "relabelled here from Joint ownership by ana"
        assert page.locator("#cards .card").count() == 3
        # j never walks out of the candidate cards (into the emergent themes' cards)
        for _ in range(6):
            page.keyboard.press("j")
        assert page.locator("#cards .card.focus").count() == 1
        assert "4/5 decided" in page.locator("#progress").inner_text()
        # the run id in the header is light on the dark header
        color = page.locator("#run-id").evaluate("e => getComputedStyle(e.parentNode).color")
        assert color == "rgb(214, 221, 229)"
        page.click("#load-agreement")
        page.wait_for_selector("#agreement p")
        page.screenshot(path=str(study / "review-page.png"), full_page=True)
        shot = os.environ.get("THEMEFLOW_SCREENSHOT")
        if shot:
            page.screenshot(path=shot, full_page=True)
    finally:
        page.close()
        server.stop()
    assert external == [] and errors == [] and dialogs == []
    current = Workspace.open(study).store.current()
    got = {(d.passage_id, d.element, d.status, d.label, d.trim_start, d.trim_end)
           for d in map(as_decision, (row for _, row in current.iterrows()))}
    assert got == {("sp01-01", E1, "accepted", E1, None, None),
                   ("st02-03", E1, "rejected", E1, None, None),
                   ("sp01-03", E2, "relabelled", E1, None, None),
                   ("st02-01", E2, "accepted", E2, 0, 39)}


def test_team_view_records_the_final_decision_in_browser(study: Path, browser) -> None:  # noqa: ANN001
    """Issue 22: disagreement disappeared into the exports. Here two reviewers disagree, the
    adjudicator sees both decisions side by side, adopts one, and the export says so."""
    ws = Workspace.open(study)
    for reviewer, action, kw in [("ana", "trim", {"trim_start": 0, "trim_end": 39}),
                                 ("ben", "reject", {})]:
        ws.decide({"action": action, "passage_id": "st02-01", "element": E2,
                   "reviewer": reviewer, **kw})
    server = LiveServer(create_app(study))
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(server.url + "/")
        page.fill("#reviewer", "carol")
        page.press("#reviewer", "Enter")
        page.click("#team-nav")
        item = page.locator(f'.team-item[data-team="st02-01|{E2}"]')
        assert "disputed" in item.get_attribute("class")
        assert item.locator(".verdicts li").all_inner_texts() == [
            "ana: accepted (trimmed) Final: ana's", "ben: rejected Final: ben's"]
        item.get_by_role("button", name="Final: ana's").click()
        final = page.locator(f'.team-item[data-team="st02-01|{E2}"] [data-role="final"]')
        final.filter(has_text="Final (carol): accepted (trimmed)").wait_for()
        shot = os.environ.get("THEMEFLOW_TEAM_SCREENSHOT")
        if shot:
            page.screenshot(path=shot, full_page=True)
    finally:
        page.close()
        server.stop()
    assert errors == []
    rows = Workspace.open(study).accepted()
    row = rows[rows["passage_id"] == "st02-01"].iloc[0]
    assert (row["reviewers"], row["quote"]) == ("carol", "We sit round one table with the college")
    assert row["decision"] == "final (carol); ana accepted (trimmed), ben rejected"


def _with_learning(study: Path) -> Path:
    """The fake run plus learning inputs (one-hot-ish vectors, neutral zero-shot scores)."""
    import numpy as np

    from pipeline.mapping.learned import LearningInputs

    ws = Workspace.open(study)
    ids = list(ws.tables["passages"]["passage_id"])
    rng = np.random.default_rng(1)
    vecs = rng.normal(size=(len(ids), 8))
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    k = len(ws.element_ids)
    LearningInputs(ids, ws.element_ids, vecs, vecs.copy(), np.zeros((len(ids), k)),
                   [(0, "definition", "a definition")], np.ones((1, 8)) / 8 ** 0.5
                   ).save(ws.run_dir)
    return study


@pytest.mark.parametrize("body,status,message", [
    ({"elements": [E1, E2]}, 200, ""),
    ({"elements": ["none"]}, 200, ""),
    ({"elements": []}, 400, "one or more elements"),
    ({"elements": ["none", E1]}, 400, "cannot be given with an element"),
    ({"elements": "mutual_learning"}, 400, "must be a list"),
    ({"elements": [E1], "passage_id": "nope"}, 400, "not in run"),
    ({"elements": [E1], "reviewer": ""}, 400, "reviewer name"),
])
def test_code_next_answers(study: Path, body: dict, status: int, message: str) -> None:
    app = create_app(_with_learning(study))
    client = TestClient(app, base_url="http://127.0.0.1:8765")
    token = _token(client)
    learner = app.state.learner()
    assert learner.wait_idle()
    before = client.get("/api/learner").json()
    assert before["enabled"] and len(before["queue"]) == 5 and before["labels"] == 0
    sent = {"passage_id": before["queue"][0]["passage_id"], "reviewer": "ana", **body}
    refused = client.post("/api/codings", json=sent)          # no CSRF token
    assert refused.status_code == 403
    r = client.post("/api/codings", json=sent, headers={"X-CSRF-Token": token})
    assert r.status_code == status and message in r.text
    assert learner.wait_idle()
    after = client.get("/api/learner").json()
    stored = Workspace.open(study).store.codings()
    if status == 200:
        assert list(stored["elements"]) == ["; ".join(sorted(body["elements"]))]
        assert after["labels"] == 1 and after["version"] > before["version"]
        assert sent["passage_id"] not in {q["passage_id"] for q in after["queue"]}
    else:
        assert stored.empty and after["labels"] == 0


def test_the_page_re_ranks_before_the_agreement_estimate(study: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The estimate refits once per fold; the new version (candidates, queue) is out before it."""
    import pipeline.review.learner as learner_module

    seen: list[dict] = []

    def estimate(learned, inputs, cfg) -> float:
        seen.append(app.state.learner().snapshot())
        return 0.5

    monkeypatch.setattr(learner_module, "cross_validated_kappa", estimate)
    app = create_app(_with_learning(study))
    learner = app.state.learner()
    assert learner.wait_idle()
    published = seen[0]
    assert (published["version"], len(published["queue"]), published["fitting"],
            published["kappa"]) == (1, 5, True, None)
    done = learner.snapshot()
    assert (done["version"], done["queue"], done["fitting"], done["kappa"]) == (
        1, published["queue"], False, 0.5)


def test_learner_off_for_a_run_without_learning_inputs(study: Path) -> None:
    client = TestClient(create_app(study), base_url="http://127.0.0.1:8765")
    state = client.get("/api/learner").json()
    assert not state["enabled"] and "run themeflow again" in state["error"]
