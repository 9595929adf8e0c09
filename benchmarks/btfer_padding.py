"""Face detection rate of build-btfer on pre-cropped faces: no padding (old) vs padded detection (new default).

MTCNN often finds no face when the face fills the whole frame (photos already cropped to the face). The
detector spec's ``pad`` / ``pad_policy`` / ``pad_fill`` (:mod:`fer_bench.btfer.detect`) add a border around
the image before detecting. This script measures how many faces each setting finds.

Images: N seeded images per class from a folder of class folders (default: FER2013 ``val``, 48x48 grey face
crops), each upscaled to 350x350 with bicubic interpolation and converted to 3 channels. This is a *stand-in*
for 350x350 in-the-wild face photos: the faces are real and tightly cropped, but blurrier than a real 350-px
photo. Nothing is written except the results; no image is copied anywhere.

Every image goes through :func:`fer_bench.btfer.detect.detect_image` (the real MTCNN, or ``--detector haar``,
as build-btfer calls it: downscaled for ``--min-face``, one image per call) once per setting, settings
interleaved image by image so machine load affects them alike. Reported per class and overall:

* ``found``: the detector returned at least one face;
* ``kept``: a face passes build-btfer's default selection (``--min-confidence 0.9``, ``--min-face 40``);
* seconds per image (wall clock, detector warm) and, for padded settings, how many images needed the padded
  pass (``retry``) and how many kept boxes were clipped at the image border.

Writes ``results/benchmarks/btfer_padding.json`` and ``.md`` (``--out`` to change). Exits 0 with a message
when the data folder is missing.

    python benchmarks/btfer_padding.py                          # 7 classes x 30 images, old vs new default
    python benchmarks/btfer_padding.py --per-class 10 --also 0.5:retry:replicate --also 0.25:always:black
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cv2
import numpy as np

from fer_bench.btfer.crop import choose_face
from fer_bench.btfer.detect import DETECTORS, DetectorSpec, detect_image, detection_image, make_detector

DATA = REPO.parent / "shared" / "data" / "fer2013" / "val"
OUT = REPO / "results" / "benchmarks"
SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
MIN_CONFIDENCE, MIN_FACE = 0.9, 40  # build-btfer's defaults (BuildConfig)
#: compared besides old and new default: padding always, a wider border, black fill
DEFAULT_ALSO = ["0.25:always:replicate", "0.5:retry:replicate", "0.25:retry:black"]


def setting_name(spec: DetectorSpec) -> str:
    return "no padding (old)" if not spec.pad else f"pad {spec.pad:g} {spec.pad_policy} {spec.pad_fill}"


def parse_setting(text: str, base: DetectorSpec) -> DetectorSpec:
    """``PAD[:POLICY[:FILL]]`` -> a spec like ``base`` with those padding settings."""
    parts = text.split(":")
    kw = {"pad": float(parts[0])}
    if len(parts) > 1:
        kw["pad_policy"] = parts[1]
    if len(parts) > 2:
        kw["pad_fill"] = parts[2]
    return DetectorSpec(**{**asdict(base), **kw})


def sample(data: Path, per_class: int, seed: int) -> list[tuple[str, Path]]:
    rng = np.random.default_rng(seed)
    out = []
    for cdir in sorted(p for p in data.iterdir() if p.is_dir()):
        files = sorted(p for p in cdir.iterdir() if p.suffix.lower() in SUFFIXES)
        if not files:
            continue
        pick = rng.choice(len(files), size=min(per_class, len(files)), replace=False)
        out += [(cdir.name, files[i]) for i in sorted(pick)]
    return out


def load(path: Path, size: int) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)  # grey PNGs come back as 3 equal channels
    if img is None:
        raise SystemExit(f"cannot read {path}")
    img = cv2.resize(img, (size, size), interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))


def iou(a: list[float], b: list[float]) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def _iou_stats(v: list[float]) -> dict:
    if not v:
        return {"n": 0}
    return {"n": len(v), "median": round(float(np.median(v)), 4), "min": round(float(min(v)), 4)}


def _rate(n: int, d: int) -> float:
    return round(n / d, 4) if d else 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA, help="folder of class folders (default: FER2013 val)")
    ap.add_argument("--per-class", type=int, default=30)
    ap.add_argument("--size", type=int, default=350, help="side the images are upscaled to (bicubic)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="PAD[:POLICY[:FILL]]",
        help=f"extra padding setting to compare, repeatable (default: {' '.join(DEFAULT_ALSO)}; 'none': no extra)",
    )
    ap.add_argument("--detector", choices=DETECTORS, default="mtcnn")
    ap.add_argument(
        "--out",
        type=Path,
        default=OUT,
        help="folder for btfer_padding.json/.md (--detector haar: btfer_padding_haar.*)",
    )
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(f"data folder {args.data} not found; nothing measured")
        return 0

    new = DetectorSpec(args.detector)
    old = DetectorSpec(**{**asdict(new), "pad": 0.0})
    also = [t for t in (args.also or DEFAULT_ALSO) if t != "none"]
    specs = []
    for spec in [old, new] + [parse_setting(t, new) for t in also]:
        if spec not in specs:
            specs.append(spec)
    names = [setting_name(s) for s in specs]
    items = sample(args.data, args.per_class, args.seed)
    classes = sorted({c for c, _ in items})
    load0 = os.getloadavg()
    print(
        f"{len(items)} images ({args.per_class} per class, seed {args.seed}) from {args.data}, "
        f"upscaled to {args.size} px (bicubic) as a stand-in for {args.size}-px face photos"
    )
    t0 = time.perf_counter()
    detector = make_detector(args.detector)
    startup_s = time.perf_counter() - t0
    calls: list[tuple[int, ...]] = []

    def detect(img: np.ndarray) -> list:
        calls.append(img.shape)  # which images the detector saw (plain or padded)
        return detector(img)

    per: dict[str, dict] = {
        n: {"found": {}, "kept": {}, "seconds": 0.0, "padded_pass": 0, "kept_clipped": 0, "iou_old": []} for n in names
    }
    for i, (cls, path) in enumerate(items):
        rgb = load(path, args.size)
        h, w = rgb.shape[:2]
        plain_shape = detection_image(rgb, old)[0].shape
        old_box = None
        for spec, n in zip(specs, names, strict=True):
            calls.clear()
            t = time.perf_counter()
            faces, note = detect_image(rgb, spec, detect)
            per[n]["seconds"] += time.perf_counter() - t
            if note:
                print(f"  {path.name}: {note}")
            per[n]["padded_pass"] += any(shape != plain_shape for shape in calls)
            idx, _ = choose_face(faces, min_confidence=MIN_CONFIDENCE, min_face=MIN_FACE)
            per[n]["found"].setdefault(cls, 0)
            per[n]["kept"].setdefault(cls, 0)
            per[n]["found"][cls] += bool(faces)
            per[n]["kept"][cls] += idx is not None
            if idx is not None:
                x, y, bw, bh = faces[idx]["box"]
                if x <= 0 or y <= 0 or x + bw >= w or y + bh >= h:
                    per[n]["kept_clipped"] += 1
                if spec == old:
                    old_box = faces[idx]["box"]
                elif old_box is not None:
                    per[n]["iou_old"].append(iou(old_box, faces[idx]["box"]))
        if (i + 1) % 35 == 0 or i + 1 == len(items):
            done = ", ".join(f"{n}: {sum(per[n]['found'].values())}" for n in names)
            print(f"  {i + 1}/{len(items)} images; faces found - {done}")
    load1 = os.getloadavg()

    n_cls = {c: sum(1 for k, _ in items if k == c) for c in classes}
    settings = []
    for spec, n in zip(specs, names, strict=True):
        p = per[n]
        settings.append(
            {
                "name": n,
                "spec": asdict(spec),
                "cache_key": spec.key(),
                "found": {c: p["found"].get(c, 0) for c in classes},
                "kept": {c: p["kept"].get(c, 0) for c in classes},
                "found_rate": _rate(sum(p["found"].values()), len(items)),
                "kept_rate": _rate(sum(p["kept"].values()), len(items)),
                "found_rate_per_class": {c: _rate(p["found"].get(c, 0), n_cls[c]) for c in classes},
                "kept_rate_per_class": {c: _rate(p["kept"].get(c, 0), n_cls[c]) for c in classes},
                "seconds_per_image": round(p["seconds"] / len(items), 4),
                "images_with_padded_pass": p["padded_pass"],
                "kept_boxes_clipped": p["kept_clipped"],
                "iou_with_old_kept_box": _iou_stats(p["iou_old"]) if spec != old else None,
            }
        )
    result = {
        "what": f"{args.detector} face detection rate on pre-cropped faces, without and with padding (build-btfer)",
        "images": (
            f"{len(items)} FER-style face crops ({args.per_class} per class, seed {args.seed}) from {args.data}, "
            f"upscaled to {args.size}x{args.size} with bicubic interpolation: a stand-in for {args.size}-px "
            "in-the-wild face photos (real, tightly cropped faces, but blurrier)"
        ),
        "command": " ".join(["python benchmarks/btfer_padding.py", *(sys.argv[1:] if argv is None else argv)]),
        "per_class": args.per_class,
        "seed": args.seed,
        "size": args.size,
        "classes": n_cls,
        "selection": {"min_confidence": MIN_CONFIDENCE, "min_face": MIN_FACE},
        "detector": args.detector,
        "detector_startup_s": round(startup_s, 2),
        "settings": settings,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "loadavg_start": [round(v, 2) for v in load0],
            "loadavg_end": [round(v, 2) for v in load1],
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "btfer_padding" if args.detector == "mtcnn" else f"btfer_padding_{args.detector}"
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    md = render_md(result)
    (args.out / f"{stem}.md").write_text(md)
    print()
    print(md)
    return 0


def _iou_md(st: dict | None) -> str:
    if not st:
        return "-"
    if not st["n"]:
        return "n=0"
    return f"{st['median']:.3f} (min {st['min']:.3f}, n={st['n']})"


def render_md(r: dict) -> str:
    classes = list(r["classes"])
    lines = [
        "# build-btfer: face detection on pre-cropped faces, without and with padding",
        "",
        f"Images: {r['images']}.",
        "",
        f"Command: `{r['command']}`.",
        "",
        f"Detector: {r['detector']} through `detect_image` (as build-btfer calls it). `found`: at least one face; "
        f"`kept`: a face passes build-btfer's default selection (confidence >= {r['selection']['min_confidence']}, "
        f"face >= {r['selection']['min_face']} px). Seconds per image: wall clock, detector warm "
        f"(start-up {r['detector_startup_s']} s not included), {r['machine']['cpus']} CPUs, load average "
        f"{r['machine']['loadavg_start'][0]} at start, {r['machine']['loadavg_end'][0]} at end.",
        "",
        "| setting | cache key | found | kept | s / image | padded pass | kept boxes clipped | IoU with old box |",
        "|---|---|---|---|---|---|---|---|",
    ]
    n = sum(r["classes"].values())
    for s in r["settings"]:
        lines.append(
            f"| {s['name']} | `{s['cache_key']}` | {sum(s['found'].values())}/{n} ({s['found_rate']:.1%}) | "
            f"{sum(s['kept'].values())}/{n} ({s['kept_rate']:.1%}) | {s['seconds_per_image']:.3f} | "
            f"{s['images_with_padded_pass']} | {s['kept_boxes_clipped']} | {_iou_md(s['iou_with_old_kept_box'])} |"
        )
    lines += ["", "Per class, faces found (kept) / images:", ""]
    lines.append("| setting | " + " | ".join(classes) + " |")
    lines.append("|---|" + "---|" * len(classes))
    for s in r["settings"]:
        cells = [f"{s['found'][c]} ({s['kept'][c]}) / {r['classes'][c]}" for c in classes]
        lines.append(f"| {s['name']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "`padded pass`: images on which the detector ran on the padded image (`retry`: only those where the "
        "plain image gave no face). `kept boxes clipped`: kept faces whose box touches the image border after "
        "mapping back (boxes are clipped to the image; crop.py clamps the crop box there). `IoU with old box`: "
        "on images where both the old setting and this one kept a face, intersection over union of the two "
        "kept boxes (median, minimum over n images): for `always` settings a check that boxes found in the padded "
        "image map back onto the face; `retry` settings reuse the plain result wherever the old setting found "
        "a face, so theirs is 1.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
