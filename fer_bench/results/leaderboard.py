"""Aggregate run folders into a ranking and readable tables, mean +- sd over seeds, with the BTFER paper beside.

Rows: model x input size x initialisation x training set (x protocol, recipe when not the defaults) x epoch
cap x warm-start file: only runs that differ in their seed alone are averaged into one "mean +- sd" cell, so a
second training cycle (``--init-from``) or a longer schedule is a row of its own, never a "seed".
The Markdown file has the ranking, a "paper reproduction" view (only the cells the paper's Tables 2-3 report:
ours, paper, difference) and one table per test set and balancing with only the columns that have values
(Acc / UAR / P / R / F1, and the paper's accuracy and our difference where it reports the same cell).
External models scored by `fer-bench evaluate --results` appear as rows marked "external". Rows of earlier
leaderboards (their CSV, e.g. from another machine whose run folders are gone) can be merged in; a group
present in the run folders replaces the same group from a merged CSV. A row with a shorter epoch cap than another
row of the same cell is "superseded": it leaves the ranking and the tables for an appendix (see
:func:`mark_superseded`).
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
GROUP = ["model", "res", "weights", "train", "protocol", "recipe", "epochs", "init_from", "variant"]
# Settings that change a run's numbers but have no column of their own: when one differs from its default it
# goes into the row's "variant" (e.g. "batch 256, lr 0.004, mixed"), so such runs never share a row, and a
# --scale-batch or --precision mixed run is never averaged with a default one as if it were another seed.
VARIANT_DEFAULTS = (("batch_size", 64, "batch {}"), ("learning_rate", None, "lr {}"), ("precision", "float32", "{}"),
                    ("val_fraction", 0.1, "val {}"), ("es_patience", 20, "es patience {}"),
                    ("lr_patience", 10, "lr patience {}"), ("augment", True, "no augmentation"),
                    ("max_train_images", None, "max {} train images"), ("color", "auto", "color {}"),
                    ("conservative_cap", 3.0, "cap {}"))


def variant_label(cfg: dict, info: dict | None = None) -> str:
    """The non-default settings of a run config that no other leaderboard column shows ("-" when none).

    info: the run's run.json (a distilled run's teacher is named by its sha256 there: every run's model file
    is called model.keras, so the file name alone would merge students of different teachers)."""
    parts = []
    if cfg.get("weights", "scratch") != "scratch" and cfg.get("frozen_epochs", 20) != 20:
        parts.append(f"frozen {cfg['frozen_epochs']}")
    for key, default, fmt in VARIANT_DEFAULTS:
        value = cfg.get(key, default)
        if value is None and default is None:
            continue
        if key == "conservative_cap" and cfg.get("balance") != "conservative":
            continue
        if value != default:
            parts.append(fmt.format(value))
    if cfg.get("teacher"):  # a distilled run is never a seed of an undistilled one (nor of another teacher's)
        sha = ((info or {}).get("teacher") or {}).get("sha256")
        who = f"{Path(cfg['teacher']).name} {sha[:8]}" if sha else str(cfg["teacher"])
        parts.append(f"teacher {who} x{cfg.get('teacher_weight', 0.5):g}")
    parts += [f"{k}={v}" for k, v in cfg.get("extra") or ()]
    return ", ".join(parts) or "-"
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
                "variant": "-" if cfg.get("external") else variant_label(cfg, run.get("info")),
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
    # the run folders behind each row, so every committed row can point at its record (config, data manifest
    # hash, versions, seed)
    out["runs"] = long.groupby(KEYS, dropna=False)["hash"].agg(lambda h: ";".join(sorted(set(map(str, h)))))
    return out.reset_index()


def merge_earlier(agg: pd.DataFrame, csvs) -> pd.DataFrame:
    """Add the rows of earlier leaderboard CSVs (``leaderboard.csv`` format) whose group is not in *agg*."""
    from ..errors import FerBenchError

    frames = [agg] if not agg.empty else []
    # CSVs written before the "variant" column existed cannot tell variants apart. Their row is replaced by a
    # run-folder row of the same other keys when that row is the default variant, or when it has the same
    # accuracy (the same run, now labelled with its variant); otherwise (say, only a bf16 run of that cell is
    # in the folders) the old row is another run and stays.
    pre_variant = [k for k in KEYS if k != "variant"]
    seen = set(map(tuple, agg[KEYS].astype(str).values)) if not agg.empty else set()
    seen_pre: dict[tuple, set] = {}

    def note_pre(frame):
        for row, var, acc in zip(frame[pre_variant].astype(str).values, frame["variant"].astype(str),
                                 frame["accuracy"], strict=True):
            seen_pre.setdefault(tuple(row), set()).add("-" if var == "-" else round(float(acc), 4))

    if not agg.empty:
        note_pre(agg)
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
        old = old.drop(columns=["superseded_by"], errors="ignore")  # recomputed over all rows by mark_superseded
        has_variant = "variant" in old
        for col in KEYS:
            if col not in old:
                old[col] = False if col == "external" else "-"
        old["epochs"] = old["epochs"].fillna("-").astype(str)
        old["init_from"] = old["init_from"].fillna("-").astype(str)
        old["variant"] = old["variant"].fillna("-").astype(str)
        old["external"] = old["external"].map(_is_true)  # a CSV may hold "True"/"False" strings or blanks
        old["runs"] = old["runs"].fillna("").astype(str) if "runs" in old else ""
        if has_variant:
            keep = [tuple(map(str, row)) not in seen for row in old[KEYS].values]
        else:
            keep = []
            for row, acc in zip(old[pre_variant].astype(str).values, old["accuracy"], strict=True):
                there = seen_pre.get(tuple(row), set())
                keep.append(not ("-" in there or round(float(acc), 4) in there))
        frames.append(old[keep])
        seen |= set(map(tuple, old[KEYS].astype(str).values))
        note_pre(old[keep])
    return pd.concat(frames, ignore_index=True) if frames else agg


#: a row group: one model configuration (all its test sets share its fate when a longer run replaces it)
ROW_GROUP = [k for k in KEYS if k not in ("target", "role", "test_dataset")]
#: what makes two row groups "the same cell" when a longer run supersedes a shorter one: every group key but the
#: epoch cap and the protocol (a paper-protocol run and a fer-bench one of a cell both replace its budget row)
CELL = [k for k in ROW_GROUP if k not in ("epochs", "protocol")]


def _is_true(value) -> bool:
    """A boolean cell of a frame that may have come from a CSV ("True"/"False" strings, NaN)."""
    return str(value).strip().lower() in ("true", "1", "1.0")


def mark_superseded(agg: pd.DataFrame) -> pd.DataFrame:
    """*agg* with a ``superseded_by`` column: "" for a current row, else the label of the longer row(s) that replace it.

    Why: a short budget run (say 5 epochs on a CPU) of a cell is worth keeping, but once a longer run of the same
    cell exists it misleads a reader scanning the ranking, so it moves to an appendix. A row group (one model
    configuration, all its test sets together) is superseded when its recipe stops early (so its cap only cut
    training short: ``paper``) and another group of its cell (same model, size, initialisation, training set,
    recipe, warm start, variant and balancing; any protocol, since the paper protocol is this tool's way to
    reproduce the paper's number) has a larger known epoch cap. Under a schedule recipe (``strong``: cosine over
    the cap) another cap is another schedule, and both rows stay. A row without a known cap (an external model, or
    a row of a CSV written before caps were recorded) is never superseded."""
    from ..protocol.recipes import RECIPES

    agg = agg.reset_index(drop=True)
    agg["superseded_by"] = ""
    if agg.empty or not set(ROW_GROUP) <= set(agg.columns):
        return agg
    groups: dict[tuple, dict[tuple, list[int]]] = {}  # cell -> row group -> row positions
    for i, (cell, group) in enumerate(zip(agg[CELL].astype(str).itertuples(index=False, name=None),
                                          agg[ROW_GROUP].astype(str).itertuples(index=False, name=None),
                                          strict=True)):
        groups.setdefault(cell, {}).setdefault(group, []).append(i)
    caps = pd.to_numeric(agg["epochs"], errors="coerce")
    for members in groups.values():
        if len(members) < 2:
            continue
        first = next(iter(members.values()))[0]
        recipe = RECIPES.get(str(agg.at[first, "recipe"]))  # one recipe per cell (a CELL key)
        if recipe is None or not recipe.early_stopping:
            continue
        known = {g: rows for g, rows in members.items()
                 if pd.notna(caps[rows[0]]) and not _is_true(agg.at[rows[0], "external"])}
        if len(known) < 2:
            continue
        longest = max(caps[rows[0]] for rows in known.values())
        labels = "; ".join(sorted({_row_label(agg.loc[rows[0]]) for rows in known.values()
                                   if caps[rows[0]] == longest}))
        for rows in known.values():
            if caps[rows[0]] < longest:
                agg.loc[rows, "superseded_by"] = labels
    return agg


def current_rows(agg: pd.DataFrame) -> pd.DataFrame:
    """The rows no longer run of the same cell replaces (what the ranking and the tables show)."""
    if "superseded_by" not in agg.columns:
        return agg
    return agg[agg["superseded_by"].fillna("").astype(str) == ""].reset_index(drop=True)


def superseded_table(agg: pd.DataFrame) -> pd.DataFrame:
    """The appendix: every superseded row with its scores and the row(s) that replace it."""
    if "superseded_by" not in agg.columns:
        return pd.DataFrame()
    old = agg[agg["superseded_by"].fillna("").astype(str) != ""]
    if old.empty:
        return pd.DataFrame()
    rows = [{"model": _row_label(r), "train": train_label(r["train"]), "balance": r["balance"],
             "test": "in-domain" if r["role"] == "in_domain" else str(r["target"]),
             "Acc": _fmt(r["accuracy"], r["accuracy_sd"], r["seeds"], nd=3),
             "UAR": _fmt(r["uar"], r["uar_sd"], r["seeds"], nd=3), "F1": _fmt(r["f1"], r["f1_sd"], r["seeds"], nd=3),
             "seeds": int(r["seeds"]), "superseded by": r["superseded_by"], "run": _runs_of(r)}
            for _, r in old.sort_values(["model", "balance"], kind="mergesort").iterrows()]
    return pd.DataFrame(rows)


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
    if str(r.get("variant", "-")) not in ("-", "nan", "None"):
        label += f" [{r['variant']}]"
    return label


def _is_btfer(target: str) -> bool:
    """Whether a cross-domain test set is (a copy of) the paper's BTFER set, the only one its numbers are for."""
    return "btfer" in str(target).lower()


