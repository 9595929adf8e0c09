"""build-btfer: raw photos in, a balanced folder-per-class face test set out (BTFER: Ipinze Tutuianu et al. 2024, §2).

Pipeline: scan SRC -> hash -> detect (cached) -> choose one face -> square crop + margin -> phash -> dedup ->
exclusions -> seeded balanced sample -> write ``DIR/<class>/*.jpg`` + ``manifest.csv`` + reports + contact
sheets. See the module docstrings of :mod:`.crop`, :mod:`.detect`, :mod:`.dedup`, :mod:`.sample`, :mod:`.cache`
and :mod:`.report` for each rule.

:func:`build_btfer` runs one named stage function per step, each taking and returning a :class:`BuildState`:
:func:`open_build`, :func:`hash_and_lookup`, :func:`detect_faces` (on the :mod:`.pool` of worker processes),
:func:`select_faces`, :func:`remove_duplicates`, :func:`apply_exclusions`, :func:`sample_per_class`,
:func:`write_crops`, :func:`write_outputs`. Progress is a ``progress(stage, done, total)`` callback (the CLI
draws rich bars with it); this module prints nothing.

Guarantees:

* SRC is only ever read. ``--out`` inside SRC (or SRC inside ``--out``) is refused, and so is a non-empty
  ``--out`` that is not a previous build-btfer output (no ``manifest.csv`` and no ``.btfer/`` cache).
* Same SRC + parameters + seed + exclusions -> byte-identical ``manifest.csv``, images and reports, whatever
  the number of workers and whether detections came from the cache.
* Detections are cached in ``DIR/.btfer/``; an interrupted build resumes and a re-run with new exclusions
  detects nothing. Unchanged output files are not rewritten.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import stat
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import FerBenchError, ImageReadError
from ..fsutil import atomic_write
from ..hashing import file_sha256
from ..imageio import decode_image, display_name, read_file_bytes
from ..labels import CANONICAL_WITH_CONTEMPT
from . import detect as detect_mod
from .cache import CACHE_DIR, BuildCache
from .crop import MULTI_FACE_POLICIES, CropBox, choose_face, crop_box, crop_face
from .dedup import PHASH_VERSION, DedupResult, dedup, phash_hex
from .pool import WorkerPool, default_workers
from .report import STAGES, short_classes_message, write_report
from .sample import match_exclusions, output_name, read_exclude_file, sample_class
from .sheets import SHEETS_DIR, contact_sheets
from .sources import SourceItem, SourceScan, scan_source

MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = (
    "file", "class", "source", "source_sha256", "box_x", "box_y", "box_w", "box_h", "confidence",
    "keypoints", "phash", "source_phash", "clamped", "crop_x", "crop_y", "crop_w", "crop_h",
)  # fmt: skip
OUTPUT_VERSION = 1
_OUT_NAME_RE = re.compile(r"^[a-z]+_[0-9a-f]{10}\.jpg$")
#: temporary files of an interrupted crop write: ``.NAME.jpg.tmp`` (older builds) or ``.NAME.jpg.tmp-PID``
#: (:func:`fer_bench.fsutil.temp_path`)
_TMP_NAME_RE = re.compile(r"^\..+\.jpg\.tmp(-[0-9]+)?$")


@dataclass(frozen=True)
class BuildConfig:
    """Parameters of one build (the CLI options of ``fer-bench build-btfer``)."""

    per_class: int = 300
    size: int = 256
    margin: int = 20
    detector: str = "mtcnn"
    min_confidence: float = 0.9
    min_face: int = 40
    multi_face: str = "largest"
    dedup_threshold: int = 6
    seed: int = 0
    exclude: Path | None = None
    allow_short: bool = False
    workers: int | None = None
    detect_max_side: int = 640
    jpeg_quality: int = 95
    #: border (fraction of the longer side) for a second detection pass when the plain photo gives no face:
    #: faces that fill the frame (pre-cropped face photos) are often missed without it; 0 turns it off
    detect_pad: float = 0.25

    def validate(self) -> None:
        checks = [
            (self.per_class >= 1, f"--per-class {self.per_class} must be >= 1"),
            (16 <= self.size <= 4096, f"--size {self.size} must be between 16 and 4096"),
            (self.margin >= 0, f"--margin {self.margin} must be >= 0 pixels"),
            (self.detector in detect_mod.DETECTORS, f"--detector {self.detector!r}: use one of mtcnn, haar"),
            (0.0 <= self.min_confidence <= 1.0, f"--min-confidence {self.min_confidence} must be in 0..1"),
            (self.min_face >= 0, f"--min-face {self.min_face} must be >= 0 pixels"),
            (
                self.multi_face in MULTI_FACE_POLICIES,
                f"--multi-face {self.multi_face!r}: use largest or reject",
            ),
            (
                -1 <= self.dedup_threshold <= 64,
                f"--dedup-threshold {self.dedup_threshold} must be -1 (off)..64",
            ),
            (self.workers is None or self.workers >= 1, f"--workers {self.workers} must be >= 1"),
            (self.detect_max_side >= 64, f"detect max side {self.detect_max_side} must be >= 64"),
            (1 <= self.jpeg_quality <= 100, f"JPEG quality {self.jpeg_quality} must be in 1..100"),
            (0.0 <= self.detect_pad <= 2.0, f"--detect-pad {self.detect_pad} must be a fraction in 0..2"),
        ]
        for ok, msg in checks:
            if not ok:
                raise FerBenchError(msg + "; fix the option and re-run")

    @property
    def detector_spec(self) -> detect_mod.DetectorSpec:
        return detect_mod.DetectorSpec(self.detector, self.detect_max_side, self.min_face, pad=self.detect_pad)

    def params(self) -> dict[str, Any]:
        """The parameters that define the output (recorded in the report)."""
        d = asdict(self)
        for k in ("exclude", "workers"):
            d.pop(k)
        return d


@dataclass
class ItemState:
    """Everything learned about one source photo during a build."""

    item: SourceItem
    sha: str | None = None
    readable: bool | None = None
    det: dict[str, Any] | None = None
    face: dict[str, Any] | None = None
    reason: str | None = None
    detail: str = ""
    cbox: CropBox | None = None
    phash: str | None = None


@dataclass
class BuildResult:
    """What a build produced. ``stats`` holds cache/timing counters (not part of the deterministic output)."""

    out: Path
    manifest: Path
    report: dict[str, Any]
    selected: dict[str, list[str]]
    sheets: list[Path]
    stats: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------ output folder


def check_out_dir(out: str | Path, scan: SourceScan) -> Path:
    """Resolve ``--out`` and refuse anything that could write into SRC or clobber unrelated files."""
    o = Path(out).expanduser().resolve()
    for root in scan.roots:
        r = root.resolve()
        if o == r or r in o.parents:
            raise FerBenchError(
                f"--out {o} is inside the source folder {r}; build-btfer never writes into SRC, "
                f"choose an output folder outside it"
            )
    if scan.kind == "folder" and o in scan.src.parents:
        raise FerBenchError(
            f"--out {o} contains SRC {scan.src}; choose an output folder beside SRC, not above it"
        )
    if scan.kind == "csv" and any(o in it.path.parents for it in scan.items):
        raise FerBenchError(
            f"--out {o} contains source photos listed in {scan.src}; choose another output folder"
        )
    if o.exists() and not o.is_dir():
        raise FerBenchError(f"--out {o} is a file; pass a folder path (it is created if missing)")
    if o.is_dir() and any(o.iterdir()) and not (o / MANIFEST).is_file() and not (o / CACHE_DIR).is_dir():
        raise FerBenchError(
            f"--out {o} is not empty and is not a build-btfer output (no {MANIFEST}); "
            f"choose a new or empty folder"
        )
    return o


# ------------------------------------------------------------------------------------------ per-image work


def analyse_image(job: dict[str, Any], get_detector: Callable[[], detect_mod.DetectFn]) -> dict[str, Any]:
    """Decode one source, detect (unless ``job['det']`` is cached), choose the face, crop it and phash it.

    Runs in a worker process (or inline). Returns ``{"i", "det", "new_det", "phash", "cbox"}``.
    """
    if job.get("det") is None:
        get_detector()  # load it first, so its start-up cost is not billed to this image
    cpu0 = time.process_time()
    res = _analyse(job, get_detector)
    res["cpu_s"] = time.process_time() - cpu0  # this image's CPU seconds (all threads of the process)
    res["pid"], res["proc_cpu_s"] = os.getpid(), time.process_time()  # process total: start-up included
    return res


def _analyse(job: dict[str, Any], get_detector: Callable[[], detect_mod.DetectFn]) -> dict[str, Any]:
    res: dict[str, Any] = {
        "i": job["i"],
        "det": job.get("det"),
        "new_det": False,
        "phash": None,
        "cbox": None,
    }
    try:
        rgb = decode_image(read_file_bytes(job["path"], name=job["source"]), name=job["source"])
    except ImageReadError as exc:  # empty, not an image, corrupt, too large/small, unreadable (see imageio)
        res["det"], res["new_det"] = {"status": "unreadable", "error": _clean_error(str(exc))}, True
        return res
    h, w = rgb.shape[:2]
    det = res["det"]
    if det is None:
        spec = detect_mod.DetectorSpec(**job["spec"])
        faces, note = detect_mod.detect_image(rgb, spec, get_detector())
        det = {"status": "ok", "w": w, "h": h, "faces": faces, "src_phash": phash_hex(rgb)}
        if note:
            det["note"] = note
        res["det"], res["new_det"] = det, True
        res["detector_called"] = not (note or "").startswith("image too small")
    sel = job["select"]
    idx, _ = choose_face(
        det["faces"],
        min_confidence=sel["min_confidence"],
        min_face=sel["min_face"],
        multi_face=sel["multi_face"],
    )
    if idx is not None:
        cb = crop_box(det["faces"][idx]["box"], w, h, sel["margin"])
        res["cbox"] = cb.as_list()
        res["phash"] = phash_hex(crop_face(rgb, cb, sel["size"]))
    return res


def _clean_error(msg: str) -> str:
    """Drop run-specific noise (object addresses) from decoder messages so reports stay deterministic."""
    return re.sub(r"<[^<>]* at 0x[0-9a-fA-F]+>", "the data", msg)


def encode_jpeg(rgb, quality: int) -> bytes:
    """Baseline JPEG bytes (no metadata): identical pixels always give identical bytes."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=int(quality))
    return buf.getvalue()


