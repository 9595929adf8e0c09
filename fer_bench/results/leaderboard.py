"""Aggregate run folders into the BTFER paper's Table 2/3 layout, mean +- sd over seeds.

Rows: model x input size x initialisation x training set (x protocol, recipe when not the defaults) x epoch
cap x warm-start file: only runs that differ in their seed alone are averaged into one "mean +- sd" cell, so a
second training cycle (``--init-from``) or a longer schedule is a row of its own, never a "seed".
Columns, per balancing: in-domain P / R / F1 / Acc / UAR, then cross-domain P / R / F1 / Acc / UAR. When runs
were tested on several cross-domain sets, the Markdown file has one table per cross-domain set. Where the
paper reports a number for the same model, resolution, training set and balancing, a "(paper)" row follows.
External models scored by `fer-bench evaluate --results` appear as rows marked "external". Rows of earlier
leaderboards (their CSV, e.g. from another machine whose run folders are gone) can be merged in; a group
present in the run folders replaces the same group from a merged CSV.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..protocol.config import WEIGHTED_BALANCES
from .store import iter_runs

METRICS = ("precision", "recall", "f1", "accuracy", "uar")
SHORT = {"precision": "P", "recall": "R", "f1": "F1", "accuracy": "Acc", "uar": "UAR"}
GROUP = ["model", "res", "weights", "train", "protocol", "recipe", "epochs", "init_from"]
BALANCE_ORDER = [*WEIGHTED_BALANCES, "none", "-"]


def paper_dataset_key(train: str) -> str | None:
    t = train.lower().replace("-", "").replace("_", "")
    for key, needles in (("fer2013", ("fer2013", "fer13")), ("rafdb", ("rafdb", "raf")),
                         ("affectnet", ("affectnet",))):
        if any(n in t for n in needles):
            return key
    return None


def train_label(train: str) -> str:
    """Row label of a training set: a path shows as its folder name (the CSV keeps the full path)."""
    t = str(train)
    if "/" in t or "\\" in t:
        return Path(t.rstrip("/\\")).name or t
    return t


def long_table(results: Path) -> pd.DataFrame:
    """One row per (run, test target) with the headline metrics."""
    rows = []
    for run in iter_runs(results):
        cfg, metrics = run["config"], run["metrics"]
        for target, m in metrics.items():
            if not isinstance(m, dict) or "accuracy" not in m:
                continue
            rows.append({
                "model": cfg.get("model"), "res": cfg.get("res"), "weights": cfg.get("weights", "-"),
                "train": cfg.get("train", "-"), "protocol": cfg.get("protocol", "fer-bench"),
                "recipe": cfg.get("recipe", "-"), "balance": cfg.get("balance", "-"),
                "epochs": "-" if cfg.get("external") or cfg.get("epochs") is None else str(cfg["epochs"]),
                "init_from": Path(cfg["init_from"]).name if cfg.get("init_from") else "-",
                "seed": cfg.get("seed", 0), "target": target, "role": m.get("role", "cross_domain"),
                "test_dataset": m.get("dataset", target), "n": m.get("n"), "external": bool(cfg.get("external")),
                "hash": run["hash"], **{k: m.get(k) for k in METRICS},
            })
    return pd.DataFrame(rows)


KEYS = GROUP + ["balance", "target", "role", "test_dataset", "external"]


def aggregate(long: pd.DataFrame) -> pd.DataFrame:
    """Mean, sd and seed count per (group, balance, target)."""
    if long.empty:
        return long
    agg = long.groupby(KEYS, dropna=False)[list(METRICS)].agg(["mean", "std", "count"])
    out = pd.DataFrame(index=agg.index)
    for m in METRICS:
        out[m] = agg[(m, "mean")]
        out[f"{m}_sd"] = agg[(m, "std")].fillna(0.0)
    out["seeds"] = agg[(METRICS[0], "count")]
    return out.reset_index()


def merge_earlier(agg: pd.DataFrame, csvs) -> pd.DataFrame:
    """Add the rows of earlier leaderboard CSVs (``leaderboard.csv`` format) whose group is not in *agg*."""
    from ..errors import FerBenchError

    frames = [agg] if not agg.empty else []
    seen = set(map(tuple, agg[KEYS].astype(str).values)) if not agg.empty else set()
    for path in csvs or ():
        try:
            old = pd.read_csv(path, dtype={"epochs": str})
        except (OSError, ValueError) as exc:
            raise FerBenchError(f"{path}: cannot read as a leaderboard CSV ({exc}); pass a leaderboard.csv "
                                "written by `fer-bench leaderboard`") from None
        missing = [c for c in ("model", "res", "train", "balance", "target", "accuracy") if c not in old]
        if missing:
            raise FerBenchError(f"{path}: not a leaderboard CSV (no {', '.join(missing)} column); pass a "
                                "leaderboard.csv written by `fer-bench leaderboard`")
        for col in KEYS:
            if col not in old:
                old[col] = False if col == "external" else "-"
        old["epochs"] = old["epochs"].fillna("-").astype(str)
        old["init_from"] = old["init_from"].fillna("-").astype(str)
        keep = [tuple(map(str, row)) not in seen for row in old[KEYS].values]
        frames.append(old[keep])
        seen |= set(map(tuple, old[KEYS].astype(str).values))
    return pd.concat(frames, ignore_index=True) if frames else agg


def _fmt(mean, sd, seeds, nd: int = 2) -> str:
    if mean is None or (isinstance(mean, float) and np.isnan(mean)):
        return ""
    return f"{mean:.{nd}f}±{sd:.{nd}f}" if seeds and seeds > 1 else f"{mean:.{nd}f}"


def _row_label(r) -> str:
    label = f"{r['model']} {r['res']} {r['weights']}"
    if r.get("protocol", "fer-bench") not in ("fer-bench", "-"):
        label += f" [{r['protocol']} protocol]"
    if r.get("recipe") not in ("paper", "-", None):
        label += f" [{r['recipe']} recipe]"
    if str(r.get("epochs", "-")) not in ("-", "nan", "None"):
        label += f", {r['epochs']} ep"
    if str(r.get("init_from", "-")) not in ("-", "nan", "None"):
        label += f", from {r['init_from']}"
    return label


def wide_tables(agg: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Paper layout, one table per cross-domain target (or one in-domain-only table)."""
    if agg.empty:
        return {}
    cross_targets = sorted(agg.loc[agg["role"] == "cross_domain", "target"].unique().tolist())
    tables = {}
    for cross in cross_targets or [None]:
        records = {}
        for _, r in agg.iterrows():
            if r["role"] == "cross_domain" and r["target"] != cross:
                continue
            key = (_row_label(r), r["train"], bool(r["external"]))
            rec = records.setdefault(key, {"model": key[0], "train": train_label(r["train"]),
                                           "kind": "external" if r["external"] else "ours"})
            block = "ID" if r["role"] == "in_domain" else "XD"
            bal = r["balance"]
            for m in METRICS:
                rec[f"{bal} {block} {SHORT[m]}"] = _fmt(r[m], r[f"{m}_sd"], r["seeds"])
            rec[f"{bal} seeds"] = int(r["seeds"])
        rows = list(records.values())
        rows.extend(_paper_rows(agg))
        df = pd.DataFrame(rows)
        cols = ["model", "train", "kind"]
        for bal in BALANCE_ORDER:
            for block in ("ID", "XD"):
                cols += [f"{bal} {block} {SHORT[m]}" for m in METRICS if f"{bal} {block} {SHORT[m]}" in df]
            if f"{bal} seeds" in df:
                cols.append(f"{bal} seeds")
        df = df[[c for c in cols if c in df.columns]].fillna("")
        df = df.sort_values(["train", "model", "kind"], kind="mergesort").reset_index(drop=True)
        tables[cross or "in-domain only"] = df
    return tables


