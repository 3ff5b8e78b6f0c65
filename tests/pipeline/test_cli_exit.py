"""The console script's quick exit (``flows.cli.main``): exit codes, output and exit handlers
survive skipping the interpreter's teardown."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import atexit, sys, typer
from flows import cli

@cli.app.command("probe")
def probe(path: str, code: int = 0, crash: bool = False) -> None:
    atexit.register(lambda: open(path, "w").write("handler ran"))
    print("printed", end="")
    if crash:
        raise RuntimeError("boom")
    raise typer.Exit(code)

sys.argv = ["themeflow", "probe", *sys.argv[1:]]
cli.main()
"""


@pytest.mark.parametrize(("args", "rc", "stdout"), [
    ([], 0, "printed"),
    (["--code", "3"], 3, "printed"),
    (["--crash"], 1, "printed"),           # an uncaught error: the ordinary way out
])
def test_exit_code_output_and_handlers_survive(tmp_path: Path, args: list[str], rc: int,
                                               stdout: str) -> None:
    marker = tmp_path / "handler.txt"
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(marker), *args],
                          capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == rc, done.stderr
    assert done.stdout == stdout
    assert marker.read_text() == "handler ran"
    assert ("boom" in done.stderr) == ("--crash" in args)


def test_usage_error_keeps_its_code(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "m"), "--nosuch"],
                          capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 2 and "No such option" in done.stderr
