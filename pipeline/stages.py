"""The pipeline's stages as plain functions over frames: what the Prefect tasks wrap.

Each stage states what it needs and what it returns; none touches Prefect. Raw text lives only in
``ingest_stage``'s return value and inside ``redact_stage``; everything after is redacted.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import groupby
from operator import itemgetter
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import Config, TopicsConfig
from pipeline.embed import (
    ChunkEncoder,
    EmbeddingCache,
    Encoder,
    embed_texts,
    sentence_transformer_encoder,
)
from pipeline.errors import ConfigError
from pipeline.indirect import flag_passages
from pipeline.ingest import Document, Quarantined, ingest_files, sha256_bytes
from pipeline.keys import PseudonymKey
from pipeline.mapping.codebook import load_framework
from pipeline.mapping.framework import Framework
from pipeline.mapping.mapper import (
    FrameworkMapper,
    assign,
    centres_of,
    confidence,
    context_vectors,
    exemplars_from,
    score_passages,
    theme_scores_table,
    topic_themes_table,
)
from pipeline.models import load_embedder, load_spacy, model_fingerprint
from pipeline.privacy import leaking_texts
from pipeline.progress import progress
from pipeline.quotes import rank_candidates
from pipeline.redact import (
    ChunkRunner,
    Redactor,
    Span,
    detection_cache_path,
    redact_documents,
)
from pipeline.review.store import (
    LABEL_COLUMNS,
    ReviewStore,
    merge_labels,
    read_labels_csv,
    review_labels,
)
from pipeline.run.folders import list_runs
from pipeline.segment import (
    SentenceCache,
    layout_turns,
    model_text,
    segment_document,
    turn_prompts,
    warm_sentencizer,
)
from pipeline.study import Study, load_participants
from pipeline.topics import TopicResult, assign_frozen, fit_topics

DOCUMENT_COLUMNS = ["doc_id", "block", "participant", "role", "area", "sha256", "status", "error"]
TURN_COLUMNS = ["doc_id", "turn_index", "speaker", "is_respondent", "text", "start", "end"]
REDACTION_COLUMNS = ["doc_id", "turn_index", "start", "end", "label", "detector", "score",
                     "pseudonym"]
FROZEN_NONE = "(none)"
PASSAGE_COLUMNS = ["passage_id", "doc_id", "turn_index", "start", "end", "text", "context",
                   "n_words"]


@dataclass
class Redacted:
    documents: pd.DataFrame
    turns: pd.DataFrame
    redactions: pd.DataFrame
    texts: dict[str, str]          # doc_id -> redacted transcript (turns laid out)
    n_detected: int


def key_path(study: Study, cfg: Config) -> Path:
    return study.root / cfg.redact.key_file


def key_identifiers(study: Study, cfg: Config) -> list[tuple[str, str, str]]:
    """The study key's identifiers for leak checks; none before the first run made a key."""
    key_file = key_path(study, cfg)
    return PseudonymKey.load(key_file).identifiers() if key_file.exists() else []


def ingest_stage(study: Study, cfg: Config, blocks: list[str] | None
                 ) -> tuple[list[Document], list[Quarantined]]:
    study.validate()
    return ingest_files(study.transcript_files(blocks), cfg.ingest)


def _metadata(study: Study, doc_ids: list[str]) -> pd.DataFrame:
    people = load_participants(study.participants_path).set_index("doc")
    rows = []
    for doc_id in doc_ids:
        if doc_id in people.index:
            p = people.loc[doc_id]
            rows.append((doc_id, p["participant"] or doc_id, p["role"] or "Participant",
                         p["area"] or "Area unknown"))
        else:
            rows.append((doc_id, doc_id, "Participant", "Area unknown"))
    return pd.DataFrame(rows, columns=["doc_id", "participant", "role", "area"])


def metadata_allow_words(study: Study) -> list[str]:
    """Role and area values the team publishes in attributions: never treated as identifiers."""
    people = load_participants(study.participants_path)
    return sorted(set(people["role"]) | set(people["area"]))


