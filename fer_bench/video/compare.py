"""Model vs human raters on a video run's test videos (Keinert et al. 2025, Results and Tables 5-6).

Ratings come as a CSV, either long (``video,rater,label``: one row per rating) or wide (``video`` plus one column
per rater). Labels are read with the run's label set (for the binary task, emotion names are mapped to their
valence, and ``positive``/``negative`` are accepted as they are). Only videos that the run tested and every rater
rated are compared; the counts say how many were left out and why.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import FerBenchError
from . import stats
from .experiment import read_video_run
from .labels import VALENCE_CLASSES, get_label_set, to_valence


def _label_set(cfg: dict):
    name = cfg["label_set"]
    return get_label_set(name.split(",") if "," in name else name)


def read_ratings(path: str | Path) -> pd.DataFrame:
    """A videos x raters table (index = video id, values = raw labels) from a long or wide ratings CSV."""
    path = Path(path)
    if not path.is_file():
        raise FerBenchError(f"{path}: ratings file not found; pass a CSV video,rater,label (or video,<rater>...)")
    try:
        raw = pd.read_csv(path, dtype=str, skipinitialspace=True, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError):
        raise FerBenchError(f"{path}: not a readable CSV; pass ratings as video,rater,label") from None
    cols = {c.strip().lower(): c for c in raw.columns}
    video = next((cols[a] for a in ("video", "video_id", "clip", "file") if a in cols), None)
    if video is None:
        raise FerBenchError(f"{path}: no 'video' column (found {', '.join(raw.columns)}); name the video id column "
                            "'video'")
    if "rater" in cols and "label" in cols:
        long = raw[[video, cols["rater"], cols["label"]]].copy()
        long.columns = ["video", "rater", "label"]
        dup = long.duplicated(["video", "rater"])
        if dup.any():
            r = long[dup].iloc[0]
            raise FerBenchError(f"{path}: rater '{r['rater']}' rated video '{r['video']}' twice; keep one rating")
        wide = long.pivot(index="video", columns="rater", values="label")
    else:
        wide = raw.set_index(video)
        if wide.index.duplicated().any():
            raise FerBenchError(f"{path}: video '{wide.index[wide.index.duplicated()][0]}' listed twice")
    wide.index = wide.index.astype(str).str.strip()
    if wide.shape[1] < 1:
        raise FerBenchError(f"{path}: no rater columns; add one column per rater or use video,rater,label")
    return wide


def _code(labels, classes: list[str], task: str, ls, where: str) -> np.ndarray:
    """Class names in the run's coding (index into ``classes``)."""
    out = []
    for raw in labels:
        text = str(raw).strip().lower()
        if task == "binary":
            if text in VALENCE_CLASSES:
                out.append(VALENCE_CLASSES.index(text))
                continue
            if ls.canonical(text) is None:
                raise FerBenchError(f"{where}: label '{raw}' is neither a valence ({', '.join(VALENCE_CLASSES)}) nor "
                                    f"an emotion of label set '{ls.name}'")
            out.append(int(to_valence([text], ls)[0]))
        else:
            name = ls.canonical(text)
            if name is None or name not in classes:
                raise FerBenchError(f"{where}: unknown label '{raw}'; use one of {', '.join(classes)}")
            out.append(classes.index(name))
    return np.asarray(out, dtype=np.int64)


