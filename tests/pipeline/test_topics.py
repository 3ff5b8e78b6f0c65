from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import pipeline.topics as topics
from pipeline.config import Config
from pipeline.topics import TopicResult, fit_cached, keyword_stop_words, keyword_vectorizer


@pytest.mark.parametrize("word, stopped", [
    ("uh", True), ("huh", True),     # "uh-huh" in the fillers, as the vectorizer reads it
    ("mm", True), ("hmm", True),     # "mm-hmm"
    ("yeah", True), ("the", True),
    ("uh-huh", False),               # a token the vectorizer never makes
    ("kind of", False),              # phrases are left out
    ("clinic", False), ("childcare", False),
])
def test_stop_words_are_the_vectorizers_tokens(word: str, stopped: bool) -> None:
    assert (word in keyword_stop_words()) is stopped


def test_the_keyword_vectorizer_drops_fillers_and_agrees_with_its_stop_words() -> None:
    texts = ["Uh-huh, the clinic opened late.", "Mm-hmm. The clinic and the nursery.",
             "Huh, the nursery was full."]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scikit-learn warns when the two disagree
        vocabulary = set(keyword_vectorizer(len(texts)).fit(texts).vocabulary_)
    assert {"clinic", "nursery", "opened late", "clinic opened"} <= vocabulary
    assert not {"uh", "huh", "mm", "hmm"} & {w for term in vocabulary for w in term.split()}


def test_the_topic_cache_refits_when_the_stop_words_change(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    fits: list[int] = []

    def fit(texts: list[str], vectors: np.ndarray, cfg) -> TopicResult:
        fits.append(len(texts))
        return TopicResult([0] * len(texts), [1.0] * len(texts), {0: ["clinic"]}, {0: len(texts)})

    texts, ids = ["the clinic", "the nursery"], ["p1", "p2"]
    vectors = np.eye(2, dtype=np.float32)
    for _ in range(2):  # the second run reads the cache
        fit_cached(texts, vectors, ids, Config(), tmp_path, fit=fit)
    assert len(fits) == 1
    real = topics.read_word_list
    monkeypatch.setattr(topics, "read_word_list",
                        lambda name: real(name) + (("nursery",) if "fillers" in name else ()))
    fit_cached(texts, vectors, ids, Config(), tmp_path, fit=fit)
    assert len(fits) == 2
