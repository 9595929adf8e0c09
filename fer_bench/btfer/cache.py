"""The build cache: ``DIR/.btfer/cache.jsonl``, one JSON object per line, appended as results arrive.

Record kinds (field ``t``):

* ``stat``: ``{"p": absolute path, "size", "mtime_ns", "sha"}`` - skip re-hashing unchanged files;
* ``det``: ``{"k": "<sha256>:<detector key>", ...}`` - the raw detections of one source (all faces, any
  confidence, full-resolution boxes), its size and whole-photo phash, or ``status: "unreadable"``; the key
  covers the detector name, its
  downscale limit and the ``--min-face`` derived detection scale (:class:`DetectorSpec.key`), so changing
  ``--min-confidence``, ``--multi-face``, ``--margin``, ``--size``, ``--seed`` or the exclusions never re-detects;
* ``ph``: ``{"k": "<sha256>:<x0,y0,x1,y1>:<size>:v<n>", "phash"}`` - the perceptual hash of one crop.

Lines are flushed one by one, so an interrupted build resumes where it stopped; a torn last line is ignored.
The cache lives in a hidden folder of the output, which dataset adapters never read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CACHE_DIR = ".btfer"
CACHE_FILE = "cache.jsonl"


class BuildCache:
    """In-memory view of the JSON-lines cache plus an append handle."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / CACHE_FILE
        self.stat: dict[str, dict[str, Any]] = {}
        self.det: dict[str, dict[str, Any]] = {}
        self.ph: dict[str, str] = {}
        self.bad_lines = 0
        if self.path.is_file():
            with open(self.path, encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    self._load_line(line)
        self._fh = None

    def _load_line(self, line: str) -> None:
        line = line.strip()
        if not line:
            return
        try:
            rec = json.loads(line)
            kind = rec["t"]
            if kind == "stat":
                self.stat[rec["p"]] = rec
            elif kind == "det":
                self.det[rec["k"]] = rec
            elif kind == "ph":
                self.ph[rec["k"]] = rec["phash"]
        except (ValueError, KeyError, TypeError):
            self.bad_lines += 1

    def _append(self, rec: dict[str, Any]) -> None:
        if self._fh is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            # a torn last line (interrupted write) must not swallow the next record
            if self.path.is_file() and self.path.stat().st_size:
                with open(self.path, "rb") as fh:
                    fh.seek(-1, 2)
                    needs_newline = fh.read(1) != b"\n"
            else:
                needs_newline = False
            self._fh = open(self.path, "a", encoding="utf-8")
            if needs_newline:
                self._fh.write("\n")
        self._fh.write(json.dumps(rec, sort_keys=True, separators=(",", ":")) + "\n")
        self._fh.flush()

    # -- stat -> sha
    def sha_for(self, path: Path, size: int, mtime_ns: int) -> str | None:
        rec = self.stat.get(str(path))
        if rec and rec.get("size") == size and rec.get("mtime_ns") == mtime_ns:
            return rec.get("sha")
        return None

    def put_sha(self, path: Path, size: int, mtime_ns: int, sha: str) -> None:
        rec = {"t": "stat", "p": str(path), "size": size, "mtime_ns": mtime_ns, "sha": sha}
        self.stat[str(path)] = rec
        self._append(rec)

    # -- detections
    @staticmethod
    def det_key(sha: str, detector_key: str) -> str:
        return f"{sha}:{detector_key}"

    def get_det(self, key: str) -> dict[str, Any] | None:
        return self.det.get(key)

    def put_det(self, key: str, record: dict[str, Any]) -> None:
        rec = {**record, "t": "det", "k": key}
        self.det[key] = rec
        self._append(rec)

    # -- phash of a crop
    @staticmethod
    def ph_key(sha: str, cbox: list[int], size: int, version: int) -> str:
        return f"{sha}:{','.join(str(v) for v in cbox)}:{size}:v{version}"

    def get_ph(self, key: str) -> str | None:
        return self.ph.get(key)

    def put_ph(self, key: str, phash: str) -> None:
        self.ph[key] = phash
        self._append({"t": "ph", "k": key, "phash": phash})

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