def ranked_table(agg: pd.DataFrame) -> pd.DataFrame:
    """The leaderboard proper: one row per (row label, training set, balancing), best in-domain accuracy first,
    with the paper's accuracy for the same cell beside ours. The wide tables hold every metric; this one is
    what a reader scans first. Three decimals here (0.682 vs 0.685 matters when ranking); the paper's own
    figures have two. The paper's cross-domain figure is always its BTFER set."""
    from ..models.cards import paper_numbers

    if agg.empty:
        return pd.DataFrame()
    cross_targets = sorted(agg.loc[agg["role"] == "cross_domain", "target"].unique().tolist())
    records: dict[tuple, dict] = {}
    for _, r in agg.iterrows():
        label = _row_label(r)
        key = (label, r["train"], bool(r["external"]), r["balance"])
        rec = records.setdefault(key, {"model": label, "train": train_label(r["train"]),
                                       "kind": "external" if r["external"] else "ours", "balance": r["balance"],
                                       "seeds": int(r["seeds"])})
        if r["role"] == "in_domain":
            for m in ("accuracy", "uar", "f1"):
                rec[f"ID {SHORT[m]}"] = r[m]
                rec[f"ID {SHORT[m]} sd"] = r[f"{m}_sd"]
            rec["_sort"] = r["accuracy"]
        else:
            for m in ("accuracy", "f1"):
                rec[f"XD {r['target']} {SHORT[m]}"] = r[m]
                rec[f"XD {r['target']} {SHORT[m]} sd"] = r[f"{m}_sd"]
        rec["seeds"] = max(rec["seeds"], int(r["seeds"]))
        if not r["external"] and r["balance"] in WEIGHTED_BALANCES:
            ds = paper_dataset_key(str(r["train"]))
            # same initialisation only: the paper-layout rows may fall back to another init, labelled as such
            num = paper_numbers(r["model"], int(r["res"]), ds, r["balance"], init=r["weights"]) if ds else None
            if num:
                rec["paper ID Acc"] = (num.get("in_domain") or {}).get("accuracy")
                rec["paper BTFER Acc"] = (num.get("cross_domain") or {}).get("accuracy")
    rows = sorted(records.values(), key=lambda d: -d.get("_sort", -1.0))
    out = []
    for i, rec in enumerate(rows, 1):
        row = {"#": i, "model": rec["model"], "train": rec["train"], "kind": rec["kind"],
               "balance": rec["balance"]}
        metric_cols = ["ID Acc", "ID UAR", "ID F1"] + [f"XD {t} {s}" for t in cross_targets for s in ("Acc", "F1")]
        for col in metric_cols:
            if col in rec:
                row[col] = _fmt(rec[col], rec[f"{col} sd"], rec["seeds"], nd=3)
        row["seeds"] = rec["seeds"]
        for col in ("paper ID Acc", "paper BTFER Acc"):
            v = rec.get(col)
            row[col] = f"{v:.2f}" if v is not None else ""
        out.append(row)
    df = pd.DataFrame(out).fillna("")
    if not (df["paper ID Acc"] != "").any():
        df = df.drop(columns=["paper ID Acc", "paper BTFER Acc"])
    elif not (df["paper BTFER Acc"] != "").any():
        df = df.drop(columns=["paper BTFER Acc"])
    return df


