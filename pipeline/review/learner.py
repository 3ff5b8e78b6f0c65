"""The review server's learner: refits on every decision and re-ranks without a rerun.

After each accept, reject, relabel or "code next" answer the page asks for a refit; a background
thread reads the team's labels as a run would (``labels.study_labels``), fits the classifier on
the run's saved learning inputs (``mapping.learned``), re-ranks the candidates with the run's
own ``quotes.propose``, recomputes the "code next" queue, publishes both, and then estimates
the agreement by cross-validation.
Requests that arrive during a fit are folded into the next one, so the page never waits on a
queue of fits. The same labels give the same candidates here and in the next ``themeflow run``.

Usage::

    learner = ReviewLearner(workspace)   # starts its thread and a first fit
    learner.request()                    # after a decision is stored
    learner.snapshot()                   # version, counts, agreement, queue
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pipeline.indirect import with_indirect
from pipeline.mapping.classifier import code_next, typicality
from pipeline.mapping.learned import (Learned, LearningInputs, assignments, cross_validated_kappa,
                                      explain, learn, scores_of)
from pipeline.mapping.mapper import assign
from pipeline.privacy import PrivacyContext
from pipeline.quotes import propose
from pipeline.review.labels import study_labels

log = logging.getLogger("themeflow")
QUEUE_LENGTH = 5
GUESSES = 3


@dataclass
class LearnerState:
    version: int = 0
    fitting: bool = True
    labels: int = 0
    partial: int = 0
    kappa: float | None = None
    queue: list[dict[str, Any]] = field(default_factory=list)
    refit_s: float | None = None
    error: str = ""


class ReviewLearner:
    def __init__(self, workspace: Any, start: bool = True) -> None:  # Workspace (no cycle)
        self.ws = workspace
        self.state = LearnerState()
        self._wanted = threading.Event()
        self._lock = threading.Lock()
        self.inputs: LearningInputs | None = None
        folder = workspace.run_dir
        if (folder / "learning.npz").exists() and (folder / "learning.json").exists():
            self.inputs = LearningInputs.load(folder)
        else:
            self.state = LearnerState(fitting=False, error="this run predates learning; run "
                                      "themeflow again to learn from decisions")
        self._density: np.ndarray | None = None
        self._flags = pd.read_parquet(folder / "indirect_flags.parquet") \
            if (folder / "indirect_flags.parquet").exists() else None
        if self.inputs is not None:
            self._wanted.set()
            if start:
                threading.Thread(target=self._loop, name="themeflow-learner",
                                 daemon=True).start()

    def request(self) -> None:
        """Ask for a refit (a decision or answer was stored); returns at once."""
        if self.inputs is not None:
            with self._lock:
                self.state.fitting = True
            self._wanted.set()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            s = self.state
            return {"version": s.version, "fitting": s.fitting, "labels": s.labels,
                    "partial": s.partial, "kappa": s.kappa, "queue": list(s.queue),
                    "refit_s": s.refit_s, "error": s.error, "enabled": self.inputs is not None}

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """For tests and the CLI: True once no fit is pending or running."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._wanted.is_set() and not self.state.fitting:
                return True
            time.sleep(0.05)
        return False

    def _loop(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            try:
                self.refit()
            except Exception as exc:  # noqa: BLE001 - the page shows it; the server stays up
                log.warning("review learner: refit failed: %s", type(exc).__name__)
                with self._lock:
                    self.state.error = f"refit failed ({type(exc).__name__}); see the log"
                    self.state.fitting = self._wanted.is_set()

    def refit(self) -> None:
        """One fit: labels now, candidates re-ranked into the workspace and the queue, published
        as a new version at once; then the agreement estimate. The estimate refits the model
        once per fold, which with 1,000 labels takes longer than the fit itself, so the page
        re-ranks without waiting for it (and shows "learning…" until it is in)."""
        assert self.inputs is not None
        started = time.perf_counter()
        ws, inputs, cfg = self.ws, self.inputs, self.ws.config
        passages = ws.tables["passages"]
        table = study_labels(ws.study, cfg, PrivacyContext.load(ws.study, cfg), passages)
        texts = list(passages["text"])
        learned = learn(inputs, table, cfg.map, texts)
        ws.tables["candidates"] = self._candidates(learned, table, passages, texts)
        if self._density is None:
            self._density = typicality(inputs.vectors)
        queue = self._queue(learned, passages)
        with self._lock:
            self.state = LearnerState(
                version=self.state.version + 1, fitting=True, labels=learned.n_labels,
                partial=len(learned.negatives), kappa=self.state.kappa, queue=queue,
                refit_s=round(time.perf_counter() - started, 3))
        kappa = cross_validated_kappa(learned, inputs, cfg.map)
        with self._lock:
            self.state.kappa = kappa
            self.state.fitting = self._wanted.is_set()

    def _candidates(self, learned: Learned, table: pd.DataFrame, passages: pd.DataFrame,
                    texts: list[str]) -> pd.DataFrame:
        inputs, cfg = self.inputs, self.ws.config
        ids = inputs.element_ids
        if learned.learnt:
            best = assignments(learned, ids, cfg.map)[0]
        else:
            best = assign(inputs.scores, ids, cfg.map)[0]
        candidates = propose(passages, best, scores_of(learned, inputs), ids, inputs.vectors,
                             cfg.quotes, table)
        labels = {e.id: e.label for e in self.ws.framework.elements}
        candidates = explain(candidates, learned, inputs, texts, labels)
        return with_indirect(candidates, self._flags) if self._flags is not None \
            else candidates.assign(indirect="")

    def _queue(self, learned: Learned, passages: pd.DataFrame) -> list[dict[str, Any]]:
        """The next passages to code, each with its context and the model's three guesses."""
        inputs = self.inputs
        labelled = set(learned.labels)
        rows = code_next(learned.prediction, inputs.vectors, labelled, QUEUE_LENGTH,
                         density=self._density)
        labels = {e.id: e.label for e in self.ws.framework.elements}
        items = []
        for r in rows:
            p = learned.probability[r]
            order = np.argsort(-p, kind="stable")[:GUESSES]
            guesses = [{"element": inputs.element_ids[j], "label": labels[inputs.element_ids[j]],
                        "probability": round(float(p[j]), 3)} for j in order]
            item = self.ws.queue_item(inputs.passage_ids[r])
            item["guesses"] = guesses
            item["p_codeable"] = round(float(learned.prediction.p_codeable[r]), 3)
            items.append(item)
        self.ws.rescan(items)
        return items
