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

from dataclasses import dataclass, field

import numpy as np

from pipeline.config import TopicsConfig
from pipeline.lexicons import read_word_list


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
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    words = set(ENGLISH_STOP_WORDS) | set(read_word_list("text/fillers.txt"))
    words |= set(read_word_list("text/keyword_stopwords.txt"))
    return sorted(w for w in words if " " not in w)


def fit_topics(texts: list[str], vectors: np.ndarray, cfg: TopicsConfig) -> TopicResult:
    n = len(texts)
    if n < cfg.min_passages:
        return TopicResult([-1] * n, [0.0] * n, {-1: []}, {-1: n} if n else {})

    from bertopic import BERTopic
    from hdbscan import HDBSCAN
    from sklearn.feature_extraction.text import CountVectorizer
    from umap import UMAP

    umap_model = UMAP(n_neighbors=min(cfg.n_neighbors, n - 1), n_components=cfg.n_components,
                      min_dist=0.0, metric="cosine", random_state=cfg.seed)
    hdbscan_model = HDBSCAN(min_cluster_size=min_cluster_size(n, cfg), metric="euclidean",
                            cluster_selection_method="eom", prediction_data=True)
    vectorizer = CountVectorizer(stop_words=keyword_stop_words(), ngram_range=(1, 2),
                                 min_df=2 if n >= 100 else 1, token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z]+\b")
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