def write_crop(job: dict[str, Any], get_detector: Callable[[], detect_mod.DetectFn] | None = None) -> dict[str, Any]:
    """Decode a source, crop + resize, write the JPEG atomically. Returns ``{"file", "sha256"}``.

    A :class:`.pool.WorkerPool` job (*get_detector* is unused: no detection here).
    """
    rgb = decode_image(read_file_bytes(job["path"], name=job["source"]), name=job["source"])
    x0, y0, x1, y1 = job["cbox"]
    crop = crop_face(rgb, CropBox(x0, y0, x1, y1, False), job["size"])
    data = encode_jpeg(crop, job["quality"])
    dest = Path(job["dest"])
    dest.parent.mkdir(parents=True, exist_ok=True)
    # no fsync per image: a crop damaged by a power cut fails the sha256 check in outputs.json and is rewritten
    atomic_write(dest, data, fsync=False)
    return {"file": job["file"], "sha256": hashlib.sha256(data).hexdigest()}


# ------------------------------------------------------------------------------------------ the build

#: ``progress(stage, done, total)``: called with ``done == 0`` when a stage starts (``total`` may be 0: nothing
#: to do) and after each item; stages: ``hash``, ``detect``, ``write``
ProgressFn = Callable[[str, int, int], None]


def _fmt_counts(d: dict[str, int]) -> dict[str, int]:
    return {s: int(d.get(s, 0)) for s in STAGES}


