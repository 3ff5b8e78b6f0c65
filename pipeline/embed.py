"""Embed: passage texts -> unit-length vectors, through a content-addressed cache.

The cache lives in the study folder (``cache/embeddings/<model fingerprint>/``) as immutable
``.npz`` shards of (sha256 of the text, vector). A text already embedded by the same model is never
embedded again, whichever run, block or passage it came from. Only model text (already redacted)
is hashed; no text is stored in the cache.

Usage::

    cache = EmbeddingCache(study.cache_dir / "embeddings", model_fp)
    vectors, n_new = embed_texts(texts, cache, encode=model.encode)
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Callable

import numpy as np

from pipeline.fsutil import replacing
from pipeline.progress import progress

Encoder = Callable[[list[str]], np.ndarray]


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class EmbeddingCache:
    """Append-only store of vectors by text hash; each write is a new shard renamed into place."""

    def __init__(self, root: Path, model_fingerprint: str) -> None:
        self.dir = root / model_fingerprint
        self._vectors: dict[str, np.ndarray] | None = None

    def _load(self) -> dict[str, np.ndarray]:
        if self._vectors is None:
            self._vectors = {}
            if self.dir.exists():
                for shard in sorted(self.dir.glob("shard-*.npz")):
                    with np.load(shard) as data:
                        for k, v in zip(data["keys"], data["vectors"]):
                            self._vectors[str(k)] = v
        return self._vectors

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        store = self._load()
        return {k: store[k] for k in keys if k in store}

    def put_many(self, keys: list[str], vectors: np.ndarray) -> None:
        if not keys:
            return
        with replacing(self.dir / f"shard-{uuid.uuid4().hex}.npz") as tmp:
            np.savez(tmp, keys=np.array(keys), vectors=vectors.astype(np.float32))
        store = self._load()
        store.update(zip(keys, vectors.astype(np.float32)))


ChunkEncoder = Callable[[list[list[str]]], list[np.ndarray]]


def embed_texts(texts: list[str], cache: EmbeddingCache, encode: Encoder,
                chunk_size: int = 512, run_chunks: ChunkEncoder | None = None
                ) -> tuple[np.ndarray, int]:
    """Vectors for ``texts`` (row order kept) and how many had to be computed.

    Texts not in the cache are encoded in chunks of ``chunk_size`` (by length, then hash);
    ``run_chunks`` encodes the list of chunks elsewhere (a Dask cluster). The chunks are the same
    whichever runner, so the vectors are too."""
    keys = [text_key(t) for t in texts]
    have = cache.get_many(keys)
    # By length (then hash): each chunk holds texts of similar length, so batches carry little
    # padding; the order is a pure function of the texts, so chunks are the same on every runner.
    missing = sorted({k: t for k, t in zip(keys, texts) if k not in have}.items(),
                     key=lambda kt: (len(kt[1]), kt[0]))
    if missing:
        chunks = [missing[i:i + chunk_size] for i in range(0, len(missing), chunk_size)]

        def keep(chunk: list[tuple[str, str]], vectors: np.ndarray) -> None:
            """Normalise and store one chunk at once: a run killed half-way keeps what it
            embedded, and the next run starts from there."""
            vectors = np.asarray(vectors, dtype=np.float32)
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.where(norms == 0, 1, norms)
            cache.put_many([k for k, _ in chunk], vectors)
            have.update(zip((k for k, _ in chunk), vectors))

        if run_chunks is not None:
            for chunk, vectors in zip(chunks, run_chunks([[t for _, t in c] for c in chunks])):
                keep(chunk, vectors)
        else:
            with progress("embed: passages", len(missing)) as advance:
                for chunk in chunks:
                    keep(chunk, encode([t for _, t in chunk]))
                    advance(len(chunk))
    dim = next(iter(have.values())).shape[0] if have else 0
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for i, k in enumerate(keys):
        out[i] = have[k]
    return out, len(missing)


def sentence_transformer_encoder(model: object, batch_size: int) -> Encoder:
    """Adapter: a SentenceTransformer as an ``Encoder`` (batched, normalised)."""

    def encode(texts: list[str]) -> np.ndarray:
        return model.encode(texts, batch_size=batch_size, normalize_embeddings=True,  # type: ignore[attr-defined]
                            show_progress_bar=False, convert_to_numpy=True)

    return encode
