"""Figures written into run folders (matplotlib, Agg backend: works headless)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def confusion_png(cm, label_names, path: Path, title: str = "") -> None:
    """Row-normalised confusion matrix with counts, true labels on the y axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(cm, dtype=float)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(5.2, 4.6), dpi=110)
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(label_names)), label_names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(label_names)), label_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------------------------
# Report figures (`fer-bench report`, `fer-bench plot KIND`). Each function takes plain data (lists of dicts built
# by fer_bench.results.report) and returns a matplotlib Figure; save_figure / figure_png_bytes write it.

_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 10, "axes.titlesize": 11, "axes.spines.top": False,
                         "axes.spines.right": False, "svg.fonttype": "none"})
    return plt


def _short(text: str, n: int = 38) -> str:
    text = str(text)
    return text if len(text) <= n else text[: n - 1] + "…"


def save_figure(fig, path: Path) -> Path:
    """Write a figure as PNG or SVG (by suffix) atomically, then close it."""
    from ..fsutil import atomic_path

    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=150 if fmt == "png" else None, bbox_inches="tight")
    _plt().close(fig)
    return path


def figure_png_bytes(fig, dpi: int = 110) -> bytes:
    """A figure as PNG bytes (for embedding), then closed."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    _plt().close(fig)
    return buf.getvalue()


def bars_in_vs_cross(rows: list[dict], targets: list[str]):
    """Grouped bars: in-domain accuracy and each cross-domain set's accuracy per row (mean, sd error bars).
    rows: {"label", "id_acc", "id_sd", "xd": {target: (acc, sd)}}."""
    plt = _plt()
    n = len(rows)
    groups = ["in-domain", *targets]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.55 * n * len(groups) + 2), 4.2))
    width = 0.8 / len(groups)
    x = np.arange(n)
    for gi, g in enumerate(groups):
        vals, sds = [], []
        for r in rows:
            if gi == 0:
                v, s = r.get("id_acc"), r.get("id_sd", 0)
            else:
                v, s = r.get("xd", {}).get(g, (np.nan, 0))
            vals.append(np.nan if v is None else v)
            sds.append(0 if s is None or not np.isfinite(s) else s)
        ax.bar(x + (gi - (len(groups) - 1) / 2) * width, vals, width, yerr=sds, capsize=2,
               color=_COLORS[gi % len(_COLORS)], label=_short(g, 30))
    ax.set_xticks(x, [_short(r["label"]) for r in rows], rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title("In-domain vs cross-domain accuracy" if targets else "In-domain accuracy (no cross-domain set)")
    ax.grid(axis="y", alpha=0.3)
    return fig


def accuracy_vs_params(points: list[dict], marked: list[str]):
    """Scatter of in-domain accuracy against parameter count (log scale); *marked* labels (the five best small
    models) get a star and their name. points: {"label", "params", "acc"}."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.0, 4.4))
    for p in points:
        star = p["label"] in marked
        ax.scatter(p["params"], p["acc"], s=90 if star else 30, marker="*" if star else "o",
                   color=_COLORS[3] if star else _COLORS[0], zorder=3 if star else 2)
    # labels of the marked points, staggered so points at the same place do not print over each other
    placed: list[tuple[float, float]] = []
    for p in sorted((p for p in points if p["label"] in marked), key=lambda p: -p["acc"]):
        near = sum(1 for x, y in placed if abs(np.log10(x) - np.log10(p["params"])) < 0.25 and abs(y - p["acc"]) < 0.06)
        placed.append((p["params"], p["acc"]))
        ax.annotate(_short(p["label"], 46), (p["params"], p["acc"]), textcoords="offset points",
                    xytext=(6, 4 - 11 * near), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("parameters (log scale)")
    ax.set_ylabel("in-domain accuracy")
    ax.set_title("Accuracy vs parameter count (★ = five best small models)")
    ax.grid(alpha=0.3)
    return fig


def per_class_recall(rows: list[dict], classes: list[str]):
    """Grouped bars of per-class recall (in-domain) for a few rows. rows: {"label", "recall": {class: r}}."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(6.5, 0.9 * len(classes) + 2), 4.2))
    width = 0.8 / max(1, len(rows))
    x = np.arange(len(classes))
    for i, r in enumerate(rows):
        ax.bar(x + (i - (len(rows) - 1) / 2) * width, [r["recall"].get(c, np.nan) for c in classes], width,
               color=_COLORS[i % len(_COLORS)], label=_short(r["label"], 40))
    ax.set_xticks(x, classes, rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("recall (in-domain)")
    ax.set_title("Per-class recall")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return fig


def confusion_grid(mats: list[dict]):
    """Row-normalised confusion matrices side by side. mats: {"title", "cm" (counts), "labels"}."""
    plt = _plt()
    n = len(mats)
    cols = min(n, 2)
    rws = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rws, cols, figsize=(4.4 * cols, 4.1 * rws), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    for ax, m in zip(axes.ravel(), mats, strict=False):
        cm = np.asarray(m["cm"], dtype=float)
        norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        k = len(m["labels"])
        ax.set_xticks(range(k), m["labels"], rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(k), m["labels"], fontsize=7)
        for i in range(k):
            for j in range(k):
                ax.text(j, i, f"{norm[i, j]:.2f}".lstrip("0") if norm[i, j] < 1 else "1", ha="center",
                        va="center", fontsize=6, color="white" if norm[i, j] > 0.5 else "black")
        ax.set_xlabel("predicted", fontsize=8)
        ax.set_ylabel("true", fontsize=8)
        ax.set_title(_short(m["title"], 60), fontsize=7.5)
    fig.tight_layout()
    return fig


def training_curves(curves: list[dict]):
    """Validation (solid) and training (dashed) accuracy per epoch. curves: {"label", "epoch", "val", "train"}."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    for i, c in enumerate(curves):
        color = _COLORS[i % len(_COLORS)]
        ax.plot(c["epoch"], c["val"], color=color, label=_short(c["label"], 40))
        if c.get("train") is not None:
            ax.plot(c["epoch"], c["train"], color=color, ls="--", alpha=0.6)
    ax.set_xlabel("epoch (both phases, in order)")
    ax.set_ylabel("accuracy")
    ax.set_title("Training curves (solid: validation carve, dashed: training)")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2, frameon=False)
    ax.grid(alpha=0.3)
    return fig