@dataclass
class BuildState:
    """What the stages of :func:`build_btfer` share: inputs, the open cache and pool, and each stage's result.

    Each stage function fills in its fields and returns the state.
    """

    cfg: BuildConfig
    scan: SourceScan
    out_dir: Path
    cache: BuildCache
    pool: WorkerPool
    exclude_entries: list[str]
    items: list[ItemState]
    progress: ProgressFn
    say: Callable[[str], None]
    t_start: float
    stats: Counter = field(default_factory=Counter)
    #: decode/detect/crop/phash jobs for what the cache does not know (hash_and_lookup)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    dd: DedupResult | None = None
    excluded: set[str] = field(default_factory=set)
    unmatched: list[str] = field(default_factory=list)
    selected: dict[str, list[str]] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    #: output name -> item, for the selected faces (write_crops)
    targets: dict[str, ItemState] = field(default_factory=dict)
    #: output name -> {"key", "sha256"} (write_crops)
    written: dict[str, Any] = field(default_factory=dict)

    @property
    def state_dir(self) -> Path:
        return self.out_dir / CACHE_DIR

    @property
    def by_source(self) -> dict[str, ItemState]:
        return {st.item.source: st for st in self.items}


def _no_progress(stage: str, done: int, total: int) -> None:
    pass


