"""Review decisions: the analysts' research record, in SQLite in the study folder.

Every action (accept, reject, relabel, trim, note) appends a row; nothing is ever updated or
deleted, so a decision can always be traced and no rerun, crash or second analyst can lose one.
A reviewer's *current* decision on a candidate is the latest row for (passage_id, element,
reviewer). Each row carries a snapshot of the (redacted) quote and its attribution, so a decision
whose passage disappeared from a later run (the transcript changed) is still listed in full.

The database runs in WAL mode with every write in an immediate transaction: four analysts on one
study can save at once, and the flow can read decisions while the page is writing.

Usage::

    store = ReviewStore(study.review_path)
    store.record(Decision(passage_id, element, "ana", "accepted", label=element, text=..., ...))
    store.current()          # DataFrame of current decisions, one row per key
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import pandas as pd

from pipeline import schemas
from pipeline.errors import ReviewError

STATUSES = ("accepted", "rejected", "relabelled", "undecided")
_DECISION_COLUMNS = """
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    passage_id  TEXT NOT NULL,
    element     TEXT NOT NULL,          -- the element the machine proposed the quote for
    reviewer    TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('accepted', 'rejected', 'relabelled',
                                                'undecided')),
    label       TEXT NOT NULL,          -- the element the quote belongs to after review
    trim_start  INTEGER,                -- character offsets into text; NULL = whole passage
    trim_end    INTEGER,
    note        TEXT NOT NULL DEFAULT '',
    text        TEXT NOT NULL,          -- redacted passage text at decision time
    doc_id      TEXT NOT NULL,
    attribution TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    decided_at  TEXT NOT NULL
"""
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS decisions ({_DECISION_COLUMNS});
CREATE INDEX IF NOT EXISTS decisions_key ON decisions (passage_id, element, reviewer, id);
CREATE TABLE IF NOT EXISTS codings (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    passage_id  TEXT NOT NULL,
    reviewer    TEXT NOT NULL,
    elements    TEXT NOT NULL,          -- '; '-joined element ids; 'none' = none of these
    text        TEXT NOT NULL,          -- redacted passage text at coding time
    doc_id      TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    decided_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS codings_key ON codings (passage_id, reviewer, id);
-- The team's final decision on a quote, recorded by an adjudicator after comparing the
-- reviewers' decisions (as NVivo, ATLAS.ti and MAXQDA teams do after a coding comparison).
-- The columns of decisions; "reviewer" is the adjudicator. The latest row per
-- (passage_id, element) is the final one; 'undecided' takes it back.
CREATE TABLE IF NOT EXISTS finals ({_DECISION_COLUMNS});
CREATE INDEX IF NOT EXISTS finals_key ON finals (passage_id, element, id);
"""
NONE = schemas.NONE  # the "none of these" answer to "code next"
KEY = ["passage_id", "element", "reviewer"]


@dataclass(frozen=True)
class Decision:
    passage_id: str
    element: str
    reviewer: str
    status: str
    label: str
    text: str
    doc_id: str
    attribution: str
    run_id: str
    trim_start: int | None = None
    trim_end: int | None = None
    note: str = ""

    @property
    def quote(self) -> str:
        """The quotation as the analyst wants it printed (trimmed when a trim is set)."""
        if self.trim_start is None or self.trim_end is None:
            return self.text
        return self.text[self.trim_start:self.trim_end]


@dataclass(frozen=True)
class Coding:
    """An answer to the "code next" queue: the elements a passage carries (any number), or
    ``(NONE,)`` when it carries none of them. A reviewer's latest answer per passage counts."""

    passage_id: str
    reviewer: str
    elements: tuple[str, ...]
    text: str
    doc_id: str
    run_id: str


def validate_coding(coding: Coding, elements: set[str]) -> None:
    """Refuse answers the page should never send: no element, an unknown one, "none" beside an
    element, an empty reviewer."""
    if not coding.reviewer.strip() or len(coding.reviewer) > 80:
        raise ReviewError("a reviewer name (1-80 characters) is required")
    if not coding.elements:
        raise ReviewError("choose one or more elements, or none of these")
    unknown = sorted(set(coding.elements) - elements - {NONE})
    if unknown:
        raise ReviewError(f"unknown element {unknown[0]!r}")
    if NONE in coding.elements and len(set(coding.elements)) > 1:
        raise ReviewError("'none of these' cannot be given with an element")


def validate(decision: Decision, elements: set[str]) -> None:
    """Refuse decisions the page should never send: unknown status or element, empty reviewer,
    a trim outside the text."""
    if decision.status not in STATUSES:
        raise ReviewError(f"unknown status {decision.status!r}")
    if not decision.reviewer.strip() or len(decision.reviewer) > 80:
        raise ReviewError("a reviewer name (1-80 characters) is required")
    for element in (decision.element, decision.label):
        if element not in elements:
            raise ReviewError(f"unknown element {element!r}")
    if decision.status == "relabelled" and decision.label == decision.element:
        raise ReviewError("relabel needs a different element")
    if (decision.trim_start is None) != (decision.trim_end is None):
        raise ReviewError("a trim needs both a start and an end")
    if decision.trim_start is not None and not (
            0 <= decision.trim_start < decision.trim_end <= len(decision.text)):
        raise ReviewError("the trim must be a non-empty span inside the quote")
    if len(decision.note) > 4000:
        raise ReviewError("notes are limited to 4000 characters")


