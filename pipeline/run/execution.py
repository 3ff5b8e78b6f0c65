"""How a run's work is spread over processes: the redaction worker pool, the chunk functions a
Dask worker runs, and the warm-up that loads the detectors while the Prefect server boots.

Why it exists: on 2 cores, spaCy NER and the other detectors dominate a cold run, and loading
them (spaCy, Presidio, word lists) costs seconds per process. The order these tricks rely on:

1. ``prewarm_redaction`` (the CLI, while the temporary server boots) loads the detectors in this
   process with torch hidden (``torch_hidden``), so spaCy and Presidio do not import torch;
2. ``local_detect_pool`` forks the redaction workers from this process, which inherit the
   loaded detectors, but only while torch is not loaded here (``fork_is_safe``): forking a
   process that holds torch's threads can hang, so a long-lived ``themeflow serve`` spawns;
3. the embed stage then loads torch, in the model process (``pipeline.run.model_process``)
   or here.

Every worker gets the config as JSON and builds its own redactor once (``_worker_redactor``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np

from pipeline.build import build_encoder, build_redactor, spacy_processes
from pipeline.config import Config
from pipeline.ingest import ingest_files, sha256_bytes
from pipeline.progress import progress
from pipeline.redact import ChunkRunner, Redactor, Span, detection_cache_path
from pipeline.segment import warm_sentencizer
from pipeline.study import Study


@lru_cache(maxsize=2)
def _worker_redactor(study_root: str, config_json: str) -> Redactor:
    return build_redactor(Study(Path(study_root)), Config.model_validate_json(config_json))


def detect_chunk(study_root: str, config_json: str, texts: list[str], names: list[str]
                 ) -> list[list[Span]]:
    """One redaction chunk, on whichever process runs it (a Dask worker builds its redactor
    and loads spaCy once, then reuses them)."""
    return _worker_redactor(study_root, config_json).detect(texts, names)


TORCH_MODULES = ("torch", "transformers")


def without_torch() -> None:
    """Start-up of a spawned redaction worker: mark torch and transformers as absent.

    Why: the worker needs neither. spaCy's small English pipeline runs on numpy, and Presidio
    imports transformers only for an NLP engine themeflow does not use. Loading spaCy still
    imports both: thinc probes for torch, and spaCy loads every registered factory, Presidio's
    Hugging Face one among them. That costs about 6 s per worker. A ``None`` entry in
    ``sys.modules`` makes those optional imports fail at once, as if the packages were not
    installed, and each caller falls back. Only for these dedicated processes: a Dask worker
    also embeds, so it keeps them."""
    for name in TORCH_MODULES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


@contextmanager
def torch_hidden() -> Iterator[None]:
    """``without_torch`` for this process, for as long as the block runs: spaCy and the
    detectors load without pulling in torch, which is then importable again (the embed stage
    needs it). thinc, having found no torch, keeps to numpy, which is all NER uses."""
    hidden = [name for name in TORCH_MODULES if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in hidden:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]


def fork_is_safe() -> bool:
    """Forking is safe while this process has not loaded torch (whose threads a fork can hang);
    a long-lived ``themeflow serve`` that has embedded before spawns instead."""
    return all(sys.modules.get(name) is None for name in TORCH_MODULES)


def prewarm_redaction(study: Study, cfg: Config, blocks: list[str] | None = None) -> bool:
    """Load the detectors (spaCy, Presidio, word lists) now, as ``local_detect_pool`` would at
    the start of the redact stage, which then finds them loaded. The CLI calls this while the
    temporary Prefect server boots, when this process would only wait and a core is idle: on
    alaska it took ~3.5 s off the redact stage of every run that detects. Skipped (False) when
    every transcript already has cached detections (a warm rerun would only pay for it), and
    where the pool would not fork (a Dask runner, or torch already loaded). Only a speed-up: any
    error (a malformed lexicon, a missing study) is left for the flow to report the usual way."""
    if cfg.runner.kind == "dask" or not fork_is_safe():
        return False
    if not new_text_pending(study, cfg, blocks):
        return False
    try:
        with torch_hidden():
            _worker_redactor(str(study.root), cfg.to_json()).warm()
    except Exception:  # noqa: BLE001 - the redact stage raises it again, named and in context
        return False
    return True


def new_text_pending(study: Study, cfg: Config, blocks: list[str] | None = None) -> bool:
    """Whether this run will detect identifiers in some transcript (one without cached
    detections), and so will very likely embed passages and fit topics: the flow then starts
    its model process at once. False on any error, which the redact stage reports."""
    try:
        with torch_hidden():
            redactor = _worker_redactor(str(study.root), cfg.to_json())
            return detection_pending(study, cfg, redactor, blocks)
    except Exception:  # noqa: BLE001 - the redact stage raises it again, named and in context
        return False


def detection_pending(study: Study, cfg: Config, redactor: Redactor,
                      blocks: list[str] | None = None) -> bool:
    """Whether any readable transcript of ``blocks`` lacks cached detections for ``redactor``
    (the redact stage would run the detectors on it). Only the files' bytes are hashed; a file
    without cached detections is then read, since one that cannot be (quarantined) never has
    any. Parsing every file here cost ~3 s at paper scale, beyond the server's boot."""
    fingerprint = redactor.fingerprint()
    for block, path in study.transcript_files(blocks or cfg.blocks or None):
        if not path.is_file() or detection_cache_path(
                study.cache_dir, sha256_bytes(path.read_bytes()), fingerprint).exists():
            continue
        docs, _ = ingest_files([(block, path)], cfg.ingest)
        if docs:
            return True
    return False


