"""The video leaderboard in the layout of Keinert et al. (2025), Tables 3-4: rows = feature kinds (AU, deep, both),
columns = GRU heads (average, attention, conv) + the SVM baseline, a validation block and a test block (UAR, mean
± sd over seeds) and the test accuracy; the paper's numbers beside ours.

Written to ``<results>/video/leaderboard.md|csv|json`` from the run folders under ``<results>/video/runs/``.
One table group per (train dataset, test dataset, task, label set, split): numbers from different data are never
put in one table. The paper's numbers are STREs-WoZ's; they are shown inline only for runs on the STREs-WoZ
label set, and otherwise in a separate reference table so nobody reads them as a score on other data.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..fsutil import atomic_write
from .experiment import VIDEO_RESULTS, iter_video_runs

COLUMNS = ("average", "attention", "conv", "svm")
COLUMN_TITLES = {"average": "GRU average", "attention": "GRU attention", "conv": "GRU conv", "svm": "SVM"}
FEATURE_ORDER = ("au", "deep", "both")
FEATURE_TITLES = {"au": "AU (OpenFace)", "deep": "deep (CNN)", "both": "both"}

#: Keinert et al. (2025), Table 3 (binary valence) and Table 4 (16 emotions): UAR in %, STREs-WoZ data
#: (features AF = appearance/AU, DF = deep ResNet50, both); the SVM was only trained on AU features.
PAPER_UAR: dict[tuple[str, str], dict[str, dict[str, float | None]]] = {
    ("binary", "au"): {"val": {"average": 88.2, "attention": 89.3, "conv": 88.9, "svm": 85.1},
                       "test": {"average": 90.5, "attention": 92.9, "conv": 92.7, "svm": 89.3}},
    ("binary", "deep"): {"val": {"average": 87.6, "attention": 89.1, "conv": 87.7, "svm": None},
                         "test": {"average": 86.2, "attention": 90.8, "conv": 85.0, "svm": None}},
    ("binary", "both"): {"val": {"average": 88.9, "attention": 90.7, "conv": 86.2, "svm": None},
                         "test": {"average": 88.1, "attention": 90.4, "conv": 92.6, "svm": None}},
    ("multiclass", "au"): {"val": {"average": 38.6, "attention": 44.6, "conv": 41.3, "svm": 29.2},
                           "test": {"average": 47.3, "attention": 52.9, "conv": 44.8, "svm": 33.5}},
    ("multiclass", "deep"): {"val": {"average": 22.4, "attention": 35.3, "conv": 23.7, "svm": None},
                             "test": {"average": 30.1, "attention": 41.7, "conv": 31.2, "svm": None}},
    ("multiclass", "both"): {"val": {"average": 19.2, "attention": 29.2, "conv": 23.6, "svm": None},
                             "test": {"average": 30.9, "attention": 42.0, "conv": 30.4, "svm": None}},
}
PAPER_NAME = "Keinert et al. 2025 (STREs-WoZ)"


def collect(results: str | Path) -> pd.DataFrame:
    """One row per (run, method): dataset(s), task, label set, split, features, UAR/accuracy mean and sd."""
    rows = []
    for run in iter_video_runs(results):
        cfg, info, metrics = run["config"], run["run"], run["metrics"]
        test_ds = (info.get("test_dataset") or {}).get("name")
        for method, m in metrics["methods"].items():
            paper = PAPER_UAR.get((cfg["task"], cfg["features"]), {})
            rows.append({
                "train": info["train_dataset"]["name"], "test": test_ds or "(held-out participants)",
                "task": cfg["task"], "label_set": cfg["label_set"], "split": cfg["split"],
                "features": cfg["features"], "method": method,
                "val_uar": m["val_uar"]["mean"], "val_uar_sd": m["val_uar"]["sd"],
                "test_uar": m["test_uar"]["mean"], "test_uar_sd": m["test_uar"]["sd"],
                "test_accuracy": m["test_accuracy"]["mean"], "test_accuracy_sd": m["test_accuracy"]["sd"],
                "test_uar_ci95_low": m["test_uar_ci95"][0], "test_uar_ci95_high": m["test_uar_ci95"][1],
                "n_seeds": m["n_seeds"], "n_test": m["n_test"], "chance_uar": metrics["chance_uar"],
                "paper_val_uar": (paper.get("val") or {}).get(method) if cfg["label_set"] == "stres-woz" else None,
                "paper_test_uar": (paper.get("test") or {}).get(method) if cfg["label_set"] == "stres-woz" else None,
                "per_class_recall": json.dumps(m.get("per_class_recall") or {}),
                "hash": run["hash"], "seconds": info.get("seconds"),
            })
    df = pd.DataFrame(rows)
    if not df.empty:  # newest run wins when one cell was run twice with different settings: keep all, sort
        df = df.sort_values(["train", "test", "task", "label_set", "split", "features", "method", "hash"])
    return df


def _cell(mean: float, sd: float, n: int) -> str:
    if pd.isna(mean):
        return ""
    return f"{100 * mean:.1f}" + (f" ± {100 * sd:.1f}" if n > 1 else "")


def _group_tables(df: pd.DataFrame) -> list[tuple[str, dict[str, pd.DataFrame], pd.DataFrame]]:
    """(title, {block: table}, rows) per group; blocks: validation UAR, test UAR, test accuracy."""
    out = []
    keys = ["train", "test", "task", "label_set", "split"]
    for key, g in df.groupby(keys, sort=True):
        train, test, task, label_set, split = key
        chance = g["chance_uar"].iloc[0]
        title = (f"{train} -> {test} · {task} ({label_set}) · split {split} · chance UAR {100 * chance:.1f} %")
        blocks = {}
        for block, (mcol, sdcol, pcol) in {
            "Validation UAR, %": ("val_uar", "val_uar_sd", "paper_val_uar"),
            "Test UAR, %": ("test_uar", "test_uar_sd", "paper_test_uar"),
            "Test accuracy, %": ("test_accuracy", "test_accuracy_sd", None),
        }.items():
            table_rows = []
            for feat in FEATURE_ORDER:
                sub = g[g["features"] == feat]
                if sub.empty:
                    continue
                for h, run in sub.groupby("hash", sort=False):
                    row = {"features": FEATURE_TITLES[feat], "run": h}
                    for col in COLUMNS:
                        r = run[run["method"] == col]
                        row[COLUMN_TITLES[col]] = _cell(r[mcol].iloc[0], r[sdcol].iloc[0], r["n_seeds"].iloc[0]) \
                            if len(r) else ""
                    row["seeds"] = int(run["n_seeds"].max())
                    table_rows.append(row)
                    if pcol and run[pcol].notna().any():
                        prow = {"features": f"{FEATURE_TITLES[feat]}, paper", "run": PAPER_NAME}
                        for col in COLUMNS:
                            r = run[run["method"] == col]
                            v = r[pcol].iloc[0] if len(r) else None
                            prow[COLUMN_TITLES[col]] = "" if v is None or pd.isna(v) else f"{v:.1f}"
                        prow["seeds"] = ""
                        table_rows.append(prow)
            blocks[block] = pd.DataFrame(table_rows)
        out.append((title, blocks, g))
    return out


def paper_table() -> pd.DataFrame:
    rows = []
    for (task, feat), d in PAPER_UAR.items():
        for part in ("val", "test"):
            row = {"task": task, "part": part, "features": FEATURE_TITLES[feat]}
            row.update({COLUMN_TITLES[c]: "" if d[part][c] is None else f"{d[part][c]:.1f}" for c in COLUMNS})
            rows.append(row)
    return pd.DataFrame(rows)


def render_markdown(df: pd.DataFrame) -> str:
    lines = ["# Video leaderboard", "",
             "Layout of Keinert et al. (2025), Tables 3-4: UAR in %, mean ± sd over network seeds (the SVM is "
             "deterministic). Validation = the participants early stopping and model choice used; test = participants "
             "(or a dataset) never used for training or selection. `run` is the run folder under `video/runs/`.", ""]
    if df.empty:
        lines += ["No finished video runs yet. Try `fer-bench video quickstart`.", ""]
    for title, blocks, g in _group_tables(df):
        lines += [f"## {title}", ""]
        for block, table in blocks.items():
            lines += [f"**{block}**", "", table.to_markdown(index=False, disable_numparse=True), ""]
        best = g.sort_values("val_uar", ascending=False).iloc[0]
        lines += [f"Chosen on validation: {FEATURE_TITLES[best['features']]} + {COLUMN_TITLES[best['method']]} "
                  f"(validation UAR {100 * best['val_uar']:.1f} %) -> test UAR {100 * best['test_uar']:.1f} % "
                  f"(95 % bootstrap CI of the first seed {100 * best['test_uar_ci95_low']:.1f}-"
                  f"{100 * best['test_uar_ci95_high']:.1f}, "
                  f"{int(best['n_test'])} test videos). Its per-class test recall (first seed), %:", ""]
        recall = json.loads(best["per_class_recall"] or "{}")
        if recall:
            cells = {k: "" if v is None else f"{100 * v:.1f}" for k, v in recall.items()}
            lines += [pd.DataFrame([cells]).to_markdown(index=False, disable_numparse=True), ""]
    lines += [f"## Paper reference: {PAPER_NAME}", "",
              "UAR in % on the STREs-WoZ test set (63 participants, smartphone selfie videos); not comparable to "
              "scores on other data.", "", paper_table().to_markdown(index=False, disable_numparse=True), ""]
    return "\n".join(lines)


def write_leaderboard(results: str | Path) -> dict[str, Path]:
    """Write ``<results>/video/leaderboard.md|csv|json``; returns the paths."""
    base = Path(results) / VIDEO_RESULTS
    base.mkdir(parents=True, exist_ok=True)
    df = collect(results)
    paths = {"md": base / "leaderboard.md", "csv": base / "leaderboard.csv", "json": base / "leaderboard.json"}
    atomic_write(paths["md"], render_markdown(df).encode())
    atomic_write(paths["csv"], df.to_csv(index=False).encode())
    records = json.loads(df.to_json(orient="records")) if not df.empty else []
    atomic_write(paths["json"], json.dumps({"runs": records, "paper": {f"{t}/{f}": v for (t, f), v in
                                                                       PAPER_UAR.items()}}, indent=2).encode())
    return paths


def print_leaderboard(results: str | Path, console) -> None:
    """The terminal view: one rich table per group and block."""
    from rich.table import Table

    df = collect(results)
    if df.empty:
        console.print("no finished video runs yet; try [bold]fer-bench video quickstart[/]")
        return
    for title, blocks, _g in _group_tables(df):
        console.print(f"[bold]{title}[/]")
        for block, table in blocks.items():
            t = Table(title=block, title_justify="left")
            for col in table.columns:
                t.add_column(str(col), justify="left" if col in ("features", "run") else "right")
            for _, row in table.iterrows():
                cells = [str(v) for v in row]
                if "run" in table.columns:  # the terminal is narrow: a short hash, "paper" for the paper's rows
                    i = list(table.columns).index("run")
                    cells[i] = "paper" if cells[i] == PAPER_NAME else cells[i][:8]
                t.add_row(*cells)
            console.print(t)