def open_build(
    src: str | Path,
    out: str | Path,
    cfg: BuildConfig,
    progress: ProgressFn,
    say: Callable[[str], None],
) -> BuildState:
    """Validate the options, scan SRC, read --exclude, check and create OUT, open its cache and the pool."""
    t_start = time.perf_counter()
    cfg.validate()
    scan = scan_source(src)
    exclude_entries = read_exclude_file(cfg.exclude) if cfg.exclude is not None else []
    out_dir = check_out_dir(out, scan)
    out_dir.mkdir(parents=True, exist_ok=True)
    state_dir = out_dir / CACHE_DIR
    state_dir.mkdir(exist_ok=True)
    (state_dir / "build.json").write_text(
        json.dumps({"tool": "fer-bench build-btfer", "format": OUTPUT_VERSION}, indent=2) + "\n",
        encoding="utf-8",
    )
    cache = BuildCache(state_dir)
    items = [ItemState(item=it) for it in scan.items]
    say(f"{len(items)} photos in {len(scan.labels)} classes ({', '.join(scan.labels)}) from {scan.src}")
    return BuildState(
        cfg=cfg,
        scan=scan,
        out_dir=out_dir,
        cache=cache,
        pool=WorkerPool(cfg.workers or default_workers(), cfg.detector),
        exclude_entries=exclude_entries,
        items=items,
        progress=progress,
        say=say,
        t_start=t_start,
    )


def hash_and_lookup(b: BuildState) -> BuildState:
    """Hash each photo (stat-cached), look up its detection and phash in the cache; queue jobs for the rest."""
    cfg, cache, stats = b.cfg, b.cache, b.stats
    spec = cfg.detector_spec
    det_key_part = spec.key()
    select = {
        "min_confidence": cfg.min_confidence,
        "min_face": cfg.min_face,
        "multi_face": cfg.multi_face,
        "margin": cfg.margin,
        "size": cfg.size,
    }
    b.jobs = []
    n = len(b.items)
    b.progress("hash", 0, n)
    for i, st in enumerate(b.items):
        b.progress("hash", i + 1, n)
        p = st.item.path
        try:
            s = p.stat()
            if not stat.S_ISREG(s.st_mode):  # a FIFO named x.jpg would block the hashing forever
                st.readable, st.reason = False, "unreadable"
                st.detail = "not a regular file"
                continue
            sha = cache.sha_for(p, s.st_size, s.st_mtime_ns)
            if sha is None:
                sha = file_sha256(p)
                cache.put_sha(p, s.st_size, s.st_mtime_ns, sha)
                stats["hashed"] += 1
        except OSError as exc:
            st.readable, st.reason = False, "unreadable"
            st.detail = (
                "file not found (or a dangling symlink)"
                if isinstance(exc, FileNotFoundError)
                else f"cannot read: {exc.strerror or type(exc).__name__}"
            )
            continue
        st.sha = sha
        det = cache.get_det(cache.det_key(sha, det_key_part))
        if det is not None:
            stats["det_cache_hits"] += 1
            st.det = det
            if det.get("status") != "ok":
                continue
            idx, _ = choose_face(
                det["faces"],
                min_confidence=cfg.min_confidence,
                min_face=cfg.min_face,
                multi_face=cfg.multi_face,
            )
            if idx is None:
                continue
            cb = crop_box(det["faces"][idx]["box"], det["w"], det["h"], cfg.margin)
            ph = cache.get_ph(cache.ph_key(sha, cb.as_list(), cfg.size, PHASH_VERSION))
            if ph is not None:
                stats["phash_cache_hits"] += 1
                continue
        b.jobs.append(
            {
                "i": i,
                "path": str(p),
                "source": st.item.source,
                "det": det,
                "spec": asdict(spec),
                "select": select,
            }
        )
    return b