def paper_cell(r) -> dict | None:
    """The paper's numbers for an aggregated row's exact (model, res, init, training set, balancing) cell, or
    None. Returns ``{"in_domain": {...}, "cross_domain": {...}}`` (cross-domain = the paper's BTFER set)."""
    from ..models.cards import load_cards, paper_numbers

    if bool(r.get("external")) or r.get("balance") not in WEIGHTED_BALANCES:
        return None
    if str(r.get("model")) not in _card_names(load_cards):  # no card, no paper row (and no registry import)
        return None
    ds = paper_dataset_key(str(r.get("train", "")))
    if ds is None:
        return None
    try:
        return paper_numbers(str(r["model"]), int(r["res"]), ds, str(r["balance"]), init=str(r["weights"]))
    except (ValueError, TypeError):
        return None


_CARD_NAMES: set[str] = set()


def _card_names(load_cards) -> set[str]:
    if not _CARD_NAMES:
        _CARD_NAMES.update(load_cards())
    return _CARD_NAMES


def _paper_acc_for(r) -> float | None:
    """The paper's accuracy for the same cell and the same kind of test set (in-domain, or BTFER), else None."""
    num = paper_cell(r)
    if not num:
        return None
    if r["role"] == "in_domain":
        return (num.get("in_domain") or {}).get("accuracy")
    return (num.get("cross_domain") or {}).get("accuracy") if _is_btfer(r["target"]) else None


