"""The run's execution (``pipeline.run.execution``): its redaction workers find exactly what one
process finds, with or without the forkserver's preload; what it starts, and when; and how the
flow takes the execution the CLI started."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config import Config
from pipeline.ingest import Document
from pipeline.run import execution as execution_module
from pipeline.run.execution import Execution, execution_for, start_execution
from pipeline.study import Study
from pipeline.turns import Turn

POOL_LINES = ["My son Kayden goes to Wee Acorns Nursery on Bellfield Crescent.",
              "Ring me on 07700 900461 or email jo.bloggs@example.co.uk.",
              "We talked with the keyworker about the course and childcare."]


def pool_docs() -> list[Document]:
    """Three documents of 150 turns each, every turn holding identifiers or none."""
    return [Document(f"d{k}", "2014", Path(f"d{k}.txt"), f"d{k}",
                     [Turn(i, "Respondent", True, f"{POOL_LINES[(k + i) % 3]} ({i})")
                      for i in range(150)], [])
            for k in range(3)]


def worker_state() -> dict[str, object]:
    """Run in a worker: whether torch is hidden there, and which process forked it."""
    import os

    return {"torch_hidden": "torch" in sys.modules and sys.modules["torch"] is None,
            "ppid": os.getppid()}


POOL_SCRIPT = """
import json, os, sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from pipeline.build import build_redactor
from pipeline.config import Config
from pipeline.redact import detect_documents
from pipeline.run import execution
from pipeline.study import Study
from test_execution import pool_docs, worker_state

if __name__ == "__main__":
    if sys.argv[3] == "no-preload":
        execution.PRELOAD = ["pipeline.run.no_such_module"]
    study = Study(Path(sys.argv[1]))
    cfg = Config.model_validate({"runner": {"model_process": False}})
    run = execution.Execution(study, cfg)
    run.start(background=False)
    started = run.pool_started
    state = run._ensure_pool().submit(worker_state).result()
    state["forked_from_forkserver"] = state.pop("ppid") != os.getpid()  # not from this process
    pooled, n = detect_documents(pool_docs(), build_redactor(study, cfg), None, chunk_size=1,
                                 run_chunks=run.detect_pool)
    texts = [t.text for doc in pool_docs() for t in doc.turns] + ["One. Two? [PERSON_3] three."]
    split = run.sentence_spans(texts)
    run.close()
    from pipeline.segment import sentence_spans
    state["sentences_same"] = split == sentence_spans(texts) and len(split) == 451
    alone, _ = detect_documents(pool_docs(), build_redactor(study, cfg), None, chunk_size=1)
    print(json.dumps({"started": started, **state, "same": pooled == alone, "n": n,
                      "phone": any(s.label == "PHONE" for s in pooled[0][1]),
                      "torch_here": sys.modules.get("torch", "absent") is not None}))
"""


@pytest.mark.parametrize("preload, torch_hidden", [
    ("preload", True),      # the forkserver imported the detectors' libraries, torch hidden
    ("no-preload", False),  # a preload that fails: workers import for themselves, same spans
])
def test_the_run_workers_find_what_one_process_finds(demo_copy: Path, tmp_path: Path,
                                                     preload: str, torch_hidden: bool) -> None:
    # A fresh process, as a ``themeflow run`` is: the forkserver is started once per process.
    script = tmp_path / "pool.py"
    script.write_text(POOL_SCRIPT)
    out = subprocess.run([sys.executable, str(script), str(demo_copy), str(Path(__file__).parent),
                          preload], capture_output=True, text=True, timeout=300, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {
        "started": True, "torch_hidden": torch_hidden, "forked_from_forkserver": True,
        "same": True, "n": 3, "phone": True, "sentences_same": True, "torch_here": True}


@pytest.mark.parametrize("runner, cached, pool", [
    ("local", False, True),    # new text: the workers start now
    ("local", True, False),    # every transcript's detections cached: nothing starts
    ("dask", False, False),    # a Dask cluster's workers load their own detectors
])
def test_start_launches_the_workers_only_for_new_text(demo_copy: Path, runner: str,
                                                      cached: bool, pool: bool) -> None:
    study = Study(demo_copy)
    cfg = Config.model_validate({"runner": {"kind": runner, "model_process": False}})
    if cached:  # the detection cache as a first run leaves it
        from pipeline.build import build_redactor
        from pipeline.ingest import ingest_files
        from pipeline.redact import detect_documents

        docs, _ = ingest_files(study.transcript_files(None), cfg.ingest)
        redactor = build_redactor(study, Config.model_validate({"redact": {"detectors": [
            "patterns"]}}))
        cfg = Config.model_validate({"runner": {"kind": runner, "model_process": False},
                                     "redact": {"detectors": ["patterns"]}})
        detect_documents(docs, redactor, study.cache_dir)
    run = Execution(study, cfg)
    try:
        run.start(background=False)
        assert run.pool_started is pool
    finally:
        run.close()
    assert not run.pool_started


def test_the_flow_takes_the_execution_the_cli_started(demo_copy: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(execution_module, "new_text_pending", lambda *a: False)
    study = Study(demo_copy)
    cfg = Config()
    started = start_execution(study, cfg, None)
    # the flow reads the same study and configuration again, and resolves blocks from it
    assert execution_for(Study(demo_copy), Config(), cfg.blocks) is started
    # another study, configuration or blocks gets a new execution; the unused one is stopped
    other = start_execution(study, cfg, None)
    fresh = execution_for(study, Config.model_validate({"topics": {"seed": 7}}), None)
    assert fresh is not other and other.models is not None
    with pytest.raises(RuntimeError, match="stopped"):
        other.models.encode(["a"])
    fresh.close()
