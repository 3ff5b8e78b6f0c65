"""A new fieldwork block in frozen mode: earlier passages keep their topics and mappings, new
ones join the earlier topics, and the report says what changed since the last run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import DEMO_STUDY

pytestmark = pytest.mark.slow


def test_frozen_second_block(tmp_path: Path, browser) -> None:  # noqa: ANN001
    from flows.themeflow_flow import themeflow_flow

    study = tmp_path / "study"
    shutil.copytree(DEMO_STUDY, study, ignore=shutil.ignore_patterns(
        "keys", "cache", "outputs", ".prefect", "review", "exports"))
    first = Path(themeflow_flow(study_dir=str(study), blocks=["2014", "2015", "2016"]))
    (study / "frozen.toml").write_text('[topics]\nmode = "frozen"\n', encoding="utf-8")
    second = Path(themeflow_flow(study_dir=str(study), config_path=str(study / "frozen.toml")))

    config = json.loads((second / "config.json").read_text())
    assert config["topics"]["frozen_base"] == str(first.resolve())
    manifest = json.loads((second / "manifest.json").read_text())
    assert manifest["frozen_base"] == first.name and manifest["previous_run"] == first.name

    old_pt = pd.read_parquet(first / "passage_topics.parquet")
    new_pt = pd.read_parquet(second / "passage_topics.parquet")
    kept = new_pt.merge(old_pt, on="passage_id", suffixes=("", "_old"))
    assert len(kept) == len(old_pt)  # the earlier blocks' passages are all still there
    assert (kept["topic"] == kept["topic_old"]).all()
    added = new_pt[~new_pt["passage_id"].isin(old_pt["passage_id"])]
    assert len(added) > 0 and set(added["topic"]) <= set(old_pt["topic"])
    old_topics = pd.read_parquet(first / "topics.parquet").set_index("topic")["keywords"]
    new_topics = pd.read_parquet(second / "topics.parquet").set_index("topic")["keywords"]
    assert all(new_topics[t] == old_topics[t] for t in new_topics.index if t in old_topics.index)

    old_pm = pd.read_parquet(first / "passage_themes.parquet")
    new_pm = pd.read_parquet(second / "passage_themes.parquet")
    both = new_pm.merge(old_pm, on="passage_id", suffixes=("", "_old"))
    assert (both["element"] == both["element_old"]).all()
    assert (both["score"] == both["score_old"]).all()

    page = browser.new_page()
    page.goto((second / "report.html").as_uri())
    since = page.locator("section#since")
    assert "new block(s) 2017" in since.inner_text()
    assert since.locator("tr.new").count() == 1
    new_cands = int(since.locator('[data-count="new-candidates"]').inner_text())
    old_c = pd.read_parquet(first / "candidates.parquet")
    new_c = pd.read_parquet(second / "candidates.parquet")
    expected = len(set(zip(new_c["element"], new_c["passage_id"]))
                   - set(zip(old_c["element"], old_c["passage_id"])))
    assert new_cands == expected
    page.close()
