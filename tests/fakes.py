"""Small fakes for review tests: a study folder with one run folder written by hand.

Two transcripts, five respondent passages; one passage holds markup (``<script>``) to prove the
page escapes it. The tables have the columns the real flow writes, so the review workspace, the
web page and the exports read them exactly as they read a real run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from pipeline import schemas
from pipeline.config import Config
from pipeline.keys import PseudonymKey
from pipeline.schemas import RUN_TABLES

E1, E2, E3 = "mutual_learning", "joint_ownership", "empowered_participation"
DOCS = {
    "sp01": ("2014", "P1", "Service User", "1", [
        ("Interviewer", False, "What did the course change?"),
        ("Respondent", True, "The course changed how I see work. I learned from the other mums "
                             "and they learned from me."),
        ("Interviewer", False, "And the keyworker?"),
        ("Respondent", True, "My keyworker [PERSON_1] came to the nursery. We planned it "
                             "together and it was ours."),
    ]),
    "st02": ("2015", "S2", "Keyworker", "2", [
        ("Interviewer", False, "How do partners work together?"),
        ("Respondent", True, "We sit round one table with the college and decide together who "
                             "does what, so nothing is duplicated."),
        ("Respondent", True, "Parents choose their own route. Nobody is forced <script>alert("
                             "'x')</script> to come."),
        ("Respondent", True, "I just listen first and then we decide what to try next."),
    ]),
}
# (element, rank, doc, turn_index, score)
CANDIDATES = [(E1, 1, "sp01", 1, 0.31), (E1, 2, "st02", 3, 0.12), (E2, 1, "st02", 1, 0.28),
              (E2, 2, "sp01", 3, 0.22), (E3, 1, "st02", 2, 0.25)]


def make_run(study: Path, run_id: str = "20260101T000000000Z",
             drop_passages: tuple[str, ...] = ()) -> Path:
    """Write study/outputs/<run_id> (and participants, a key naming 'Mandy Brightwater').
    ``drop_passages``: doc:turn keys left out, as if the transcript had changed."""
    run = study / "outputs" / run_id
    (run / "transcripts").mkdir(parents=True)
    (study / "transcripts" / "2014").mkdir(parents=True, exist_ok=True)
    key = PseudonymKey.load(study / "keys" / "pseudonyms.json")
    key.assign("Mandy Brightwater", "PERSON")
    key.save()
    docs, turns, passages = [], [], []
    participants = ["doc,participant,role,area"]
    for doc_id, (block, participant, role, area, doc_turns) in DOCS.items():
        docs.append((doc_id, block, participant, role, area, "0" * 64, "ok", "", "labelled turns"))
        participants.append(f"{doc_id},{participant},{role},{area}")
        text, pos = "", 0
        for i, (speaker, resp, said) in enumerate(doc_turns):
            line = f"{speaker}: {said}\n\n"
            start = pos + len(speaker) + 2
            turns.append((doc_id, i, speaker, resp, said, start, start + len(said)))
            if resp and f"{doc_id}:{i}" not in drop_passages:
                year = int(block) - 2013
                passages.append((f"{doc_id}-{i:02d}", doc_id, i, start, start + len(said), said,
                                 "", len(said.split()), participant, role, area, block,
                                 f"{role}, Area {area}, Year {year}"))
            text += line
            pos += len(line)
        (run / "transcripts" / f"{doc_id}.txt").write_text(text, encoding="utf-8")
    (study / "participants.csv").write_text("\n".join(participants) + "\n", encoding="utf-8")
    pas = pd.DataFrame(passages, columns=RUN_TABLES["passages"])
    cands = []
    for element, rank, doc, ti, score in CANDIDATES:
        pid = f"{doc}-{ti:02d}"
        hit = pas[pas["passage_id"] == pid]
        if hit.empty:
            continue
        p = hit.iloc[0]
        cands.append((element, rank, pid, doc, p["text"], p["attribution"], score, score - 0.05,
                      1.0, 0.0, "", p["participant"], p["block"], p["area"], p["role"],
                      False, score, f"{score:.0%} likely to be coded {element}", ""))
    n = len(pas)
    rows = {
        "documents": docs, "turns": turns, "passages": pas, "candidates": cands,
        "passage_themes": {"passage_id": pas["passage_id"], "element": "none", "score": 0.0,
                           "status": "none", "elements": "", "confidence": 0.0},
        "passage_topics": {"passage_id": pas["passage_id"], "topic": 0, "probability": 1.0},
        "topic_themes": [(0, n, "course, partners", "none", 0.0, 1.0, True)],
    }
    tables = {name: schemas.check(name, pd.DataFrame(data, columns=RUN_TABLES[name]))
              for name, data in rows.items()}
    for name, frame in tables.items():
        frame.to_parquet(run / f"{name}.parquet", index=False)
    (run / "config.json").write_text(Config().to_json(), encoding="utf-8")
    (run / "manifest.json").write_text(json.dumps({"run_id": run_id}), encoding="utf-8")
    return run
