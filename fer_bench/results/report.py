"""`fer-bench report`: the BTFER paper's three research questions answered from your own runs.

One self-contained HTML file (figures embedded as base64 PNG, no network needed, readable on a phone, long
tables sortable by a few lines of inline JavaScript) and a Markdown twin:

* the ranking (best in-domain accuracy first, the paper's figure and our difference beside it);
* RQ1 (input size), RQ2 (initialisation), RQ3 (class balancing): each appears when there are runs that differ in
  that factor alone (same model, training set, other settings and test set). Effect = difference of the seed
  means; per pair an exact McNemar test on per-image correctness and a paired bootstrap CI of the accuracy and
  UAR difference (on the lowest seed both configs ran, from the ``predictions/*.csv`` of the run folders),
  Holm-corrected within the section when it makes more than two tests. Each section opens with one computed
  sentence. Without such runs it says which runs it needs and prints the `fer-bench sweep` command;
* the paper beside ours (the "paper reproduction" view of the leaderboard);
* figures: in-domain vs cross-domain bars, accuracy vs parameter count (five best small models marked),
  per-class recall, normalised confusion matrices, training curves, the in-domain -> cross-domain gap.

Everything is computed from the run folders (and rows of earlier leaderboard CSVs passed as *merge*); nothing is
typed in by hand.
"""

from __future__ import annotations

import base64
import html
import itertools
import shlex
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import FerBenchError
from . import compare
from .leaderboard import (
    KEYS,
    _row_label,
    aggregate,
    current_rows,
    long_table,
    mark_superseded,
    merge_earlier,
    ranked_table,
    readable_tables,
    reproduction_table,
    train_label,
)

#: figure kinds of `fer-bench plot KIND`
KINDS = ("bars", "params", "per-class", "confusion", "curves", "gap", "rq1", "rq2", "rq3")

#: research questions: factor column, its levels in order, the pairs compared (first minus second), wording
RQS = {
    "rq1": {"title": "RQ1: does input resolution matter?", "factor": "res", "short": "resolution",
            "pairs": None, "what": "runs that differ only in input size (--res 48,224)"},
    "rq2": {"title": "RQ2: does pretraining matter?", "factor": "weights", "short": "initialisation",
            "pairs": [("imagenet", "scratch"), ("vggface", "scratch"), ("vggface", "imagenet")],
            "what": "runs that differ only in initialisation (--weights imagenet,vggface,scratch)"},
    "rq3": {"title": "RQ3: does class balancing matter?", "factor": "balance", "short": "class balancing",
            "pairs": [("simple", "none"), ("conservative", "none"), ("conservative", "simple")],
            "what": "runs that differ only in class weighting (--balance none,simple,conservative)"},
}
_OTHER = ["model", "res", "weights", "balance", "train_l", "protocol", "recipe", "epochs", "init_from"]


def _level_name(factor: str, level) -> str:
    if factor == "res":
        return f"{level} px"
    if factor == "balance":
        return {"none": "no class weights"}.get(str(level), f"{level} weights")
    return str(level)


# --------------------------------------------------------------------------------------------- data collection
@dataclass
class Row:
    """One leaderboard row (a config group and balancing, seeds averaged) with what the figures need."""

    key: tuple
    label: str
    model: str
    res: int
    weights: str
    balance: str
    train: str
    external: bool
    seeds: int
    id_acc: float | None = None
    id_sd: float = 0.0
    xd: dict = field(default_factory=dict)          # target -> (acc, sd)
    hashes: list = field(default_factory=list)      # run folders (seed order)
    params: int | None = None
    rank: int | None = None                         # "#" of the ranking table

    @property
    def tag(self) -> str:
        """Short figure label: the ranking number first, so a cut label still names its row."""
        short = f"{self.model} {self.res} {self.weights}" + (f" · {self.balance}" if self.balance != "-" else "")
        return f"#{self.rank} {short}" if self.rank else self.label


@dataclass
class ReportData:
    results: Path
    agg: pd.DataFrame
    long: pd.DataFrame
    ranked: pd.DataFrame
    tables: dict
    repro: pd.DataFrame
    rows: list
    runs: dict                                      # hash -> {"config", "metrics", "info", "folder"}
    targets: list                                   # cross-domain targets
    merged: bool = False
    #: every aggregated row, superseded budget rows too (``agg`` holds the current ones): the research-question
    #: comparisons pair rows of one epoch cap, so a 5-epoch simple/conservative pair stays a valid comparison
    all_rows: pd.DataFrame | None = None


def _group_key(r) -> tuple:
    return tuple(str(r[k]) for k in KEYS if k not in ("target", "role", "test_dataset"))