def domain_gap(rows: list[dict]):
    """Horizontal bars: in-domain minus cross-domain accuracy per row. rows: {"label", "gap", "target"}."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.0, max(2.5, 0.35 * len(rows) + 1.2)))
    y = np.arange(len(rows))
    ax.barh(y, [r["gap"] for r in rows], color=_COLORS[1])
    ax.set_yticks(y, [_short(f"{r['label']} → {r['target']}", 52) for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("in-domain accuracy minus cross-domain accuracy (points of accuracy)")
    ax.set_title("In-domain → cross-domain gap")
    ax.grid(axis="x", alpha=0.3)
    return fig


def rq_pairs(units: list[dict], levels: list[str], title: str):
    """Paired bars per unit (runs that differ only in the factor): one bar per level, a star over a unit whose
    difference is significant. units: {"label", "acc": {level: (mean, sd)}, "significant": bool}."""
    plt = _plt()
    n = len(units)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.5 * n * len(levels) + 2), 4.2))
    width = 0.8 / len(levels)
    x = np.arange(n)
    for li, lev in enumerate(levels):
        vals = [u["acc"].get(lev, (np.nan, 0))[0] for u in units]
        sds = [u["acc"].get(lev, (np.nan, 0))[1] or 0 for u in units]
        ax.bar(x + (li - (len(levels) - 1) / 2) * width, vals, width, yerr=sds, capsize=2,
               color=_COLORS[li % len(_COLORS)], label=str(lev))
    for i, u in enumerate(units):
        if u.get("significant"):
            top = max(v[0] for v in u["acc"].values() if v[0] is not None and np.isfinite(v[0]))
            ax.text(i, min(top + 0.04, 0.97), "*", ha="center", fontsize=14)
    ax.set_xticks(x, [_short(u["label"]) for u in units], rotation=35, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return fig
