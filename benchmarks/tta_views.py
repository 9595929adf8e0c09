"""Which test-time views help a trained model, measured on the validation carve of its OWN run (never on a test split).

Each model is scored on the rows its run held out of training (the same stratified carve of the training split
the run drew, rebuilt from the run's config), with every named view set of
``fer_bench.models.layers.VIEW_SETS`` (one view, flip, flip+zoom, flip+shift, flip+shift+zoom), through the same
:class:`ViewAverage` layer that ``fer-bench ensemble --views`` saves in a file. The choice of view set for a
shipped file or a distillation teacher is made on these figures.

    python benchmarks/tta_views.py RUN0/model.keras RUN1/model.keras --data ../shared/data/fer2013

A model inside its run folder brings its own config (seed, carve fraction, colour, subset; a paper-protocol run
has no carve and is refused); a file elsewhere is written ``FILE:SEED`` (the seed of the run that trained it;
the default ``--val-fraction`` and colour are then assumed). Writes
``results/benchmarks/tta_views.{json,md}`` (``--out``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

if __package__:
    from . import harness
else:  # run as a file: python benchmarks/tta_views.py
    import harness


def run_config(model_path: Path, seed: int | None, data: Path, val_fraction: float):
    """The RunConfig whose carve is wanted: the run's own config.json when the file sits in its run folder (seed,
    fraction, colour, subset as trained), else the defaults with the SEED given on the command line (``res`` is
    then replaced by the model's input size once it is loaded). Checked before any model is loaded."""
    import json

    from fer_bench.protocol.config import RunConfig

    cfg_file = Path(model_path).resolve().parent / "config.json"
    if cfg_file.is_file():
        cfg = RunConfig.from_dict(json.loads(cfg_file.read_text()))
        if cfg.protocol == "paper":
            raise SystemExit(f"{model_path}: a paper-protocol run validated on the test split; it has no carve")
        if seed is not None and seed != cfg.seed:
            raise SystemExit(f"{model_path}: its run was trained with seed {cfg.seed}, not {seed}; drop :SEED")
        trained_on = Path(cfg.train.rstrip("/")).name
        if trained_on != Path(data).resolve().name:
            raise SystemExit(f"{model_path}: its run trained on {cfg.train}, not {data}; pass --data with that "
                             "dataset so the carve is its own")
        return cfg.replace(train=str(data))
    if seed is None:
        raise SystemExit(f"{model_path}: not in a run folder (no config.json beside it); write FILE:SEED")
    return RunConfig(model="lenet5", res=48, train=str(data), seed=seed, val_fraction=val_fraction)


def _run_hash(model_path: Path) -> str | None:
    """The config hash of the run folder the model sits in (None for a loose file)."""
    import json

    cfg_file = Path(model_path).resolve().parent / "config.json"
    return json.loads(cfg_file.read_text()).get("config_hash") if cfg_file.is_file() else None


def carve(data: Path, cfg):
    """(images, labels) of the validation carve the run of *cfg* drew from the training split."""
    from fer_bench.data.cache import decode_split
    from fer_bench.protocol.run import _open, _train_and_test_splits, split_indices

    src = _open(str(data))
    train_split, test_split = _train_and_test_splits(src)
    cache = decode_split(src, train_split, cfg.res, color=cfg.color, resize="area")
    _, val_idx, _ = split_indices(cache.labels, cfg, carve_test=test_split is None)
    x = np.asarray(cache.images[val_idx], dtype=np.float32)
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    return x, cache.labels[val_idx].astype(np.int64)


def score_views(model_path: Path, cfg, data: Path, batch: int) -> dict:
    import keras

    from fer_bench.models.layers import VIEW_SETS, ViewAverage
    from fer_bench.models.loading import load_keras

    model = load_keras(model_path)
    if _run_hash(model_path) is None:  # a loose FILE:SEED: the model's own input size
        cfg = cfg.replace(res=int(model.input_shape[1]))
    x, y = carve(data, cfg)
    out = {"model": model_path.name, "carve_seed": cfg.seed, "val_fraction": cfg.val_fraction, "color": cfg.color,
           "run": _run_hash(model_path), "n": int(len(y)), "views": {}}
    t = time.perf_counter()
    p = model.predict(x, batch_size=batch, verbose=0)
    out["views"]["one view"] = {"passes": 1, "accuracy": float(np.mean(p.argmax(1) == y))}
    for name in VIEW_SETS:
        inp = keras.Input(x.shape[1:])
        wrapped = keras.Model(inp, ViewAverage(model, name)(inp))
        p = wrapped.predict(x, batch_size=batch, verbose=0)
        out["views"][name] = {"passes": 2 * len(VIEW_SETS[name]), "accuracy": float(np.mean(p.argmax(1) == y))}
    out["seconds"] = round(time.perf_counter() - t, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+", help="a run folder's model.keras, or FILE:SEED (the seed of the run that trained FILE)")
    ap.add_argument("--data", type=Path, default=harness.DEFAULT_DATA)
    ap.add_argument("--val-fraction", type=float, default=0.1, help="carve fraction of a loose FILE:SEED's run")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--out", type=Path, default=harness.RESULTS)
    a = ap.parse_args(argv)
    if not harness.check_data(a.data):
        return 0
    harness.quiet_tf()
    plan = []
    for spec in a.models:  # every spec checked before the first (slow) model is scored
        path, _, seed = spec.rpartition(":")
        if not path or not seed.isdigit():  # FILE alone: a run folder's model.keras (its config gives the seed)
            path, seed = spec, None
        plan.append((Path(path), run_config(Path(path), None if seed is None else int(seed), a.data, a.val_fraction)))
    rows = []
    for path, cfg in plan:
        harness.say(f"{path}: scoring the views on the carve of its run (seed {cfg.seed}, {cfg.val_fraction:.0%})")
        rows.append(score_views(path, cfg, a.data, a.batch))
    names = list(rows[0]["views"])
    md = [f"# Test-time views on each model's own validation carve ({a.data.name})",
          "", "Accuracy on the rows the model's run held out of training (its carve), never on a test split; "
          "passes = forward passes per face (each view is also taken flipped).", "",
          "| model | carve seed | carve fraction | n | "
          + " | ".join(f"{v} ({rows[0]['views'][v]['passes']})" for v in names) + " |",
          "|---|---|---|---|" + "---|" * len(names)]
    for r in rows:
        md.append(f"| {r['model']} | {r['carve_seed']} | {r['val_fraction']:.0%} | {r['n']} | "
                  + " | ".join(f"{r['views'][v]['accuracy']:.4f}" for v in names) + " |")
    data = {"rows": rows, "data": str(a.data), "machine": harness.machine_info()}
    harness.write_results(a.out, "tta_views", data, "\n".join(md))
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