def collect(results: Path, merge=()) -> ReportData:
    """Everything the report shows, read once from the run folders (and merged leaderboard CSV rows)."""
    from .store import iter_runs

    results = Path(results)
    runs = {}
    for run in iter_runs(results):
        runs[run["hash"]] = {**run, "folder": results / "runs" / run["hash"]}
    long = long_table(results)
    # rows a longer run of the same cell replaces stay in leaderboard.md's appendix, not in the report's tables
    all_rows = mark_superseded(merge_earlier(aggregate(long), merge))
    agg = current_rows(all_rows)
    if agg.empty:
        return ReportData(results, agg, long, pd.DataFrame(), {}, pd.DataFrame(), [], runs, [], bool(merge),
                          all_rows)
    for k in ("res",):
        agg[k] = agg[k].astype(int)
    targets = sorted(agg.loc[agg["role"] == "cross_domain", "target"].astype(str).unique())
    hashes: dict[tuple, list] = {}
    if not long.empty:
        long = long.copy()
        for _, r in long.sort_values("seed").iterrows():
            lst = hashes.setdefault(_group_key(r), [])
            if r["hash"] not in lst:
                lst.append(r["hash"])
    rows: dict[tuple, Row] = {}
    trains = set(agg["train"].map(train_label))
    for _, r in agg.iterrows():
        key = _group_key(r)
        if key not in rows:
            label = _row_label(r)
            if r["balance"] not in ("-",):
                label += f" · {r['balance']}"
            if len(trains) > 1:
                label += f" · {train_label(r['train'])}"
            rows[key] = Row(key, label, str(r["model"]), int(r["res"]), str(r["weights"]), str(r["balance"]),
                            train_label(r["train"]), bool(r["external"]), int(r["seeds"]),
                            hashes=hashes.get(key, []))
        row = rows[key]
        if r["role"] == "in_domain":
            row.id_acc, row.id_sd = float(r["accuracy"]), float(r["accuracy_sd"])
        else:
            row.xd[str(r["target"])] = (float(r["accuracy"]), float(r["accuracy_sd"]))
        row.seeds = max(row.seeds, int(r["seeds"]))
    out = sorted(rows.values(), key=lambda x: -(x.id_acc if x.id_acc is not None else -1))
    ranked = ranked_table(agg)
    ranks = {}
    if not ranked.empty:
        for _, rr in ranked.iterrows():
            ranks[(rr["model"], rr["train"], rr["kind"] == "external", rr["balance"])] = int(rr["#"])
    for row in out:
        row.params = _params(row, runs)
        base = row.label.split(" · ")[0]
        row.rank = ranks.get((base, row.train, row.external, row.balance))
    return ReportData(results, agg, long, ranked, readable_tables(agg), reproduction_table(agg), out,
                      runs, targets, bool(merge), all_rows)


def _params(row: Row, runs: dict) -> int | None:
    for h in row.hashes:
        p = (runs.get(h) or {}).get("info", {}).get("params")
        if p:
            return int(p)
    if row.external:
        return None
    from ..models.cards import load_cards  # the card file only: no TensorFlow import for a report

    card = load_cards().get(row.model) or {}
    p = (card.get("params", {}).get(row.weights) or {}).get(str(row.res))
    return int(p) if p else None


# ------------------------------------------------------------------------------------------- research questions
def _seed_table(data: ReportData) -> pd.DataFrame:
    """Seed-level rows of our (non-external) runs with the normalised training-set label."""
    if data.long.empty:
        return data.long
    long = data.long[~data.long["external"] & (data.long["balance"] != "-")].copy()  # not scored model files
    long["train_l"] = long["train"].map(train_label)
    long["res"] = long["res"].astype(int)
    return long


def analyse_rq(data: ReportData, rq: str) -> dict:
    """Comparisons of one research question: ``{"rq", "title", "available", "comparisons": [...], "sentence",
    "needed", "command", "units"}``. Each comparison: unit label, test set, levels a/b, seed means and sds,
    difference, and (when both run folders kept predictions) McNemar p, Holm-adjusted p, bootstrap CIs."""
    spec = RQS[rq]
    factor = spec["factor"]
    out = {"rq": rq, "title": spec["title"], "available": False, "comparisons": [], "units": [],
           "sentence": "", "needed": "", "command": ""}
    agg = data.all_rows if data.all_rows is not None else data.agg
    if agg.empty:
        out["needed"], out["command"] = _needed(data, rq)
        return out
    ours = agg[(~agg["external"].astype(bool)) & (agg["balance"] != "-")].copy()
    ours["train_l"] = ours["train"].map(train_label)
    ours["res"] = ours["res"].astype(int)
    seeds = _seed_table(data)
    other = [c for c in _OTHER if c != factor]
    comps = []
    units = []
    for ukey, sub in ours.groupby(other + ["target"], dropna=False, sort=True):
        levels = list(dict.fromkeys(sub[factor].tolist()))
        if len(levels) < 2:
            continue
        if spec["pairs"] is None:
            lv = sorted(levels, key=lambda v: int(v))
            pairs = [(hi, lo) for lo, hi in itertools.combinations(lv, 2)]
        else:
            pairs = [(a, b) for a, b in spec["pairs"] if a in levels and b in levels]
        if not pairs:
            continue
        u = dict(zip(other + ["target"], ukey, strict=True))
        first = sub.iloc[0]
        parts = _unit_parts(first, factor)
        unit_label = " ".join(parts)
        role = first["role"]
        test = "in-domain" if role == "in_domain" else str(first["target"])
        unit = {"label": unit_label, "test": test, "role": role, "acc": {}, "significant": False, "_parts": parts}
        for lev in levels:
            r = sub[sub[factor] == lev].iloc[0]
            unit["acc"][_level_name(factor, lev)] = (float(r["accuracy"]), float(r["accuracy_sd"]))
        units.append(unit)
        for a, b in pairs:
            ra = sub[sub[factor] == a].iloc[0]
            rb = sub[sub[factor] == b].iloc[0]
            comp = {"unit": unit_label, "test": test, "role": role, "a": _level_name(factor, a),
                    "b": _level_name(factor, b), "mean_a": float(ra["accuracy"]), "sd_a": float(ra["accuracy_sd"]),
                    "mean_b": float(rb["accuracy"]), "sd_b": float(rb["accuracy_sd"]),
                    "seeds_a": int(ra["seeds"]), "seeds_b": int(rb["seeds"]),
                    "diff": float(ra["accuracy"] - rb["accuracy"]), "p": None, "_unit": unit}
            comp.update(_test_pair(data, seeds, u, factor, a, b))
            comps.append(comp)
    if not comps:
        out["needed"], out["command"] = _needed(data, rq)
        return out
    # settings every pair shares are said once (out["common"]); labels keep the model and what differs
    common = set.intersection(*(set(u["_parts"][1:]) for u in units))
    out["common"] = " ".join(p for p in units[0]["_parts"][1:] if p in common)
    for u in units:
        u["label"] = " ".join([u["_parts"][0], *(p for p in u["_parts"][1:] if p not in common)])
    for c in comps:
        c["unit"] = c["_unit"]["label"]
    tested = [c for c in comps if c["p"] is not None]
    adj, rej = compare.holm([c["p"] for c in tested])
    for c, p_adj, r in zip(tested, adj, rej, strict=True):
        c["p_adj"], c["significant"] = p_adj, r
        if r:
            c["_unit"]["significant"] = True
    for c in comps:
        c.setdefault("p_adj", None)
        c.setdefault("significant", None)
    out.update(available=True, comparisons=comps, units=units, holm=len(tested) > 2)
    out["sentence"] = _sentence(comps, factor, len(tested) > 2)
    if rq != "rq1" or len({c["a"] for c in comps} | {c["b"] for c in comps}) < 2:
        out["needed"], out["command"] = "", ""
    return out


