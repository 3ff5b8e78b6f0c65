"""Who may read what themeflow writes: the study's files are private, or shared with one group.
Each case runs the real command in a subprocess (a umask is process-wide)."""

from __future__ import annotations

import grp
import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.fakes import make_run

BIN = Path(sys.executable).parent


def _modes(root: Path) -> set[tuple[str, int]]:
    return {("d" if p.is_dir() else "f", stat.S_IMODE(p.stat().st_mode))
            for p in [root, *root.rglob("*")]}


def test_init_makes_a_private_study(tmp_path: Path) -> None:
    """Issue 23: the study's files followed the umask (0644 here); only the key was 0600."""
    env = {**os.environ}
    subprocess.run(["sh", "-c", f"umask 022; {BIN / 'themeflow'} init {tmp_path / 's'}"],
                   check=True, capture_output=True, env=env)
    assert _modes(tmp_path / "s") == {("d", 0o700), ("f", 0o600)}


def test_a_shared_group_reads_and_writes_the_exports(tmp_path: Path) -> None:
    study = tmp_path / "study"
    make_run(study)
    group = grp.getgrgid(os.getgid()).gr_name
    (study / "themeflow.toml").write_text(f'[review]\nshared_group = "{group}"\n')
    done = subprocess.run(["sh", "-c", f"umask 077; {BIN / 'themeflow'} export {study} -f csv"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    exports = study / "exports"
    assert stat.S_IMODE(exports.stat().st_mode) == 0o2770
    assert {stat.S_IMODE(p.stat().st_mode) for p in exports.iterdir()} == {0o660}
    assert stat.S_IMODE(study.stat().st_mode) & 0o2070 == 0o2070


def test_an_unknown_shared_group_is_a_config_error(tmp_path: Path) -> None:
    study = tmp_path / "study"
    make_run(study)
    (study / "themeflow.toml").write_text('[review]\nshared_group = "no-such-group-xyz"\n')
    done = subprocess.run([str(BIN / "themeflow"), "export", str(study)], capture_output=True,
                          text=True)
    assert done.returncode == 2 and "no-such-group-xyz" in done.stderr
