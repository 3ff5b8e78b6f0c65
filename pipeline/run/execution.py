"""``Execution``: one run's processes, built from ``[runner]``, behind one object. It owns the
redaction worker pool, the model process and their warm-up; the flow asks it for a chunk
runner and an encoder, and ends it.

Why it exists: on 2 cores, spaCy NER, Rampart and MiniLM dominate a cold run, and loading them
costs seconds per process. So, for a run with new text (``new_text_pending``):

1. ``start`` (the CLI calls it while the temporary Prefect server boots; the flow otherwise)
   launches the redaction workers, which load their detectors at once (``workers.warm_worker``),
   and the model process, which imports torch and BERTopic at nice 19
   (``pipeline.run.model_process``). Both load while this process boots Prefect, reads the
   files and plans, so the redact and embed stages find them ready.
2. The workers are forked from a forkserver that has imported spaCy, Presidio, onnxruntime and
   the word lists once (``pipeline.run.forkserver_preload``), never from this process, which
   holds threads. Nothing here depends on whether this process has imported torch, so a
   long-lived ``themeflow serve`` runs the same way as a ``themeflow run``.
3. The redact stage's chunks go to the workers, and then the segment stage's sentence
   splitting (``sentence_spans``); the pool is shut down when both are done
   (``release_workers``), the model process when embedding and fitting are (``close``).

A Dask runner sends chunks to its own workers (``pipeline.run.workers``), so ``Execution``
starts nothing for it.

Usage::

    execution = Execution(study, cfg, blocks)
    execution.start()                      # returns at once; the loading goes on meanwhile
    stages.redact_stage(..., run_chunks=execution.detect_pool)
    stages.segment_stage(..., split=execution.sentence_spans)
    execution.release_workers()
    vectors = execution.models.encode(texts)
    execution.close()                      # or stop(), when the run failed
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import Future, ProcessPoolExecutor

from pipeline.build import build_redactor, spacy_processes
from pipeline.config import Config
from pipeline.ingest import ingest_files, sha256_bytes
from pipeline.progress import progress
from pipeline.redact import Redactor, Span, detection_cache_path
from pipeline.run import workers
from pipeline.run.lifecycle import exit_with_creator
from pipeline.run.model_process import ModelProcess
from pipeline.study import Study

PRELOAD = ["pipeline.run.forkserver_preload"]


class Execution:
    """The processes of one run of ``study`` with ``cfg`` (as given, before frozen mode records
    its base run) over ``blocks``."""

    def __init__(self, study: Study, cfg: Config, blocks: list[str] | None = None) -> None:
        self.study, self.cfg, self.blocks = study, cfg, _blocks(cfg, blocks)
        self.local = cfg.runner.kind == "local"
        self.models = ModelProcess(cfg.models) \
            if self.local and cfg.runner.model_process else None
        self._config_json = cfg.to_json()
        self._pool: ProcessPoolExecutor | None = None
        self._warming: list[Future] = []
        self._lock = threading.Lock()
        self._ended = False
        self._started = False

    def matches(self, study: Study, cfg: Config, blocks: list[str] | None) -> bool:
        return (study.root, cfg, _blocks(cfg, blocks)) == (self.study.root, self.cfg, self.blocks)

    def start(self, background: bool = True) -> None:
        """If this run will detect identifiers in new text, launch the redaction workers and
        the model process, which load at once; in a background thread (returns at once) unless
        ``background`` is False. A run with nothing new starts neither (a warm rerun would only
        pay for them). Any error is left for the stage that meets it to report, named and in
        context."""
        with self._lock:
            if self._started or not self.local:
                return
            self._started = True

        def run() -> None:
            try:
                if new_text_pending(self.study, self.cfg, self.blocks):
                    self._ensure_pool()
                    if self.models is not None:
                        self.models.start(warm_topics=True)
            except Exception:  # noqa: BLE001 - only a head start
                return
        if background:
            threading.Thread(target=run, daemon=True, name="themeflow-warm-up").start()
        else:
            run()

    @property
    def pool_started(self) -> bool:
        return self._pool is not None

    def _ensure_pool(self) -> ProcessPoolExecutor:
        """The redaction pool, launched on first use: ``spacy_processes`` workers forked from
        the forkserver, each loading its detectors as it starts (one warm-up task per worker
        makes them all start now, not at the first chunk)."""
        with self._lock:
            if self._ended:
                raise RuntimeError("the run's redaction pool was shut down")
            if self._pool is None:
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(PRELOAD)
                n = spacy_processes(self.cfg)
                self._pool = ProcessPoolExecutor(n, mp_context=context,
                                                 initializer=exit_with_creator)
                self._warming = [self._pool.submit(workers.warm_worker, str(self.study.root),
                                                   self._config_json) for _ in range(n)]
            return self._pool

    def detect_pool(self, payloads: list[tuple[list[str], list[str]]]
                    ) -> list[list[list[Span]]]:
        """A ``ChunkRunner`` over the run's workers: spans per text, chunk by chunk, in order.

        Why a pool of our own rather than spaCy's ``n_process``: with spaCy's, only the parsing
        is parallel; every other detector and the decoding of each parsed Doc stay in this
        process, which became the bottleneck. Each worker runs the whole ``detect_chunk`` and
        returns offsets only."""
        pool = self._ensure_pool()
        futures = [pool.submit(workers.detect_chunk, str(self.study.root), self._config_json,
                               texts, names) for texts, names in payloads]
        with progress("redact: finding identifiers (chunks)", len(futures)) as advance:
            out = []
            for future in futures:
                out.append(future.result())
                advance()
        return out

    def sentence_spans(self, texts: list[str]) -> list[list[tuple[int, int]]]:
        """``segment.sentence_spans`` on the run's workers (split between them), if they run.

        Why: there spaCy is already imported, without torch. In this process, spaCy's start-up
        imports torch and transformers (thinc probes for one, Presidio's spaCy factory for the
        other): ~5 s of CPU and ~230 MB that the run otherwise never needs here (measured on
        the demo and alaska). The offsets are the same wherever they are computed."""
        from pipeline.segment import sentence_spans

        pool = self._pool
        if pool is None or not texts:
            return sentence_spans(texts)
        size = -(-len(texts) // spacy_processes(self.cfg))
        futures = [pool.submit(sentence_spans, texts[i:i + size])
                   for i in range(0, len(texts), size)]
        return [spans for future in futures for spans in future.result()]

    def release_workers(self) -> None:
        """Redaction and segmenting are done: the workers go (their models' memory with them);
        returns at once."""
        with self._lock:
            self._ended = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """The run is done: every process goes (a warm-up still running is cut short)."""
        self.release_workers()
        if self.models is not None:
            self.models.close()

    def stop(self) -> None:
        """The run failed: every process goes now, whatever it is doing; later calls raise."""
        self.release_workers()
        if self.models is not None:
            self.models.stop()


def _blocks(cfg: Config, blocks: list[str] | None) -> list[str] | None:
    """The blocks a run reads, as the flow resolves them: those asked for, else the config's."""
    return blocks or cfg.blocks or None


_started: list[Execution] = []


def start_execution(study: Study, cfg: Config, blocks: list[str] | None = None) -> Execution:
    """Start a run's execution ahead of its flow (the CLI, while the Prefect server boots);
    the flow then takes it with ``execution_for``."""
    while _started:
        _started.pop().stop()
    execution = Execution(study, cfg, blocks)
    _started.append(execution)
    execution.start()
    return execution


def execution_for(study: Study, cfg: Config, blocks: list[str] | None) -> Execution:
    """The flow's execution: the one the CLI started for this very study, configuration and
    blocks, or a new one, started now (a run from a schedule, or from Python)."""
    if _started and _started[0].matches(study, cfg, blocks):
        return _started.pop()
    while _started:  # started for another run: its processes go
        _started.pop().stop()
    execution = Execution(study, cfg, blocks)
    execution.start()
    return execution


def new_text_pending(study: Study, cfg: Config, blocks: list[str] | None = None) -> bool:
    """Whether this run will detect identifiers in some transcript (one without cached
    detections), and so will very likely embed passages and fit topics. False on any error,
    which the redact stage reports. Builds no detector: the fingerprint reads files only."""
    try:
        return detection_pending(study, cfg, build_redactor(study, cfg), blocks)
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