def _unit_parts(r, factor: str) -> list[str]:
    """What defines a pair besides the factor: model first, then size, init, balancing, data, recipe, epochs."""
    parts = [str(r["model"])]
    if factor != "res":
        parts.append(f"{int(r['res'])} px")
    if factor != "weights":
        parts.append(str(r["weights"]))
    if factor != "balance":
        parts.append(str(r["balance"]))
    parts.append(str(r["train_l"]))
    if str(r.get("recipe")) not in ("paper", "-", "nan"):
        parts.append(f"{r['recipe']} recipe")
    if str(r.get("epochs")) not in ("-", "nan", "None"):
        parts.append(f"{r['epochs']} ep")
    if str(r.get("init_from")) not in ("-", "nan", "None"):
        parts.append(f"from {r['init_from']}")
    return parts


def _test_pair(data: ReportData, seeds: pd.DataFrame, unit: dict, factor: str, a, b) -> dict:
    """McNemar + bootstrap on the lowest seed both configs ran, when both run folders kept predictions."""
    if seeds.empty:
        return {"why_untested": "no run folders (rows from a merged leaderboard CSV)"}
    mask = np.ones(len(seeds), dtype=bool)
    for k, v in unit.items():
        if k == "target":
            continue
        mask &= seeds[k].astype(str).to_numpy() == str(v)
    part = seeds[mask & (seeds["target"].astype(str) == str(unit["target"])).to_numpy()]
    sa = part[part[factor].astype(str) == str(a)]
    sb = part[part[factor].astype(str) == str(b)]
    common = sorted(set(sa["seed"]) & set(sb["seed"]))
    if not common:
        return {"why_untested": "no run folders with a common seed" if len(sa) and len(sb) else
                "no run folders (rows from a merged leaderboard CSV)"}
    for seed in common:
        ha = sa[sa["seed"] == seed]["hash"].iloc[0]
        hb = sb[sb["seed"] == seed]["hash"].iloc[0]
        res = compare.compare_runs(data.results / "runs" / ha, data.results / "runs" / hb, str(unit["target"]))
        if res is not None:
            wa = (data.runs.get(ha) or {}).get("info", {}).get("class_weights")
            wb = (data.runs.get(hb) or {}).get("info", {}).get("class_weights")
            return {**res, "seed": int(seed), "same_weights": wa is not None and wa == wb}
    return {"why_untested": "the run folders hold no per-image predictions"}


def _sentence(comps: list[dict], factor: str, corrected: bool) -> str:
    """One computed sentence: per compared pair of levels, the mean difference in-domain and cross-domain, how
    many units are better, and how many differences are significant."""
    parts = []
    pair_keys = list(dict.fromkeys((c["a"], c["b"]) for c in comps))
    for a, b in pair_keys:
        bits = []
        for role, where in (("in_domain", "in-domain"), ("cross_domain", "cross-domain")):
            cs = [c for c in comps if (c["a"], c["b"]) == (a, b) and c["role"] == role]
            if not cs:
                continue
            d = float(np.mean([c["diff"] for c in cs])) * 100
            better = sum(c["diff"] > 0 for c in cs)
            tested = [c for c in cs if c.get("significant") is not None]
            sig = sum(bool(c["significant"]) for c in tested)
            if round(d, 1) == 0:
                text = f"{where}, {a} ties with {b} (mean difference {d:+.1f} points of accuracy; "
            else:
                text = (f"{where}, {a} {'beats' if d > 0 else 'trails'} {b} by {abs(d):.1f} points of accuracy on "
                        "average (")
            text += f"{better} of {len(cs)} {'pair' if len(cs) == 1 else 'pairs'} higher"
            if tested:
                text += f", significant for {sig} of {len(tested)}"
            bits.append(text + ")")
        parts.append("; ".join(bits))
    if any(c.get("significant") is not None for c in comps):
        tail = " (exact McNemar on per-image correctness, p < 0.05" + (", Holm-corrected" if corrected else "") \
            + ")."
    else:
        tail = "; significance not testable: the run records hold no per-image predictions."
    s = "; ".join(parts)
    if factor == "balance" and comps and all(c.get("same_weights") for c in comps):
        tail = tail[:-1] + ". Every pair trained with identical class weights (a class-balanced training set " \
                           "gives every class weight 1.0 under each rule), so these runs cannot differ by balancing."
    return s[0].upper() + s[1:] + tail


