"""What the team has labelled, as a run and the review server's learner read it: the review
store's decisions and "code next" answers (``review_labels``), a labelled-passages CSV
(``read_labels_csv``), merged into one table (``study_labels``).

Why apart from ``store``: the store keeps the research record as analysts made it; this module
decides what that record teaches the classifier (polarity, final decisions over reviewers'),
which changes with the learner, not with the storage.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
import pandas as pd

from pipeline import schemas
from pipeline.errors import ConfigError
from pipeline.review.store import ReviewStore

if TYPE_CHECKING:
    from pipeline.config import Config
    from pipeline.privacy import PrivacyContext
    from pipeline.study import Study

log = logging.getLogger("themeflow")

LABEL_COLUMNS = schemas.LABELS
SPAN_COLUMNS = ["doc", "start", "end"]  # a coded span instead of a passage


def review_labels(store: ReviewStore) -> pd.DataFrame:
    """What the analysts' decisions teach the next run, one row per (passage, element): polarity
    +1 where any reviewer accepted the quote for the element (or relabelled it there) or gave
    the passage that element in "code next", -1 where reviewers only rejected it (a relabel also
    rejects the element it was proposed for). A "none of these" answer is the row
    (passage, ``NONE``, +1). Where an adjudicator recorded the team's final decision on a quote,
    it stands for the reviewers' decisions on it. Sorted, so the same decisions always give the
    same table."""
    if not store.path.exists():
        return pd.DataFrame(columns=LABEL_COLUMNS)
    current = store.current()
    finals = store.finals()
    if len(finals):
        settled = set(zip(finals["passage_id"], finals["element"]))
        current = pd.concat([current[[k not in settled for k in zip(current["passage_id"],
                                                                    current["element"])]],
                             finals])
    current = current[current["status"] != "undecided"]
    rows: dict[tuple[str, str], tuple[int, str]] = {}

    def add(passage_id: str, element: str, polarity: int, text: str) -> None:
        old = rows.get((passage_id, element))
        rows[(passage_id, element)] = (max(polarity, old[0]) if old else polarity, text)

    for d in current.itertuples():
        if d.status == "relabelled":
            add(d.passage_id, d.element, -1, d.text)
        element = d.label if d.status in ("accepted", "relabelled") else d.element
        add(d.passage_id, element, -1 if d.status == "rejected" else 1, d.text)
    for c in store.codings().itertuples():
        for element in c.elements.split("; "):
            add(c.passage_id, element, 1, c.text)
    frame = pd.DataFrame([(p, e, pol, t) for (p, e), (pol, t) in rows.items()],
                         columns=LABEL_COLUMNS)
    return frame.sort_values(["element", "passage_id"], kind="stable").reset_index(drop=True)


def read_labels_csv(path: Path, identifiers: list[tuple[str, str, str]],
                    published: Callable[[str], bool],
                    locate: Callable[[pd.DataFrame], pd.DataFrame] | None = None
                    ) -> pd.DataFrame:
    """A team's labelled passages (``element`` and ``passage_id`` and/or ``text``; optional
    ``polarity``, 1 or -1, default 1), e.g. passages coded before themeflow. A row whose text
    names an identifier in the study's key is left out and logged by row number only, because
    label texts are written to the run folder.

    Rows may instead name a coded span, ``doc, start, end`` (character offsets into the
    transcript, as ``themeflow import`` writes them): ``locate`` turns those into rows of the
    passages they cover (``locate_spans``); without it they are left out."""
    from pipeline.privacy import leaking_texts

    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ConfigError(f"labelled passages cannot be read as CSV: {exc}", path) from exc
    has_spans = set(SPAN_COLUMNS) <= set(frame.columns)
    if "element" not in frame.columns or not (
            {"passage_id", "text"} & set(frame.columns) or has_spans):
        raise ConfigError("labelled passages CSV needs 'element' and 'passage_id' or 'text' "
                          "(or a coded span: 'doc', 'start', 'end')", path)
    for col in ("passage_id", "text", *SPAN_COLUMNS):
        if col not in frame.columns:
            frame[col] = ""
    if "polarity" not in frame.columns:
        frame["polarity"] = "1"
    bad = [i + 2 for i, p in enumerate(frame["polarity"]) if p.strip() not in ("1", "-1", "")]
    if bad:
        raise ConfigError(f"polarity must be 1 or -1 (rows {bad[:5]})", path)
    frame["polarity"] = [int(p) if p.strip() else 1 for p in frame["polarity"]]
    span = (frame["passage_id"] == "") & (frame["text"] == "") & (frame["doc"] != "")
    bad = [int(i) + 2 for i in np.flatnonzero(span) if not (
        frame["start"].iat[i].isdigit() and frame["end"].iat[i].isdigit()
        and int(frame["start"].iat[i]) < int(frame["end"].iat[i]))]
    if bad:
        raise ConfigError(f"a coded span needs whole-number start < end (rows {bad[:5]})", path)
    leaks = leaking_texts(list(frame["text"]), identifiers, skip=published)
    if leaks:
        log.warning("%s: %d labelled passage(s) left out because they name an identifier "
                    "(rows %s)", path.name, len(leaks), sorted(i + 2 for i in leaks)[:10])
    spans = frame[span].drop(index=[i for i in sorted(leaks) if span.iat[i]])
    frame = frame[~span].drop(index=[i for i in sorted(leaks) if not span.iat[i]])
    frame = frame[LABEL_COLUMNS].reset_index(drop=True)
    if locate is None or not len(spans):
        return frame
    located = locate(spans.assign(start=spans["start"].astype(int), end=spans["end"].astype(int)))
    return pd.concat([frame, located[LABEL_COLUMNS]], ignore_index=True) if len(located) else frame


def locate_spans(spans: pd.DataFrame, passages: pd.DataFrame,
                 raw_text: Callable[[str], str | None]) -> pd.DataFrame:
    """Label rows for the passages that coded spans (``element, doc, start, end, polarity``:
    offsets into the document's raw text, ``raw_text(doc)``) cover. A passage takes a span's
    label when they share at least half of the shorter of the two: a span inside a passage
    labels it, and so does one covering most of it, but not one that grazes its edge. The
    passages are laid onto the raw text as ``themeflow evaluate`` lays a coder's segments
    (``segment.raw_offsets``)."""
    from pipeline.segment import raw_offsets

    docs = sorted(set(spans["doc"]))
    raws = {d: t for d in docs if (t := raw_text(d)) is not None}
    mine = passages[passages["doc_id"].isin(list(raws))]
    placed = raw_offsets(mine[["passage_id", "doc_id", "text"]], raws)
    rows = []
    for s in spans.itertuples():
        p = placed[(placed["doc_id"] == s.doc) & (placed["raw_start"] >= 0)]
        overlap = (np.minimum(p["raw_end"], s.end) - np.maximum(p["raw_start"], s.start))
        need = 0.5 * np.minimum(p["raw_end"] - p["raw_start"], s.end - s.start)
        rows += [(pid, s.element, int(s.polarity), "")
                 for pid in p["passage_id"][(overlap > 0) & (overlap >= need)]]
    missing = [d for d in docs if d not in raws]
    if missing:
        log.warning("labelled spans of %d document(s) not in this study were left out",
                    len(missing))
    return pd.DataFrame(rows, columns=LABEL_COLUMNS)


def raw_transcripts(study: Study) -> Callable[[str], str | None]:
    """A reader of the study's transcripts' raw text as ingest reads it (``normalise``d), by doc
    id (None for a doc the study does not have); the block folders are listed once."""
    from pipeline.ingest import decode_bytes, normalise, read_docx

    paths = {path.stem: path for _, path in study.transcript_files()}

    def read(doc: str) -> str | None:
        path = paths.get(doc)
        if path is None:
            return None
        if path.suffix.lower() == ".docx":
            return normalise(read_docx(path))
        return normalise(decode_bytes(path.read_bytes(), path))

    return read


def merge_labels(*tables: pd.DataFrame) -> pd.DataFrame:
    """One row per (passage, element) or, for text-only labels, (text, element); accepted wins
    over rejected, as in ``review_labels``; sorted for identical tables."""
    present = [t for t in tables if len(t)]
    if not present:
        return pd.DataFrame(columns=LABEL_COLUMNS)
    frame = pd.concat(present, ignore_index=True)
    frame["_key"] = [p or f"text:{t}" for p, t in zip(frame["passage_id"], frame["text"])]
    frame = frame.sort_values(["_key", "element", "polarity"], ascending=[True, True, False],
                              kind="stable").drop_duplicates(["_key", "element"])
    return frame.drop(columns="_key").sort_values(["element", "passage_id", "text"],
                                                  kind="stable").reset_index(drop=True)


def study_labels(study: Study, cfg: Config, privacy: PrivacyContext,
                 passages: pd.DataFrame | None = None) -> pd.DataFrame:
    """Everything the team has labelled, as the run and the review server's learner both read
    it: the review store's decisions and "code next" answers, plus the team's labelled-passages
    CSV (``map.labels``), whose coded spans are laid onto ``passages``; empty when
    ``map.learn_from_reviews`` is off."""
    if not cfg.map.learn_from_reviews:
        return pd.DataFrame(columns=LABEL_COLUMNS)
    labels = review_labels(ReviewStore(study.review_path))
    if cfg.map.labels:
        def locate(spans: pd.DataFrame) -> pd.DataFrame:
            return locate_spans(spans, passages, raw_transcripts(study))

        team = read_labels_csv(study.root / cfg.map.labels, list(privacy.identifiers),
                               privacy.is_published, locate if passages is not None else None)
        labels = merge_labels(labels, by_element_id(team, cfg, study))
    return labels


def by_element_id(frame: pd.DataFrame, cfg: Config, study: Study) -> pd.DataFrame:
    """Labels that name an element by its label (as a CAQDAS package names its codes: "Joint
    ownership") are given the framework's id for it ("joint_ownership"); ids stay as they are,
    and a name the framework does not know is left for the learner to skip."""
    from pipeline.mapping.codebook import load_framework

    elements = load_framework(cfg.map.framework, study.root).elements
    ids = {e.id for e in elements}
    by_label = {e.label.casefold(): e.id for e in elements}
    return frame.assign(element=[x if x in ids or x == schemas.NONE
                                 else by_label.get(x.casefold(), x) for x in frame["element"]])