def _paper_rows(agg: pd.DataFrame) -> list[dict]:
    """The paper's reported numbers for the (model, res, training set, balancing) combinations we ran."""
    try:
        from ..models.cards import paper_numbers
    except ImportError:
        return []
    rows = {}
    for _, r in agg[~agg["external"]].iterrows():
        ds = paper_dataset_key(str(r["train"]))
        if ds is None or r["balance"] not in WEIGHTED_BALANCES:
            continue
        paper_init = r["weights"]
        num = paper_numbers(r["model"], int(r["res"]), ds, r["balance"], init=r["weights"])
        if not num:  # the paper has this model only with another init: show that, labelled with its init
            num = paper_numbers(r["model"], int(r["res"]), ds, r["balance"])
            paper_init = _paper_default_init(r["model"]) or "?"
        if not num:
            continue
        key = (r["model"], r["res"], paper_init, r["train"])
        rec = rows.setdefault(key, {"model": f"{r['model']} {r['res']} {paper_init} (paper)",
                                    "train": train_label(r["train"]), "kind": "paper"})
        for block, part in (("ID", "in_domain"), ("XD", "cross_domain")):
            for m in ("precision", "recall", "f1", "accuracy"):
                v = (num.get(part) or {}).get(m)
                if v is not None:
                    rec[f"{r['balance']} {block} {SHORT[m]}"] = f"{v:.2f}"
    return list(rows.values())


def _paper_default_init(model: str) -> str | None:
    from ..models.cards import load_cards

    card = load_cards().get(model) or {}
    return card.get("paper_default_init")


def build_leaderboard(results: Path, merge=()) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """(aggregated long table, wide tables per cross-domain target); *merge*: earlier leaderboard CSVs."""
    agg = merge_earlier(aggregate(long_table(results)), merge)
    return agg, wide_tables(agg)


def write_leaderboard(results: Path, merge=()) -> dict[str, Path]:
    """Write leaderboard.md (ranking, then the paper layout), leaderboard.csv (tidy, one row per group x balance
    x target) and leaderboard.json into *results*; return their paths."""
    results = Path(results)
    agg, tables = build_leaderboard(results, merge)
    results.mkdir(parents=True, exist_ok=True)
    paths = {"md": results / "leaderboard.md", "csv": results / "leaderboard.csv",
             "json": results / "leaderboard.json"}
    paths["md"].write_text(to_markdown(tables, ranked_table(agg)))
    agg.to_csv(paths["csv"], index=False, float_format="%.4f")
    paths["json"].write_text(json.dumps(json.loads(agg.to_json(orient="records")), indent=1) + "\n")
    return paths


def to_markdown(tables: dict[str, pd.DataFrame], ranked: pd.DataFrame | None = None) -> str:
    lines = ["# fer-bench leaderboard", "",
             "ID = in-domain test split, XD = cross-domain test set; P/R/F1 are macro averages, "
             "UAR = unweighted average recall; mean±sd over seeds when more than one seed ran. "
             "Rows marked (paper) are the figures reported in the BTFER paper (model selection on their test "
             "split), not our measurements.", ""]
    if not tables:
        lines.append("_No finished runs yet._")
    if ranked is not None and not ranked.empty:
        lines += ["## Ranking", "",
                  "Best in-domain accuracy first; `paper ID Acc` / `paper BTFER Acc` are the paper's in-domain "
                  "and cross-domain (BTFER) accuracies for the same model, size, initialisation, training set "
                  "and balancing (empty where it reports none).", "",
                  ranked.to_markdown(index=False), "", "## Paper layout (Table 2/3)", ""]
    for cross, df in tables.items():
        lines += [f"### Cross-domain set: {cross}", "", df.to_markdown(index=False), ""]
    return "\n".join(lines) + "\n"