def detect_faces(b: BuildState) -> BuildState:
    """Decode + detect + crop + phash the queued photos on the worker pool; cache detections and phashes."""
    cfg, cache, stats, jobs = b.cfg, b.cache, b.stats, b.jobs
    det_key_part = cfg.detector_spec.key()
    n_detect = sum(1 for j in jobs if j["det"] is None)
    if jobs:
        b.say(
            f"detecting faces in {n_detect} photos, re-cropping {len(jobs) - n_detect} "
            f"({cfg.detector}, {min(b.pool.workers, len(jobs))} worker(s))"
        )
    b.progress("detect", 0, len(jobs))
    t0 = time.perf_counter()
    t_first = None
    cpu_images, proc_cpu = 0.0, {}
    for done, res in enumerate(b.pool.run(analyse_image, jobs), 1):
        if t_first is None:
            t_first = time.perf_counter() - t0
        cpu_images += res.get("cpu_s", 0.0)
        proc_cpu[res.get("pid")] = max(proc_cpu.get(res.get("pid"), 0.0), res.get("proc_cpu_s", 0.0))
        st = b.items[res["i"]]
        if res["new_det"]:
            cache.put_det(cache.det_key(st.sha, det_key_part), res["det"])
            if res.get("detector_called"):
                stats["detector_calls"] += 1
        if res["phash"] is not None:
            cache.put_ph(cache.ph_key(st.sha, res["cbox"], cfg.size, PHASH_VERSION), res["phash"])
        st.det = res["det"]
        b.progress("detect", done, len(jobs))
    t_analyse = time.perf_counter() - t0
    stats["analysed"] = len(jobs)
    stats["analyse_seconds"] = round(t_analyse, 3)
    stats["analyse_images_per_s"] = round(len(jobs) / t_analyse, 2) if jobs and t_analyse > 0 else None
    if jobs:
        stats["analyse_first_result_s"] = round(t_first or 0.0, 3)
        stats["analyse_cpu_s_per_image"] = round(cpu_images / len(jobs), 4)
        if b.pool.pool_started:  # worker start-up (imports, detector load) = process CPU - image CPU
            startup = (sum(proc_cpu.values()) - cpu_images) / max(1, len(proc_cpu))
            stats["worker_startup_cpu_s"] = round(startup, 2)
    return b


def select_faces(b: BuildState) -> BuildState:
    """Per photo: readable?, the one face kept (confidence/size/multi-face rules), its crop box and phash.

    Pure functions of the cached records.
    """
    cfg, cache = b.cfg, b.cache
    for st in b.items:
        if st.reason == "unreadable":
            continue
        det = st.det
        if det is None or det.get("status") != "ok":
            st.readable, st.reason = False, "unreadable"
            st.detail = (det or {}).get("error", "cannot decode")
            continue
        st.readable = True
        idx, reason = choose_face(
            det["faces"],
            min_confidence=cfg.min_confidence,
            min_face=cfg.min_face,
            multi_face=cfg.multi_face,
        )
        if idx is None:
            st.reason = reason
            st.detail = _reject_detail(reason, det, cfg)
            continue
        st.face = det["faces"][idx]
        st.cbox = crop_box(st.face["box"], det["w"], det["h"], cfg.margin)
        st.phash = cache.get_ph(cache.ph_key(st.sha, st.cbox.as_list(), cfg.size, PHASH_VERSION))
        if st.phash is None:  # cannot happen: analyse_image computed it with the same functions
            raise RuntimeError(f"internal error: no phash for {st.item.source}")
    return b


