"""Topics: BERTopic over the cached passage vectors, reproducibly.

Seeded UMAP (single-threaded, hence deterministic), HDBSCAN with ``min_cluster_size`` scaled to the
corpus (``topics.min_cluster_fraction`` of passages, at least 5) unless set, c-TF-IDF keywords with
English stop words and transcript fillers removed, outliers kept as topic -1. Too few passages for
a topic model (``topics.min_passages``) gives every passage topic -1 rather than a crash.

Usage::

    result = fit_topics(model_texts, vectors, cfg.topics)
    result.assignments  # topic per passage, -1 = outlier

The flow fits in its model process (``pipeline.run.model_process``), beside its other stages.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import schemas
from pipeline.config import Config, TopicsConfig
from pipeline.errors import ConfigError
from pipeline.fsutil import atomic_write
from pipeline.lexicons import read_word_list
from pipeline.progress import progress
from pipeline.run.folders import list_runs

FROZEN_NONE = "(none)"
STOP_WORD_LISTS = ("fillers", "keyword_stopwords")  # lexicons/text/*.txt, beside English
TOKEN_PATTERN = r"(?u)\b[a-zA-Z][a-zA-Z]+\b"  # keyword tokens: words of two or more letters


@dataclass
class TopicResult:
    assignments: list[int]
    probabilities: list[float]
    keywords: dict[int, list[str]] = field(default_factory=dict)
    sizes: dict[int, int] = field(default_factory=dict)


def min_cluster_size(n_passages: int, cfg: TopicsConfig) -> int:
    """Configured, or ``min_cluster_scale`` x sqrt(passages), at least 5: 250 passages -> 8,
    4,000 -> 32, 60,000 -> 122. Linear scaling gives a handful of giant topics on big corpora."""
    if cfg.min_cluster_size:
        return cfg.min_cluster_size
    return max(5, int(round(cfg.min_cluster_scale * n_passages ** 0.5)))


def keyword_stop_words() -> list[str]:
    """English stop words, transcript fillers and ``keyword_stopwords.txt``, as the keyword
    vectorizer's tokens: "uh-huh" is read as "uh" and "huh", which is how the vectorizer reads
    the transcripts (kept whole, it matched nothing, "huh" became a keyword, and scikit-learn
    warned that the stop words disagree with the tokenizer). Multi-word phrases are left out:
    their words are stop words on their own or are words to keep ("kind of")."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    words = set(ENGLISH_STOP_WORDS)
    for name in STOP_WORD_LISTS:
        words |= set(read_word_list(f"text/{name}.txt"))
    return sorted({token for w in words if " " not in w for token in re.findall(TOKEN_PATTERN, w)})


def keyword_vectorizer(n_passages: int):
    """The c-TF-IDF vectorizer: words of two or more letters and their pairs, stop words out; on
    100 passages or more a keyword must occur in two of them."""
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(stop_words=keyword_stop_words(), ngram_range=(1, 2),
                           min_df=2 if n_passages >= 100 else 1, token_pattern=TOKEN_PATTERN)


def fit_topics(texts: list[str], vectors: np.ndarray, cfg: TopicsConfig) -> TopicResult:
    n = len(texts)
    if n < cfg.min_passages:
        return TopicResult([-1] * n, [0.0] * n, {-1: []}, {-1: n} if n else {})

    from bertopic import BERTopic
    from hdbscan import HDBSCAN
    from umap import UMAP

    # a seed makes UMAP single-threaded anyway; saying so spares its warning
    umap_model = UMAP(n_neighbors=min(cfg.n_neighbors, n - 1), n_components=cfg.n_components,
                      min_dist=0.0, metric="cosine", random_state=cfg.seed, n_jobs=1)
    hdbscan_model = HDBSCAN(min_cluster_size=min_cluster_size(n, cfg), metric="euclidean",
                            cluster_selection_method="eom", prediction_data=True)
    vectorizer = keyword_vectorizer(n)
    model = BERTopic(umap_model=umap_model, hdbscan_model=hdbscan_model,
                     vectorizer_model=vectorizer, top_n_words=cfg.top_n_words,
                     calculate_probabilities=False, verbose=False)
    try:
        topics, probs = model.fit_transform(texts, embeddings=vectors)
    except (ValueError, TypeError):
        # Degenerate corpora (all passages identical, too few distinct words) have no topics.
        return TopicResult([-1] * n, [0.0] * n, {-1: []}, {-1: n})
    keywords = {int(t): [w for w, _ in (model.get_topic(t) or []) if w][: cfg.top_n_words]
                for t in sorted(set(topics))}
    sizes = {int(t): int(c) for t, c in zip(*np.unique(topics, return_counts=True))}
    probs_list = [float(p) if p is not None else 0.0 for p in (probs if probs is not None else [0.0] * n)]
    return TopicResult([int(t) for t in topics], [round(p, 6) for p in probs_list], keywords, sizes)


def warm_up() -> None:
    """Import BERTopic and its libraries and compile UMAP's numba code, on 200 made-up passages:
    about 20 s in a fresh process that the real fit then does not pay."""
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(200, 16)).astype(np.float32)
    texts = [f"alpha{i % 7} beta{i % 5} gamma{i % 3}" for i in range(200)]
    fit_topics(texts, vectors, TopicsConfig())