def spacy_processes(cfg: Config) -> int:
    """spaCy processes for the flow's own redaction: configured, or one per core (max 4)."""
    return cfg.models.spacy_processes or max(1, min(4, os.cpu_count() or 1))


def make_redactor(study: Study, cfg: Config) -> Redactor:
    """The study's detector set; spaCy loads lazily (a cached rerun never loads it)."""
    redact_cfg = cfg.redact.model_copy(
        update={"model_version": model_fingerprint(cfg.models.spacy, "spacy")})
    return Redactor(redact_cfg, lambda: load_spacy(cfg.models.spacy),
                    study.root / cfg.redact.study_lexicon_dir,
                    extra_allow=metadata_allow_words(study))


@lru_cache(maxsize=2)
def _worker_redactor(study_root: str, config_json: str) -> Redactor:
    return make_redactor(Study(Path(study_root)), Config.model_validate_json(config_json))


def detect_chunk(study_root: str, config_json: str, texts: list[str], names: list[str]
                 ) -> list[list[Span]]:
    """One redaction chunk, on whichever process runs it (a Dask worker builds its redactor
    and loads spaCy once, then reuses them)."""
    return _worker_redactor(study_root, config_json).detect(texts, names)


TORCH_MODULES = ("torch", "transformers")


def without_torch() -> None:
    """Start-up of a spawned redaction worker: mark torch and transformers as absent.

    Why: the worker needs neither. spaCy's small English pipeline runs on numpy, and Presidio
    imports transformers only for an NLP engine themeflow does not use. Loading spaCy still
    imports both: thinc probes for torch, and spaCy loads every registered factory, Presidio's
    Hugging Face one among them. That costs about 6 s per worker. A ``None`` entry in
    ``sys.modules`` makes those optional imports fail at once, as if the packages were not
    installed, and each caller falls back. Only for these dedicated processes: a Dask worker
    also embeds, so it keeps them."""
    for name in TORCH_MODULES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


@contextmanager
def torch_hidden() -> Iterator[None]:
    """``without_torch`` for this process, for as long as the block runs: spaCy and the
    detectors load without pulling in torch, which is then importable again (the embed stage
    needs it). thinc, having found no torch, keeps to numpy, which is all NER uses."""
    hidden = [name for name in TORCH_MODULES if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in hidden:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]


def fork_is_safe() -> bool:
    """Forking is safe while this process has not loaded torch (whose threads a fork can hang);
    a long-lived ``themeflow serve`` that has embedded before spawns instead."""
    return all(sys.modules.get(name) is None for name in TORCH_MODULES)


def prewarm_redaction(study: Study, cfg: Config, blocks: list[str] | None = None) -> bool:
    """Load the detectors (spaCy, Presidio, word lists) now, as ``local_detect_pool`` would at
    the start of the redact stage, which then finds them loaded. The CLI calls this while the
    temporary Prefect server boots, when this process would only wait and a core is idle: on
    alaska it took ~3.5 s off the redact stage of every run that detects. Skipped (False) when
    every transcript already has cached detections (a warm rerun would only pay for it), and
    where the pool would not fork (a Dask runner, or torch already loaded). Only a speed-up: any
    error (a malformed lexicon, a missing study) is left for the flow to report the usual way."""
    if cfg.runner.kind == "dask" or not fork_is_safe():
        return False
    if not new_text_pending(study, cfg, blocks):
        return False
    try:
        with torch_hidden():
            _worker_redactor(str(study.root), cfg.to_json()).warm()
    except Exception:  # noqa: BLE001 - the redact stage raises it again, named and in context
        return False
    return True