def _most_common(values, default):
    vals = [v for v in values if v not in (None, "", "-") and not (isinstance(v, float) and np.isnan(v))]
    return Counter(vals).most_common(1)[0][0] if vals else default


def _needed(data: ReportData, rq: str) -> tuple[str, str]:
    """Which runs a section needs and the exact sweep command that makes them (from the runs there are)."""
    spec = RQS[rq]
    seeds = _seed_table(data)
    if seeds.empty:
        models, train, tests, epochs, recipe = ["sequential_simple", "fer_vgg", "lenet5"], "synth:lab", [], 15, \
            "strong"
        res, weights, balance, seed_list = "48", "scratch", "conservative", "0"
    else:
        acc = seeds[seeds["role"] == "in_domain"].groupby("model")["accuracy"].mean().sort_values(ascending=False)
        models = list(acc.index[:3]) or list(dict.fromkeys(seeds["model"]))[:3]
        train = _most_common(seeds["train"].tolist(), "synth:lab")
        tests = sorted(seeds.loc[seeds["role"] == "cross_domain", "target"].astype(str).unique())
        epochs = _most_common(seeds["epochs"].tolist(), "100")
        recipe = _most_common(seeds["recipe"].tolist(), "paper")
        res = str(_most_common(seeds["res"].tolist(), 48))
        weights = _most_common(seeds["weights"].tolist(), "scratch")
        balance = _most_common(seeds["balance"].tolist(), "conservative")
        seed_list = ",".join(str(s) for s in sorted(set(seeds["seed"].astype(int))))
    if rq == "rq1":
        res = "48,224"
    elif rq == "rq2":
        weights = "imagenet,vggface,scratch"
        models = [m for m in models if _supports(m, ("imagenet", "vggface"))] or ["vgg16"]
    else:
        balance = "none,simple,conservative"
    cmd = ["fer-bench", "sweep", "--models", ",".join(models), "--res", res, "--weights", weights,
           "--balance", balance, "--train", str(train)]
    for t in tests:
        cmd += ["--test", t]
    cmd += ["--seeds", seed_list, "--epochs", str(epochs), "--recipe", str(recipe), "--results", str(data.results)]
    needed = (f"This section needs {spec['what']}: the same model, training set, recipe and test sets, and at "
              f"least two values of the {spec['short']}. None of the runs in {data.results} form such a pair. "
              "This sweep adds them (finished runs are skipped):")
    return needed, shlex.join(cmd)


def _supports(model: str, inits) -> bool:
    from ..models.cards import load_cards

    return all(i in ((load_cards().get(model) or {}).get("inits") or ()) for i in inits)


# --------------------------------------------------------------------------------------------------- figures
def _ours_rows(data: ReportData) -> list[Row]:
    return [r for r in data.rows if r.id_acc is not None]


def figure(data: ReportData, kind: str, rq: dict | None = None):
    """The matplotlib Figure of one KIND, or None when the runs hold nothing to draw for it."""
    from . import plots

    rows = _ours_rows(data)
    if kind == "bars":
        top = rows[:16]
        return plots.bars_in_vs_cross([{"label": r.tag, "id_acc": r.id_acc, "id_sd": r.id_sd, "xd": r.xd}
                                       for r in top], data.targets) if top else None
    if kind == "params":
        pts = [{"label": r.tag, "params": r.params, "acc": r.id_acc} for r in rows if r.params]
        if not pts:
            return None
        return plots.accuracy_vs_params(pts, best_small(pts))
    if kind == "per-class":
        items = []
        classes: list[str] = []
        for r in rows:
            rec = _per_class(data, r)
            if rec:
                items.append({"label": r.tag, "recall": rec})
                classes += [c for c in rec if c not in classes]
            if len(items) == 4:
                break
        return plots.per_class_recall(items, classes) if items else None
    if kind == "confusion":
        mats = []
        for r in rows:
            cm = _confusion(data, r, "in_domain")
            if cm:
                mats.append({"title": f"{r.tag} (in-domain)", **cm})
            if len(mats) == (3 if data.targets else 4):
                break
        if rows and data.targets:
            for t in data.targets[:1]:
                best = max((r for r in rows if t in r.xd), key=lambda r: r.xd[t][0], default=None)
                cm = _confusion(data, best, t) if best else None
                if cm:
                    mats.append({"title": f"{best.tag} → {t}", **cm})
        return plots.confusion_grid(mats) if mats else None
    if kind == "curves":
        curves = []
        for r in rows:
            if not r.hashes:
                continue
            h = _history(data, r.hashes[0])
            if h is not None:
                curves.append({"label": r.tag, **h})
            if len(curves) == 8:
                break
        return plots.training_curves(curves) if curves else None
    if kind == "gap":
        gaps = [{"label": r.tag, "target": t, "gap": (r.id_acc - acc) * 100}
                for r in rows for t, (acc, _sd) in r.xd.items()]
        return plots.domain_gap(sorted(gaps, key=lambda g: -g["gap"])[:24]) if gaps else None
    if kind in RQS:
        rq = rq or analyse_rq(data, kind)
        if not rq["available"]:
            return None
        units = [u for u in rq["units"] if u["role"] == "in_domain"] or rq["units"]
        levels = list(dict.fromkeys(lev for u in units for lev in u["acc"]))
        where = "in-domain" if units[0]["role"] == "in_domain" else units[0]["test"]
        return plots.rq_pairs(units[:12], levels, f"{RQS[kind]['title']} ({where} accuracy; * = significant)")
    raise FerBenchError(f"unknown plot kind {kind!r}; use one of {', '.join(KINDS)}")