def readable_tables(agg: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """One table per (test set, balancing), best accuracy first, holding only the columns that have values.

    Keys are titles such as ``"in-domain test · balancing simple"``; columns: model (row label), train, kind,
    Acc, UAR, P, R, F1 (mean±sd over seeds), seeds, and, where the paper reports the same cell, ``paper Acc``
    and ``Δ Acc`` (ours minus paper; cross-domain only when the set is BTFER)."""
    if agg.empty:
        return {}
    tables: dict[str, pd.DataFrame] = {}
    targets = ["in_domain"] + sorted(agg.loc[agg["role"] == "cross_domain", "target"].astype(str).unique())
    balances = [b for b in BALANCE_ORDER if b in set(agg["balance"])] + sorted(
        set(agg["balance"]) - set(BALANCE_ORDER))
    for target in targets:
        part = agg[agg["role"] == "in_domain"] if target == "in_domain" else agg[agg["target"] == target]
        for bal in balances:
            sub = part[part["balance"] == bal].sort_values("accuracy", ascending=False, kind="mergesort")
            if sub.empty:
                continue
            rows = []
            for _, r in sub.iterrows():
                row = {"model": _row_label(r), "train": train_label(r["train"]),
                       "kind": "external" if r["external"] else "ours"}
                for m in ("accuracy", "uar", "precision", "recall", "f1"):
                    row[SHORT[m]] = _fmt(r[m], r[f"{m}_sd"], r["seeds"], nd=3)
                row["seeds"] = int(r["seeds"])
                paper = _paper_acc_for(r)
                row["paper Acc"] = f"{paper:.2f}" if paper is not None else ""
                row["Δ Acc"] = f"{r['accuracy'] - paper:+.3f}" if paper is not None else ""
                row["run"] = _runs_of(r)
                rows.append(row)
            df = pd.DataFrame(rows).fillna("")
            keep = [c for c in df.columns if c in ("model", "train", "run") or (df[c].astype(str) != "").any()]
            if set(df["kind"]) == {"ours"}:
                keep.remove("kind")
            name = "in-domain test" if target == "in_domain" else f"cross-domain set {target}"
            bal_text = "no class weights" if bal == "none" else "n/a (external or scored model)" if bal == "-" \
                else f"balancing {bal}"
            tables[f"{name} · {bal_text}"] = df[keep].reset_index(drop=True)
    return tables


#: The paper's Table 4 (top-5 models, RAF-DB, 48 px: validation and BTFER accuracy) for the three models whose
#: Table 2 rows were not transcribed (the garbled "Table 2 (continued)", see models/cards.toml). The table does
#: not say which class weighting these runs used, so they are matched to either and labelled as such. Its other
#: rows (VGG16 - IN, VGG19) and all of Table 5 (224 px, VGGFace) repeat cells of Tables 2-3.
PAPER_TABLE4 = {("resnet18", 48, "scratch", "rafdb"): (0.81, 0.56),
                ("vggnet", 48, "scratch", "rafdb"): (0.77, 0.51),
                ("mediapipe_cnn", 48, "scratch", "rafdb"): (0.78, 0.46)}


def _table4_cell(r) -> dict | None:
    if bool(r.get("external")) or r.get("balance") not in WEIGHTED_BALANCES:
        return None
    key = (str(r.get("model")), int(r["res"]), str(r.get("weights")), paper_dataset_key(str(r.get("train", ""))))
    if key not in PAPER_TABLE4:
        return None
    acc_id, acc_x = PAPER_TABLE4[key]
    return {"in_domain": {"accuracy": acc_id}, "cross_domain": {"accuracy": acc_x}}


def reproduction_table(agg: pd.DataFrame) -> pd.DataFrame:
    """The "paper reproduction" view: only rows whose (model, res, init, training set, balancing) cell is in the
    paper's Tables 2-3 (or, for three models, its Table 4), one row per test kind (in-domain; cross-domain only for
    a BTFER set), with ours (mean±sd over seeds), the paper's figure and the difference (ours minus paper) for
    accuracy and macro F1; ``source`` names the paper table."""
    cols = ["model", "res", "init", "train", "balance", "test", "seeds", "ours Acc", "paper Acc", "Δ Acc",
            "ours F1", "paper F1", "Δ F1", "source", "run"]
    if agg.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for _, r in agg.iterrows():
        num = paper_cell(r)
        source = "Table 2" if int(r["res"]) == 48 else "Table 3"
        if not num:
            num = _table4_cell(r)
            source = "Table 4 (balancing not stated)"
        if not num:
            continue
        if r["role"] == "in_domain":
            part, test = num.get("in_domain") or {}, "in-domain"
        elif _is_btfer(r["target"]):
            part, test = num.get("cross_domain") or {}, f"BTFER ({r['target']})"
        else:
            continue
        row = {"model": r["model"], "res": int(r["res"]), "init": r["weights"], "train": train_label(r["train"]),
               "balance": r["balance"], "test": test, "seeds": int(r["seeds"]), "source": source, "run": _runs_of(r),
               "_label": _row_label(r), "_acc": r["accuracy"]}
        for m, short in (("accuracy", "Acc"), ("f1", "F1")):
            p = part.get(m)
            row[f"ours {short}"] = _fmt(r[m], r[f"{m}_sd"], r["seeds"], nd=3)
            row[f"paper {short}"] = f"{p:.2f}" if p is not None else ""
            row[f"Δ {short}"] = f"{r[m] - p:+.3f}" if p is not None and pd.notna(r[m]) else ""
        rows.append(row)
    if not rows:
        return pd.DataFrame(columns=cols)
    df = pd.DataFrame(rows)
    # a row label with a recipe / epoch cap / warm start tells runs of one cell apart
    df["model"] = [lab if lab != f"{m} {res} {init}" else m
                   for lab, m, res, init in zip(df["_label"], df["model"], df["res"], df["init"], strict=True)]
    df = df.sort_values(["train", "res", "model", "balance", "test"], kind="mergesort")
    return df[cols].reset_index(drop=True)


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


def build_leaderboard(results: Path, merge=()) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """(aggregated long table, every row, with its ``superseded_by`` mark; readable tables per test set and
    balancing of the current rows); *merge*: earlier leaderboard CSVs."""
    agg = mark_superseded(merge_earlier(aggregate(long_table(results)), merge))
    return agg, readable_tables(current_rows(agg))


def write_leaderboard(results: Path, merge=()) -> dict[str, Path]:
    """Write leaderboard.md (ranking, paper reproduction view, one table per test set and balancing),
    leaderboard.csv (tidy, one row per group x balance x target) and leaderboard.json into *results*, each
    atomically; return their paths."""
    from ..fsutil import atomic_write

    results = Path(results)
    agg, tables = build_leaderboard(results, merge)
    results.mkdir(parents=True, exist_ok=True)
    paths = {"md": results / "leaderboard.md", "csv": results / "leaderboard.csv",
             "json": results / "leaderboard.json"}
    current = current_rows(agg)
    atomic_write(paths["md"], to_markdown(tables, ranked_table(current), reproduction_table(current),
                                          superseded_table(agg)))
    atomic_write(paths["csv"], agg.to_csv(index=False, float_format="%.4f"))
    atomic_write(paths["json"], json.dumps(json.loads(agg.to_json(orient="records")), indent=1) + "\n")
    return paths


def reproduction_markdown(repro: pd.DataFrame) -> list[str]:
    """The paper reproduction view as Markdown lines (a sentence when no run matches a paper cell)."""
    lines = ["## Paper reproduction", ""]
    if repro is None or repro.empty:
        return lines + ["_No run matches a cell of the paper's Tables 2-3 (same model, input size, "
                        "initialisation, training set among RAF-DB / FER2013 / AffectNet, and simple or "
                        "conservative class weights)._", ""]
    return lines + ["Only the runs whose (model, size, initialisation, training set, balancing) cell the BTFER "
                    "paper reports; Δ = ours minus paper. The paper selected checkpoints on its test split, "
                    "fer-bench on a carve of the training data.", "",
                    _linked(repro).to_markdown(index=False, disable_numparse=True), ""]


def _runs_of(r) -> str:
    """The run hashes behind an aggregated row, "; "-separated ("" for a merged row whose folders are gone)."""
    runs = r.get("runs", "")
    return "" if runs is None or (isinstance(runs, float) and np.isnan(runs)) else str(runs).replace(";", "; ")


def _linked(df: pd.DataFrame) -> pd.DataFrame:
    """*df* with its "run" cells as links to the run records (``runs/<hash>/``, beside leaderboard.md); a row
    without one says so."""
    if "run" not in df.columns:
        return df
    df = df.copy()
    df["run"] = ["; ".join(f"[{h}](runs/{h}/)" for h in str(v).split("; ")) if v else "no record"
                 for v in df["run"]]
    return df


def to_markdown(tables: dict[str, pd.DataFrame], ranked: pd.DataFrame | None = None,
                repro: pd.DataFrame | None = None, superseded: pd.DataFrame | None = None) -> str:
    lines = ["# fer-bench leaderboard", "",
             "Acc = accuracy, UAR = unweighted average recall, P/R/F1 = macro averages; mean±sd over seeds "
             "when more than one seed ran. `paper Acc` is the BTFER paper's figure for the same cell (model "
             "selection on their test split, not our measurement), `Δ Acc` = ours minus paper.", ""]
    if not tables:
        lines.append("_No finished runs yet._")
    if ranked is not None and not ranked.empty:
        lines += ["## Ranking", "",
                  "Best in-domain accuracy first; `paper ID Acc` / `paper BTFER Acc` are the paper's in-domain "
                  "and cross-domain (BTFER) accuracies for the same model, size, initialisation, training set "
                  "and balancing (empty where it reports none).", "",
                  ranked.to_markdown(index=False, disable_numparse=True), ""]
    if tables:
        lines += reproduction_markdown(repro)
        lines += ["## Per test set and balancing", ""]
    for title, df in tables.items():
        lines += [f"### {title}", "", _linked(df).to_markdown(index=False, disable_numparse=True), ""]
    if superseded is not None and not superseded.empty:
        lines += ["## Appendix: shorter runs replaced by a longer run of the same cell", "",
                  "Kept for the record, left out of every table above: an early-stopping recipe's run with a "
                  "smaller epoch cap than another run of the same model, size, initialisation, training set, "
                  "recipe, warm start, variant and balancing (any protocol: a paper-protocol run, which selects on "
                  "the test split, replaces a fer-bench-protocol budget row too; see `superseded by`).", "",
                  _linked(superseded).to_markdown(index=False, disable_numparse=True), ""]
    return "\n".join(lines) + "\n"


def reproduction(results: Path, merge=()) -> pd.DataFrame:
    """The paper reproduction view of a results folder (for `fer-bench leaderboard --view reproduction`)."""
    agg, _ = build_leaderboard(Path(results), merge)
    return reproduction_table(current_rows(agg))