def new_text_pending(study: Study, cfg: Config, blocks: list[str] | None = None) -> bool:
    """Whether this run will detect identifiers in some transcript (one without cached
    detections), and so will very likely embed passages and fit topics: the flow then starts
    its model process at once. False on any error, which the redact stage reports."""
    try:
        with torch_hidden():
            redactor = _worker_redactor(str(study.root), cfg.to_json())
            return detection_pending(study, cfg, redactor, blocks)
    except Exception:  # noqa: BLE001 - the redact stage raises it again, named and in context
        return False


def detection_pending(study: Study, cfg: Config, redactor: Redactor,
                      blocks: list[str] | None = None) -> bool:
    """Whether any readable transcript of ``blocks`` lacks cached detections for ``redactor``
    (the redact stage would run the detectors on it). Only the files' bytes are hashed; a file
    without cached detections is then read, since one that cannot be (quarantined) never has
    any. Parsing every file here cost ~3 s at paper scale, beyond the server's boot."""
    fingerprint = redactor.fingerprint()
    for block, path in study.transcript_files(blocks or cfg.blocks or None):
        if not path.is_file() or detection_cache_path(
                study.cache_dir, sha256_bytes(path.read_bytes()), fingerprint).exists():
            continue
        docs, _ = ingest_files([(block, path)], cfg.ingest)
        if docs:
            return True
    return False


def local_detect_pool(study: Study, cfg: Config, start_method: str | None = None) -> ChunkRunner:
    """Runs redaction chunks in ``spacy_processes(cfg)`` local worker processes.

    Why: with spaCy's own ``n_process`` only the parsing is parallel; every other detector
    (patterns, Presidio, gazetteers, growth) and the decoding of each parsed Doc stay in this
    process, which became the bottleneck. Each worker here runs the whole ``detect_chunk`` and
    returns spans (offsets only).

    Start-up: by default (``start_method`` None) this process loads the detectors once, with
    torch hidden, and forks the workers, which inherit them ready to run. Spawned workers would
    each import spaCy and load the model and word lists again (~4 s each, both cores busy),
    which dominated redacting one new block. Where torch is already loaded, workers are spawned
    (forking a process that holds torch's threads can hang) and load their own detectors."""
    root, config_json = str(study.root), cfg.to_json()

    def run(payloads: list[tuple[list[str], list[str]]]) -> list[list[list[Span]]]:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        method = start_method or ("fork" if fork_is_safe() else "spawn")
        initializer = without_torch if method == "spawn" else None
        if method == "fork":
            with torch_hidden():
                _worker_redactor(root, config_json).warm()
        workers = min(spacy_processes(cfg), len(payloads))
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method),
                                 initializer=initializer) as ex:
            futures = [ex.submit(detect_chunk, root, config_json, texts, names)
                       for texts, names in payloads]
            # This process only waits now: build the segment stage's sentencizer meanwhile
            # (after spawning, importing spaCy here costs seconds that would otherwise follow
            # the pool). Importing torch here for the embed stage was tried: it slowed the
            # workers by more than it saved.
            warm_sentencizer()
            with progress("redact: finding identifiers (chunks)", len(futures)) as advance:
                out = []
                for future in futures:
                    out.append(future.result())
                    advance()
        return out

    return run


def encode_chunk(config_json: str, texts: list[str]) -> np.ndarray:
    """One embedding chunk, on whichever process runs it (the model loads once per process)."""
    return encoder_for(Config.model_validate_json(config_json))(texts)


def published_word(study: Study) -> Callable[[str], bool]:
    """For leak checks: True for role and area values the team publishes in attributions
    (participants.csv), which may coincide with an identifier in the key."""
    allowed = {w.casefold() for w in metadata_allow_words(study)}
    return lambda text: text.casefold() in allowed