def compare_run_with_ratings(run_folder: str | Path, ratings_csv: str | Path, *, method: str | None = None,
                             seed: int | None = None, n_boot: int = 1000) -> dict:
    """Everything ``fer-bench video compare`` prints, plus a JSON-able copy under ``"json"``."""
    run = read_video_run(run_folder)
    cfg, metrics = run["config"], run["metrics"]
    classes = list(metrics["classes"])
    ls = _label_set(cfg)
    if method is None:
        method = max(metrics["methods"], key=lambda m: metrics["methods"][m]["val_uar"]["mean"])
    if method not in metrics["methods"]:
        raise FerBenchError(f"method '{method}' not in run {run['hash']}; use one of {', '.join(metrics['methods'])}")
    preds = pd.read_csv(Path(run_folder) / "predictions.csv", dtype={"video": str, "seed": str})
    preds = preds[preds["method"] == method]
    if method != "svm":
        seed = int(cfg["seeds"][0]) if seed is None else int(seed)
        preds = preds[preds["seed"].astype(str) == str(seed)]
    if preds.empty:
        raise FerBenchError(f"no test predictions for {method} seed {seed} in {run_folder}; pick another --seed")
    preds = preds.drop_duplicates("video").set_index("video")
    wide = read_ratings(ratings_csv)
    common = [v for v in preds.index if v in wide.index]
    rated_complete = [v for v in common if not wide.loc[v].isna().any() and (wide.loc[v].astype(str) != "").all()]
    if len(rated_complete) < 2:
        raise FerBenchError(f"{ratings_csv}: only {len(rated_complete)} of the run's {len(preds)} test videos are "
                            "rated by every rater; the video ids must match the labels file's")
    y_true = _code(preds.loc[rated_complete, "true"], classes, cfg["task"], ls, str(run_folder))
    y_model = _code(preds.loc[rated_complete, "pred"], classes, cfg["task"], ls, str(run_folder))
    table = pd.DataFrame({str(r): _code(wide.loc[rated_complete, r], classes, cfg["task"], ls, str(ratings_csv))
                          for r in wide.columns})
    idx = list(range(len(classes)))
    comp = stats.compare_with_raters(y_true, y_model, table, labels=idx)
    ci = {}
    tests = {}
    for who, yp in [("model", y_model), *((str(r), table[str(r)].to_numpy()) for r in wide.columns)]:
        ci[who] = {m: list(stats.bootstrap_ci(y_true, yp, m, n=n_boot, seed=0)) for m in ("accuracy", "uar")}
        tests[who] = {k: t.p_value for k, t in stats.chance_tests(y_true, yp, idx).items()}
    summary = stats.classification_summary([classes[i] for i in y_true], [classes[i] for i in y_model], classes)
    return {
        "run": run["hash"], "method": method, "seed": seed, "task": cfg["task"], "classes": classes,
        "n_videos": len(rated_complete), "n_test_videos": len(preds), "n_unrated": len(preds) - len(rated_complete),
        "raters": [str(r) for r in wide.columns], "performance": comp.performance, "agreement": comp.agreement,
        "ci95": ci, "p_vs_chance": tests, "model_per_class_recall": summary["per_class_recall"],
        "json": {
            "run": run["hash"], "method": method, "seed": seed, "n_videos": len(rated_complete),
            "performance": comp.performance.reset_index(names="who").to_dict(orient="records"),
            "agreement": comp.agreement.reset_index(names="statistic").to_dict(orient="records"),
            "ci95": ci, "p_vs_chance": tests,
        },
    }


AGREEMENT_NAMES = {
    "fleiss_raters": "Fleiss kappa among the raters (all ratings)",
    "fleiss_raters_correct": "Fleiss kappa among the raters on right/wrong",
    "cohen_model_vs_raters_mean": "Cohen kappa model vs each rater, mean",
    "cohen_model_vs_truth": "Cohen kappa model vs the true labels",
}


def print_comparison(report: dict, console) -> None:
    """Two narrow tables (they fit 80 columns) and the agreement statistics with plain names."""
    from rich.table import Table

    console.print(f"[bold]run {report['run']}[/]: {report['method']}"
                  + (f" seed {report['seed']}" if report["seed"] is not None else "")
                  + f" vs {len(report['raters'])} rater(s) on {report['n_videos']} test videos"
                  + (f" ({report['n_unrated']} not rated by everyone, left out)" if report["n_unrated"] else ""),
                  highlight=False)
    perf = report["performance"]
    who_rows = [w for w in perf.index if str(w) in report["ci95"]]
    t = Table(title="Accuracy and UAR (95 % bootstrap CI, 1000 resamples)", title_justify="left")
    for col in ("who", "accuracy", "95 % CI", "UAR", "95 % CI "):
        t.add_column(col, justify="left" if col == "who" else "right")
    for who in who_rows:
        row, ci = perf.loc[who], report["ci95"][str(who)]
        t.add_row(str(who), f"{row['accuracy']:.3f}", f"{ci['accuracy'][1]:.3f}-{ci['accuracy'][2]:.3f}",
                  f"{row['uar']:.3f}", f"{ci['uar'][1]:.3f}-{ci['uar'][2]:.3f}")
    for extra in ("raters_mean", "raters_sd"):
        if extra in perf.index:
            t.add_row(extra.replace("_", " "), f"{perf.loc[extra, 'accuracy']:.3f}", "",
                      f"{perf.loc[extra, 'uar']:.3f}", "")
    console.print(t)
    k = Table(title="Above chance? (one-sided binomial p) and agreement (Cohen kappa, Landis & Koch band)",
              title_justify="left")
    for col in ("who", "p vs 1/K", "p vs majority", "kappa vs truth", "kappa vs model", "band"):
        k.add_column(col, justify="left" if col in ("who", "band") else "right")
    for who in who_rows:
        row, p = perf.loc[who], report["p_vs_chance"][str(who)]
        vs_model = "" if pd.isna(row["kappa_vs_model"]) else f"{row['kappa_vs_model']:.3f}"
        k.add_row(str(who), f"{p['uniform']:.2g}", f"{p['majority']:.2g}", f"{row['kappa_vs_truth']:.3f}", vs_model,
                  str(row["kappa_vs_model_agreement"]) if vs_model else "")
    console.print(k)
    a = Table(title="Agreement", title_justify="left")
    for col in ("statistic", "kappa", "band"):
        a.add_column(col, justify="right" if col == "kappa" else "left")
    for name, row in report["agreement"].iterrows():
        a.add_row(AGREEMENT_NAMES.get(str(name), str(name)), f"{row['kappa']:.3f}", str(row["agreement"]))
    console.print(a)
