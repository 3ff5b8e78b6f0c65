"""The temporary Prefect server's database checks (no server is started here)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pipeline.errors import PrefectDatabaseError
from pipeline.run.prefect_server import TemporaryServer, check_database


def _database(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE flow_run (id TEXT, state TEXT)")
        conn.executemany("INSERT INTO flow_run VALUES (?, ?)",
                         [(f"run-{i}", "x" * 200) for i in range(2000)])
    conn.close()
    return path


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty_pages"])
def test_a_damaged_prefect_database_is_named_with_the_way_out(tmp_path: Path,
                                                              damage: str) -> None:
    """Issue 23: a damaged database gave a 284-line traceback with no TF code or advice."""
    db = _database(tmp_path / ".prefect" / "prefect.db")
    data = db.read_bytes()
    if damage == "garbage":
        db.write_bytes(b"not a database at all" * 100)
    elif damage == "truncated":
        db.write_bytes(data[: len(data) // 3])
    else:
        db.write_bytes(data[:4096] + bytes(len(data) - 4096))
    with pytest.raises(PrefectDatabaseError, match=r"TF501.*delete .*\.prefect to rebuild it") \
            as refused:
        TemporaryServer(db.parent)  # refused before any server process starts
    assert "\n" not in str(refused.value) and len(str(refused.value)) < 400


def test_a_sound_database_passes(tmp_path: Path) -> None:
    check_database(_database(tmp_path / "prefect.db"))


TINY_FLOW = """
from prefect import flow

@flow(name="tiny")
def tiny() -> int:
    return 41 + 1

if __name__ == "__main__":
    print(tiny())
"""


def test_a_server_that_does_not_come_up_leaves_the_run_to_prefects_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The early server relies on Prefect's app factory and private settings. If a Prefect
    # release moves them, the run must still go on, on the server Prefect starts itself.
    import os
    import subprocess
    import sys

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    server = TemporaryServer(tmp_path / ".prefect", app_factory="pipeline.run.moved:create_app")
    assert os.environ["PREFECT_API_URL"] == server.api_url
    failed = server.wait(60)
    assert "exited" in failed and server.process.poll() is not None
    assert "PREFECT_API_URL" not in os.environ
    script = tmp_path / "tiny.py"
    script.write_text(TINY_FLOW)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(tmp_path / ".prefect"), "PREFECT_LOGGING_LEVEL": "ERROR"}
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True,
                         timeout=240, check=True)
    assert out.stdout.strip().splitlines()[-1] == "42"