def redact_stage(study: Study, cfg: Config, docs: list[Document],
                 quarantined: list[Quarantined], run_chunks: ChunkRunner | None = None
                 ) -> Redacted:
    redactor = make_redactor(study, cfg)
    key = PseudonymKey.load(key_path(study, cfg))
    rows, n_detected = redact_documents(docs, redactor, key, study.cache_dir, run_chunks,
                                        cfg.runner.chunk_documents, spacy_processes(cfg),
                                        local_detect_pool(study, cfg))
    key.save()
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
    status = [(d.doc_id, d.block, d.sha256, "ok", "") for d in docs]
    status += [(q.doc_id, q.block, q.sha256, "quarantined", _relative_error(q, study))
               for q in quarantined]
    documents = pd.DataFrame(status, columns=["doc_id", "block", "sha256", "status", "error"])
    documents = documents.merge(_metadata(study, list(documents["doc_id"])), on="doc_id", how="left")
    documents = documents.sort_values(["block", "doc_id"], kind="stable")[DOCUMENT_COLUMNS]
    return Redacted(documents.reset_index(drop=True), pd.DataFrame(turns, columns=TURN_COLUMNS),
                    pd.DataFrame(red, columns=REDACTION_COLUMNS), texts, n_detected)


def _relative_error(q: Quarantined, study: Study) -> str:
    return q.error.replace(str(study.root.resolve()) + "/", "").replace(str(study.root) + "/", "")


def segment_stage(turns: pd.DataFrame, cfg: Config, cache_dir: Path | None = None
                  ) -> pd.DataFrame:
    """Passages of every document; sentence offsets come from the study's cache when known."""
    from pipeline.ingest import Turn

    sentences = SentenceCache(cache_dir)
    passages = []
    # Plain lists, grouped once: per-document frames and itertuples cost ~2 s at paper scale,
    # on every run (cached sentences or not).
    ordered = turns.sort_values(["doc_id", "turn_index"], kind="stable")
    rows = zip(*(ordered[c].tolist() for c in ("doc_id", "turn_index", "speaker",
                                               "is_respondent", "text", "start", "end")))
    for doc_id, group in groupby(rows, key=itemgetter(0)):
        group = list(group)
        doc_turns = [Turn(int(r[1]), r[2], bool(r[3]), r[4]) for r in group]
        spans = [(int(r[5]), int(r[6])) for r in group]
        passages += segment_document(str(doc_id), doc_turns, spans, cfg.segment,
                                     sentences.spans)
    sentences.save()
    frame = pd.DataFrame([p.__dict__ for p in passages], columns=PASSAGE_COLUMNS)
    return frame.sort_values(["doc_id", "start"], kind="stable").reset_index(drop=True)


def encoder_for(cfg: Config):
    model = load_embedder(cfg.models.embedding, cfg.models.device, cfg.models.torch_threads)
    return sentence_transformer_encoder(model, cfg.models.embedding_batch_size)


def embed_stage(study: Study, cfg: Config, texts: list[str],
                run_chunks: ChunkEncoder | None = None, encode: Encoder | None = None
                ) -> tuple[np.ndarray, int]:
    """Vectors for model texts, through the study's embedding cache; (vectors, newly embedded).
    ``encode`` is where uncached texts are encoded (the model process's ``encode``); by
    default, this process, loading the model only if something needs embedding."""
    return embed_texts(texts, embedding_cache(study, cfg), encode or _lazy_encoder(cfg),
                       cfg.runner.chunk_passages, run_chunks)


def embedding_cache(study: Study, cfg: Config) -> EmbeddingCache:
    """The study's vector cache for the configured model (keyed by the model's file hash)."""
    return EmbeddingCache(study.cache_dir / "embeddings",
                          model_fingerprint(cfg.models.embedding, "embedding"))


def _lazy_encoder(cfg: Config):
    """Loads the model only if something actually needs embedding (a warm run loads nothing)."""
    def encode(texts: list[str]) -> np.ndarray:
        return encoder_for(cfg)(texts)
    return encode


