"""Learning from review end to end, on a copy of the real demo run: the "code next" queue
answered with keys in real chromium, the learner refitting in the real review server, the
candidate list re-ranked without a rerun, and the next run of the real flow training on the
same labels to the same candidates."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest

from playwright.sync_api import expect

from pipeline.review.app import create_app
from tests.conftest import LiveServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def study(two_runs, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: ANN001
    """A private copy of the reviewed-nothing demo study with its runs, key and caches."""
    dest = tmp_path_factory.mktemp("learning") / "study"
    shutil.copytree(two_runs[0], dest)
    return dest


def _wait(predicate, timeout: float = 60.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_code_next_refits_reranks_and_the_next_run_agrees(study: Path, browser) -> None:  # noqa: ANN001
    from flows.themeflow_flow import themeflow_flow

    app = create_app(study)
    server = LiveServer(app)
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(server.url + "/")
        learner = app.state.learner()
        assert learner.wait_idle()
        zero_shot = learner.ws.tables["candidates"].copy()
        assert zero_shot["why"].str.contains("no labels yet").all()
        page.fill("#reviewer", "ana")
        page.locator("#reviewer").blur()
        page.click("#code-next-nav")
        answered = []
        for keys in (["1", "Enter"], ["0"], ["2", "3", "Enter"], ["0"]):
            card = page.wait_for_selector("[data-queue]")
            pid = card.get_attribute("data-queue")
            for key in keys:
                page.keyboard.press(key)
            page.wait_for_selector(f'[data-queue="{pid}"]', state="detached", timeout=30000)
            answered.append(pid)
        assert len(set(answered)) == 4  # the queue moves on, never asking twice
        expect(page.locator("#learner")).to_contain_text("labels 4 ", timeout=60000)
        elements = [e.id for e in learner.ws.framework.elements]
        codings = learner.ws.store.codings().sort_values("id")
        assert list(zip(codings["passage_id"], codings["elements"])) == [
            (answered[0], elements[0]), (answered[1], "none"),
            (answered[2], "; ".join(sorted(elements[1:3]))), (answered[3], "none")]
        # the candidates re-ranked in the page without a rerun, each saying why
        page.click(f'button[data-element-nav="{elements[1]}"]')
        page.wait_for_selector('[data-role="why"]')
        whys = page.locator('[data-role="why"]').all_inner_texts()
        assert whys and all("labelled passage" in w or "coded" in w for w in whys)
        shot = os.environ.get("THEMEFLOW_QUEUE_SCREENSHOT")
        if shot:  # the candidates with their "why" lines, then the queue
            page.screenshot(path=shot.replace(".png", "-why.png"), full_page=True)
        # accept one with the keyboard: a decision is a label too
        page.keyboard.press("a")
        expect(page.locator("#toast")).to_have_text("Saved: accepted", timeout=30000)
        assert learner.wait_idle()
        assert len(learner.ws.store.current()) == 1
        page.click("#code-next-nav")
        page.wait_for_selector("[data-queue]")
        if shot:
            page.screenshot(path=shot, full_page=True)
        live = learner.ws.tables["candidates"].reset_index(drop=True)
    finally:
        page.close()
        server.stop()
    assert errors == []
    assert not live.equals(zero_shot.reset_index(drop=True))
    # decisions survive a rerun, which trains the same model: the same candidates, in order
    rerun = Path(themeflow_flow(study_dir=str(study)))
    again = pd.read_parquet(rerun / "candidates.parquet")
    pd.testing.assert_frame_equal(again.reset_index(drop=True), live, check_dtype=False)
    labels = pd.read_parquet(rerun / "review_labels.parquet")
    assert (answered[1], "none", 1) in set(zip(labels["passage_id"], labels["element"],
                                               labels["polarity"]))
