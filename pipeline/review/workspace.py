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
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.config import Config
from pipeline.errors import ReviewError, TooManyRefusalsError
from pipeline.mapping.codebook import load_framework
from pipeline.mapping.framework import Framework
from pipeline.privacy import PrivacyContext, leaking_texts, scan_texts
from pipeline.review import page
from pipeline.review.agreement import reviewer_agreement
from pipeline.review.store import (Coding, Decision, ReviewStore, as_decision, validate,
                                    validate_coding)
from pipeline.run.folders import list_runs
from pipeline.study import Study

WITHHELD = ("[withheld: this quote contains an identifier added to the pseudonym key after the "
            "run; run themeflow again to redact it]")
ACTIONS = ("accept", "reject", "relabel", "trim", "untrim", "note", "undo")
log = logging.getLogger("themeflow")
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
        return page.item(row, passages, by_doc, proposed=False)

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

    def adjudicate(self, payload: dict[str, Any]) -> Decision:
        """Record the team's final decision on a quote: ``adopt`` one reviewer's current
        decision on it (their status, element, trim and note), or ``action`` "reject" or "undo"
        (take the final back). ``adjudicator`` is who decided; the record is append-only."""
        adjudicator = _text(payload, "adjudicator").strip()
        passage_id, element = _text(payload, "passage_id"), _text(payload, "element")
        adopt, action = _text(payload, "adopt").strip(), _text(payload, "action")
        if bool(adopt) == bool(action) or action not in ("", "reject", "undo"):
            raise ReviewError("a final decision adopts one reviewer's decision, or rejects, or "
                              "is taken back (undo)")
        row = self._passage(passage_id)
        base = Decision(passage_id, element, adjudicator, "undecided", element, str(row["text"]),
                        str(row["doc_id"]), str(row["attribution"]), self.run_id)
        if adopt:
            theirs = self.store.current(adopt)
            theirs = theirs[(theirs["passage_id"] == passage_id)
                            & (theirs["element"] == element)]
            if theirs.empty:
                raise ReviewError(f"{adopt} has no decision on this quote to adopt")
            final = replace(as_decision(theirs.iloc[-1]), reviewer=adjudicator,
                            run_id=self.run_id)
        else:
            final = replace(base, status="rejected" if action == "reject" else "undecided")
        validate(final, set(self.element_ids))
        self._check_typed(passage_id, adjudicator=adjudicator)
        return self.store.update(passage_id, element, adjudicator, lambda _: final, "finals")

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
        """The team's accepted quotes, one row per (passage, proposed element): the final
        decision where an adjudicator recorded one, else the reviewers' decisions merged, with
        ``decision`` saying which ("final (carol)", "agreed", or "disputed: ana accepted, ben
        rejected"). A quote is listed when the final accepts it, or (no final) when any
        reviewer accepted or relabelled it; its element is the one it was accepted for."""
        cols = ["element", "element_label", "quote", "attribution", "passage_id", "doc_id",
                "reviewers", "notes", "decision", "trim_start", "trim_end", "decided_at"]
        current = self.decisions()
        finals = {(f["passage_id"], f["element"]): as_decision(pd.Series(f))
                  for f in self.store.finals().to_dict("records")}
        keys = sorted(set(zip(current["passage_id"], current["element"])) | set(finals))
        labels = {e.id: e.label for e in self.framework.elements}
        by_key = {k: g for k, g in current.groupby(["passage_id", "element"])} if len(current) \
            else {}
        rows = []
        for key in keys:
            mine = by_key.get(key, current.iloc[0:0])
            decided = [as_decision(r) for _, r in mine.sort_values("reviewer").iterrows()]
            said = ", ".join(f"{d.reviewer} {_verdict(d, labels)}" for d in decided)
            if key in finals:
                chosen, who = [finals[key]], finals[key].reviewer
                label = f"final ({who})" + (f"; {said}" if said else "")
            else:
                chosen = [d for d in decided if d.status in ("accepted", "relabelled")]
                agreed = len({(d.status, d.label) for d in decided}) == 1
                label = "agreed" if agreed and len(decided) > 1 else \
                    "one reviewer" if len(decided) == 1 else f"disputed: {said}"
                who = ", ".join(d.reviewer for d in chosen)
            if not chosen or chosen[0].status not in ("accepted", "relabelled"):
                continue
            first = chosen[0]
            rows.append({"element": first.label, "passage_id": first.passage_id,
                         "quote": first.quote, "attribution": first.attribution,
                         "doc_id": first.doc_id, "reviewers": who,
                         "notes": " | ".join(dict.fromkeys(d.note for d in decided + chosen
                                                           if d.note)),
                         "decision": label, "trim_start": first.trim_start,
                         "trim_end": first.trim_end,
                         "decided_at": str(mine["decided_at"].max()) if len(mine) else ""})
        if not rows:
            return pd.DataFrame(columns=cols)
        out = pd.DataFrame(rows)
        order = {e: i for i, e in enumerate(self.element_ids)}
        out["element_label"] = [labels.get(e, e) for e in out["element"]]
        out["_order"] = [order.get(e, len(order)) for e in out["element"]]
        out = out.sort_values(["_order", "passage_id"], kind="stable")
        return out[cols].reset_index(drop=True)

    # -- agreement ---------------------------------------------------------------------------

    def agreement(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Agreement between reviewers on this run's decisions (see
        ``agreement.reviewer_agreement``) and the disagreements to settle."""
        return reviewer_agreement(self.decisions(), self.element_ids)

    # -- the page's data -----------------------------------------------------------------------

    def page_data(self) -> dict[str, Any]:
        """Everything the review page shows, as plain JSON-able data (redacted text only)."""
        return page.page_data(self)


def _verdict(d: Decision, labels: dict[str, str]) -> str:
    """A reviewer's decision in a few words ("accepted (trimmed)", "relabelled to X")."""
    text = {"relabelled": f"relabelled to {labels.get(d.label, d.label)}"}.get(d.status, d.status)
    return text + (" (trimmed)" if d.trim_start is not None else "")


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
