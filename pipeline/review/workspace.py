"""The review workspace: a study's latest run seen through the analysts' decisions.

The page, the CLI (``themeflow review``, ``themeflow agreement``, ``themeflow export``) and the
flow (accepted quotes become exemplars) all read decisions through here, so there is one meaning
of "accepted", one notion of an orphaned decision and one agreement computation.

Only the run folder's redacted tables and transcripts are read; nothing here touches raw input.

Usage::

    ws = Workspace.open(Path("my-study"))
    ws.decide({"passage_id": ..., "element": ..., "reviewer": "ana", "action": "accept"})
    ws.accepted()                 # one row per accepted quote, grouped by element
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from itertools import combinations
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.config import Config
from pipeline.errors import ReviewError, TooManyRefusalsError
from pipeline.mapping.codebook import load_framework
from pipeline.mapping.framework import Framework
from pipeline.privacy import PrivacyContext, leaking_texts, scan_texts
from pipeline.quotes import asked
from pipeline.report import emergent_themes
from pipeline.review.agreement import cohen_kappa, gwet_ac1
from pipeline.review.store import (Coding, Decision, ReviewStore, as_decision, validate,
                                    validate_coding)
from pipeline.run.folders import list_runs
from pipeline.study import Study

WITHHELD = ("[withheld: this quote contains an identifier added to the pseudonym key after the "
            "run; run themeflow again to redact it]")
ACTIONS = ("accept", "reject", "relabel", "trim", "untrim", "note", "undo")
log = logging.getLogger("themeflow")
CONTEXT_BEFORE, CONTEXT_AFTER = 2, 1
TABLES = ("candidates", "passages", "turns", "documents", "topic_themes", "passage_topics",
          "passage_themes")


class RefusalLimit:
    """At most ``limit`` refused identifier checks per ``window`` seconds in one review server.

    Why: a refusal tells whoever typed the text that it names someone in the key. Answering
    every guess let a script try 2,231 first names in 46 s; at 5 a minute the same takes hours,
    while an analyst who slips twice is not slowed."""

    def __init__(self, limit: int = 5, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self.times: deque[float] = deque()

    def check(self) -> None:
        now = self.clock()
        while self.times and now - self.times[0] > self.window:
            self.times.popleft()
        if len(self.times) >= self.limit:
            wait = int(self.window - (now - self.times[0])) + 1
            raise TooManyRefusalsError(f"too many refused notes or reviewer names; notes and "
                                       f"decisions resume in {wait} s")

    def record(self) -> None:
        self.times.append(self.clock())


@dataclass
class Workspace:
    study: Study
    run_dir: Path
    config: Config
    framework: Framework
    tables: dict[str, pd.DataFrame]
    store: ReviewStore
    refusals: RefusalLimit = field(default_factory=RefusalLimit)

    @classmethod
    def open(cls, study_root: Path, run_dir: Path | None = None) -> "Workspace":
        """The study's latest complete run and its review store. ``run_dir`` may name one run
        folder, or a folder of runs (the latest is taken), instead of ``study/outputs``."""
        study = Study(Path(study_root).resolve())
        run_dir = cls.latest_run(study_root, run_dir)
        config_path = run_dir / "config.json"
        if not config_path.exists():
            raise ReviewError("not a themeflow run folder (no config.json)", run_dir)
        cfg = Config.model_validate_json(config_path.read_text(encoding="utf-8"))
        framework = load_framework(cfg.map.framework, study.root)
        tables = {name: pd.read_parquet(run_dir / f"{name}.parquet") for name in TABLES}
        return cls(study, run_dir, cfg, framework, tables, ReviewStore(study.review_path))

    @staticmethod
    def latest_run(study_root: Path, run_dir: Path | None = None) -> Path:
        """``run_dir`` itself when it is a run folder, else the latest run inside it (default
        ``study/outputs``)."""
        run_dir = Path(run_dir) if run_dir is not None else Path(study_root) / "outputs"
        if (run_dir / "config.json").exists():
            return run_dir
        runs = list_runs(run_dir)
        if not runs:
            raise ReviewError("no finished run to review yet; run `themeflow run` first", run_dir)
        return runs[-1]

    @property
    def run_id(self) -> str:
        return self.run_dir.name

    @property
    def element_ids(self) -> list[str]:
        return [e.id for e in self.framework.elements]

    # -- decisions ---------------------------------------------------------------------------

    def decide(self, payload: dict[str, Any]) -> Decision:
        """Apply one page action to the reviewer's current decision and append the result."""
        action = payload.get("action")
        if not isinstance(action, str) or action not in ACTIONS:
            raise ReviewError(f"unknown action {action!r}")
        reviewer = _text(payload, "reviewer").strip()
        passage_id, element = _text(payload, "passage_id"), _text(payload, "element")

        def change(previous: Decision | None) -> Decision:
            if previous is None:
                row = self._passage(passage_id)
                previous = Decision(passage_id, element, reviewer, "undecided", element,
                                    str(row["text"]), str(row["doc_id"]),
                                    str(row["attribution"]), self.run_id)
            decision = replace(previous, **self._updates(action, payload, previous))
            validate(decision, set(self.element_ids))
            self._check_typed(passage_id, note=decision.note, reviewer=decision.reviewer)
            return decision

        return self.store.update(passage_id, element, reviewer, change)

    def _updates(self, action: str, payload: dict[str, Any], previous: Decision
                 ) -> dict[str, Any]:
        """The fields an action changes in the reviewer's current decision."""
        element = previous.element
        updates: dict[str, Any] = {"run_id": self.run_id}
        if action == "accept":
            updates |= {"status": "accepted", "label": element}
        elif action == "reject":
            updates |= {"status": "rejected", "label": element}
        elif action == "relabel":
            updates |= {"status": "relabelled", "label": _text(payload, "label")}
        elif action == "trim":
            updates |= {"trim_start": _int(payload.get("trim_start")),
                        "trim_end": _int(payload.get("trim_end"))}
            if previous.status in ("undecided", "rejected"):
                updates |= {"status": "accepted", "label": element}
        elif action == "untrim":
            updates |= {"trim_start": None, "trim_end": None}
        elif action == "note":
            updates |= {"note": _text(payload, "note")}
        elif action == "undo":
            updates |= {"status": "undecided", "label": element, "trim_start": None,
                        "trim_end": None}
        return updates

    def _passage(self, passage_id: str) -> pd.Series:
        passages = self.tables["passages"]
        hit = passages[passages["passage_id"] == passage_id]
        if hit.empty:
            raise ReviewError(f"passage {passage_id!r} is not in run {self.run_id}")
        return hit.iloc[0]

    def rescan(self, items: list[dict[str, Any]]) -> None:
        """Quotes are re-scanned against the current pseudonym key before they are shown: the key
        may have grown since the run (a name found in a later block). A hit withholds the quote
        and its context until a rerun redacts it."""
        privacy = PrivacyContext.load(self.study, self.config)
        if not items or not privacy.identifiers:
            return
        texts = [" ".join([it["text"], *(t["text"] for t in it["context"])]) for it in items]
        for i in leaking_texts(texts, privacy.identifiers, skip=privacy.is_published):
            items[i]["text"] = WITHHELD
            items[i]["context"] = []
            items[i]["withheld"] = True

    def queue_item(self, passage_id: str) -> dict[str, Any]:
        """A passage as the "code next" card shows it: text, who said it and its context."""
        passages = self.tables["passages"].set_index("passage_id")
        doc_id = passages.at[passage_id, "doc_id"]
        turns = self.tables["turns"]
        by_doc = {doc_id: turns[turns["doc_id"] == doc_id].sort_values("turn_index")}
        row = {"element": "", "passage_id": passage_id, "rank": None, "score": None,
               "element_score": None, "readability": None}
        return _item(row, passages, by_doc, proposed=False)

    def code(self, payload: dict[str, Any]) -> Coding:
        """Store one "code next" answer: ``elements`` (ids, or ``["none"]``) for a passage."""
        elements = payload.get("elements")
        if not isinstance(elements, list) or not all(isinstance(e, str) for e in elements):
            raise ReviewError("elements must be a list of element ids")
        row = self._passage(_text(payload, "passage_id"))
        coding = Coding(str(row["passage_id"]), _text(payload, "reviewer").strip(),
                        tuple(sorted(set(elements))), str(row["text"]), str(row["doc_id"]),
                        self.run_id)
        validate_coding(coding, set(self.element_ids))
        self._check_typed(coding.passage_id, reviewer=coding.reviewer)
        self.store.code(coding)
        return coding

    def _check_typed(self, passage_id: str, **typed: str) -> None:
        """What people type (notes, reviewer names) must not name anyone in the key. The refusal
        names the field, never the identifier or its pseudonym (naming the pseudonym made this
        check an oracle for the key), and is logged without the text."""
        self.refusals.check()
        typed = {name: value for name, value in typed.items() if value}
        if not typed:
            return
        identifiers = PrivacyContext.load(self.study, self.config).identifiers
        for name, value in typed.items():
            if scan_texts([value], identifiers):
                self.refusals.record()
                log.warning("review: refused a %s naming a key identifier (passage %s)", name,
                            passage_id)
                raise ReviewError(f"the {name} names someone or something in the study's "
                                  "pseudonym key; write the pseudonym instead")

    def decisions(self, reviewer: str | None = None) -> pd.DataFrame:
        """Current decisions, with ``in_run`` (the passage exists in this run) and
        ``in_candidates`` (it is still proposed for that element)."""
        current = self.store.current(reviewer)
        current = current[current["status"] != "undecided"].copy()
        passages = set(self.tables["passages"]["passage_id"])
        cand = self.tables["candidates"]
        proposed = set(zip(cand["passage_id"], cand["element"]))
        current["in_run"] = [p in passages for p in current["passage_id"]]
        current["in_candidates"] = [(p, e) in proposed
                                    for p, e in zip(current["passage_id"], current["element"])]
        return current.reset_index(drop=True)

    def accepted(self) -> pd.DataFrame:
        """Accepted quotes (accepted as proposed, or relabelled to another element): one row
        per (element, passage, quote) with the reviewers who accepted it, in framework order."""
        current = self.decisions()
        current = current[current["status"].isin(["accepted", "relabelled"])]
        cols = ["element", "element_label", "quote", "attribution", "passage_id", "doc_id",
                "reviewers", "notes", "trim_start", "trim_end", "decided_at"]
        if current.empty:
            return pd.DataFrame(columns=cols)
        rows = []
        for d in current.itertuples():
            dec = as_decision(pd.Series(d._asdict()))
            rows.append({"element": d.label, "passage_id": d.passage_id, "quote": dec.quote,
                         "attribution": d.attribution, "doc_id": d.doc_id, "reviewer": d.reviewer,
                         "note": d.note, "trim_start": dec.trim_start, "trim_end": dec.trim_end,
                         "decided_at": d.decided_at})
        frame = pd.DataFrame(rows)
        order = {e: i for i, e in enumerate(self.element_ids)}
        labels = {e.id: e.label for e in self.framework.elements}
        out = (frame.groupby(["element", "passage_id", "quote"], sort=False)
               .agg(attribution=("attribution", "first"), doc_id=("doc_id", "first"),
                    reviewers=("reviewer", lambda s: ", ".join(sorted(set(s)))),
                    notes=("note", lambda s: " | ".join(n for n in s if n)),
                    trim_start=("trim_start", "first"), trim_end=("trim_end", "first"),
                    decided_at=("decided_at", "max")).reset_index())
        out["element_label"] = [labels.get(e, e) for e in out["element"]]
        out["_order"] = [order.get(e, len(order)) for e in out["element"]]
        out = out.sort_values(["_order", "passage_id", "quote"], kind="stable")
        return out[cols].reset_index(drop=True)

    # -- agreement ---------------------------------------------------------------------------

    def agreement(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Per element and pair of reviewers: items both decided, share agreeing, kappa, AC1;
        and the disagreements to settle (one row per item and pair)."""
        current = self.decisions()
        current["verdict"] = [
            "accept" if s == "accepted" else "reject" if s == "rejected" else f"relabel:{lab}"
            for s, lab in zip(current["status"], current["label"])]
        rows, disagreements = [], []
        for element in self.element_ids:
            mine = current[current["element"] == element]
            verdicts = {r: g.set_index("passage_id")["verdict"] for r, g in mine.groupby("reviewer")}
            for a, b in combinations(sorted(verdicts), 2):
                both = sorted(set(verdicts[a].index) & set(verdicts[b].index))
                if not both:
                    continue
                va = [verdicts[a][p] for p in both]
                vb = [verdicts[b][p] for p in both]
                rows.append({"element": element, "reviewer_a": a, "reviewer_b": b,
                             "n": len(both),
                             "agreement": round(sum(x == y for x, y in zip(va, vb)) / len(both), 4),
                             "kappa": cohen_kappa(va, vb), "ac1": gwet_ac1(va, vb)})
                for p, x, y in zip(both, va, vb):
                    if x != y:
                        text = mine[mine["passage_id"] == p]["text"].iloc[0]
                        disagreements.append({"element": element, "passage_id": p,
                                              "text": text, "reviewer_a": a, "verdict_a": x,
                                              "reviewer_b": b, "verdict_b": y})
        return (pd.DataFrame(rows, columns=["element", "reviewer_a", "reviewer_b", "n",
                                            "agreement", "kappa", "ac1"]),
                pd.DataFrame(disagreements, columns=["element", "passage_id", "text",
                                                     "reviewer_a", "verdict_a", "reviewer_b",
                                                     "verdict_b"]))

    # -- the page's data -----------------------------------------------------------------------

    def page_data(self) -> dict[str, Any]:
        """Everything the review page shows, as plain JSON-able data (redacted text only)."""
        cand = self.tables["candidates"].sort_values(["element", "rank"], kind="stable")
        passages = self.tables["passages"].set_index("passage_id")
        turns = self.tables["turns"]
        by_doc = {d: g.sort_values("turn_index") for d, g in turns.groupby("doc_id")}
        items = []
        for c in cand.itertuples():
            items.append(_item(c._asdict(), passages, by_doc, proposed=True))
        decisions = self.store.current()
        decisions = decisions[decisions["status"] != "undecided"] if len(decisions) else decisions
        proposed = set(zip(cand["passage_id"], cand["element"]))
        kept, orphans = [], []
        for d in decisions.drop_duplicates(["passage_id", "element"]).itertuples():
            if (d.passage_id, d.element) in proposed:
                continue
            if d.passage_id in passages.index:
                row = {"element": d.element, "passage_id": d.passage_id, "rank": None,
                       "score": None, "element_score": None, "readability": None}
                kept.append(_item(row, passages, by_doc, proposed=False))
            else:
                orphans.append({"element": d.element, "passage_id": d.passage_id,
                                "text": d.text, "attribution": d.attribution,
                                "doc_id": d.doc_id, "run_id": d.run_id})
        docs = self.tables["documents"]
        docs = docs[docs["status"] == "ok"]
        self.rescan(items + kept)
        return {
            "run_id": self.run_id, "framework": self.framework.name,
            "elements": [{"id": e.id, "label": e.label, "definition": e.definition}
                         for e in self.framework.elements],
            "items": items + kept, "orphans": orphans,
            "decisions": [_decision_json(r) for r in decisions.to_dict("records")],
            "filters": {k: sorted(map(str, docs[k].unique())) for k in ("block", "area", "role")},
            "emergent": emergent_themes({**self.tables, "passages": self.tables["passages"]}),
        }


def _item(c: dict[str, Any], passages: pd.DataFrame, by_doc: dict[str, pd.DataFrame],
          proposed: bool) -> dict[str, Any]:
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
            "rank": None if c["rank"] is None else int(c["rank"]), **num, "text": p["text"], "attribution": p["attribution"],
            "doc_id": p["doc_id"], "block": str(p["block"]), "area": str(p["area"]),
            "role": str(p["role"]), "participant": str(p["participant"]), "context": context,
            "proposed": proposed, "indirect": str(c.get("indirect") or ""), "withheld": False,
            "probability": None if pd.isna(c.get("probability")) else float(c["probability"]),
            "why": str(c.get("why") or ""),
            "asked": asked(str(p["text"]), str(p.get("context") or ""))}


def _int(value: Any) -> int:
    """A character offset as the page sends it: a JSON integer (not a float, bool or string,
    which ``int()`` would quietly turn into another offset)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ReviewError(f"not a character offset: {str(value)[:40]!r}")
    return value


def _text(payload: dict[str, Any], name: str) -> str:
    """A text field of a request; absent is empty, anything but a string is refused (a dict
    reviewer was stored as its Python repr)."""
    value = payload.get(name, "")
    if not isinstance(value, str):
        raise ReviewError(f"{name} must be text")
    return value


def _decision_json(row: dict[str, Any]) -> dict[str, Any]:
    keep = ("passage_id", "element", "reviewer", "status", "label", "trim_start", "trim_end",
            "note", "decided_at")
    out = {k: row[k] for k in keep}
    for k in ("trim_start", "trim_end"):
        out[k] = None if pd.isna(out[k]) else int(out[k])
    return out
