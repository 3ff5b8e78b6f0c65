"""Quotes: per element, a short, diverse list of candidate illustrative quotations.

A candidate must be readable on its own (``quotes.min_words``..``max_words`` words, opens with a
capital and not with a word that leans on context such as "and" or "that", ends a sentence). A
quote opening with a pronoun or "yes"/"no" is kept when its prompt is a question, which then
names the referent: authors publish such answers with the question beside them
(``quotes.question_opener_weight``; the review page shows the question above the quote). The
list is built greedily by maximal marginal relevance: on-point score, minus redundancy with quotes
already chosen, minus a small penalty for repeating an area, role or block; near-duplicates are
skipped, and no participant appears twice (``max_per_participant``) while others are available.

Usage::

    table = rank_candidates(passages, scores, element_ids, vectors, meta, cfg.quotes)
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pandas as pd

from pipeline import schemas
from pipeline.config import QuotesConfig
from pipeline.lexicons import read_word_list

SPREAD_PENALTY = 0.02
# Element scores are in spreads (standard deviations, see pipeline.mapping.mapper); MMR weighs them
# against cosine redundancy, so one spread counts as this much cosine similarity.
COSINE_PER_SPREAD = 0.1


@lru_cache(maxsize=1)
def _openers() -> frozenset[str]:
    return frozenset(read_word_list("text/dangling_openers.txt"))


@lru_cache(maxsize=1)
def _question_openers() -> frozenset[str]:
    return frozenset(read_word_list("text/question_openers.txt"))


def _first_word(text: str) -> str:
    words = text.split()
    return re.sub(r"[^\w']", "", words[0]).lower() if words else ""


def asked(text: str, context: str) -> str:
    """The question a quote's opening word leans on ("She ..." after "How is your keyworker?"),
    or "" when the quote does not lean on one. ``context`` is the passage's prompt, as the
    passages table holds it ("question … text before")."""
    question = context.split(" … ")[0].strip()
    if _first_word(text) in _question_openers() and question.endswith("?"):
        return question
    return ""


@lru_cache(maxsize=1)
def _fillers() -> frozenset[str]:
    return frozenset(w for w in read_word_list("text/disfluencies.txt") if " " not in w)


def readability(text: str, cfg: QuotesConfig, context: str = "") -> float:
    """0 when the passage cannot stand alone, else 1 minus a filler penalty (times
    ``question_opener_weight`` when it stands only beside its question, see ``asked``)."""
    words = text.split()
    if not (cfg.min_words <= len(words) <= cfg.max_words):
        return 0.0
    if not re.match(r"^[\"'“‘(\[]?[A-Z0-9]", text.strip()):
        return 0.0
    weight = 1.0
    if _first_word(text) in _openers():
        if not asked(text, context):
            return 0.0
        weight = cfg.question_opener_weight
    if not re.search(r"[.!?][\"'”’)]?$", text.strip()):
        return 0.0
    fill = sum(1 for w in words if re.sub(r"\W", "", w).lower() in _fillers()) / len(words)
    return round(max(0.0, 1.0 - 3 * fill) * weight, 4)


def rank_candidates(passages: pd.DataFrame, scores: np.ndarray, element_ids: list[str],
                    vectors: np.ndarray, cfg: QuotesConfig,
                    exclude: set[tuple[str, str]] | None = None) -> pd.DataFrame:
    """``passages`` needs passage_id, doc_id, text, context, attribution, participant, block,
    area, role and ``best`` (the assigned element); rows align with ``scores`` and ``vectors``.
    ``exclude`` holds (passage_id, element) pairs never to propose (analysts rejected them)."""
    read = np.array([readability(t, cfg, c) for t, c in zip(passages["text"],
                                                             passages["context"])])
    ids = passages["passage_id"].to_numpy()
    rows = []
    for j, element in enumerate(element_ids):
        ok = read > 0
        if exclude:
            ok = ok & np.array([(p, element) not in exclude for p in ids], dtype=bool)
        assigned = set(np.where((passages["best"].to_numpy() == element) & ok)[0])
        # Widen with the element's best readable passages, so that a short list can be spread
        # over participants rather than filled with a few people's passages. Those are "weak"
        # candidates (the mapping put them elsewhere): marked, or left out (quotes.weak).
        ranked = [i for i in np.argsort(-scores[:, j], kind="stable") if ok[i]]
        if cfg.weak == "omit":
            ranked = [i for i in ranked if i in assigned]
        pool = sorted(assigned | set(ranked[: cfg.per_element * 3]))
        rows += _select(passages, pool, sorted(ranked), scores[:, j], read, vectors, element, cfg,
                        assigned)
    return pd.DataFrame(rows, columns=schemas.CANDIDATES)


def _select(passages: pd.DataFrame, pool: list[int], readable: list[int], score: np.ndarray,
            read: np.ndarray, vectors: np.ndarray, element: str, cfg: QuotesConfig,
            assigned: set[int]) -> list[dict]:
    """Greedy MMR. Passes: the pool with one quote per participant; then every readable passage,
    still one per participant (others exist); only then the pool without that limit.
    Each step scores every candidate at once (arrays, not rows): a study of 40,000 passages
    ranks in a second."""
    relevance = COSINE_PER_SPREAD * score + 0.05 * read
    codes = {k: pd.factorize(passages[k].astype(str))[0]
             for k in ("participant", "area", "role", "block")}
    seen = {k: np.zeros(codes[k].max() + 1 if len(codes[k]) else 0, dtype=np.int64)
            for k in codes}
    chosen: list[int] = []
    redundancy: dict[int, float] = {}
    for candidates, strict in ((pool, True), (readable, True), (pool, False)):
        cand = np.asarray(candidates, dtype=np.int64)
        if not len(cand):
            continue
        cand_vectors = vectors[cand]
        while len(chosen) < cfg.per_element:
            ok = ~np.isin(cand, chosen)
            if strict:
                ok &= seen["participant"][codes["participant"][cand]] < cfg.max_per_participant
            red = (vectors[chosen] @ cand_vectors.T).max(axis=0).astype(np.float64) if chosen \
                else np.zeros(len(cand))
            ok &= red < cfg.near_duplicate
            if not ok.any():
                break
            spread = sum(seen[k][codes[k][cand]] for k in ("area", "role", "block"))
            value = (cfg.mmr_lambda * relevance[cand] - (1 - cfg.mmr_lambda) * red
                     - SPREAD_PENALTY * spread)
            value[~ok] = -np.inf
            k = int(np.argmax(value))  # the first best, as a scan in candidate order would pick
            best = int(cand[k])
            chosen.append(best)
            for key in seen:
                seen[key][codes[key][best]] += 1
            redundancy[best] = float(red[k])
    relevance = {i: float(relevance[i]) for i in chosen}
    out = []
    for rank, i in enumerate(chosen, start=1):
        row = passages.iloc[i]
        out.append({
            "element": element, "rank": rank, "passage_id": row["passage_id"],
            "doc_id": row["doc_id"], "text": row["text"], "attribution": row["attribution"],
            "score": round(relevance[i], 6), "element_score": round(float(score[i]), 6),
            "readability": float(read[i]),
            "redundancy": round(redundancy[i], 6),
            "context": row["context"], "participant": row["participant"], "block": row["block"],
            "area": row["area"], "role": row["role"], "weak": i not in assigned})
    return out


def propose(passages: pd.DataFrame, best: list[str], scores: np.ndarray, element_ids: list[str],
            vectors: np.ndarray, cfg: QuotesConfig, labels: pd.DataFrame | None = None
            ) -> pd.DataFrame:
    """Candidates per element from attributed ``passages`` and their assigned element
    (``best``); a quote the analysts rejected for an element (a -1 row of ``labels``) is not
    proposed for it again (their decision stays visible on the review page). The run and the
    review server's re-ranking both come here."""
    rejected = set()
    if labels is not None and len(labels):
        neg = labels[labels["polarity"] < 0]
        rejected = set(zip(neg["passage_id"], neg["element"]))
    return rank_candidates(passages.assign(best=best), scores, element_ids, vectors, cfg,
                           exclude=rejected)


