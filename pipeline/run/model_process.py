"""The model process: the embedding model and the topic fit, in one spawned process of their own.

Why: torch, sentence-transformers and the MiniLM weights take 5-12 s to import and load. In the
flow's process that sat on the path from redaction to embedding, in every run with new text.
Here they load in a thread at the lowest priority (nice 19) from the moment the run starts, on
the CPU the flow leaves idle (its single-threaded reading, planning and segmenting). The topic
fit runs here too, with those libraries already imported, in another nice-19 thread, while the
flow maps passages and writes tables; encoding for the mapping is served meanwhile at normal
priority. ``pipeline.run.execution.Execution`` starts it, for a run with new text.

The process is a ``multiprocessing`` manager server (spawned, not forked): it serves each
calling thread on a connection and thread of its own, which is what lets an encoding request
run beside a fit. Vectors and topics come back pickled; only model text (already redacted)
goes in. The results are those of the same calls in the flow's process (same model, same
torch threads, seeded fit).

Usage::

    models = ModelProcess(cfg.models)
    models.start(warm_topics=True)  # returns at once; the libraries load in the background
    vectors = models.encode(texts)
    result = models.fit(texts, vectors, cfg.topics)  # models.fit_usage: its CPU and memory
    models.close()
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from multiprocessing.managers import BaseManager
from typing import Any

import numpy as np

from pipeline.config import ModelsConfig, TopicsConfig
from pipeline.run.lifecycle import exit_with_parent
from pipeline.topics import TopicResult, fit_topics, warm_up


def _low_priority(target: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """Run ``target`` in a new daemon thread at nice 19 (Linux sets niceness per thread); the
    box gets its ``value`` or ``error`` and its ``cpu_s`` (that thread's CPU time)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        except (AttributeError, OSError):  # not Linux: the thread runs at normal priority
            pass
        cpu = time.thread_time()
        try:
            box["value"] = target()
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits for it
            box["error"] = exc
        finally:
            box["cpu_s"] = time.thread_time() - cpu

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


def _import_embedding_libraries() -> None:
    """Imports only: building the model (0.3 s) is left to the first encoding, at normal
    priority, so that torch's worker threads are not created at nice 19."""
    import sentence_transformers  # noqa: F401
    import torch  # noqa: F401


class _Models:
    """Lives in the model process; each public method is a call the flow can make."""

    def __init__(self, models: dict[str, Any]) -> None:
        self._cfg = ModelsConfig.model_validate(models)
        self._imports = _low_priority(_import_embedding_libraries)
        self._warm: tuple[threading.Thread, dict[str, Any]] | None = None
        self._fit_cpu = 0.0
        self._encoding = {"cpu_s": 0.0, "wait_s": 0.0}

    def warm_topics(self) -> None:
        """Import BERTopic and compile UMAP (``topics.warm_up``) after the embedding libraries,
        still at nice 19: the fit then starts at once."""
        if self._warm is None:
            def warm() -> None:
                self._imports[0].join()
                warm_up()
            self._warm = _low_priority(warm)

    def encode(self, texts: list[str]) -> np.ndarray:
        from pipeline.build import build_encoder

        thread, box = self._imports
        waited = time.perf_counter()
        thread.join()
        self._encoding["wait_s"] += time.perf_counter() - waited
        if "error" in box:
            raise box["error"]
        cpu = time.process_time()  # torch's worker threads too (a warm-up's crumbs at nice 19)
        vectors = build_encoder(self._cfg)(texts)
        self._encoding["cpu_s"] += time.process_time() - cpu
        return vectors

    def encode_usage(self) -> dict[str, float]:
        """For the embed stage's record: the CPU seconds spent encoding (in this process) and
        how long encoding waited for the libraries to finish loading."""
        return {"model_process_cpu_s": round(self._encoding["cpu_s"], 3),
                "model_load_wait_s": round(self._encoding["wait_s"], 3)}

    def fit(self, texts: list[str], vectors: np.ndarray, topics: dict[str, Any]) -> TopicResult:
        cfg = TopicsConfig.model_validate(topics)
        thread, box = _low_priority(lambda: fit_topics(texts, vectors, cfg))
        thread.join()
        self._fit_cpu += box["cpu_s"]
        if "error" in box:
            raise box["error"]
        return box["value"]

    def fit_usage(self) -> dict[str, float]:
        """CPU seconds of the fit and of its warm-up (part of what fitting costs), and this
        process's peak memory (MB)."""
        from pipeline.run.folders import peak_rss_mb

        warm = self._warm[1].get("cpu_s", 0.0) if self._warm else 0.0
        return {"cpu_s": round(self._fit_cpu + warm, 3), "peak_rss_mb": peak_rss_mb()}


class _Manager(BaseManager):
    """The stock manager. (Its server once skipped the interpreter's teardown of torch and
    BERTopic through ``BaseManager._run_server``, a private method: that saved ~1.0 s per run
    that embeds, under 1% of alaska's cold run, so it went with issue 18.)"""


_Manager.register("Models", _Models)


class ModelProcess:
    """The flow's handle on the model process: started on first use (or early, by ``start``),
    ended by ``close`` (after the run) or ``stop`` (the run failed: a fit in progress is not
    waited for, and a later call raises)."""

    def __init__(self, models: ModelsConfig) -> None:
        self._models_cfg = models
        self._manager: _Manager | None = None
        self._models: Any = None
        self._ended = ""  # "closed" or "stopped": no process may start after that
        self._lock = threading.Lock()
        self.fit_usage: dict[str, float] = {}

    def start(self, warm_topics: bool = False) -> None:
        """Launch the process and begin loading (returns once it is up, ~0.5 s); with
        ``warm_topics`` it also prepares BERTopic, for a run likely to fit topics."""
        models = self._ensure()
        if warm_topics:
            models.warm_topics()

    def _ensure(self) -> Any:
        with self._lock:
            if self._ended == "stopped":
                raise RuntimeError("the model process was stopped: the run failed elsewhere")
            if self._ended:
                raise RuntimeError("the model process was closed")
            if self._models is None:
                manager = _Manager(ctx=multiprocessing.get_context("spawn"))
                manager.start(exit_with_parent, (os.getpid(),))
                self._manager = manager
                self._models = manager.Models(self._models_cfg.model_dump())
            return self._models

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length vectors of ``texts``, as ``SentenceTransformer.encode`` gives them."""
        return self._ensure().encode(texts)

    def encode_usage(self) -> dict[str, float]:
        """``model_process_cpu_s`` and ``model_load_wait_s`` so far ({} if never started)."""
        with self._lock:
            models = self._models
        return models.encode_usage() if models is not None else {}

    def fit(self, texts: list[str], vectors: np.ndarray, cfg: TopicsConfig) -> TopicResult:
        """``topics.fit_topics`` in the model process, at nice 19; ``fit_usage`` then holds its
        CPU seconds (with the warm-up's) and the process's peak memory."""
        if len(texts) < cfg.min_passages:  # nothing to fit: no process needed
            return fit_topics(texts, vectors, cfg)
        models = self._ensure()
        result = models.fit(texts, vectors, cfg.model_dump())
        self.fit_usage = models.fit_usage()
        return result

    def close(self) -> None:
        """End the process (a warm-up still running is cut short, not waited for)."""
        with self._lock:
            self._ended = self._ended or "closed"
            manager, self._manager, self._models = self._manager, None, None
        _end(manager)

    def stop(self) -> None:
        """End the process now, whatever it is doing; later calls raise."""
        with self._lock:
            self._ended = "stopped"
            manager, self._manager, self._models = self._manager, None, None
        _end(manager)


def _end(manager: _Manager | None) -> None:
    """Shut the manager's process down: asked first, so that it runs multiprocessing's exit
    handlers and releases what it registered (terminated at once, it left a "leaked semaphore"
    warning on every run), then terminated if still alive after a second, as when a fit is
    running or torch's teardown is slow (``BaseManager.shutdown`` does both)."""
    if manager is not None:
        manager.shutdown()