def remove_duplicates(b: BuildState) -> BuildState:
    """Drop near-duplicate faces (phash), within and across classes."""
    passed = [st for st in b.items if st.cbox is not None]
    b.dd = dedup(
        [(st.item.source, st.item.label, st.phash, st.det["src_phash"]) for st in passed],
        b.cfg.dedup_threshold,
    )
    by_source = b.by_source
    for src_id, (reason, detail) in b.dd.dropped.items():
        by_source[src_id].reason, by_source[src_id].detail = reason, detail
    return b


def apply_exclusions(b: BuildState) -> BuildState:
    """Match --exclude entries against every photo; only still-candidate faces are marked excluded."""
    b.excluded, b.unmatched = match_exclusions(
        b.exclude_entries, [(st.item.source, st.item.label, st.item.path) for st in b.items]
    )
    by_source = b.by_source
    for src_id in sorted(b.excluded):
        st = by_source[src_id]
        if st.cbox is not None and st.reason is None:
            st.reason, st.detail = "excluded", "listed in --exclude"
    return b


def sample_per_class(b: BuildState) -> BuildState:
    """Seeded balanced sample of the candidates per class; the report; refuse short classes (unless allowed)."""
    cfg = b.cfg
    candidates: dict[str, list[str]] = defaultdict(list)
    for st in b.items:
        if st.cbox is not None and st.reason is None:
            candidates[st.item.label].append(st.item.source)
    b.selected = {lab: sample_class(candidates[lab], cfg.per_class, cfg.seed) for lab in b.scan.labels}
    b.report = _make_report(
        b.scan, b.items, b.dd, b.selected, cfg, b.exclude_entries, b.excluded, b.unmatched
    )
    if b.report["short_classes"] and not cfg.allow_short:
        b.report["status"] = "failed: too few faces"
        write_report(b.out_dir, b.report)
        raise FerBenchError(
            short_classes_message({**b.report, "report_md": str(b.out_dir / "report.md")}, cfg.per_class)
        )
    return b


def write_crops(b: BuildState) -> BuildState:
    """Write the selected face crops (skipping files already identical) and remove stale ones."""
    cfg, stats = b.cfg, b.stats
    by_source = b.by_source
    sel_states = sorted(
        (by_source[s] for lab in b.scan.labels for s in b.selected[lab]),
        key=lambda st: output_name(st.item.label, st.item.source),
    )
    b.targets = {output_name(st.item.label, st.item.source): st for st in sel_states}
    stats["removed_stale"] = _remove_stale_outputs(b.out_dir, set(b.targets))
    outputs_path = b.state_dir / "outputs.json"
    try:
        known = json.loads(outputs_path.read_text(encoding="utf-8")) if outputs_path.is_file() else {}
    except ValueError:
        known = {}
    write_jobs: list[dict[str, Any]] = []
    written: dict[str, Any] = {}
    for name, st in b.targets.items():
        box_key = ",".join(map(str, st.cbox.as_list()))
        key = f"{st.sha}:{box_key}:{cfg.size}:q{cfg.jpeg_quality}:v{OUTPUT_VERSION}"
        dest = b.out_dir / name
        prev = known.get(name)
        if prev and prev.get("key") == key and dest.is_file() and file_sha256(dest) == prev.get("sha256"):
            written[name] = prev
            stats["unchanged_outputs"] += 1
            continue
        write_jobs.append(
            {
                "i": len(write_jobs),
                "file": name,
                "key": key,
                "path": str(st.item.path),
                "source": st.item.source,
                "cbox": st.cbox.as_list(),
                "size": cfg.size,
                "quality": cfg.jpeg_quality,
                "dest": str(dest),
            }
        )
    keys = {j["file"]: j["key"] for j in write_jobs}
    b.progress("write", 0, len(write_jobs))
    for done, res in enumerate(b.pool.run(write_crop, write_jobs), 1):
        written[res["file"]] = {"key": keys[res["file"]], "sha256": res["sha256"]}
        b.progress("write", done, len(write_jobs))
    stats["written"] = len(write_jobs)
    b.written = written
    atomic_write(outputs_path, json.dumps(dict(sorted(written.items())), indent=1) + "\n")
    return b


