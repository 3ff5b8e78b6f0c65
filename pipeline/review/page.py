"""What the review page shows: the run's candidates, decisions kept from earlier runs and orphans,
each with the turns around it, as plain JSON-able data (redacted text only).

Why apart from the workspace: the workspace owns what decisions mean; this module only shapes
them and the run's tables for the page, and changes with the page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from pipeline.quotes import asked
from pipeline.report import emergent_themes

if TYPE_CHECKING:
    from pipeline.review.workspace import Workspace

CONTEXT_BEFORE, CONTEXT_AFTER = 2, 1  # turns shown before and after a quote's own


def page_data(ws: Workspace) -> dict[str, Any]:
    """Everything the review page shows; quotes naming an identifier added to the key since the
    run are withheld (``Workspace.rescan``)."""
    cand = ws.tables["candidates"].sort_values(["element", "rank"], kind="stable")
    passages = ws.tables["passages"].set_index("passage_id")
    turns = ws.tables["turns"]
    by_doc = {d: g.sort_values("turn_index") for d, g in turns.groupby("doc_id")}
    items = []
    for c in cand.itertuples():
        items.append(item(c._asdict(), passages, by_doc, proposed=True))
    decisions = ws.store.current()
    decisions = decisions[decisions["status"] != "undecided"] if len(decisions) else decisions
    proposed = set(zip(cand["passage_id"], cand["element"]))
    kept, orphans = [], []
    for d in decisions.drop_duplicates(["passage_id", "element"]).itertuples():
        if (d.passage_id, d.element) in proposed:
            continue
        if d.passage_id in passages.index:
            row = {"element": d.element, "passage_id": d.passage_id, "rank": None,
                   "score": None, "element_score": None, "readability": None}
            kept.append(item(row, passages, by_doc, proposed=False))
        else:
            orphans.append({"element": d.element, "passage_id": d.passage_id,
                            "text": d.text, "attribution": d.attribution,
                            "doc_id": d.doc_id, "run_id": d.run_id})
    docs = ws.tables["documents"]
    docs = docs[docs["status"] == "ok"]
    ws.rescan(items + kept)
    return {
        "run_id": ws.run_id, "framework": ws.framework.name,
        "elements": [{"id": e.id, "label": e.label, "definition": e.definition}
                     for e in ws.framework.elements],
        "items": items + kept, "orphans": orphans,
        "decisions": [decision_json(r) for r in decisions.to_dict("records")],
        "finals": [decision_json(r) for r in ws.store.finals().to_dict("records")],
        "filters": {k: sorted(map(str, docs[k].unique())) for k in ("block", "area", "role")},
        "emergent": emergent_themes({**ws.tables, "passages": ws.tables["passages"]}),
    }


def item(c: dict[str, Any], passages: pd.DataFrame, by_doc: dict[str, pd.DataFrame],
         proposed: bool) -> dict[str, Any]:
    """One quote as a card shows it: its candidate row ``c`` (or a stand-in for a decision kept
    from an earlier run, or a "code next" passage), the passage, and the turns around it."""
    p = passages.loc[c["passage_id"]]
    doc_turns = by_doc.get(p["doc_id"])
    context = []
    if doc_turns is not None:
        ti = int(p["turn_index"])
        near = doc_turns[(doc_turns["turn_index"] >= ti - CONTEXT_BEFORE)
                         & (doc_turns["turn_index"] <= ti + CONTEXT_AFTER)]
        context = [{"speaker": t.speaker, "text": t.text, "here": int(t.turn_index) == ti}
                   for t in near.itertuples()]
    num = {k: (None if c[k] is None or pd.isna(c[k]) else float(c[k]))
           for k in ("score", "element_score", "readability")}
    return {"element": c["element"], "passage_id": c["passage_id"],
            "rank": None if c["rank"] is None else int(c["rank"]), **num, "text": p["text"],
            "attribution": p["attribution"],
            "doc_id": p["doc_id"], "block": str(p["block"]), "area": str(p["area"]),
            "role": str(p["role"]), "participant": str(p["participant"]), "context": context,
            "proposed": proposed, "indirect": str(c.get("indirect") or ""), "withheld": False,
            "probability": None if pd.isna(c.get("probability")) else float(c["probability"]),
            "why": str(c.get("why") or ""),
            "asked": asked(str(p["text"]), str(p.get("context") or "")),
            "weak": bool(c.get("weak")) if c.get("weak") is not None else False}


def decision_json(row: dict[str, Any]) -> dict[str, Any]:
    """A decision row as the page reads it (offsets as integers or null)."""
    keep = ("passage_id", "element", "reviewer", "status", "label", "trim_start", "trim_end",
            "note", "decided_at")
    out = {k: row[k] for k in keep}
    for k in ("trim_start", "trim_end"):
        out[k] = None if pd.isna(out[k]) else int(out[k])
    return out