def attribution(role: str, area: str, block: str, blocks: list[str], style: str) -> str:
    """``Service User, Area 5, Year 4``: role and area from participants.csv, year = block's
    position among the study's blocks."""
    area_text = f"Area {area}" if str(area).strip().isdigit() else str(area)
    when = f"Year {blocks.index(block) + 1}" if style == "role_area_year" and block in blocks \
        else str(block)
    return f"{role}, {area_text}, {when}"


def with_attribution(passages: pd.DataFrame, documents: pd.DataFrame, all_blocks: list[str],
                     style: str) -> pd.DataFrame:
    """Passages plus participant, role, area, block and the attribution line (``style`` is
    ``attribution`` in the config; ``all_blocks`` the study's blocks, in order). Only documents
    read ("ok") attribute: a quarantined file with a duplicate id is not the passage's source."""
    meta = documents[documents["status"] == "ok"].set_index("doc_id")
    frame = passages.copy()
    for col in ("participant", "role", "area", "block"):
        # One dict lookup per passage (``.at`` per row cost seconds on a study).
        column = meta[col].to_dict()
        frame[col] = [column[d] for d in frame["doc_id"]]
    lines = {key: attribution(*key, all_blocks, style)
             for key in set(zip(frame["role"], frame["area"], frame["block"]))}
    frame["attribution"] = [lines[key] for key in
                            zip(frame["role"], frame["area"], frame["block"])]
    return frame
