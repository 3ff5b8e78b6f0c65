"""What a worker process runs: one redaction chunk or one embedding chunk, on a worker of the run's
own redaction pool (``pipeline.run.execution``) or of a Dask cluster.

Each worker builds its redactor (or encoder) once and keeps it: ``worker_redactor`` is cached
per study and configuration *in the worker*, where a later chunk of the same run finds it. The
flow's own process never calls these.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

import numpy as np

from pipeline.build import build_encoder, build_redactor
from pipeline.config import Config
from pipeline.redact import Redactor, Span
from pipeline.study import Study

TORCH_MODULES = ("torch", "transformers")


@lru_cache(maxsize=2)
def worker_redactor(study_root: str, config_json: str) -> Redactor:
    return build_redactor(Study(Path(study_root)), Config.model_validate_json(config_json))


def warm_worker(study_root: str, config_json: str) -> None:
    """A pool worker's start-up: load every detector now (spaCy's model, Rampart's session,
    Presidio, the word lists), while the Prefect server boots and the flow reads the files,
    so the first chunk finds them ready. Only a speed-up: an error here (a malformed lexicon)
    is raised again by the first chunk, which the redact stage reports with its file."""
    try:
        worker_redactor(study_root, config_json).warm()
    except Exception:  # noqa: BLE001 - raised again, in context, by detect_chunk
        worker_redactor.cache_clear()


def detect_chunk(study_root: str, config_json: str, texts: list[str], names: list[str]
                 ) -> list[list[Span]]:
    """One redaction chunk: spans per text (offsets only; no text goes back)."""
    return worker_redactor(study_root, config_json).detect(texts, names)


def encode_chunk(config_json: str, texts: list[str]) -> np.ndarray:
    """One embedding chunk, on whichever process runs it (the model loads once per process)."""
    return build_encoder(Config.model_validate_json(config_json).models)(texts)


def without_torch() -> None:
    """Mark torch and transformers as absent in this process, for good.

    Why: a redaction worker needs neither. spaCy's small English pipeline runs on numpy, and
    Presidio imports transformers only for an NLP engine themeflow does not use. Importing
    spaCy still imports both: thinc probes for torch, and spaCy loads every registered factory,
    Presidio's Hugging Face one among them (about 6 s per process, measured). A ``None`` entry
    in ``sys.modules`` makes an import fail at once, as if the package were not installed (the
    import system's documented behaviour), and each of those callers falls back. Called only
    in a process that does nothing else, before it imports anything that threads: the
    workers' forkserver (``pipeline.run.forkserver_preload``). A Dask worker also embeds, so it
    keeps them."""
    for name in TORCH_MODULES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
