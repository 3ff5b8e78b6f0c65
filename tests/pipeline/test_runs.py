from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.errors import RunLockedError
from pipeline.run.folders import RunFolder, list_runs, study_lock
from pipeline.run.reproduce import compare, run_table_hashes
from pipeline.study import Study


def test_second_concurrent_run_is_refused(tmp_path: Path) -> None:
    study = Study(tmp_path)
    with study_lock(study):
        with pytest.raises(RunLockedError, match="another themeflow run"):
            with study_lock(study):
                pass
    with study_lock(study):  # released after the first run ends
        pass


def test_partial_run_never_looks_complete(tmp_path: Path) -> None:
    run = RunFolder.create(tmp_path, "20260101T000000Z")
    run.write_table("passages", pd.DataFrame({"a": [1]}))
    assert list_runs(tmp_path) == []
    crashed = RunFolder.create(tmp_path, "20260101T000001Z")
    crashed.write_table("passages", pd.DataFrame({"a": [1]}))
    final = run.finalise()
    assert list_runs(tmp_path) == [final]


def test_table_hashes_compare_content(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    pd.DataFrame({"x": [1, 2]}).to_parquet(a / "t.parquet")
    pd.DataFrame({"x": [1, 2]}).to_parquet(b / "t.parquet", compression=None)
    pd.DataFrame({"x": [1]}).to_parquet(a / "u.parquet")
    pd.DataFrame({"x": [2]}).to_parquet(b / "u.parquet")
    assert compare(run_table_hashes(a), run_table_hashes(b)) == [("t", True), ("u", False)]


def test_a_crashed_runs_partial_folder_is_removed_by_the_next_run(tmp_path: Path) -> None:
    """Issue 23: partial folders of killed runs were never removed. A partial folder whose
    run is alive (its lock held, here by this process) is kept."""
    import subprocess
    import sys

    # A run killed mid-write: a separate process creates the folder, then dies without cleanup.
    code = ("import os, sys; from pathlib import Path; from pipeline.run.folders import RunFolder;"
            "r = RunFolder.create(Path(sys.argv[1]), '20260101T000000Z');"
            "r.write_json('manifest.json', {}); os._exit(9)")
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=False)
    assert (tmp_path / ".partial-20260101T000000Z").is_dir()
    live = RunFolder.create(tmp_path, "20260101T000001Z")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".partial-20260101T000001Z",
                                                          ".partial-20260101T000001Z.lock"]
    RunFolder.create(tmp_path, "20260101T000002Z").abandon()
    assert live.partial.is_dir()
    live.finalise()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["20260101T000001Z"]


@pytest.mark.parametrize("name, key", [
    ("Lone Parents 2014-17", "themeflow-lone-parents-2014-17"),
    ("study", "themeflow-study"),
    ("__", "themeflow-study"),
])
def test_each_study_has_its_own_artifact_key(tmp_path: Path, name: str, key: str) -> None:
    """Issue 22: every study published under one artifact key, without the report's path."""
    from pipeline.run.manifest import artifact_key, summary_markdown

    assert artifact_key(tmp_path / name) == key
    text = summary_markdown({"run_id": "r1", "counts": {"documents": 4}}, tmp_path / "r1")
    assert "| documents | 4 |" in text and f"`{tmp_path / 'r1' / 'report.html'}`" in text


def test_changed_inputs_follow_transcripts_and_survey_files(tmp_path: Path) -> None:
    import hashlib

    from pipeline.run.reproduce import changed_inputs

    block = tmp_path / "transcripts" / "2018"
    block.mkdir(parents=True)
    (block / "su-01.txt").write_text("Interviewer: Hi?\nRespondent: Yes.")
    (block / "wave.csv").write_text("doc,text\nr1,Yes.\n")
    sha = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in block.iterdir()}
    manifest = {"inputs": {"2018/su-01": sha["su-01.txt"], "2018/wave-r1": sha["wave.csv"],
                           "2018/gone": "0" * 64}}
    assert changed_inputs(tmp_path, manifest) == ["2018/gone"]
    (block / "wave.csv").write_text("doc,text\nr1,No.\n")
    assert changed_inputs(tmp_path, manifest) == ["2018/gone", "2018/wave-r1"]
