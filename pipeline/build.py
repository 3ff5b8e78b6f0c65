"""The one place that builds a run's replaceable parts from its configuration: the redactor (the
study's detector set), the encoder and the embedding cache. Stages, the execution machinery,
``redact-check`` and the evaluation scripts all build through here, so a change of model or
detector is made once.
"""

from __future__ import annotations

import os

import numpy as np

from pipeline.config import Config, ModelsConfig
from pipeline.embed import EmbeddingCache, Encoder, sentence_transformer_encoder
from pipeline.models import load_embedder, load_spacy, model_fingerprint
from pipeline.redact import Redactor
from pipeline.study import Study


def build_redactor(study: Study | None, cfg: Config) -> Redactor:
    """The study's detector set (with no study, the bundled lexicons only); spaCy loads lazily,
    so a rerun whose detections are all cached never loads it."""
    redact_cfg = cfg.redact.model_copy(
        update={"model_version": model_fingerprint(cfg.models.spacy, "spacy")})
    if study is None:
        return Redactor(redact_cfg, lambda: load_spacy(cfg.models.spacy))
    return Redactor(redact_cfg, lambda: load_spacy(cfg.models.spacy),
                    study.root / cfg.redact.study_lexicon_dir,
                    extra_allow=study.published_words())


def build_encoder(models: ModelsConfig) -> Encoder:
    """The configured sentence-transformers model as an ``Encoder``, loaded now (once per
    process: ``load_embedder`` keeps it)."""
    model = load_embedder(models.embedding, models.device, models.torch_threads)
    return sentence_transformer_encoder(model, models.embedding_batch_size)


def lazy_encoder(models: ModelsConfig) -> Encoder:
    """An ``Encoder`` that loads the model only if something actually needs embedding (a warm
    run loads nothing)."""
    def encode(texts: list[str]) -> np.ndarray:
        return build_encoder(models)(texts)
    return encode


def embedding_cache(study: Study, cfg: Config) -> EmbeddingCache:
    """The study's vector cache for the configured model (keyed by the model's file hash)."""
    return EmbeddingCache(study.cache_dir / "embeddings",
                          model_fingerprint(cfg.models.embedding, "embedding"))


def spacy_processes(cfg: Config) -> int:
    """spaCy processes for the flow's own redaction: configured, or one per core (max 4)."""
    return cfg.models.spacy_processes or max(1, min(4, os.cpu_count() or 1))