def best_small(points: list[dict], k: int = 5) -> list[str]:
    """Labels of the *k* most accurate models among the small ones (parameter count at or below the median of
    the runs shown), as in the paper's Figs. 19-20."""
    if not points:
        return []
    med = float(np.median([p["params"] for p in points]))
    small = sorted((p for p in points if p["params"] <= med), key=lambda p: -p["acc"])
    return [p["label"] for p in small[:k]]


def _first_metrics(data: ReportData, row: Row, target: str) -> list[dict]:
    out = []
    for h in row.hashes:
        m = (data.runs.get(h) or {}).get("metrics", {}).get(target)
        if isinstance(m, dict):
            out.append(m)
    return out


def _per_class(data: ReportData, row: Row) -> dict | None:
    ms = [m for m in _first_metrics(data, row, "in_domain") if m.get("per_class")]
    if not ms:
        return None
    classes = list(ms[0]["per_class"])
    return {c: float(np.mean([m["per_class"][c]["recall"] for m in ms if c in m["per_class"]])) for c in classes}


def _confusion(data: ReportData, row: Row, target: str) -> dict | None:
    ms = [m for m in _first_metrics(data, row, target) if m.get("confusion_matrix") and m.get("label_names")]
    if not ms:
        return None
    cm = np.sum([np.asarray(m["confusion_matrix"]) for m in ms if len(m["confusion_matrix"]) ==
                 len(ms[0]["confusion_matrix"])], axis=0)
    return {"cm": cm.tolist(), "labels": list(ms[0]["label_names"])}


def _history(data: ReportData, h: str) -> dict | None:
    path = data.results / "runs" / h / "history.csv"
    try:
        df = pd.read_csv(path)
    except (OSError, ValueError):
        return None
    if "val_accuracy" not in df or df.empty:
        return None
    return {"epoch": list(range(1, len(df) + 1)), "val": df["val_accuracy"].tolist(),
            "train": df["accuracy"].tolist() if "accuracy" in df else None}


def write_plot(results: Path, kind: str, out: Path, merge=()) -> Path:
    """Write one figure (PNG or SVG by suffix); FerBenchError when the runs hold nothing for it."""
    from .plots import save_figure

    out = Path(out)
    if out.suffix.lower() not in (".png", ".svg"):
        raise FerBenchError(f"{out}: the figure file must end in .png or .svg")
    if kind not in KINDS:
        raise FerBenchError(f"unknown plot kind {kind!r}; use one of {', '.join(KINDS)}")
    data = collect(_check_results(results), merge)
    fig = figure(data, kind)
    if fig is None:
        raise FerBenchError(f"nothing to draw for {kind!r} from the runs in {results} ({_why_empty(data, kind)})")
    out.parent.mkdir(parents=True, exist_ok=True)
    return save_figure(fig, out)


def _why_empty(data: ReportData, kind: str) -> str:
    if kind in RQS:
        needed, cmd = _needed(data, kind)
        return f"{needed} {cmd}"
    return {"gap": "no run was tested on a cross-domain set; pass --test DATASET to run/sweep",
            "curves": "no run folder holds a history.csv",
            "params": "no parameter counts recorded",
            }.get(kind, "no run folder holds the per-class metrics")


def _check_results(results: Path) -> Path:
    results = Path(results)
    if not (results / "runs").is_dir():
        raise FerBenchError(f"no runs found under {results}/runs; run `fer-bench quickstart` or `fer-bench run` "
                            "first, or pass --results DIR")
    return results


# ---------------------------------------------------------------------------------------------------- output
FIGURE_CAPTIONS = {
    "bars": "In-domain and cross-domain accuracy per configuration (mean over seeds, error bar = sd; best "
            "in-domain first, as in the paper's Figs. 14-18, 21-28). #N = row N of the ranking.",
    "params": "In-domain accuracy against parameter count; stars mark the five most accurate models at or "
              "below the median parameter count of these runs (the paper's Figs. 19-20).",
    "per-class": "Per-class recall on the in-domain test set for the best configurations (mean over seeds).",
    "confusion": "Row-normalised confusion matrices (counts summed over seeds): the best in-domain "
                 "configurations, and the best on the first cross-domain set when runs were tested on one.",
    "curves": "Training curves of the best configurations (first seed): validation-carve accuracy (solid) "
              "and training accuracy (dashed) per epoch.",
    "gap": "In-domain minus cross-domain accuracy (points): how much each configuration loses on faces from "
           "another domain.",
}


def _fmt_p(p) -> str:
    if p is None or (isinstance(p, float) and np.isnan(p)):
        return ""
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def rq_table(rq: dict) -> pd.DataFrame:
    rows = []
    for c in rq["comparisons"]:
        row = {"pair": c["unit"], "test set": c["test"], "A": c["a"], "B": c["b"],
               "A acc": _ms(c["mean_a"], c["sd_a"], c["seeds_a"]), "B acc": _ms(c["mean_b"], c["sd_b"], c["seeds_b"]),
               "Δ acc (pts)": f"{c['diff'] * 100:+.1f}"}
        if c.get("p") is not None:
            row.update({"95% CI Δ acc": f"[{c['acc_ci'][0] * 100:+.1f}, {c['acc_ci'][1] * 100:+.1f}]",
                        "Δ UAR (pts)": f"{c['uar_diff'] * 100:+.1f}",
                        "95% CI Δ UAR": f"[{c['uar_ci'][0] * 100:+.1f}, {c['uar_ci'][1] * 100:+.1f}]",
                        "McNemar p": _fmt_p(c["p"]), "Holm p" if rq.get("holm") else "p used": _fmt_p(c["p_adj"]),
                        "significant": "yes" if c["significant"] else "no",
                        "tested on": f"seed {c['seed']}, {c['n']} images"})
        else:
            row.update({"significant": "n/a", "tested on": c.get("why_untested", "")})
        rows.append(row)
    return pd.DataFrame(rows).fillna("")