def resolve_frozen_base(cfg: Config, outputs_dir: Path) -> tuple[Config, Path | None]:
    """Frozen mode's base run: ``topics.frozen_base`` (a run id in ``outputs_dir`` or a path), or
    the latest complete run. The resolved path (or ``(none)`` for a first run, which fits) is
    written back into the config, so config.json records it and a reproduction uses the same."""
    if cfg.topics.mode != "frozen":
        return cfg, None
    name = cfg.topics.frozen_base
    if name == FROZEN_NONE:
        return cfg, None
    if not name:
        runs = list_runs(outputs_dir)
        base = runs[-1] if runs else None
    else:
        base = Path(name) if Path(name).is_absolute() else outputs_dir / name
        if not (base / "passage_topics.parquet").exists():
            raise ConfigError(f"topics.frozen_base {name!r} is not a finished run", base)
    topics = cfg.topics.model_copy(update={"frozen_base": str(base.resolve()) if base
                                           else FROZEN_NONE})
    return cfg.model_copy(update={"topics": topics}), base


def topics_stage(model_texts: list[str], vectors: np.ndarray, passage_ids: list[str],
                 cfg: Config, cache_dir: Path | None = None, base: Path | None = None,
                 keep_keywords: Callable[[list[str]], list[str]] | None = None,
                 fit: Callable[[list[str], np.ndarray, TopicsConfig], TopicResult] = fit_topics
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """BERTopic over the passages; cached by (passages, texts, models, topic settings), so a rerun
    with nothing changed does not refit (the fit is seeded, so a refit would give the same).
    With a frozen ``base`` run, its topics are kept and new passages assigned to them.
    ``keep_keywords`` (see ``keyword_filter``) screens keywords before they are cached or shown.
    ``fit`` does the fitting: ``fit_topics`` here, or the model process's ``fit``."""
    if base is not None:
        return _frozen_topics_tables(base, passage_ids, vectors, cfg)
    key = hashlib.sha256(json.dumps(
        [cfg.topics.model_dump(), cfg.models.embedding, passage_ids,
         [hashlib.sha256(t.encode()).hexdigest() for t in model_texts]]).encode()).hexdigest()[:32]
    path = cache_dir / "topics" / f"{key}.json" if cache_dir is not None else None
    fitted = path is None or not path.exists()
    if not fitted:
        data = json.loads(path.read_text(encoding="utf-8"))
        result = TopicResult(data["assignments"], data["probabilities"],
                             {int(k): v for k, v in data["keywords"].items()},
                             {int(k): v for k, v in data["sizes"].items()})
    else:
        with progress(f"topics: fitting BERTopic on {len(model_texts)} passages", None):
            result = fit(model_texts, vectors, cfg.topics)
    if keep_keywords is not None:  # also on a cached fit: the key may have grown since
        result.keywords = {t: keep_keywords(words) for t, words in result.keywords.items()}
    if fitted and path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(result.__dict__), encoding="utf-8")
        tmp.replace(path)
    return _topic_tables(result, passage_ids)


