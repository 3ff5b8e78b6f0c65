"""Report: a self-contained ``report.html`` (no scripts, no network) and a methods paragraph.

Everything shown is read from the run's redacted tables; Jinja2 autoescaping is on, so a
transcript containing markup is displayed, never executed.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape

from pipeline.mapping.framework import Framework

TEMPLATES = Path(__file__).resolve().parent / "templates"
EMERGENT_EXAMPLES = 3


def methods_paragraph(manifest: dict[str, Any]) -> str:
    c, cfg, v = manifest["counts"], manifest["config"], manifest["packages"]
    return (
        f"Transcripts ({c['documents']} documents in {len(manifest['blocks'])} fieldwork block(s); "
        f"{c['quarantined']} quarantined) were processed with themeflow {v.get('themeflow')}. "
        f"Identifiers missed by hand anonymisation were replaced with consistent pseudonyms using the "
        f"spaCy model {cfg['models']['spacy']} (spaCy {v.get('spacy')}) together with pattern "
        f"recognisers and study lexicons ({c['redactions']} spans). Respondent speech was segmented "
        f"into windows of {cfg['segment']['window_sentences']} sentences ({c['passages']} passages), "
        f"embedded with {cfg['models']['embedding']} (sentence-transformers "
        f"{v.get('sentence-transformers')}), and clustered with BERTopic {v.get('bertopic')} "
        f"(UMAP seed {cfg['topics']['seed']}, HDBSCAN; {c['topics']} topics). Passages were scored "
        f"against the {manifest['framework']} framework by similarity of each passage and of its "
        f"interview context to element definitions, exemplars and analyst-accepted passages, "
        f"standardised per element and blended over each answer (a passage fits no element below "
        f"{cfg['map']['threshold']} spreads above the element's median), and up to "
        f"{cfg['quotes']['per_element']} "
        f"candidate quotations per element were proposed for analyst review. "
        + _learning_sentence(c, cfg))


def _learning_sentence(counts: dict[str, Any], cfg: dict[str, Any]) -> str:
    """How many analyst decisions the mapping learnt from (an author citing prevalence needs
    to say so: the figures move with every review session)."""
    pos, neg = counts.get("review_exemplars", 0), counts.get("review_rejections", 0)
    if not cfg["map"].get("learn_from_reviews", True) or pos + neg == 0:
        return "No analyst decision was learnt from: the mapping is the codebook's alone."
    how = ("a classifier (scikit-learn) trained on them over these scores and each passage's "
           "closeness to the labelled passages decided each passage's element"
           if cfg["map"].get("learner", "classifier") == "classifier"
           else "accepted passages joined their element's examples")
    return (f"The mapping learnt from {pos + neg} analyst label(s) ({pos} for and {neg} against "
            f"an element, from review decisions, Code next answers and labelled passages): "
            f"{how}.")


def emergent_themes(tables: dict[str, pd.DataFrame], n_examples: int = EMERGENT_EXAMPLES
                    ) -> list[dict[str, Any]]:
    """Emergent topics (most passages fit no element) with keywords and their most typical
    unmapped passages; shared by the report and the review page. ``passages`` must carry
    attributions."""
    topic_themes = tables["topic_themes"]
    passages = tables["passages"].merge(tables["passage_themes"], on="passage_id")
    ptopics = tables["passage_topics"].merge(passages, on="passage_id")
    out = []
    for t in topic_themes[topic_themes["emergent"]].to_dict("records"):
        ex = ptopics[(ptopics["topic"] == t["topic"]) & (ptopics["element"] == "none")]
        ex = ex.sort_values(["probability", "passage_id"], ascending=[False, True])
        t["examples"] = [{"text": r.text, "attribution": r.attribution, "passage_id": r.passage_id}
                         for r in ex.head(n_examples).itertuples()]
        out.append(t)
    return out


NEW_TOPIC_SHARE = 0.5


def since_last_run(tables: dict[str, pd.DataFrame], previous: Path | None,
                   element_labels: dict[str, str], manifest: dict[str, Any] | None = None
                   ) -> dict[str, Any]:
    """What changed since the previous run of the study: the blocks it adds, element prevalence
    per block, topics made mostly of the new blocks' passages, and candidates not proposed
    before. ``previous`` is the latest earlier run folder (None for a first run)."""
    passages = tables["passages"].merge(tables["passage_themes"], on="passage_id")
    blocks = sorted(passages["block"].astype(str).unique())
    prevalence = []
    for block in blocks:
        mine = passages[passages["block"].astype(str) == block]
        shares = mine["element"].value_counts(normalize=True)
        prevalence.append({"block": block, "n": len(mine),
                           "shares": {e: round(100 * float(shares.get(e, 0.0)), 1)
                                      for e in [*element_labels, "none"]}})
    out: dict[str, Any] = {"previous": None, "new_blocks": [], "prevalence": prevalence,
                           "new_topics": [], "new_candidates": [], "new_outliers": 0,
                           "moved": None}
    if previous is None or not (previous / "documents.parquet").exists():
        return out
    old_docs = pd.read_parquet(previous / "documents.parquet")
    old_blocks = set(old_docs.loc[old_docs["status"] == "ok", "block"].astype(str))
    new_blocks = [b for b in blocks if b not in old_blocks]
    in_new = passages["block"].astype(str).isin(new_blocks)
    pt = tables["passage_topics"].merge(passages[["passage_id"]].assign(new=in_new.to_numpy()),
                                        on="passage_id")
    keywords = dict(zip(tables["topics"]["topic"], tables["topics"]["keywords"]))
    for topic, group in pt[pt["topic"] >= 0].groupby("topic", sort=True):
        share = float(group["new"].mean())
        if new_blocks and share >= NEW_TOPIC_SHARE:
            out["new_topics"].append({"topic": int(topic), "n": len(group),
                                      "share_new": round(100 * share, 1),
                                      "keywords": keywords.get(topic, "")})
    old_cand = pd.read_parquet(previous / "candidates.parquet")
    seen = set(zip(old_cand["element"], old_cand["passage_id"]))
    cand = tables["candidates"].sort_values(["element", "rank"], kind="stable")
    out["new_candidates"] = [
        {"element": element_labels.get(c.element, c.element), "rank": int(c.rank),
         "text": c.text, "attribution": c.attribution, "passage_id": c.passage_id}
        for c in cand.itertuples() if (c.element, c.passage_id) not in seen]
    out["new_outliers"] = int(((pt["topic"] == -1) & pt["new"]).sum())
    out.update(previous=previous.name, new_blocks=new_blocks,
               moved=_moved(passages, previous, manifest, new_blocks))
    return out


def _moved(passages: pd.DataFrame, previous: Path, manifest: dict[str, Any] | None,
           new_blocks: list[str]) -> dict[str, Any] | None:
    """Passages in both runs whose element changed, and what changed between the runs that
    can move them: new blocks (scores are standardised over the whole study), analyst labels
    learnt from, the configuration, the models. Issue 22: after 16 review decisions and no new
    data, 41% of passages moved and the report said only "no new block"."""
    old_pt = previous / "passage_themes.parquet"
    old_manifest = previous / "manifest.json"
    if manifest is None or not old_pt.exists() or not old_manifest.exists():
        return None
    before = dict(pd.read_parquet(old_pt, columns=["passage_id", "element"]).itertuples(
        index=False))
    both = [(pid, e) for pid, e in zip(passages["passage_id"], passages["element"])
            if pid in before]
    changed = sum(1 for pid, e in both if before[pid] != e)
    old = json.loads(old_manifest.read_text(encoding="utf-8"))
    labels = {k: (old["counts"].get(k, 0), manifest["counts"].get(k, 0))
              for k in ("review_exemplars", "review_rejections")}
    return {"n": len(both), "changed": changed,
            "share": round(100 * changed / len(both), 1) if both else 0.0,
            "new_blocks": new_blocks,
            "labels_before": sum(a for a, _ in labels.values()),
            "labels_now": sum(b for _, b in labels.values()),
            "config_changed": old.get("config_fingerprint") != manifest.get("config_fingerprint"),
            "models_changed": old.get("models") != manifest.get("models")}


def render_report(path: Path, *, run_id: str, framework: Framework, blocks: list[str],
                  tables: dict[str, pd.DataFrame], manifest: dict[str, Any],
                  config_json: str, figures: dict[str, bytes] | None = None,
                  previous: Path | None = None) -> None:
    """Write the report; ``figures`` (PNG bytes by file name) are embedded as data URIs;
    ``previous`` is the study's run before this one (for "since the last run")."""
    docs, pt, cand = tables["documents"], tables["passage_themes"], tables["candidates"]
    passages = tables["passages"].merge(pt, on="passage_id")
    elements = []
    for el in framework.elements:
        mine = passages[passages["element"] == el.id]
        elements.append({
            "id": el.id, "label": el.label, "n": len(mine),
            "ambiguous": int((mine["status"] == "ambiguous").sum()),
            "by_block": mine["block"].value_counts().to_dict(),
            "candidates": cand[cand["element"] == el.id].sort_values("rank").to_dict("records")})
    topic_themes = tables["topic_themes"]
    emergent = emergent_themes(tables)
    flags = tables.get("indirect_flags")
    indirect = []
    if flags is not None and len(flags):
        text = passages.set_index("passage_id")
        for f in flags.sort_values(["kind", "passage_id", "start"]).itertuples():
            t = text.at[f.passage_id, "text"]
            indirect.append({"kind": f.kind, "term": f.term, "passage_id": f.passage_id,
                             "before": t[max(0, f.start - 80):f.start], "after": t[f.end:f.end + 80],
                             "attribution": text.at[f.passage_id, "attribution"]})
    red = tables["redactions"]
    summary = (red.groupby(["label", "detector"]).size().reset_index(name="n")
               .sort_values(["label", "detector"]).to_dict("records")) if len(red) else []
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    html = env.get_template("report.html.j2").render(
        run_id=run_id, framework_name=framework.name, blocks=blocks, counts=manifest["counts"],
        elements=elements, none_count=int((pt["element"] == "none").sum()),
        topics=topic_themes.to_dict("records"), emergent=emergent, redaction_summary=summary,
        quarantined=docs[docs["status"] == "quarantined"].to_dict("records"),
        layouts=sorted(docs.loc[docs["status"] == "ok", "convention"].value_counts().items())
        if "convention" in docs else [],
        stages=manifest["stages"], methods=manifest["methods"], config_json=config_json,
        since=since_last_run(tables, previous, {e.id: e.label for e in framework.elements},
                             manifest),
        element_labels={e.id: e.label for e in framework.elements}, indirect=indirect,
        figures={name.removesuffix(".png"): "data:image/png;base64," + base64.b64encode(png).decode()
                 for name, png in (figures or {}).items()})
    path.write_text(html, encoding="utf-8")