def _ms(m, sd, n) -> str:
    return f"{m:.3f}±{sd:.3f}" if n and n > 1 else f"{m:.3f}"


def ranking_with_delta(ranked: pd.DataFrame) -> pd.DataFrame:
    """The ranking with Δ columns (ours minus paper) where the paper reports the same cell."""
    if ranked.empty:
        return ranked
    df = ranked.copy()

    def delta(ours, paper):
        try:
            return f"{float(str(ours).split('±')[0]) - float(paper):+.3f}" if str(paper) else ""
        except ValueError:
            return ""

    if "paper ID Acc" in df:
        df.insert(df.columns.get_loc("paper ID Acc") + 1, "Δ ID Acc",
                  [delta(o, p) for o, p in zip(df["ID Acc"], df["paper ID Acc"], strict=True)])
    return df


def build(results: Path, merge=()) -> dict:
    """Everything the report writes: data, RQ analyses, figures (PNG bytes) and captions."""
    data = collect(_check_results(results), merge)
    if data.agg.empty:
        raise FerBenchError(f"no finished runs under {results}/runs yet; run `fer-bench quickstart` or "
                            "`fer-bench run`, then write the report")
    rqs = {k: analyse_rq(data, k) for k in RQS}
    figs = {}
    for kind in ("bars", "params", "per-class", "confusion", "curves", "gap"):
        fig = figure(data, kind)
        if fig is not None:
            from .plots import figure_png_bytes

            figs[kind] = figure_png_bytes(fig)
    for k, rq in rqs.items():
        fig = figure(data, k, rq) if rq["available"] else None
        if fig is not None:
            from .plots import figure_png_bytes

            figs[k] = figure_png_bytes(fig)
    return {"data": data, "rqs": rqs, "figures": figs}


def write_report(results_dir, out=None, merge=()) -> dict[str, Path]:
    """Write ``report.html`` (self-contained) and its Markdown twin ``report.md`` (same stem as *out*; default
    ``<results_dir>/report.html``); returns ``{"html": path, "md": path}``. FerBenchError (one line) when there
    are no runs or the file cannot be written."""
    from ..fsutil import atomic_write

    results = Path(results_dir)
    out = Path(out) if out else results / "report.html"
    if out.suffix.lower() not in (".html", ".htm"):
        raise FerBenchError(f"{out}: the report file must end in .html (its Markdown twin is written beside it)")
    built = build(results, merge)
    md_path = out.with_suffix(".md")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(out, render_html(built))
        atomic_write(md_path, render_markdown(built))
    except OSError as exc:
        raise FerBenchError(f"{out}: cannot write the report ({exc.strerror or exc}); pass --out with a writable "
                            "path") from None
    return {"html": out, "md": md_path}


# ------------------------------------------------------------------------------------------------ rendering
_INTRO = ("Computed by fer-bench from the run folders under {results} ({n_runs} run folders, {n_rows} leaderboard "
          "rows{merged}). Accuracy = share of test images right, UAR = unweighted average recall; mean±sd over "
          "seeds. A difference is called significant when the exact McNemar test on per-image correctness "
          "gives p < 0.05 (Holm-corrected within a section that makes more than two tests); the bootstrap "
          "intervals resample test images ({nb} resamples, seed {seed}). The paper's figures are those the "
          "BTFER paper reports (checkpoints chosen on its test split); runs under the default fer-bench protocol "
          "never see the test split before the final scoring.")


def _sections(built: dict) -> list[dict]:
    """The report as a list of sections: {"id", "title", "paras", "tables": [(caption, df, sortable)],
    "figures": [kind], "code"}."""
    data: ReportData = built["data"]
    rqs = built["rqs"]
    secs = []
    n_runs = len(data.runs)
    secs.append({"id": "about", "title": "About this report", "paras": [_INTRO.format(
        results=data.results, n_runs=n_runs, n_rows=len(data.ranked),
        merged=", plus rows of earlier leaderboard CSVs without run folders" if data.merged else "",
        nb=compare.N_BOOTSTRAP, seed=compare.BOOTSTRAP_SEED)] + [_answers(rqs)], "tables": [], "figures": []})
    ranking = ranking_with_delta(data.ranked)
    secs.append({"id": "ranking", "title": "Ranking", "paras": [
        "Best in-domain accuracy first. `paper ID Acc` / `paper BTFER Acc`: the paper's in-domain and BTFER "
        "accuracy for the same model, size, initialisation, training set and balancing; `Δ ID Acc` = ours minus "
        "paper. Click a column head to sort."],
        "tables": [("", ranking, True)], "figures": ["bars"]})
    for k, rq in rqs.items():
        sec = {"id": k, "title": rq["title"], "paras": [], "tables": [], "figures": []}
        if rq["available"]:
            sec["paras"].append(f"**Answer from these runs:** {rq['sentence']}")
            shared = f" All pairs share: {rq['common']}." if rq.get("common") else ""
            sec["tables"].append(("Each row compares two configurations that differ only in the "
                                  f"{RQS[k]['short']}; Δ = A minus B.{shared}", rq_table(rq), True))
            sec["figures"].append(k)
        else:
            sec["paras"].append(f"**Not answerable from these runs yet.** {rq['needed']}")
            sec["code"] = rq["command"]
        secs.append(sec)
    secs.append(_paper_section(data))
    secs.append({"id": "figures", "title": "Figures", "paras": [], "tables": [],
                 "figures": ["params", "per-class", "confusion", "curves", "gap"]})
    tables = [(title, df, len(df) > 3) for title, df in data.tables.items()]
    secs.append({"id": "tables", "title": "All results, per test set and balancing", "paras": [
        "P / R / F1 are macro averages; `paper Acc` and `Δ Acc` where the paper reports the same cell."],
        "tables": tables, "figures": []})
    return secs


