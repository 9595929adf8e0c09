"""``DIR/report.json`` and ``DIR/report.md``: counts per class at every stage, and every rejection with its reason.

Stages (each a subset of the previous one):

``found``            image files listed in SRC
``readable``         decoded (the rest: reason ``unreadable``)
``face_detected``    the detector found at least one face (the rest: ``no_face``)
``passed``           one face passes ``--min-confidence``/``--min-face``/``--multi-face``
                     (rejections: ``low_confidence``, ``too_small``, ``multiple_faces``)
``after_dedup``      near-duplicates removed (``duplicate``, ``cross_label_duplicate``)
``after_exclusions`` faces listed in ``--exclude`` removed (``excluded``)
``selected``         the balanced sample written to ``DIR/<class>/``

Both files are deterministic (no timestamps or timings: those go to the console and ``.btfer/last_run.json``),
so two builds from the same SRC, seed and exclusions write identical reports.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

STAGES = ("found", "readable", "face_detected", "passed", "after_dedup", "after_exclusions", "selected")
REASONS = (
    "unreadable",
    "no_face",
    "low_confidence",
    "too_small",
    "multiple_faces",
    "duplicate",
    "cross_label_duplicate",
    "excluded",
)
MD_REJECTION_LIMIT = 300


def short_classes_message(report: dict[str, Any], per_class: int) -> str:
    """One line naming every class with too few faces, its counts per stage, and the fixes."""
    parts = []
    for cls, have in report["short_classes"].items():
        c = report["counts"][cls]
        stages = ", ".join(f"{s} {c[s]}" for s in STAGES[:-1])
        parts.append(f"{cls} has {have} ({stages})")
    return (
        f"too few usable faces for --per-class {per_class}: {'; '.join(parts)}; add photos to those class "
        f"folders, lower --per-class, or pass --allow-short (details in {report.get('report_md', 'report.md')})"
    )


def write_report(out: Path, report: dict[str, Any]) -> tuple[Path, Path]:
    """Write report.json and report.md into ``out``; returns their paths."""
    jpath, mpath = out / "report.json", out / "report.md"
    jpath.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    mpath.write_text(render_markdown(report), encoding="utf-8")
    return jpath, mpath


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(v) for v in r) + " |" for r in rows]
    return lines


def render_markdown(report: dict[str, Any]) -> str:
    """The human-readable report."""
    classes = report["classes"]
    p = report["params"]
    lines = [
        "# BTFER-style test set build report",
        "",
        f"Status: **{report['status']}**",
        "",
        (
            f"Source: `{report['source']['path']}` ({report['source']['kind']}); "
            f"detector {p['detector']} (confidence >= {p['min_confidence']}, face >= {p['min_face']} px, "
            f"multi-face: {p['multi_face']}); crop = square box + {p['margin']} px margin, resized to "
            f"{p['size']}x{p['size']}; dedup: phash Hamming <= {p['dedup_threshold']}; "
            f"{p['per_class']} per class, seed {p['seed']}."
        ),
        "",
        "## Counts per stage",
        "",
    ]
    rows = [[cls] + [report["counts"][cls][s] for s in STAGES] for cls in classes]
    rows.append(["**total**"] + [report["totals"][s] for s in STAGES])
    lines += _table(["class", *STAGES], rows)
    lines += ["", "## Rejections by reason", ""]
    rrows = [[cls] + [report["rejections"][cls].get(r, 0) for r in REASONS] for cls in classes]
    lines += _table(["class", *REASONS], rrows)
    if report["short_classes"]:
        lines += ["", "## Classes with too few faces", ""]
        lines += [f"- {c}: {n} of {p['per_class']}" for c, n in report["short_classes"].items()]
    if report["cross_label_duplicates"]:
        lines += ["", "## Duplicates with conflicting labels (all copies dropped)", ""]
        for g in report["cross_label_duplicates"]:
            lines.append("- " + "; ".join(f"`{m['source']}` ({m['class']})" for m in g))
    ex = report["exclusions"]
    if ex["entries"]:
        lines += ["", "## Exclusions", "", f"{ex['entries']} entries, {ex['matched']} matched."]
        if ex["unmatched"]:
            lines.append(
                "Unmatched (no such output name or source): " + ", ".join(f"`{u}`" for u in ex["unmatched"])
            )
    if report.get("clamped"):
        lines += [
            "",
            f"{report['clamped']} selected crop(s) touch the image border (`clamped` in manifest.csv).",
        ]
    if report["source"].get("notes"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in report["source"]["notes"]]
    rej = report["rejected"]
    lines += ["", f"## Rejected photos ({len(rej)})", ""]
    for r in rej[:MD_REJECTION_LIMIT]:
        detail = f" - {r['detail']}" if r.get("detail") else ""
        lines.append(f"- `{r['source']}` ({r['class']}): {r['reason']}{detail}")
    if len(rej) > MD_REJECTION_LIMIT:
        lines.append(f"- ... {len(rej) - MD_REJECTION_LIMIT} more in report.json")
    lines += [
        "",
        "## Manual clean-up",
        "",
        (
            "Review the contact sheets in `_sheets/`, write the names of faces to reject (one per line, e.g. "
            "`angry/angry_0123456789.jpg`; `#` comments allowed) into a text file, and re-run the same command "
            "with `--exclude FILE`. Excluded faces are replaced by unused ones; every other file keeps its name "
            "and bytes."
        ),
        "",
    ]
    return "\n".join(lines)
