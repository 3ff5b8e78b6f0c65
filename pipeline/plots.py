"""Static figures for the report: PNG bytes from matplotlib (Agg), no fonts or files fetched.

Each function takes the run's tables and returns PNG bytes; ``render_figures`` returns them by
name so the report can embed them (data URIs) and write them beside the HTML for papers.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from pipeline.fsutil import atomic_write

DPI = 110


def _png(fig) -> bytes:  # noqa: ANN001
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def prevalence(frame: pd.DataFrame, by: str, element_ids: list[str]) -> pd.DataFrame:
    """Share (0-1) of each group's passages assigned to each element: rows elements, cols groups."""
    groups = sorted(frame[by].astype(str).unique())
    out = pd.DataFrame(0.0, index=element_ids, columns=groups)
    for group, sub in frame.groupby(frame[by].astype(str)):
        counts = sub["element"].value_counts()
        for el in element_ids:
            out.loc[el, group] = counts.get(el, 0) / max(len(sub), 1)
    return out


def heatmap(table: pd.DataFrame, title: str, labels: dict[str, str]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * max(len(table.columns), 2), 0.5 + 0.45 * len(table)))
    ax.imshow(table.to_numpy(), cmap="Blues", vmin=0, vmax=max(0.01, float(table.to_numpy().max())),
              aspect="auto")
    ax.set_xticks(range(len(table.columns)), [str(c) for c in table.columns], rotation=30, ha="right")
    ax.set_yticks(range(len(table.index)), [labels.get(i, i) for i in table.index])
    for (r, c), v in np.ndenumerate(table.to_numpy()):
        ax.text(c, r, f"{100 * v:.0f}%", ha="center", va="center", fontsize=8,
                color="white" if v > 0.6 * table.to_numpy().max() else "black")
    ax.set_title(title, fontsize=10)
    return _png(fig)


def elements_over_blocks(table: pd.DataFrame, labels: dict[str, str]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6))
    for el in table.index:
        ax.plot(list(map(str, table.columns)), 100 * table.loc[el].to_numpy(), marker="o",
                label=labels.get(el, el))
    ax.set_ylabel("% of block's passages")
    ax.set_title("Elements across fieldwork blocks", fontsize=10)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5))
    ax.grid(alpha=0.3)
    return _png(fig)


def topic_sizes(topic_themes: pd.DataFrame) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = topic_themes[topic_themes["topic"] >= 0].sort_values("n_passages").tail(25)
    fig, ax = plt.subplots(figsize=(8, 0.6 + 0.32 * max(len(rows), 1)))
    colours = ["#d08c2c" if e else "#4a7ab5" for e in rows["emergent"]]
    names = [f"{t}: {', '.join(k.split(', ')[:4])}" for t, k in zip(rows["topic"], rows["keywords"])]
    ax.barh(names, rows["n_passages"], color=colours)
    ax.set_xlabel("passages (orange = emergent)")
    ax.set_title("Topic sizes and keywords", fontsize=10)
    ax.tick_params(axis="y", labelsize=7)
    return _png(fig)


def topic_map(vectors: np.ndarray, topics: list[int], topic_themes: pd.DataFrame) -> bytes:
    """Topic centroids projected to 2-D (PCA of the centroid vectors), bubble = size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ids = sorted(t for t in set(topics) if t >= 0)
    fig, ax = plt.subplots(figsize=(6.5, 5))
    if len(ids) >= 2:
        labels = np.array(topics)
        cent = np.stack([vectors[labels == t].mean(axis=0) for t in ids])
        cent = cent - cent.mean(axis=0)
        u, s, _ = np.linalg.svd(cent, full_matrices=False)
        xy = u[:, :2] * s[:2]
        info = topic_themes.set_index("topic")
        for (x, y), t in zip(xy, ids):
            emergent = bool(info.loc[t, "emergent"])
            ax.scatter(x, y, s=20 + 3 * int(info.loc[t, "n_passages"]), alpha=0.5,
                       color="#d08c2c" if emergent else "#4a7ab5")
            ax.annotate(f"{t}: {', '.join(str(info.loc[t, 'keywords']).split(', ')[:2])}",
                        (x, y), fontsize=7, ha="center")
    else:
        ax.text(0.5, 0.5, "fewer than two topics", ha="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title("Topic map (centroids, PCA; orange = emergent)", fontsize=10)
    return _png(fig)


FIGURES_VERSION = 1
FIGURE_NAMES = ("prevalence_by_block.png", "prevalence_by_area.png", "prevalence_by_role.png",
                "elements_over_blocks.png", "topic_sizes.png", "topic_map.png")


def _figures_digest(frame: pd.DataFrame, tables: dict[str, pd.DataFrame], vectors: np.ndarray,
                    labels: dict[str, str]) -> str:
    """Everything the figures are drawn from (and the drawing code's version)."""
    import hashlib
    import json

    import matplotlib

    h = hashlib.sha256()
    h.update(json.dumps([FIGURES_VERSION, DPI, matplotlib.__version__, labels]).encode())
    h.update(pd.util.hash_pandas_object(frame[["block", "area", "role", "element"]].astype(str),
                                        index=False).values.tobytes())
    h.update(pd.util.hash_pandas_object(tables["topic_themes"].astype(str),
                                        index=False).values.tobytes())
    h.update(np.asarray(tables["passage_topics"]["topic"]).tobytes())
    h.update(np.ascontiguousarray(vectors).tobytes())
    return h.hexdigest()[:32]


def render_figures(tables: dict[str, pd.DataFrame], vectors: np.ndarray,
                   labels: dict[str, str], cache_dir=None) -> dict[str, bytes]:  # noqa: ANN001
    """All report figures by file name. With ``cache_dir``, figures drawn from exactly the same
    data are read back instead of drawn again (a rerun with nothing changed draws nothing); they
    are drawn from redacted tables only, like the topic cache's keywords."""
    element_ids = list(labels)
    frame = tables["passages"].merge(tables["passage_themes"][["passage_id", "element"]],
                                     on="passage_id")
    folder = None
    if cache_dir is not None:
        folder = cache_dir / "figures" / _figures_digest(frame, tables, vectors, labels)
        if all((folder / name).exists() for name in FIGURE_NAMES):
            return {name: (folder / name).read_bytes() for name in FIGURE_NAMES}
    figures = _draw(frame, tables, vectors, labels, element_ids)
    if folder is not None:
        for name, png in figures.items():
            atomic_write(folder / name, png)
    return figures


def _draw(frame: pd.DataFrame, tables: dict[str, pd.DataFrame], vectors: np.ndarray,
          labels: dict[str, str], element_ids: list[str]) -> dict[str, bytes]:
    figures = {}
    for by, title in (("block", "Element prevalence by block"), ("area", "Element prevalence by area"),
                      ("role", "Element prevalence by role")):
        figures[f"prevalence_by_{by}.png"] = heatmap(prevalence(frame, by, element_ids), title,
                                                     labels)
    figures["elements_over_blocks.png"] = elements_over_blocks(
        prevalence(frame, "block", element_ids), labels)
    figures["topic_sizes.png"] = topic_sizes(tables["topic_themes"])
    figures["topic_map.png"] = topic_map(vectors, list(tables["passage_topics"]["topic"]),
                                         tables["topic_themes"])
    return figures