def _answers(rqs: dict) -> str:
    bits = []
    for k, rq in rqs.items():
        name = k.upper()
        bits.append(f"**{name}:** {rq['sentence']}" if rq["available"] else
                    f"**{name}:** not answerable from these runs (section {name} gives the sweep that would answer "
                    "it).")
    return " ".join(bits)


def _paper_section(data: ReportData) -> dict:
    sec = {"id": "paper", "title": "Paper beside ours (reproduction view)", "paras": [], "tables": [],
           "figures": []}
    repro = data.repro
    if repro is not None and not repro.empty:
        d = pd.to_numeric(repro["Δ Acc"], errors="coerce")
        n_id = int((repro["test"] == "in-domain").sum())
        sec["paras"].append(
            f"{len(repro)} of our rows match a cell of the paper's Tables 2-3"
            f"{' (or Table 4)' if repro['source'].str.startswith('Table 4').any() else ''} (same model, input size, "
            f"initialisation, training set and balancing; {n_id} in-domain, {len(repro) - n_id} on BTFER). Ours "
            f"minus paper: mean {d.mean() * 100:+.1f} points of accuracy (range {d.min() * 100:+.1f} to "
            f"{d.max() * 100:+.1f}); {int((d >= 0).sum())} of {int(d.notna().sum())} at or above the paper. "
            "The paper chose checkpoints on its test split and trained for 200+ epochs; read a gap with the "
            "epoch budget of the run in mind.")
        sec["tables"].append(("", repro, len(repro) > 3))
        return sec
    sec["paras"].append("None of these runs matches a cell of the paper's Tables 2-3: the paper trained on RAF-DB, "
                        "FER2013 and AffectNet (a training set whose path names one of them is matched), with "
                        "simple or conservative class weights, at 48 or 224 px; so no difference to the paper "
                        "is computed.")
    ctx = _paper_context(data)
    if not ctx.empty:
        sec["paras"].append("For orientation only, the paper's figures for the models and sizes these runs use "
                            "(their training sets, not yours; in-domain = each dataset's own test split, BTFER = "
                            "the paper's cross-domain set):")
        sec["tables"].append(("", ctx, len(ctx) > 3))
    return sec


def _paper_context(data: ReportData) -> pd.DataFrame:
    from ..models.cards import paper_rows

    seen = set()
    rows = []
    from ..models.cards import load_cards

    cards = load_cards()
    for r in data.rows:
        if r.external or (r.model, r.res) in seen or r.model not in cards:
            continue
        seen.add((r.model, r.res))
        try:
            prs = paper_rows(r.model)
        except FerBenchError:
            continue
        cells: dict = {}
        for p in prs:
            if p["res"] != r.res:
                continue
            c = cells.setdefault((p["init"], p["dataset"], p["balance"]), {})
            c[p["split"]] = p["accuracy"]
        for (init, ds, bal), c in sorted(cells.items()):
            rows.append({"model": r.model, "res": r.res, "init": init, "paper training set": ds, "balance": bal,
                         "paper in-domain Acc": f"{c.get('in_domain', np.nan):.2f}",
                         "paper BTFER Acc": f"{c.get('cross_domain', np.nan):.2f}"})
    return pd.DataFrame(rows)


_CSS = """
:root{--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--bg:#fff;--head:#f6f8fa;--accent:#0969da}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);
background:var(--bg)}
main{max-width:1100px;margin:0 auto;padding:12px 16px 48px}
h1{font-size:1.6rem;margin:.6em 0 .2em}h2{font-size:1.25rem;margin:1.6em 0 .4em;padding-top:.4em;
border-top:1px solid var(--line)}
p{margin:.5em 0;overflow-wrap:anywhere}
nav{font-size:.9rem;margin:.4em 0 1em;display:flex;flex-wrap:wrap;gap:.2em .9em}nav a{color:var(--accent)}
.answer{background:#eef6ff;border-left:4px solid var(--accent);padding:.5em .8em;border-radius:4px}
.todo{background:#fff8e6;border-left:4px solid #d4a72c;padding:.5em .8em;border-radius:4px}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;margin:.5em 0 1em;border:1px solid var(--line);
border-radius:6px;max-width:100%}
table{border-collapse:collapse;font-size:.85rem;width:100%}
th,td{padding:4px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
td:first-child:not(.n){min-width:11em}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
th{background:var(--head);position:sticky;top:0;white-space:nowrap}
table.sortable th{cursor:pointer}table.sortable th:after{content:" \\2195";color:var(--muted);font-size:.8em}
tr.sig td{background:#eafbea}
.caption{color:var(--muted);font-size:.85rem;margin:.2em 0}
figure{margin:1em 0}.fig{overflow-x:auto;-webkit-overflow-scrolling:touch}
figure img{max-width:100%;height:auto;display:block;border:1px solid var(--line);border-radius:6px}
figcaption{color:var(--muted);font-size:.85rem;margin-top:.3em}
pre{background:var(--head);padding:.6em .8em;border-radius:6px;overflow-x:auto;font-size:.85rem;
white-space:pre-wrap;overflow-wrap:anywhere}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em}
@media (max-width:640px){body{font-size:15px}main{padding:8px 10px 32px}table{font-size:.78rem}
th,td{padding:3px 5px}h1{font-size:1.3rem}figure img{max-width:none;width:640px}}
"""

