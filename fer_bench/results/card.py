"""Model card of an exported model, written from its run folder (config, run record, metrics).

Why: a shipped ``.keras`` file says nothing about the data, protocol, label order or scores behind it; the
card is generated from the run's own records, so it cannot drift from what was measured.
"""

from __future__ import annotations

import json
from pathlib import Path


def run_folder_of(model_path: Path) -> Path | None:
    """The run folder a ``model.keras`` came from, or None when the file is not inside one."""
    d = Path(model_path).resolve().parent
    return d if all((d / f).is_file() for f in ("config.json", "run.json", "metrics.json")) else None


def write_card(run_dir: Path, exported: Path, export_summary: dict, evaluation: dict | None = None) -> Path:
    """Write ``<exported stem>.card.md`` and ``.card.json`` beside *exported*; returns the markdown path."""
    cfg = json.loads((run_dir / "config.json").read_text())
    run = json.loads((run_dir / "run.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    wanted = ("n", "accuracy", "uar", "f1", "top2_accuracy", "dataset", "split")
    wanted = ("n", "accuracy", "uar", "f1", "top2_accuracy", "dataset", "split")
    card = {"model_file": exported.name, "architecture": cfg["model"],
            "input": f"{cfg['res']}x{cfg['res']} RGB, raw pixel values 0..255 (grey faces: the grey value in all "
                     "three channels); preprocessing is inside the model",
            "label_order": run.get("label_names"), "config": cfg, "config_hash": cfg.get("config_hash"),
            "data": run.get("data"), "validation": run.get("validation"), "recipe": run.get("recipe"),
            "learning_rate": run.get("learning_rate"), "best_epoch": run.get("best"),
            "epochs_run": run.get("epochs_run"), "fit_seconds": run.get("fit_seconds"), "params": run.get("params"),
            "versions": run.get("versions"), "init_from": run.get("init_from"), "teacher": run.get("teacher"),
            "precision": run.get("precision"),
            "run_metrics": {k: {m: v.get(m) for m in wanted} for k, v in metrics.items() if isinstance(v, dict)},
            "export": export_summary, "evaluation_of_exported_file": evaluation}
    card = _portable(card)
    cfg = card["config"]
    base = exported.with_suffix("")
    Path(str(base) + ".card.json").write_text(json.dumps(card, indent=2, default=str) + "\n")
    lines = [f"# Model card: {exported.name}", "",
             f"* **Architecture**: `{cfg['model']}` (fer-bench registry), {card['params']} parameters"
             + (", horizontal-flip test-time augmentation built in" if export_summary.get("flip_tta") else ""),
             f"* **Input**: {card['input']}.",
             f"* **Output**: softmax over {len(card['label_order'] or [])} classes in this order: "
             f"{', '.join(card['label_order'] or [])}.",
             f"* **Training data**: `{cfg['train']}` ({run.get('n_fit')} images for fitting, {run.get('n_val')} "
             f"for validation: {run.get('validation')}). The test split was not used for any choice.",
             f"* **Protocol / recipe**: `{cfg['protocol']}` / `{cfg['recipe']}`, learning rate "
             f"{run.get('learning_rate')}, epoch cap {cfg['epochs']}, batch {cfg['batch_size']}, class weights "
             f"`{cfg['balance']}`, seed {cfg['seed']}; best-on-validation epoch {run.get('best')}, fit time "
             f"{run.get('fit_seconds', 0):.0f} s.",
             *([f"* **Continued training**: initialised from `{card['init_from']['file']}` (sha256 "
                f"`{card['init_from']['sha256']}`), then trained for the epochs above: `--init-from`."]
               if card.get("init_from") else []),
             *_distillation_lines(card.get("teacher"), cfg.get("teacher_weight")),
             *_precision_lines(card.get("precision"), export_summary),
             f"* **Run**: config hash `{cfg.get('config_hash')}`; versions: "
             + ", ".join(f"{k} {v}" for k, v in (run.get("versions") or {}).items()), "",
             "## Scores", "", "| measured by | data | split | n | accuracy | UAR | macro F1 |",
             "|---|---|---|---|---|---|---|"]
    for name, m in card["run_metrics"].items():
        lines.append(f"| the run ({name}) | {m.get('dataset')} | {m.get('split')} | {m.get('n')} | "
                     f"{m.get('accuracy'):.4f} | {m.get('uar'):.4f} | {m.get('f1'):.4f} |")
    if evaluation:
        lines.append(_evaluation_row("`fer-bench evaluate` on this file", evaluation))
    return _write_md(base, lines + [""])


def _distillation_lines(teacher: dict | None, config_weight: float | None = None) -> list[str]:
    """The card's knowledge-distillation bullet (empty for a run trained on its labels alone)."""
    if not teacher:
        return []
    w = float(teacher.get("weight") or config_weight or 0.5)  # the --teacher-weight default
    trained_on = teacher.get("teacher_trained_on")
    fit_acc = teacher.get("teacher_accuracy_on_fit_images")
    facts = [f"sha256 `{str(teacher.get('sha256'))[:12]}`"]
    if fit_acc is not None:
        facts.append(f"{float(fit_acc):.3f} accuracy on the fit images, a training-data figure")
    if trained_on:
        facts.append(f"the teacher was trained on {', '.join(map(str, trained_on))}")
    return [f"* **Knowledge distillation**: each fit image's target was {1 - w:g} x its label + {w:g} x the "
            f"softmax output of the teacher `{teacher.get('file')}` ({'; '.join(facts)}). Validation and test "
            "images were scored on their labels only: `--teacher`."]


def _precision_lines(precision: str | None, export_summary: dict) -> list[str]:
    """The card's precision bullet for a run trained under bf16 / mixed (empty for float32)."""
    if precision in (None, "float32"):
        return []
    check = export_summary.get("max_abs_diff_float32")
    return [f"* **Precision**: trained under `--precision {precision}`; this file computes in float32"
            + (f" (largest softmax difference from the trained model on the check images: {check:.1e})"
               if check is not None else "") + "."]


#: the closing section of every card
LIMITS = ["## Limits", "",
          "Trained on FER2013-style faces (48 px grey, mostly frontal web images); accuracy drops on other "
          "domains (see the cross-domain columns of the leaderboard). It recognises displayed expressions, not "
          "felt emotions; see the README's responsible-use section before any use on people."]


def _portable(card: dict) -> dict:
    """The card without absolute paths of the machine that wrote it: every absolute path string is cut to its
    last component (a member is still identified by file name, sha256 and config hash)."""
    from ..deploy.meta import scrub_paths

    return scrub_paths(card)


def _evaluation_row(label: str, evaluation: dict) -> str:
    return (f"| {label} | {evaluation.get('dataset')} | {evaluation.get('split')} | {evaluation.get('n')} | "
            f"{evaluation['accuracy']:.4f} | {evaluation['uar']:.4f} | {evaluation['f1']:.4f} |")


def _write_md(base: Path, lines: list[str]) -> Path:
    md = Path(str(base) + ".card.md")
    md.write_text("\n".join(lines + LIMITS) + "\n")
    return md


def _member_record(path: Path) -> dict:
    """What is known about one ensemble member: its run folder's records, else its own card, else nothing."""
    path = Path(path)
    run_dir = run_folder_of(path)
    if run_dir is not None:
        cfg = json.loads((run_dir / "config.json").read_text())
        run = json.loads((run_dir / "run.json").read_text())
        metrics = json.loads((run_dir / "metrics.json").read_text())
        return {"source": "run folder", "config": cfg, "config_hash": cfg.get("config_hash"),
                "best_epoch": run.get("best"), "epochs_run": run.get("epochs_run"),
                "fit_seconds": run.get("fit_seconds"), "validation": run.get("validation"),
                "data": run.get("data"), "init_from": run.get("init_from"), "versions": run.get("versions"),
                "label_order": run.get("label_names"),
                "run_metrics": {k: {m: v.get(m) for m in ("n", "accuracy", "uar", "f1", "dataset", "split")}
                                for k, v in metrics.items() if isinstance(v, dict)}}
    card = path.with_suffix("").with_name(path.stem + ".card.json")
    if card.is_file():
        return {"source": "model card", **json.loads(card.read_text())}
    return {"source": "none (not in a run folder and no card beside it)"}


def _best_epoch(best) -> str:
    """'8' from a run's {'full': {'epoch': 8, ...}} record (phase names kept when there are several)."""
    if isinstance(best, dict):
        parts = {k: v.get("epoch") for k, v in best.items() if isinstance(v, dict)}
        return ", ".join(str(e) if len(parts) == 1 else f"{k} {e}" for k, e in parts.items()) or "-"
    return "-" if best is None else str(best)


def _tta_text(summary: dict) -> str:
    views = summary.get("views")
    if views and views != "flip":
        from ..models.layers import view_names

        return (f", each averaged over {2 * len(view_names(views))} test-time views ({views}: "
                f"{', '.join(view_names(views))}, each also flipped)")
    return ", each with horizontal-flip test-time augmentation" if summary.get("flip_tta") else ""


def write_ensemble_card(exported: Path, summary: dict, evaluation: dict | None = None) -> Path:
    """Card of a `fer-bench ensemble` file: each member's records, the conversion check, the file's scores."""
    members = [{**m, "record": _member_record(Path(m["file"]))} for m in summary["members"]]
    labels = next((m["record"].get("label_order") for m in members if m["record"].get("label_order")), None)
    card = {"model_file": exported.name, "kind": "ensemble (mean of member softmax outputs)", "label_order": labels,
            "input": "RGB, raw pixel values 0..255 (grey faces: the grey value in all three channels); "
                     "preprocessing is inside each member",
            "members": members, "export": summary, "evaluation_of_exported_file": evaluation}
    card = _portable(card)
    members = card["members"]
    base = exported.with_suffix("")
    Path(str(base) + ".card.json").write_text(json.dumps(card, indent=2, default=str) + "\n")
    lines = [f"# Model card: {exported.name}", "",
             f"* **Kind**: ensemble of {len(members)} fer-bench models, softmax outputs averaged"
             + _tta_text(summary)
             + f"; weights stored and computed in {summary['dtype']} ({summary['params']} parameters, "
             f"{summary['bytes'] / 1e6:.1f} MB). Largest difference from the float32 members on "
             f"{summary['check_images']} check images: {summary['max_abs_diff_vs_float32_members']:.1e} "
             "(softmax probability).",
             "* **Input**: " + card["input"] + ".",
             f"* **Output**: softmax in this order: {', '.join(labels) if labels else 'see the members'}.", "",
             "## Members", "", "| # | file (sha256) | architecture | config hash | seed | recipe | epochs (best) "
             "| init from | run's own score |", "|---|---|---|---|---|---|---|---|---|"]
    for i, m in enumerate(members):
        rec, cfg = m["record"], m["record"].get("config") or {}
        scores = "; ".join(f"{v.get('split')} acc {v.get('accuracy'):.4f} UAR {v.get('uar'):.4f}"
                           for v in (rec.get("run_metrics") or {}).values() if v.get("accuracy") is not None)
        init = rec.get("init_from") or {}
        lines.append(f"| {i} | `{Path(m['file']).name}` (`{m['sha256'][:12]}`) | {m['architecture']} | "
                     f"`{rec.get('config_hash', '-')}` | {cfg.get('seed', '-')} | {cfg.get('recipe', '-')} | "
                     f"{rec.get('epochs_run', '-')} ({_best_epoch(rec.get('best_epoch'))}) | "
                     f"{('`' + Path(init['file']).name + '`') if init else '-'} | {scores or '-'} |")
    datas = {str((m["record"].get("config") or {}).get("train")) for m in members}
    lines += ["", f"Training data of the members: {', '.join(sorted(datas))}; each member's validation split was "
              "carved from its training data with its own seed, and no test split was used for any choice.", ""]
    if evaluation:
        lines += ["## Scores of this file", "", "| measured by | data | split | n | accuracy | UAR | macro F1 |",
                  "|---|---|---|---|---|---|---|", _evaluation_row("`fer-bench evaluate`", evaluation), ""]
    return _write_md(base, lines)