def write_outputs(b: BuildState) -> BuildResult:
    """Write manifest.csv, report.json/.md and the contact sheets; record run stats in .btfer/last_run.json."""
    manifest_path = _write_manifest(b.out_dir, b.targets, b.written)
    report = b.report
    report["status"] = "ok" if not report["short_classes"] else "ok (short classes allowed)"
    write_report(b.out_dir, report)
    sheet_dir = b.out_dir / SHEETS_DIR
    if sheet_dir.is_dir():
        for f in sheet_dir.glob("*.png"):
            f.unlink()
    sheets: list[Path] = []
    by_label: dict[str, list[str]] = defaultdict(list)
    for name, st in b.targets.items():
        by_label[st.item.label].append(name)
    labels = b.scan.labels
    for lab in labels:
        if by_label.get(lab):
            sheets += contact_sheets(b.out_dir, lab, sorted(by_label[lab]))
    stats = b.stats
    stats["pool_started"] = b.pool.pool_started
    stats["workers"] = b.pool.workers
    stats["seconds_total"] = round(time.perf_counter() - b.t_start, 3)
    stats = dict(stats)
    (b.state_dir / "last_run.json").write_text(json.dumps(stats, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return BuildResult(
        out=b.out_dir,
        manifest=manifest_path,
        report=report,
        selected={lab: sorted(output_name(lab, s) for s in b.selected[lab]) for lab in labels},
        sheets=sheets,
        stats=stats,
    )


def build_btfer(
    src: str | Path,
    out: str | Path,
    config: BuildConfig | None = None,
    *,
    progress: ProgressFn | bool | None = None,
    log: Callable[[str], None] | None = None,
) -> BuildResult:
    """Build a balanced face test set from raw photos. See the module docstring; raises FerBenchError.

    *progress* (``progress(stage, done, total)``, see :data:`ProgressFn`) reports the per-image stages; the
    CLI draws bars with it. A bool (the old ``progress=True``) is accepted and draws nothing. *log* gets
    one-line messages.
    """
    prog: ProgressFn = progress if callable(progress) else _no_progress
    b = open_build(src, out, config or BuildConfig(), prog, log or (lambda _msg: None))
    try:
        for stage in (
            hash_and_lookup,
            detect_faces,
            select_faces,
            remove_duplicates,
            apply_exclusions,
            sample_per_class,
            write_crops,
        ):
            b = stage(b)
    except KeyboardInterrupt:
        b.say(
            f"interrupted: {len(b.cache.det)} detections are cached in {b.state_dir}; "
            f"re-run the same command to resume (stopping the workers...)"
        )
        raise
    finally:
        b.pool.close()
        b.cache.close()
    return write_outputs(b)


def _reject_detail(reason: str | None, det: dict[str, Any], cfg: BuildConfig) -> str:
    faces = det.get("faces") or []
    if reason == "no_face":
        return det.get("note", "")
    if reason == "low_confidence":
        return f"best confidence {max(f['confidence'] for f in faces):.3f} < {cfg.min_confidence}"
    if reason == "too_small":
        biggest = max(min(f["box"][2], f["box"][3]) for f in faces if f["confidence"] >= cfg.min_confidence)
        return f"largest confident face {biggest:.0f} px < --min-face {cfg.min_face}"
    if reason == "multiple_faces":
        n = sum(
            1
            for f in faces
            if f["confidence"] >= cfg.min_confidence and min(f["box"][2], f["box"][3]) >= cfg.min_face
        )
        return f"{n} faces (--multi-face reject)"
    return ""


def _remove_stale_outputs(out_dir: Path, keep: set[str]) -> int:
    """Delete images this tool wrote earlier that are not in the new selection (only names it produces)."""
    removed = 0
    for lab in CANONICAL_WITH_CONTEMPT:
        d = out_dir / lab
        if not d.is_dir():
            continue
        for f in d.iterdir():
            rel = f"{lab}/{f.name}"
            if (
                f.is_file()
                and rel not in keep
                and (_OUT_NAME_RE.match(f.name) or _TMP_NAME_RE.match(f.name) or f.name.endswith(".jpg.tmp"))
            ):
                f.unlink()
                removed += 1
        if not any(d.iterdir()):
            d.rmdir()
    return removed


def _write_manifest(out_dir: Path, targets: dict[str, ItemState], written: dict[str, Any]) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(MANIFEST_COLUMNS)
    for name in sorted(targets):
        st = targets[name]
        x, y, bw, bh = st.face["box"]
        cb = st.cbox
        w.writerow(
            [
                name,
                st.item.label,
                display_name(st.item.source),  # a non-UTF-8 file name as \xNN escapes (--exclude accepts it)
                st.sha,
                round(x),
                round(y),
                round(bw),
                round(bh),
                f"{st.face['confidence']:.4f}",
                json.dumps(st.face.get("keypoints") or {}, sort_keys=True, separators=(",", ":")),
                st.phash,
                st.det["src_phash"],
                int(cb.clamped),
                cb.x0,
                cb.y0,
                cb.w,
                cb.h,
            ]
        )
    return atomic_write(out_dir / MANIFEST, buf.getvalue())


def _make_report(
    scan: SourceScan,
    states: list[ItemState],
    dd,
    selected: dict[str, list[str]],
    cfg: BuildConfig,
    exclude_entries: list[str],
    excluded: set[str],
    unmatched: list[str],
) -> dict[str, Any]:
    labels = scan.labels
    counts = {lab: Counter() for lab in labels}
    rejections = {lab: Counter() for lab in labels}
    sel_sets = {lab: set(v) for lab, v in selected.items()}
    rejected = []
    order = ("unreadable", "no_face", "passed_fail", "dedup", "excluded")
    for st in states:
        c = counts[st.item.label]
        c["found"] += 1
        r = st.reason
        stage_fail = {
            "unreadable": 0,
            "no_face": 1,
            "low_confidence": 2,
            "too_small": 2,
            "multiple_faces": 2,
            "duplicate": 3,
            "cross_label_duplicate": 3,
            "excluded": 4,
        }.get(r, len(order))
        for k, stage in enumerate(("readable", "face_detected", "passed", "after_dedup", "after_exclusions")):
            if stage_fail > k:
                c[stage] += 1
        if st.item.source in sel_sets.get(st.item.label, ()):
            c["selected"] += 1
        if r is not None:
            rejections[st.item.label][r] += 1
            rejected.append(
                {"source": display_name(st.item.source), "class": st.item.label, "reason": r,
                 "detail": display_name(st.detail)}
            )
    short = {lab: counts[lab]["selected"] for lab in labels if counts[lab]["selected"] < cfg.per_class}
    totals = Counter()
    for lab in labels:
        totals.update(counts[lab])
    n_clamped = sum(
        1
        for st in states
        if st.item.source in sel_sets.get(st.item.label, ()) and st.cbox is not None and st.cbox.clamped
    )
    rejected.sort(key=lambda r: (r["class"], r["source"]))
    return {
        "tool": "fer-bench build-btfer",
        "format": OUTPUT_VERSION,
        "status": "ok",
        "source": {"path": display_name(str(scan.src)), "kind": scan.kind, "notes": scan.notes},
        "params": cfg.params(),
        "classes": labels,
        "stages": list(STAGES),
        "counts": {lab: _fmt_counts(counts[lab]) for lab in labels},
        "totals": _fmt_counts(totals),
        "rejections": {lab: dict(sorted(rejections[lab].items())) for lab in labels},
        "short_classes": short,
        "cross_label_duplicates": [
            [{"source": display_name(s), "class": lab} for s, lab in g] for g in dd.cross_label_groups
        ],
        "duplicate_groups": len(dd.same_label_groups),
        "exclusions": {"entries": len(exclude_entries), "matched": len(excluded), "unmatched": unmatched},
        "clamped": n_clamped,
        "rejected": rejected,
    }
