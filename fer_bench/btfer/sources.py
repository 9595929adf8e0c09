"""Find the raw photos build-btfer starts from: a folder per class, or a CSV of (path, label).

Folder layout: ``SRC/<class>/**/<image>``. Every visible sub-folder of SRC is a class (its name mapped through
:func:`fer_bench.labels.canonical_label`, so ``Happiness`` or ``anger`` work); folders whose names start with
``.`` or ``_`` and files at the top level are ignored. Images are found recursively (web-scrape dumps often
nest). Two folders that map to the same label (``anger`` and ``angry``) are merged.

CSV: a header row naming a path column (``path``/``file``/``filename``/``image``) and a label column
(``label``/``class``/``emotion``/``expression``), or two columns without a header. Relative paths are resolved
against the CSV's folder. A listed file that does not exist is kept and later counted as ``unreadable``.

Symlinks are followed once (see :func:`scan_folder`): a loop never hangs, and no photo is counted twice.

Each item gets a stable ``source`` id: its path relative to SRC (folder) or to the CSV's folder (CSV), with
``/`` separators; absolute only for CSV rows pointing outside the CSV's folder. The manifest records it, output
names derive from it, and ``--exclude`` accepts it, so an SRC folder can move without changing the build.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..data.walk import Walk, dir_id, image_entries
from ..errors import FerBenchError
from ..imageio import display_name, is_image_file
from ..labels import CANONICAL_WITH_CONTEMPT, canonical_label, is_label

PATH_COLUMNS = ("path", "file", "filename", "file_name", "image", "image_path", "filepath")
LABEL_COLUMNS = ("label", "class", "emotion", "expression", "category")


@dataclass(frozen=True)
class SourceItem:
    """One raw photo: absolute ``path``, stable ``source`` id, canonical ``label``."""

    path: Path
    source: str
    label: str


@dataclass
class SourceScan:
    """What SRC holds. ``roots``: folders build-btfer must never write into."""

    kind: str  # "folder" or "csv"
    src: Path
    items: list[SourceItem]
    roots: list[Path]
    class_names: dict[str, list[str]] = field(default_factory=dict)  # label -> native names seen
    skipped_non_images: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        """Labels present, in canonical order."""
        present = {it.label for it in self.items} | set(self.class_names)
        return [lab for lab in CANONICAL_WITH_CONTEMPT if lab in present]


def _walk_images(folder: Path, walk: Walk) -> tuple[list[tuple[Path, bool]], int]:
    """Image files below one class folder as (path, reached through a symlink), and the number of non-image
    files (the walking rule: :mod:`fer_bench.data.walk`)."""
    try:
        entries, other = image_entries(folder, walk)
    except OSError as exc:
        raise FerBenchError(
            f"cannot list class folder {display_name(str(folder))}: {exc.strerror or exc}; check its permissions"
        ) from None
    return [(Path(e.path), linked) for e, linked in entries], other


def _real(p: Path) -> Path:
    """The file a path names (symlinks resolved; a loop or dangling link resolves as far as it goes)."""
    try:
        return Path(os.path.realpath(p))
    except (OSError, RuntimeError, ValueError):
        return p


def scan_folder(src: Path) -> SourceScan:
    """Scan ``SRC/<class>/...``; raises FerBenchError for no/unknown/empty class folders.

    Every image file is listed once: one reached through a symlink whose target is also listed directly (or
    through another symlink) is dropped, the direct path (else the first in sort order) wins, and a note says
    so (naming links filed under another class than their target).
    """
    try:
        subdirs = sorted(p for p in src.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    except OSError as exc:
        raise FerBenchError(f"cannot list SRC {display_name(str(src))}: {exc.strerror or exc}") from None
    if not subdirs:
        raise FerBenchError(
            f"SRC {display_name(str(src))} has no class folders; put the photos in one folder per class "
            f"(e.g. {display_name(str(src / 'happy'))}/photo.jpg) or pass a CSV of path,label"
        )
    unknown = [d.name for d in subdirs if not is_label(d.name)]
    splits = [u for u in unknown if u.lower() in ("train", "val", "valid", "validation", "test")]
    if splits:  # a train/val/test layout: build-btfer makes a test set from one folder of class folders
        raise FerBenchError(
            f"SRC {display_name(str(src))} holds split folders ({', '.join(display_name(u) for u in splits)}); "
            f"pass one of them, e.g. {display_name(str(src / splits[0]))}, whose subfolders are the classes"
        )
    if unknown:
        raise FerBenchError(
            f"SRC {display_name(str(src))} has class folders that are not expression labels: "
            f"{', '.join(repr(display_name(u)) for u in unknown)} "
            f"(found: {', '.join(display_name(d.name) for d in subdirs)}); rename them to one of "
            f"{', '.join(CANONICAL_WITH_CONTEMPT)} (synonyms like anger/happiness work) or move them out of SRC"
        )
    items: list[SourceItem] = []
    class_names: dict[str, list[str]] = {}
    skipped = 0
    notes: list[str] = []
    walk = Walk(reserved={i for i in (dir_id(src), *(dir_id(d) for d in subdirs)) if i is not None})
    found: list[tuple[Path, bool, str]] = []
    for d in subdirs:
        label = canonical_label(d.name, where=display_name(str(src)))
        ident = dir_id(d)
        if ident is not None and ident in walk.seen:
            raise FerBenchError(
                f"class folders {display_name(str(walk.seen[ident]))} and {display_name(str(d))} are the same "
                f"folder (a symlink); its photos cannot have two labels: remove one of them"
            )
        images, sk = _walk_images(d, walk)
        skipped += sk
        if not images:
            raise FerBenchError(
                f"class folder {display_name(str(d))} has no image files (.jpg/.png/.webp/.bmp...); add photos "
                f"or remove the folder"
            )
        class_names.setdefault(label, []).append(display_name(d.name))
        found.extend((p, linked, label) for p, linked in images)
    notes += [f"{display_name(str(f))}: reached again through a symlink; not walked twice" for f in walk.revisited]
    notes += [f"{display_name(str(f))}: cannot list ({why}); its photos not counted" for f, why in walk.unlistable]
    # count each file once: group by the file's identity
    by_file: dict[tuple[int, int], list[int]] = {}
    for k, (p, _linked, _label) in enumerate(found):
        try:
            st = p.stat()
        except OSError:
            continue  # dangling / loop: kept, reported as unreadable by the build
        by_file.setdefault((st.st_dev, st.st_ino), []).append(k)
    drop: set[int] = set()
    conflicts: list[str] = []
    for ks in by_file.values():
        if len(ks) < 2 or not any(found[k][1] for k in ks):
            continue  # hard links are separate entries (dedup catches them as duplicates)
        direct = [k for k in ks if not found[k][1]]
        keep = direct or [min(ks, key=lambda k: found[k][0].relative_to(src).as_posix())]
        for k in ks:
            if k not in keep:
                drop.add(k)
                if found[k][2] != found[keep[0]][2]:
                    conflicts.append(
                        f"{display_name(found[k][0].relative_to(src).as_posix())} ({found[k][2]}) -> "
                        f"{display_name(found[keep[0]][0].relative_to(src).as_posix())} ({found[keep[0]][2]})"
                    )
    for k, (p, _linked, label) in enumerate(found):
        if k not in drop:
            items.append(SourceItem(path=_real(p), source=p.relative_to(src).as_posix(), label=label))
    items.sort(key=lambda it: it.source)
    notes = [
        f"folders {', '.join(names)} merged into class {lab}"
        for lab, names in sorted(class_names.items())
        if len(names) > 1
    ] + notes
    if drop:
        notes.append(f"{len(drop)} symlink(s) to photos already in SRC counted once (not twice)")
    if conflicts:
        more = f" ... +{len(conflicts) - 5} more" if len(conflicts) > 5 else ""
        notes.append(
            f"{len(conflicts)} symlink(s) filed under another class than their target, counted under the "
            f"target's: {'; '.join(conflicts[:5])}{more}"
        )
    if skipped:
        notes.append(f"{skipped} non-image file(s) in class folders ignored")
    return SourceScan("folder", src, items, [src], class_names, skipped, notes)


def _source_id(p: Path, base: Path) -> str:
    try:
        return p.relative_to(base).as_posix()
    except ValueError:
        return p.as_posix()


def scan_csv(csv_path: Path) -> SourceScan:
    """Read a CSV of (path, label); raises FerBenchError for a malformed file or unknown labels."""
    base = csv_path.parent.resolve()
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise FerBenchError(
            f"cannot read the CSV {csv_path}: {exc}; pass a UTF-8 CSV of path,label"
        ) from None
    rows = [r for r in csv.reader(text.splitlines()) if r and any(c.strip() for c in r)]
    if not rows:
        raise FerBenchError(f"CSV {csv_path} is empty; list one 'path,label' row per photo")
    head = [c.strip().lower() for c in rows[0]]
    pcol = next((head.index(c) for c in PATH_COLUMNS if c in head), None)
    lcol = next((head.index(c) for c in LABEL_COLUMNS if c in head), None)
    if pcol is not None and lcol is not None:
        rows = rows[1:]
    elif len(head) == 2 and not (set(head) & set(PATH_COLUMNS + LABEL_COLUMNS)):
        pcol, lcol = 0, 1
    else:
        raise FerBenchError(
            f"CSV {csv_path} needs a header with a path column ({'/'.join(PATH_COLUMNS[:4])}) and a label "
            f"column ({'/'.join(LABEL_COLUMNS[:4])}), or exactly two columns path,label without a header"
        )
    raw_labels = sorted({r[lcol].strip() for r in rows if len(r) > max(pcol, lcol)})
    unknown = [lab for lab in raw_labels if not is_label(lab)]
    if unknown:
        raise FerBenchError(
            f"CSV {csv_path} has labels that are not expressions: {', '.join(map(repr, unknown))} "
            f"(found: {', '.join(raw_labels)}); use one of {', '.join(CANONICAL_WITH_CONTEMPT)}"
        )
    items: list[SourceItem] = []
    class_names: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    skipped = 0
    for n, r in enumerate(rows, start=2 if pcol is not None else 1):
        if len(r) <= max(pcol, lcol) or not r[pcol].strip():
            raise FerBenchError(f"CSV {csv_path} row {n} has no path/label; fix or delete that row")
        raw = Path(r[pcol].strip().replace("\\", "/")).expanduser()
        p = raw if raw.is_absolute() else base / raw
        p = Path(os.path.normpath(p))
        if not is_image_file(p):
            skipped += 1
            continue
        label = canonical_label(r[lcol], where=f"{csv_path} row {n}")
        names = class_names.setdefault(label, [])
        if r[lcol].strip() not in names:
            names.append(r[lcol].strip())
        sid = _source_id(p, base)
        if sid in seen:  # the same file listed twice: fine with the same label, an error with two
            if seen[sid] != label:
                raise FerBenchError(
                    f"CSV {csv_path} lists {sid} twice, as {seen[sid]} and {label}; keep one row per photo"
                )
            continue
        seen[sid] = label
        items.append(SourceItem(path=p, source=sid, label=label))
    if not items:
        raise FerBenchError(f"CSV {csv_path} lists no image files; list one 'path,label' row per photo")
    items.sort(key=lambda it: it.source)
    roots = sorted({it.path.parent for it in items})
    notes = [f"{skipped} CSV row(s) without an image suffix ignored"] if skipped else []
    return SourceScan("csv", csv_path, items, roots, class_names, skipped, notes)


def scan_source(src: str | Path) -> SourceScan:
    """Scan SRC (folder per class, or CSV); one-line FerBenchError for anything unusable."""
    p = Path(src).expanduser()
    if not p.exists():
        raise FerBenchError(f"SRC {p} does not exist; pass a folder with one sub-folder per class or a CSV")
    p = p.resolve()
    if p.is_dir():
        return scan_folder(p)
    if p.suffix.lower() in (".csv", ".txt"):
        return scan_csv(p)
    raise FerBenchError(
        f"SRC {p} is neither a folder nor a .csv file; pass a folder of class folders or a CSV"
    )