def assign_frozen(passage_ids: list[str], vectors: np.ndarray, base_assignments: dict[str, int],
                  base_probabilities: dict[str, float], keywords: dict[int, list[str]],
                  min_similarity: float) -> TopicResult:
    """Frozen topics: passages the base run knew keep their topic; new passages join the topic
    whose centroid (mean vector of its known passages) is most similar, or the outliers (-1)
    below ``min_similarity``. Keywords stay the base run's, so topic labels do not move."""
    known = [i for i, p in enumerate(passage_ids) if p in base_assignments]
    topic_ids = sorted({base_assignments[passage_ids[i]] for i in known} - {-1})
    centroids = np.zeros((len(topic_ids), vectors.shape[1] if vectors.ndim == 2 else 0))
    for k, t in enumerate(topic_ids):
        members = [i for i in known if base_assignments[passage_ids[i]] == t]
        c = vectors[members].mean(axis=0)
        centroids[k] = c / (np.linalg.norm(c) or 1.0)
    assignments, probabilities = [], []
    for i, pid in enumerate(passage_ids):
        if pid in base_assignments:
            assignments.append(int(base_assignments[pid]))
            probabilities.append(float(base_probabilities.get(pid, 0.0)))
            continue
        sims = centroids @ vectors[i] if len(topic_ids) else np.array([])
        best = int(np.argmax(sims)) if len(sims) else -1
        if best >= 0 and sims[best] >= min_similarity:
            assignments.append(topic_ids[best])
            probabilities.append(round(float(sims[best]), 6))
        else:
            assignments.append(-1)
            probabilities.append(0.0)
    sizes = {int(t): int(c) for t, c in zip(*np.unique(assignments, return_counts=True))} \
        if assignments else {}
    return TopicResult(assignments, probabilities,
                       {t: keywords.get(t, []) for t in sorted(sizes)}, sizes)


def fit_cached(model_texts: list[str], vectors: np.ndarray, passage_ids: list[str], cfg: Config,
               cache_dir: Path | None = None,
               keep_keywords: Callable[[list[str]], list[str]] | None = None,
               fit: Callable[[list[str], np.ndarray, TopicsConfig], TopicResult] | None = None
               ) -> TopicResult:
    """BERTopic over the passages, cached by (passages, texts, models, topic settings), so a
    rerun with nothing changed does not refit (the fit is seeded, so a refit would give the
    same; a change to the filler or keyword stop-word lists refits, since the keywords depend
    on them). ``keep_keywords`` (``PrivacyContext.keyword_filter``) screens keywords before they
    are cached or shown. ``fit`` does the fitting: ``fit_topics`` here, or the model process's
    ``fit``."""
    key = hashlib.sha256(json.dumps(
        [cfg.topics.model_dump(), cfg.models.embedding, passage_ids,
         [hashlib.sha256(t.encode()).hexdigest() for t in model_texts],
         [read_word_list(f"text/{name}.txt") for name in STOP_WORD_LISTS]]
    ).encode()).hexdigest()[:32]
    path = cache_dir / "topics" / f"{key}.json" if cache_dir is not None else None
    fitted = path is None or not path.exists()
    if not fitted:
        data = json.loads(path.read_text(encoding="utf-8"))
        result = TopicResult(data["assignments"], data["probabilities"],
                             {int(k): v for k, v in data["keywords"].items()},
                             {int(k): v for k, v in data["sizes"].items()})
    else:
        with progress(f"topics: fitting BERTopic on {len(model_texts)} passages", None):
            result = (fit or fit_topics)(model_texts, vectors, cfg.topics)
    if keep_keywords is not None:  # also on a cached fit: the key may have grown since
        result.keywords = {t: keep_keywords(words) for t, words in result.keywords.items()}
    if fitted and path is not None:
        atomic_write(path, json.dumps(result.__dict__))
    return result


def topic_tables(result: TopicResult, passage_ids: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    topics = pd.DataFrame(
        [(t, result.sizes.get(t, 0), ", ".join(result.keywords.get(t, [])))
         for t in sorted(result.sizes)], columns=schemas.TOPICS)
    passage_topics = pd.DataFrame({"passage_id": passage_ids, "topic": result.assignments,
                                   "probability": result.probabilities})
    return topics, passage_topics


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


def frozen_topic_tables(base: Path, passage_ids: list[str], vectors: np.ndarray, cfg: Config
                        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A frozen ``base`` run's topics kept: its passages keep their topic, new ones join the
    nearest (or none, below ``topics.frozen_min_similarity``)."""
    old = pd.read_parquet(base / "passage_topics.parquet")
    old_topics = pd.read_parquet(base / "topics.parquet")
    keywords = {int(r.topic): [w for w in str(r.keywords).split(", ") if w]
                for r in old_topics.itertuples()}
    result = assign_frozen(passage_ids, vectors, dict(zip(old["passage_id"], old["topic"])),
                           dict(zip(old["passage_id"], old["probability"])), keywords,
                           cfg.topics.frozen_min_similarity)
    return topic_tables(result, passage_ids)
