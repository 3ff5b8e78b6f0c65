"""The Dask runner: a 2-worker local cluster produces the same tables as the default runner."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from pipeline.run.reproduce import run_table_hashes
from tests.conftest import DEMO_STUDY

pytestmark = pytest.mark.slow

CHUNKS = "[runner]\nchunk_documents = 2\nchunk_passages = 16\n"


def _study(root: Path, runner: str) -> Path:
    study = root / runner / "study"
    shutil.copytree(DEMO_STUDY, study, ignore=shutil.ignore_patterns(
        "keys", "cache", "outputs", ".prefect", "review", "exports"))
    extra = CHUNKS + ('kind = "dask"\nn_workers = 2\n' if runner == "dask" else "")
    (study / "runner.toml").write_text(extra, encoding="utf-8")
    return study


def test_dask_cluster_gives_identical_tables(tmp_path: Path, planted, prefect_home) -> None:  # noqa: ANN001
    from flows.themeflow_flow import flow_for
    from pipeline.config import resolve_config
    from pipeline.study import Study

    runs = {}
    for runner in ("local", "dask"):
        study = _study(tmp_path, runner)
        cfg = resolve_config(Study(study).config_path, study / "runner.toml")
        assert cfg.runner.kind == runner
        runs[runner] = Path(flow_for(cfg)(study_dir=str(study), blocks=["2014", "2015"],
                                          config_path=str(study / "runner.toml")))
    local, dask = (run_table_hashes(runs[k]) for k in ("local", "dask"))
    assert len(local) == 12 and local == dask
    for path in prefect_home.rglob("*"):
        if path.is_file() and path.stat().st_size < 200_000_000:
            text = path.read_bytes().decode("utf-8", errors="ignore")
            for ident in planted:
                assert not re.search(rf"(?<!\w){re.escape(ident)}(?!\w)", text, re.I), (ident, path)