def _use_wal(conn: sqlite3.Connection, patience_s: float = 30.0) -> None:
    """Switch a new database to WAL once; WAL persists in the file, so later opens only read it.

    Changing the journal mode needs an exclusive lock, and SQLite answers "database is locked" at
    once (without its busy handler) when another connection is creating the same new database, as
    when two analysts save their first decisions together. So the switch is retried for a while.
    """
    deadline = time.monotonic() + patience_s
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class ReviewStore:
    def __init__(self, path: Path):
        self.path = path

    @contextmanager
    def _connect(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        if write:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise FileNotFoundError(self.path)
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout=30000")
            _use_wal(conn)
            conn.execute("PRAGMA synchronous=FULL")
            if write:
                conn.executescript(SCHEMA)
            yield conn
        except sqlite3.DatabaseError as exc:
            raise ReviewError(f"review store cannot be used: {exc}", self.path) from exc
        finally:
            conn.close()

    def record(self, decision: Decision) -> int:
        """Append one decision in its own transaction; returns its row id."""
        return self._append("decisions", asdict(decision))

    def code(self, coding: Coding) -> int:
        """Append one "code next" answer; returns its row id."""
        row = asdict(coding)
        row["elements"] = "; ".join(sorted(set(coding.elements)))
        return self._append("codings", row)

    def update(self, passage_id: str, element: str, reviewer: str,
               change: Callable[[Decision | None], Decision], table: str = "decisions"
               ) -> Decision:
        """Compare-and-append: the reviewer's latest decision on (passage, element) is read and
        ``change``d inside one immediate transaction. Two review servers on one study (two
        terminals, a shared drive) then build on each other's change: read outside the
        transaction, a trim and a note sent at the same moment lost one of the two. ``change``
        gets None when there is no decision yet (an "undecided" row, with its note, is one) and
        may raise to refuse. ``table="finals"``: the same for the team's final decision, whoever
        recorded the latest one (``reviewer`` is then the adjudicator)."""
        if table not in ("decisions", "finals"):
            raise ValueError(table)
        mine = "AND reviewer = ?" if table == "decisions" else ""
        key = (passage_id, element, reviewer) if table == "decisions" else (passage_id, element)
        with self._connect(write=True) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.row_factory = sqlite3.Row
                row = conn.execute(
                    f"SELECT * FROM {table} WHERE passage_id = ? AND element = ? {mine}"
                    " ORDER BY id DESC LIMIT 1", key).fetchone()
                previous = as_decision(pd.Series(dict(row))) if row is not None else None
                decision = change(previous)
                self._insert(conn, table, asdict(decision))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return decision

    def _append(self, table: str, row: dict) -> int:
        """An insert in an immediate transaction of its own."""
        with self._connect(write=True) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                rowid = self._insert(conn, table, row)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return rowid

    @staticmethod
    def _insert(conn: sqlite3.Connection, table: str, row: dict) -> int:
        """The one write: an insert, time-stamped."""
        row = {**row, "decided_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds")}
        cols = ", ".join(row)
        marks = ", ".join(f":{c}" for c in row)
        return int(conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", row).lastrowid)

    def history(self) -> pd.DataFrame:
        """Every row ever written, oldest first."""
        if not self.path.exists():
            return _empty()
        with self._connect() as conn:
            return pd.read_sql_query("SELECT * FROM decisions ORDER BY id", conn)

    def codings(self) -> pd.DataFrame:
        """The latest "code next" answer per (passage_id, reviewer), oldest first."""
        cols = ["id", *Coding.__dataclass_fields__, "decided_at"]
        if not self.path.exists():
            return pd.DataFrame(columns=cols)
        with self._connect() as conn:
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'codings'").fetchone():
                return pd.DataFrame(columns=cols)  # a store from before the queue existed
            frame = pd.read_sql_query("SELECT * FROM codings ORDER BY id", conn)
        return frame.drop_duplicates(["passage_id", "reviewer"], keep="last").reset_index(
            drop=True)

    def current(self, reviewer: str | None = None) -> pd.DataFrame:
        """The latest decision per (passage_id, element, reviewer); 'undecided' rows (a reviewer
        took a decision back) are left out."""
        frame = self.history()
        if reviewer is not None:
            frame = frame[frame["reviewer"] == reviewer]
        frame = frame.sort_values("id").drop_duplicates(KEY, keep="last")
        frame = frame[frame["status"] != "undecided"]
        return frame.sort_values("id").reset_index(drop=True)

    def finals(self) -> pd.DataFrame:
        """The team's final decision per (passage_id, element): the latest one recorded, unless
        it was taken back ('undecided'). ``reviewer`` is the adjudicator."""
        if not self.path.exists():
            return _empty()
        with self._connect() as conn:
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'finals'").fetchone():
                return _empty()  # a store from before adjudication existed
            frame = pd.read_sql_query("SELECT * FROM finals ORDER BY id", conn)
        frame = frame.drop_duplicates(["passage_id", "element"], keep="last")
        return frame[frame["status"] != "undecided"].reset_index(drop=True)

    def texts(self) -> Iterator[str]:
        """All free text in the store (quotes, notes, attributions): what the leak check scans."""
        frame = pd.concat([self.history(), self.finals()])
        for col in ("text", "note", "attribution", "reviewer"):
            yield "\n".join(frame[col].astype(str))
        codings = self.codings()
        for col in ("text", "reviewer"):
            yield "\n".join(codings[col].astype(str))


def _empty() -> pd.DataFrame:
    cols = ["id", *Decision.__dataclass_fields__, "decided_at"]
    return pd.DataFrame(columns=cols)


def as_decision(row: pd.Series) -> Decision:
    fields = {k: row[k] for k in Decision.__dataclass_fields__}
    for k in ("trim_start", "trim_end"):
        fields[k] = None if pd.isna(fields[k]) else int(fields[k])
    return Decision(**fields)
