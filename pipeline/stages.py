"""The pipeline's stages as plain functions over frames: what the Prefect tasks wrap.

Each stage maps ``(Study, Config, inputs)`` onto the function of the module that owns the work,
and returns the tables that module makes; none touches Prefect, and none holds logic of its
own beyond that adapting. Raw text lives only in ``ingest_stage``'s return value and inside
``redact_stage``; everything after is redacted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import schemas
from pipeline.build import build_redactor, embedding_cache, lazy_encoder, spacy_processes
from pipeline.config import Config, TopicsConfig
from pipeline.embed import ChunkEncoder, Encoder, embed_texts
from pipeline.indirect import flag_passages, with_indirect
from pipeline.ingest import Document, Quarantined, ingest_files
from pipeline.keys import PseudonymKey
from pipeline.mapping.codebook import load_framework
from pipeline.mapping.learned import explain
from pipeline.mapping.mapper import Mapped, map_passages, topic_themes_table
from pipeline.privacy import PrivacyContext
from pipeline.quotes import propose, with_attribution
from pipeline.redact import ChunkRunner, Redaction, redact_documents
from pipeline.review.labels import study_labels
from pipeline.segment import (
    SentenceCache,
    SentenceSplitter,
    layout_turns,
    passage_prompts,
    segment_document,
)
from pipeline.study import Study
from pipeline.topics import TopicResult, fit_cached, fit_topics, frozen_topic_tables, topic_tables
from pipeline.turns import Turn


@dataclass
class Redacted:
    documents: pd.DataFrame
    turns: pd.DataFrame
    redactions: pd.DataFrame
    texts: dict[str, str]          # doc_id -> redacted transcript (turns laid out)
    n_detected: int


def ingest_stage(study: Study, cfg: Config, blocks: list[str] | None
                 ) -> tuple[list[Document], list[Quarantined]]:
    study.validate()
    return ingest_files(study.transcript_files(blocks), cfg.ingest)


def redact_stage(study: Study, cfg: Config, docs: list[Document],
                 quarantined: list[Quarantined], run_chunks: ChunkRunner | None = None
                 ) -> Redacted:
    """Redacts ``docs`` in place and extends the study's key; the tables of what was read.
    Chunks go to ``run_chunks`` (the run's workers or a Dask cluster), else to the detectors
    in this process."""
    key = PseudonymKey.load(study.key_path(cfg))
    rows, n_detected = redact_documents(docs, build_redactor(study, cfg), key, study.cache_dir,
                                        run_chunks, cfg.runner.chunk_documents,
                                        spacy_processes(cfg))
    key.save()
    return _redacted_tables(study, docs, quarantined, rows, n_detected)


def _redacted_tables(study: Study, docs: list[Document], quarantined: list[Quarantined],
                     rows: list[Redaction], n_detected: int) -> Redacted:
    """Turns laid out as one text per document (redaction offsets move into that text), and
    each file's status with the participant's metadata."""
    turns, texts = [], {}
    offsets: dict[tuple[str, int], int] = {}
    for doc in docs:
        text, spans = layout_turns(doc.turns)
        texts[doc.doc_id] = text
        for turn, (start, end) in zip(doc.turns, spans):
            offsets[(doc.doc_id, turn.turn_index)] = start
            turns.append((doc.doc_id, turn.turn_index, turn.speaker, turn.is_respondent, turn.text,
                          start, end))
    red = [(r.doc_id, r.turn_index, r.start + offsets[(r.doc_id, r.turn_index)],
            r.end + offsets[(r.doc_id, r.turn_index)], r.label, r.detector, r.score, r.pseudonym)
           for r in rows]
    root = (str(study.root.resolve()) + "/", str(study.root) + "/")
    status = [(d.doc_id, d.block, d.sha256, "ok", "", d.convention) for d in docs]
    status += [(q.doc_id, q.block, q.sha256, "quarantined",
                q.error.replace(root[0], "").replace(root[1], ""), "") for q in quarantined]
    documents = pd.DataFrame(status, columns=["doc_id", "block", "sha256", "status", "error",
                                              "convention"])
    # A quarantined duplicate keeps its id (its row names the file), so the metadata is looked up
    # once per id: merging on a repeated key multiplied the rows.
    documents = documents.merge(study.metadata(sorted(set(documents["doc_id"]))), on="doc_id",
                                how="left")
    documents = documents.sort_values(["block", "doc_id"], kind="stable")[schemas.DOCUMENTS]
    return Redacted(documents.reset_index(drop=True), pd.DataFrame(turns, columns=schemas.TURNS),
                    pd.DataFrame(red, columns=schemas.REDACTIONS), texts, n_detected)


def segment_stage(turns: pd.DataFrame, cfg: Config, cache_dir: Path | None = None,
                  split: SentenceSplitter | None = None) -> pd.DataFrame:
    """Passages of every document; sentence offsets come from the study's cache when known,
    else from ``split`` (the run's workers), all at once, else from this process."""
    sentences = SentenceCache(cache_dir, split)
    passages = []
    # Plain lists, grouped once: per-document frames and itertuples cost ~2 s at paper scale,
    # on every run (cached sentences or not).
    ordered = turns.sort_values(["doc_id", "turn_index"], kind="stable")
    rows = list(zip(*(ordered[c].tolist() for c in schemas.TURNS)))
    sentences.spans([r[4] for r in rows if r[3]])  # every respondent turn not yet cached
    for doc_id, group in groupby(rows, key=itemgetter(0)):
        group = list(group)
        doc_turns = [Turn(int(r[1]), r[2], bool(r[3]), r[4]) for r in group]
        spans = [(int(r[5]), int(r[6])) for r in group]
        passages += segment_document(str(doc_id), doc_turns, spans, cfg.segment,
                                     sentences.spans)
    sentences.save()
    frame = pd.DataFrame([p.__dict__ for p in passages], columns=schemas.PASSAGES)
    return frame.sort_values(["doc_id", "start"], kind="stable").reset_index(drop=True)


def embed_stage(study: Study, cfg: Config, texts: list[str],
                run_chunks: ChunkEncoder | None = None, encode: Encoder | None = None
                ) -> tuple[np.ndarray, int]:
    """Vectors for model texts, through the study's embedding cache; (vectors, newly embedded).
    ``encode`` is where uncached texts are encoded (the model process's ``encode``); by
    default, this process, loading the model only if something needs embedding."""
    return embed_texts(texts, embedding_cache(study, cfg), encode or lazy_encoder(cfg.models),
                       cfg.runner.chunk_passages, run_chunks)


def topics_stage(model_texts: list[str], vectors: np.ndarray, passage_ids: list[str],
                 cfg: Config, cache_dir: Path | None = None, base: Path | None = None,
                 keep_keywords: Callable[[list[str]], list[str]] | None = None,
                 fit: Callable[[list[str], np.ndarray, TopicsConfig], TopicResult] = fit_topics
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The topics and passage_topics tables: fitted (or cached, see ``topics.fit_cached``), or
    a frozen ``base`` run's topics kept and new passages assigned to them."""
    if base is not None:
        return frozen_topic_tables(base, passage_ids, vectors, cfg)
    result = fit_cached(model_texts, vectors, passage_ids, cfg, cache_dir, keep_keywords, fit)
    return topic_tables(result, passage_ids)


def review_labels_stage(study: Study, cfg: Config, labels_path: str | None,
                        privacy: PrivacyContext, passages: pd.DataFrame | None = None
                        ) -> pd.DataFrame:
    """The analysts' decisions this run learns from: a saved table (``themeflow reproduce``
    passes the one the original run used), or ``review.labels.study_labels`` now, with coded
    spans laid onto this run's ``passages``."""
    if labels_path:
        return pd.read_parquet(labels_path)
    return study_labels(study, cfg, privacy, passages)


def map_stage(study: Study, cfg: Config, vectors: np.ndarray, passages: pd.DataFrame,
              turns: pd.DataFrame, labels: pd.DataFrame | None = None, base: Path | None = None,
              encoder: Encoder | None = None) -> Mapped:
    """``mapping.mapper.map_passages`` on the configured framework, with a frozen ``base`` run's
    calibration. Needs no topics, so it runs while they are fitted; ``topic_themes_stage``
    joins the two. Prompts and element texts not yet in the embedding cache are encoded by
    ``encoder`` (as in ``embed_stage``)."""
    cache = embedding_cache(study, cfg)
    encoder = encoder or lazy_encoder(cfg.models)

    def encode(texts: list[str]) -> np.ndarray:
        return embed_texts(texts, cache, encoder)[0]

    base_scores = pd.read_parquet(base / "theme_scores.parquet") if base is not None else None
    return map_passages(load_framework(cfg.map.framework, study.root), passages, vectors,
                        passage_prompts(passages, turns), encode, cfg.map, labels, base_scores,
                        study.cache_dir / "models")


def topic_themes_stage(topics: pd.DataFrame, passage_topics: pd.DataFrame,
                       passage_themes: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """Each topic's share of passages per framework element (rows of both tables are in passage
    order), and whether it is emergent."""
    keywords = {int(r.topic): r.keywords.split(", ") for r in topics.itertuples()}
    return topic_themes_table(list(passage_topics["topic"]), list(passage_themes["element"]),
                              keywords, cfg.map)


def attribution_stage(study: Study, cfg: Config, passages: pd.DataFrame,
                      documents: pd.DataFrame) -> pd.DataFrame:
    """Passages plus participant, role, area, block and the attribution line."""
    return with_attribution(passages, documents, study.blocks(), cfg.attribution)


def quotes_stage(study: Study, cfg: Config, passages: pd.DataFrame, documents: pd.DataFrame,
                 mapped: Mapped, labels: pd.DataFrame | None = None) -> pd.DataFrame:
    """Candidates per element (``quotes.propose``), each with its probability and why."""
    frame = attribution_stage(study, cfg, passages, documents)
    fw = mapped.framework
    candidates = propose(frame, list(mapped.passage_themes["element"]), mapped.scores,
                         [e.id for e in fw.elements], mapped.inputs.vectors, cfg.quotes, labels)
    return explain(candidates, mapped.learned, mapped.inputs, list(passages["text"]),
                   {e.id: e.label for e in fw.elements})


def indirect_stage(passages: pd.DataFrame, candidates: pd.DataFrame
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Indirect identifiers in every passage (flagged, not removed), and the candidates with an
    ``indirect`` column naming the kinds found in each (empty when none)."""
    flags = flag_passages(passages)
    return flags, with_indirect(candidates, flags)
