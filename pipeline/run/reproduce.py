"""Reproducibility: content hashes of a run's tables, and the comparison ``themeflow reproduce``
prints after rerunning a run from its manifest.

A table's hash is taken over its CSV rendering (column names, values, row order), so it does not
depend on parquet writer details; two runs agree when every table hash agrees.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd


def table_hash(path: Path) -> str:
    frame = pd.read_parquet(path)
    return hashlib.sha256(frame.to_csv(index=False, lineterminator="\n").encode()).hexdigest()


def run_table_hashes(run_dir: Path, known: dict[str, str] | None = None) -> dict[str, str]:
    """Hash of every table in ``run_dir``; ``known`` holds hashes already taken of tables
    written earlier in the run and not rewritten since (the flow hashes most tables while the
    topic fit runs)."""
    known = known or {}
    return {p.stem: known.get(p.stem) or table_hash(p) for p in sorted(run_dir.glob("*.parquet"))}


def compare(expected: dict[str, str], actual: dict[str, str]) -> list[tuple[str, bool]]:
    """(table, identical) for every table in either run."""
    return [(name, expected.get(name) == actual.get(name))
            for name in sorted(set(expected) | set(actual))]


def changed_inputs(study: Path, manifest: dict) -> list[str]:
    """The transcripts (``block/doc_id``) whose bytes differ from the run's manifest, or that are
    gone: a rerun of a run whose inputs changed cannot reproduce it, and says so first."""
    changed = []
    for rel, digest in sorted(manifest.get("inputs", {}).items()):
        block, doc_id = rel.split("/", 1)
        folder = study / "transcripts" / block
        files = sorted(folder.glob(f"{doc_id}.*")) or [
            f for f in sorted(folder.glob("*.csv")) if doc_id.startswith(f"{f.stem}-")
        ]  # survey answers: documents "<file>-<doc>" of one CSV
        now = hashlib.sha256(files[0].read_bytes()).hexdigest() if files else None
        if now != digest:
            changed.append(rel)
    return changed