_JS = """
document.querySelectorAll('table.sortable').forEach(function(t){
 t.querySelectorAll('th').forEach(function(th,i){th.addEventListener('click',function(){
  var b=t.tBodies[0],rows=Array.from(b.rows),asc=th.dataset.asc!=='1';th.dataset.asc=asc?'1':'0';
  var key=function(r){var s=r.cells[i].textContent.trim().replace('\\u2212','-').replace('<','');
   var n=parseFloat(s);return isNaN(n)?[1,s.toLowerCase()]:[0,n];};
  rows.sort(function(x,y){var a=key(x),c=key(y);if(a[0]!==c[0])return a[0]-c[0];
   return (a[1]>c[1]?1:a[1]<c[1]?-1:0)*(asc?1:-1);});
  rows.forEach(function(r){b.appendChild(r);});});});});
"""


def _inline(text: str) -> str:
    """Escape, then render `code` and **bold** spans."""
    import re

    t = html.escape(text)
    t = re.sub(r"`([^`]+)`", r"<code>\1</code>", t)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", t)


def _num_like(v: str) -> bool:
    s = str(v).replace("±", "").replace("+", "").replace("-", "").replace(".", "").replace("[", "").replace(
        "]", "").replace(",", "").replace(" ", "").replace("<", "")
    return s.isdigit()


def _html_table(df: pd.DataFrame, sortable: bool) -> str:
    if df is None or df.empty:
        return "<p><em>No rows.</em></p>"
    cls = ' class="sortable"' if sortable else ""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for _, r in df.iterrows():
        sig = ' class="sig"' if str(r.get("significant", "")) == "yes" else ""
        cells = "".join(f'<td class="n">{html.escape(str(v))}</td>' if _num_like(v) and str(v) else
                        f"<td>{html.escape(str(v))}</td>" for v in r.tolist())
        body.append(f"<tr{sig}>{cells}</tr>")
    return f'<div class="scroll"><table{cls}><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody>' \
           "</table></div>"


def _fig_caption(kind: str) -> str:
    if kind in RQS:
        return (f"{RQS[kind]['title'].split(':')[0]}: accuracy of each configuration pair (mean over seeds, "
                "error bar = sd); * = at least one significant difference for that pair.")
    return FIGURE_CAPTIONS[kind]


_NAV = {"about": "About", "ranking": "Ranking", "paper": "Paper vs ours", "figures": "Figures",
        "tables": "All results"}


def render_html(built: dict) -> str:
    data: ReportData = built["data"]
    figs = built["figures"]
    secs = _sections(built)
    out = ['<!doctype html><html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           "<title>fer-bench report</title>", f"<style>{_CSS}</style></head><body><main>",
           "<h1>fer-bench report</h1>",
           f'<p class="caption">{html.escape(str(data.results))} · {len(data.runs)} run folders · '
           f"{len(figs)} figures</p>",
           "<nav>" + "".join(f'<a href="#{s["id"]}">{_NAV.get(s["id"], s["id"].upper())}</a>' for s in secs)
           + "</nav>"]
    n_fig = 0
    for s in secs:
        out.append(f'<section id="{s["id"]}"><h2>{html.escape(s["title"])}</h2>')
        for p in s["paras"]:
            cls = ' class="answer"' if p.startswith("**Answer") else ' class="todo"' if p.startswith("**Not") \
                else ""
            out.append(f"<p{cls}>{_inline(p)}</p>")
        if s.get("code"):
            out.append(f"<pre><code>{html.escape(s['code'])}</code></pre>")
        for caption, df, sortable in s["tables"]:
            if caption:
                title = f"<h3>{html.escape(caption)}</h3>" if s["id"] == "tables" else \
                    f'<p class="caption">{_inline(caption)}</p>'
                out.append(title)
            out.append(_html_table(df, sortable))
        for kind in s["figures"]:
            if kind not in figs:
                if s["id"] == "figures":
                    out.append(f'<p class="caption">No {html.escape(kind)} figure: {_inline(_why_empty(data, kind))}'
                               "</p>")
                continue
            n_fig += 1
            b64 = base64.b64encode(figs[kind]).decode()
            out.append(f'<figure><div class="fig"><img alt="{html.escape(kind)} figure" '
                       f'src="data:image/png;base64,{b64}"></div><figcaption>Figure {n_fig}. '
                       f"{_inline(_fig_caption(kind))}</figcaption></figure>")
        out.append("</section>")
    out.append(f"</main><script>{_JS}</script></body></html>")
    return "\n".join(out) + "\n"


def render_markdown(built: dict) -> str:
    data: ReportData = built["data"]
    figs = built["figures"]
    secs = _sections(built)
    lines = ["# fer-bench report", "",
             f"Markdown twin of the HTML report ({len(data.runs)} run folders under `{data.results}`); the "
             f"{len(figs)} figures are embedded in the HTML file only.", ""]
    n_fig = 0
    for s in secs:
        lines += [f"## {s['title']}", ""]
        for p in s["paras"]:
            lines += [p, ""]
        if s.get("code"):
            lines += ["```bash", s["code"], "```", ""]
        for caption, df, _ in s["tables"]:
            if caption:
                lines += [f"### {caption}" if s["id"] == "tables" else f"_{caption}_", ""]
            lines += [df.to_markdown(index=False, disable_numparse=True) if df is not None and not df.empty
                      else "_No rows._", ""]
        for kind in s["figures"]:
            if kind in figs:
                n_fig += 1
                lines += [f"_Figure {n_fig} (in the HTML report): {_fig_caption(kind)}_", ""]
    return "\n".join(lines) + "\n"