def _topic_tables(result: TopicResult, passage_ids: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    topics = pd.DataFrame(
        [(t, result.sizes.get(t, 0), ", ".join(result.keywords.get(t, [])))
         for t in sorted(result.sizes)], columns=["topic", "size", "keywords"])
    passage_topics = pd.DataFrame({"passage_id": passage_ids, "topic": result.assignments,
                                   "probability": result.probabilities})
    return topics, passage_topics


def review_labels_stage(study: Study, cfg: Config, labels_path: str | None) -> pd.DataFrame:
    """The analysts' decisions this run learns from: a saved table (``themeflow reproduce``
    passes the one the original run used), or the study's review store now plus the team's
    labelled-passages CSV (``map.labels``), if any."""
    if labels_path:
        return pd.read_parquet(labels_path)
    if not cfg.map.learn_from_reviews:
        return pd.DataFrame(columns=LABEL_COLUMNS)
    labels = review_labels(ReviewStore(study.review_path))
    if cfg.map.labels:
        labels = merge_labels(labels, read_labels_csv(study.root / cfg.map.labels,
                                                      key_identifiers(study, cfg),
                                                      published_word(study)))
    return labels


def with_review_exemplars(framework: Framework, labels: pd.DataFrame) -> Framework:
    """Accepted quotes join their element's examples (labels for unknown elements are ignored)."""
    positives = labels[(labels["polarity"] > 0) & (labels["text"].astype(str).str.strip() != "")]
    elements = tuple(
        replace(e, examples=(*e.examples, *positives.loc[positives["element"] == e.id, "text"]))
        for e in framework.elements)
    return replace(framework, elements=elements)


def keyword_filter(study: Study, cfg: Config) -> Callable[[list[str]], list[str]]:
    """Topic keywords come from redacted text, but c-TF-IDF bigrams join words across dropped
    pseudonyms and punctuation ("... water. Board ..." gives "water board"), so a keyword can
    spell an identifier that no passage contains; keywords are cached and drawn into figures,
    which the leak check cannot read. The filter drops any keyword holding a key identifier."""
    idents = key_identifiers(study, cfg)
    if not idents:
        return lambda words: words
    skip = published_word(study)

    def keep(words: list[str]) -> list[str]:
        bad = leaking_texts(words, idents, skip=skip)
        return [w for i, w in enumerate(words) if i not in bad]
    return keep


def _frozen_topics_tables(base: Path, passage_ids: list[str], vectors: np.ndarray, cfg: Config
                          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    old = pd.read_parquet(base / "passage_topics.parquet")
    old_topics = pd.read_parquet(base / "topics.parquet")
    keywords = {int(r.topic): [w for w in str(r.keywords).split(", ") if w]
                for r in old_topics.itertuples()}
    result = assign_frozen(passage_ids, vectors, dict(zip(old["passage_id"], old["topic"])),
                           dict(zip(old["passage_id"], old["probability"])), keywords,
                           cfg.topics.frozen_min_similarity)
    return _topic_tables(result, passage_ids)


def map_stage(study: Study, cfg: Config, vectors: np.ndarray, passages: pd.DataFrame,
              turns: pd.DataFrame, labels: pd.DataFrame | None = None, base: Path | None = None,
              encoder: Encoder | None = None
              ) -> tuple[Framework, np.ndarray, pd.DataFrame, pd.DataFrame]:
    """Scores per passage and element, calibrated on this corpus, or (frozen ``base``) on the
    base run's centres so earlier passages keep their mapping. Passages the analysts accepted
    for an element are its labelled exemplars (see ``pipeline.mapping.mapper``). Needs no topics, so
    it runs while they are fitted; ``topic_themes_stage`` joins the two. Prompts and element
    texts not yet in the embedding cache are encoded by ``encoder`` (as in ``embed_stage``)."""
    framework = load_framework(cfg.map.framework, study.root)
    labelled: list[tuple[str, str]] = []
    if labels is not None and len(labels):
        framework = with_review_exemplars(framework, labels)
        positives = labels[labels["polarity"] > 0]
        by_text = dict(zip(passages["text"], passages["passage_id"]))
        labelled = [(pid or by_text.get(text, ""), element) for pid, text, element in
                    zip(positives["passage_id"], positives["text"], positives["element"])]
    cache = embedding_cache(study, cfg)
    encoder = encoder or _lazy_encoder(cfg)

    def encode(texts: list[str]) -> np.ndarray:
        return embed_texts(texts, cache, encoder)[0]

    contexts = context_vectors(passages, passage_prompts(passages, turns), vectors, encode)
    exemplars = exemplars_from(labelled, passages, vectors, contexts)
    mapper = FrameworkMapper(cfg.map).fit(framework, encode, exemplars)
    ids = mapper.element_ids_
    centres = centres_of(pd.read_parquet(base / "theme_scores.parquet"), ids) \
        if base is not None else None
    raw, scores, centres = score_passages(mapper, passages, vectors, contexts, centres)
    best, best_scores, status, codes = assign(scores, ids, cfg.map)
    theme_scores = theme_scores_table(list(passages["passage_id"]), scores, raw, ids, best, centres)
    passage_themes = pd.DataFrame({"passage_id": passages["passage_id"], "element": best,
                                   "score": best_scores, "status": status, "elements": codes,
                                   "confidence": confidence(scores)})
    return framework, scores, theme_scores, passage_themes


def topic_themes_stage(topics: pd.DataFrame, passage_topics: pd.DataFrame,
                       passage_themes: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """Each topic's share of passages per framework element (rows of both tables are in passage
    order), and whether it is emergent."""
    keywords = {int(r.topic): r.keywords.split(", ") for r in topics.itertuples()}
    return topic_themes_table(list(passage_topics["topic"]), list(passage_themes["element"]),
                              keywords, cfg.map)


def passage_prompts(passages: pd.DataFrame, turns: pd.DataFrame) -> list[str]:
    """The interviewer's prompt before each passage's turn ("" where there is none)."""
    prompts = turn_prompts(turns)
    return [prompts.get((str(d), int(t)), "") for d, t in
            zip(passages["doc_id"], passages["turn_index"])]


def attribution(role: str, area: str, block: str, blocks: list[str], style: str) -> str:
    """``Service User, Area 5, Year 4``: role and area from participants.csv, year = block's
    position among the study's blocks."""
    area_text = f"Area {area}" if str(area).strip().isdigit() else str(area)
    when = f"Year {blocks.index(block) + 1}" if style == "role_area_year" and block in blocks \
        else str(block)
    return f"{role}, {area_text}, {when}"


def with_attribution(study: Study, cfg: Config, passages: pd.DataFrame,
                     documents: pd.DataFrame) -> pd.DataFrame:
    """Passages plus participant, role, area, block and the attribution line."""
    all_blocks = study.blocks()
    meta = documents.set_index("doc_id")
    frame = passages.copy()
    for col in ("participant", "role", "area", "block"):
        # One dict lookup per passage (``.at`` per row cost seconds on a study).
        column = meta[col].to_dict()
        frame[col] = [column[d] for d in frame["doc_id"]]
    lines = {key: attribution(*key, all_blocks, cfg.attribution)
             for key in set(zip(frame["role"], frame["area"], frame["block"]))}
    frame["attribution"] = [lines[key] for key in
                            zip(frame["role"], frame["area"], frame["block"])]
    return frame


def quotes_stage(study: Study, cfg: Config, passages: pd.DataFrame, documents: pd.DataFrame,
                 passage_themes: pd.DataFrame, scores: np.ndarray, element_ids: list[str],
                 vectors: np.ndarray, labels: pd.DataFrame | None = None) -> pd.DataFrame:
    """Candidates per element; a quote the analysts rejected for an element is not proposed for
    it again (their decision stays visible on the review page)."""
    frame = with_attribution(study, cfg, passages, documents)
    frame["best"] = list(passage_themes["element"])
    rejected = set()
    if labels is not None and len(labels):
        neg = labels[labels["polarity"] < 0]
        rejected = set(zip(neg["passage_id"], neg["element"]))
    return rank_candidates(frame, scores, element_ids, vectors, cfg.quotes, exclude=rejected)


def indirect_stage(passages: pd.DataFrame, candidates: pd.DataFrame
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Indirect identifiers in every passage (flagged, not removed), and the candidates with an
    ``indirect`` column naming the kinds found in each (empty when none)."""
    flags = flag_passages(passages)
    kinds = flags.groupby("passage_id")["kind"].agg(lambda k: ", ".join(sorted(set(k))))
    candidates = candidates.assign(
        indirect=[kinds.get(p, "") for p in candidates["passage_id"]])
    return flags, candidates


def model_texts(passages: pd.DataFrame) -> list[str]:
    return [model_text(t) for t in passages["text"]]


def keyword_texts(passages: pd.DataFrame) -> list[str]:
    """Texts for topic keywords: as for embeddings, but pseudonyms dropped, not worded."""
    return [model_text(t, pseudonyms_as_words=False) for t in passages["text"]]