def local_detect_pool(study: Study, cfg: Config, start_method: str | None = None) -> ChunkRunner:
    """Runs redaction chunks in ``spacy_processes(cfg)`` local worker processes.

    Why: with spaCy's own ``n_process`` only the parsing is parallel; every other detector
    (patterns, Presidio, gazetteers, growth) and the decoding of each parsed Doc stay in this
    process, which became the bottleneck. Each worker here runs the whole ``detect_chunk`` and
    returns spans (offsets only).

    Start-up: by default (``start_method`` None) this process loads the detectors once, with
    torch hidden, and forks the workers, which inherit them ready to run. Spawned workers would
    each import spaCy and load the model and word lists again (~4 s each, both cores busy),
    which dominated redacting one new block. Where torch is already loaded, workers are spawned
    (forking a process that holds torch's threads can hang) and load their own detectors."""
    root, config_json = str(study.root), cfg.to_json()

    def run(payloads: list[tuple[list[str], list[str]]]) -> list[list[list[Span]]]:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        method = start_method or ("fork" if fork_is_safe() else "spawn")
        initializer = without_torch if method == "spawn" else None
        if method == "fork":
            with torch_hidden():
                _worker_redactor(root, config_json).warm()
        workers = min(spacy_processes(cfg), len(payloads))
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method),
                                 initializer=initializer) as ex:
            futures = [ex.submit(detect_chunk, root, config_json, texts, names)
                       for texts, names in payloads]
            # This process only waits now: build the segment stage's sentencizer meanwhile
            # (after spawning, importing spaCy here costs seconds that would otherwise follow
            # the pool). Importing torch here for the embed stage was tried: it slowed the
            # workers by more than it saved.
            warm_sentencizer()
            with progress("redact: finding identifiers (chunks)", len(futures)) as advance:
                out = []
                for future in futures:
                    out.append(future.result())
                    advance()
        return out

    return run


def encode_chunk(config_json: str, texts: list[str]) -> np.ndarray:
    """One embedding chunk, on whichever process runs it (the model loads once per process)."""
    return build_encoder(Config.model_validate_json(config_json).models)(texts)
