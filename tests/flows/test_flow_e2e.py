"""End to end: the real Prefect flow with the real models on the bundled demo study."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slow

TABLES = ["documents", "turns", "redactions", "passages", "theme_scores", "passage_themes",
          "topics", "passage_topics", "topic_themes", "candidates", "review_labels",
          "indirect_flags"]


def _all_text(path: Path) -> str:
    parts = [path.read_bytes().decode("utf-8", errors="ignore")]
    if path.suffix == ".parquet":
        parts.append(pd.read_parquet(path).astype(str).to_csv())
    return "\n".join(parts)


def _table_hash(path: Path) -> str:
    frame = pd.read_parquet(path)
    return hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()


def test_run_folder_complete(two_runs) -> None:  # noqa: ANN001
    study, first, _ = two_runs
    assert first.parent == study / "outputs"
    for name in TABLES:
        assert (first / f"{name}.parquet").is_file(), name
    for name in ("config.json", "manifest.json", "report.html", "leak_check.json"):
        assert (first / name).is_file()
    assert not [p for p in (study / "outputs").iterdir() if p.name.startswith(".partial")]
    assert (study / "keys" / "pseudonyms.json").is_file()


def test_no_planted_identifier_anywhere(two_runs, planted, prefect_home) -> None:  # noqa: ANN001
    study, first, second = two_runs
    files = [p for run in (first, second) for p in run.rglob("*") if p.is_file()]
    files += [p for p in (study / "cache").rglob("*") if p.is_file()]
    files += [p for p in prefect_home.rglob("*") if p.is_file() and p.stat().st_size < 200_000_000]
    for path in files:
        text = _all_text(path)
        for ident in planted:
            assert not re.search(rf"(?<!\w){re.escape(ident)}(?!\w)", text, re.IGNORECASE), \
                f"{ident!r} leaked into {path}"
    # Prefect's random run names ("ruby-chameleon") could spell a planted name: runs are named
    # by time instead
    import sqlite3

    conn = sqlite3.connect(f"file:{prefect_home / 'prefect.db'}?mode=ro", uri=True)
    names = [row[0] for row in conn.execute("SELECT name FROM flow_run")]
    conn.close()
    assert names and all(n.startswith("themeflow-") for n in names), names


def test_quarantine_named_and_others_processed(two_runs) -> None:  # noqa: ANN001
    _, first, _ = two_runs
    docs = pd.read_parquet(first / "documents.parquet")
    bad = docs[docs["status"] == "quarantined"]
    assert list(bad["doc_id"]) == ["broken"] and "broken.txt" in bad["error"].iloc[0]
    assert (docs["status"] == "ok").sum() == 16


def test_every_element_has_attributed_candidates(two_runs) -> None:  # noqa: ANN001
    _, first, _ = two_runs
    cand = pd.read_parquet(first / "candidates.parquet")
    elements = ["mutual_learning", "joint_ownership", "empowered_participation",
                "collaborative_governance", "distributive_leadership", "boundary_spanning"]
    for element in elements:
        mine = cand[cand["element"] == element]
        assert len(mine) >= 3, element
        assert mine["attribution"].str.fullmatch(r"[A-Z][\w ]+, Area \d, Year [1-4]").all()
        top = mine.sort_values("rank").head(10)
        assert top["participant"].is_unique, element
    theme = pd.read_parquet(first / "theme_scores.parquet")
    passages = pd.read_parquet(first / "passages.parquet")
    assert len(theme) == 6 * len(passages)


def test_rerun_identical_tables_and_embeds_nothing(two_runs) -> None:  # noqa: ANN001
    _, first, second = two_runs
    for name in TABLES:
        assert _table_hash(first / f"{name}.parquet") == _table_hash(second / f"{name}.parquet"), name
    m1 = json.loads((first / "manifest.json").read_text())
    m2 = json.loads((second / "manifest.json").read_text())
    assert m1["counts"]["embedded"] > 0
    assert m2["counts"]["embedded"] == 0 and m2["counts"]["documents_detected"] == 0
    assert set(m1["stages"]) >= {"ingest", "redact", "segment", "embed", "topics", "map",
                                 "quotes", "write", "report"}
    # The first run fitted topics in the model process while mapping and writing went on here.
    topics, write = m1["stages"]["topics"], m1["stages"]["write"]
    fit_end = topics["start_s"] + topics["wall_s"]
    assert m1["stages"]["map"]["start_s"] < topics["start_s"] + 1 < fit_end
    assert write["start_s"] + write["wall_s"] <= fit_end


def test_report_shows_counts(two_runs) -> None:  # noqa: ANN001
    _, first, _ = two_runs
    html = (first / "report.html").read_text()
    manifest = json.loads((first / "manifest.json").read_text())
    for name in ("documents", "quarantined", "passages", "redactions", "topics"):
        assert f'data-count="{name}">{manifest["counts"][name]}<' in html
    assert "<script" not in html.lower()


def test_report_renders_offline_in_chromium(two_runs, browser) -> None:  # noqa: ANN001
    _, first, _ = two_runs
    manifest = json.loads((first / "manifest.json").read_text())
    page = browser.new_page()
    network, errors = [], []
    page.on("request", lambda r: network.append(r.url) if not r.url.startswith(("file:", "data:"))
            else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto((first / "report.html").as_uri())
    page.wait_for_load_state("load")
    assert network == [] and errors == []
    for section in ("summary", "prevalence", "elements", "candidates", "topics", "emergent",
                    "redaction", "indirect", "since", "quarantine", "timings", "methods",
                    "config"):
        assert page.locator(f"section#{section}").count() == 1, section
    for name in ("documents", "quarantined", "passages", "redactions", "topics"):
        assert page.locator(f'[data-count="{name}"]').inner_text() == str(manifest["counts"][name])
    widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")
    assert len(widths) == 6 and all(w > 100 for w in widths)
    assert page.locator("section#candidates li").count() == manifest["counts"]["candidates"]
    rows = page.locator("section#quarantine tr")
    assert rows.count() == 2 and "broken.txt" in rows.nth(1).inner_text()
    for name in ("prevalence_by_block", "prevalence_by_area", "prevalence_by_role",
                 "elements_over_blocks", "topic_sizes", "topic_map"):
        assert (first / "figures" / f"{name}.png").stat().st_size > 1000
    page.close()


def test_reproduce_from_manifest(two_runs, tmp_path) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    from flows.cli import app
    from tests.conftest import cli_process_state

    _, first, _ = two_runs
    with cli_process_state():
        result = CliRunner().invoke(app, ["reproduce", str(first), "--output-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = [ln for ln in result.output.splitlines() if ln.startswith(("PASS", "FAIL"))]
    assert len(lines) == len(TABLES) and all(ln.startswith("PASS") for ln in lines)
    assert "reproduced: 12/12 tables identical" in result.output
