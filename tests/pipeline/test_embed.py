from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.embed import EmbeddingCache, embed_texts


class CountingEncoder:
    """A fake encoder: deterministic vectors, counts what it was asked to embed."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.seen += texts
        return np.array([[len(t), t.count("a") + 1, 1.0] for t in texts], dtype=np.float32)


def test_cache_embeds_each_text_once_across_runs(tmp_path: Path) -> None:
    enc = CountingEncoder()
    first, n1 = embed_texts(["alpha", "beta", "alpha"], EmbeddingCache(tmp_path, "m1"), enc)
    assert n1 == 2 and sorted(enc.seen) == ["alpha", "beta"]
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, rtol=1e-6)
    # A new cache object (a later run) reads the shards back: nothing is embedded again.
    enc2 = CountingEncoder()
    second, n2 = embed_texts(["beta", "alpha"], EmbeddingCache(tmp_path, "m1"), enc2)
    assert n2 == 0 and enc2.seen == []
    np.testing.assert_array_equal(second, first[[1, 0]])


def test_cache_is_per_model(tmp_path: Path) -> None:
    embed_texts(["alpha"], EmbeddingCache(tmp_path, "m1"), CountingEncoder())
    enc = CountingEncoder()
    _, n = embed_texts(["alpha"], EmbeddingCache(tmp_path, "m2"), enc)
    assert n == 1


def test_cache_holds_no_text(tmp_path: Path) -> None:
    embed_texts(["a very private sentence"], EmbeddingCache(tmp_path, "m1"), CountingEncoder())
    for shard in tmp_path.rglob("*.npz"):
        assert b"private" not in shard.read_bytes()


def test_killed_half_way_keeps_finished_chunks(tmp_path: Path) -> None:
    class Dies(CountingEncoder):
        def __call__(self, texts: list[str]) -> np.ndarray:
            if len(self.seen) >= 2:
                raise KeyboardInterrupt
            return super().__call__(texts)

    texts = ["a", "bb", "ccc", "dddd", "eeeee"]
    try:
        embed_texts(texts, EmbeddingCache(tmp_path, "m1"), Dies(), chunk_size=2)
    except KeyboardInterrupt:
        pass
    enc = CountingEncoder()
    _, n = embed_texts(texts, EmbeddingCache(tmp_path, "m1"), enc, chunk_size=2)
    assert n == 3 and sorted(enc.seen) == ["ccc", "dddd", "eeeee"]  # only the unfinished chunks
