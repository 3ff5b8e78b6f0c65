"""A real Prefect server on localhost: register the scheduled deployment with `themeflow serve`,
trigger a run through the CLI and see it complete and write its run folder."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.run.prefect_server import wait_healthy
from tests.conftest import DEMO_STUDY

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("prefect-server")
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_API_URL": api}
    log = (home / "server.log").open("w")
    proc = subprocess.Popen([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1",
                             "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        wait_healthy(api, proc, timeout=240)
        yield env
    finally:
        _stop(proc)
        log.close()


def test_scheduled_deployment_runs_on_server(prefect_server, tmp_path: Path) -> None:
    study = tmp_path / "study"
    shutil.copytree(DEMO_STUDY, study, ignore=shutil.ignore_patterns("keys", "cache", "outputs",
                                                                     ".prefect"))
    serve_log = (tmp_path / "serve.log").open("w")
    serve = subprocess.Popen([str(BIN / "themeflow"), "serve", str(study), "--name", "demo",
                              "--cron", "0 6 * * 1", "--timezone", "Europe/London",
                              "--blocks", "2014"], env=prefect_server,
                             stdout=serve_log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            found = subprocess.run([str(BIN / "prefect"), "deployment", "inspect", "themeflow/demo"],
                                   env=prefect_server, capture_output=True, text=True)
            if found.returncode == 0:
                break
            time.sleep(2)
        assert found.returncode == 0, found.stdout + found.stderr
        assert "0 6 * * 1" in found.stdout and "2014" in found.stdout
        assert "Europe/London" in found.stdout
        # Two triggers at once (issue 22): the deployment's limit of 1 queues the second, so
        # both complete, one after the other (without it the second failed on the study lock).
        runs = [subprocess.Popen([str(BIN / "prefect"), "deployment", "run", "themeflow/demo",
                                  "--watch", "--watch-timeout", "600"], env=prefect_server,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                for _ in range(2)]
        for run in runs:
            out, _ = run.communicate(timeout=660)
            assert run.returncode == 0 and "Completed" in out, out[-3000:]
        folders = sorted(p for p in (study / "outputs").iterdir() if not p.name.startswith("."))
        assert len(folders) == 2 and all((f / "candidates.parquet").is_file() for f in folders)
    finally:
        _stop(serve)
        serve_log.close()
