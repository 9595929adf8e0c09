"""Corpora of bad and unusual image files for the tests of every command that reads user images.

``make_corpus(root)`` writes a class-folder dataset (``train/`` and ``test/`` with ``angry/`` and ``happy/``)
holding good images plus one of each kind of trouble, and returns what fer-bench must make of every file:
decoded (with its shape after EXIF rotation), skipped with a kind (``fer_bench.imageio.BAD_KINDS``), or not
listed at all (non-image files, hidden files, a second path to a file already listed, folders reached again
through a symlink loop). ``make_fuzz_corpus(root)`` writes seeded, deterministic mutations of valid files
(bit flips, truncations, header swaps between formats, random bytes with image suffixes, ...) whose outcome
is not known in advance: the tests check that every file is either decoded or skipped with a reason, and
that all commands agree on which.

Nothing here imports TensorFlow; everything is small (the whole corpus is a few MB, the 12000x12000 PNG is a
~20 KB file) so the tests stay fast.
"""

from __future__ import annotations

import io
import os
import random
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

DECODED = "decoded"
#: True when file permissions do not stop this process (root): a chmod 000 file is then still readable
PERMISSIONS_IGNORED = hasattr(os, "geteuid") and os.geteuid() == 0


@dataclass(frozen=True)
class Expected:
    """What must become of one listed file. ``item``: the manifest id (relative posix path, non-UTF-8 bytes as
    surrogates); ``outcome``: ``"decoded"`` or a BAD_KINDS kind; ``shape``: (H, W) after EXIF rotation."""

    item: str
    split: str
    label: str
    outcome: str
    shape: tuple[int, int] | None = None
    why: str = ""


@dataclass
class Corpus:
    root: Path
    expected: dict[str, Expected] = field(default_factory=dict)
    #: files/links/folders present on disk that must NOT be listed (relative path -> why)
    not_listed: dict[str, str] = field(default_factory=dict)

    def items(self, split: str | None = None) -> list[Expected]:
        return [e for e in self.expected.values() if split is None or e.split == split]

    def decoded(self, split: str | None = None) -> list[Expected]:
        return [e for e in self.items(split) if e.outcome == DECODED]

    def skipped(self, split: str | None = None) -> list[Expected]:
        return [e for e in self.items(split) if e.outcome != DECODED]

    def kind_counts(self, split: str | None = None) -> dict[str, int]:
        out: dict[str, int] = {}
        for e in self.skipped(split):
            out[e.outcome] = out.get(e.outcome, 0) + 1
        return out


# ------------------------------------------------------------------------------------------ encoders


def noise(seed: int, w: int = 40, h: int = 40, mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).convert(mode)


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def huge_png(w: int, h: int) -> bytes:
    """A valid, all-black 1-bit PNG of w x h pixels; 12000 x 12000 is ~20 KB on disk (144 MP decoded)."""
    row = b"\0" * (1 + (w + 7) // 8)
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(h)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def exif_rotated_jpeg(seed: int) -> bytes:
    """Stored 40 wide x 20 high with EXIF orientation 6: displayed (and decoded) 20 wide x 40 high."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(noise(seed, 40, 20), "JPEG", quality=90, exif=exif.tobytes())


def bad_exif_jpeg(seed: int) -> bytes:
    """A valid JPEG whose APP1 EXIF block is garbage (the pixels are fine)."""
    return encode(noise(seed, 32, 24), "JPEG", quality=90, exif=b"Exif\x00\x00MM\x00*garbage-garbage-garbage")


def _write(path: bytes | str | Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)


# ------------------------------------------------------------------------------------------ the corpus


def _specials(corpus: Corpus, split: str, label: str, other: str, seed: int) -> None:
    """One of each kind of trouble into ``split/label`` (symlinks within the split)."""
    root = corpus.root
    d = root / split / label
    rel = f"{split}/{label}"

    def add(name: str, data: bytes | None, outcome: str, shape=None, why: str = "") -> None:
        if data is not None:
            _write(d / name, data)
        corpus.expected[f"{rel}/{name}"] = Expected(f"{rel}/{name}", split, label, outcome, shape, why)

    good_jpg = encode(noise(seed + 1, 48, 48), "JPEG", quality=90)
    good_png = encode(noise(seed + 2, 48, 48), "PNG")
    # empty, truncated, not images
    add("zero.jpg", b"", "empty", why="zero-byte file")
    add("truncated.jpg", good_jpg[: len(good_jpg) // 3], "corrupt", why="JPEG cut after a third")
    add("truncated.png", good_png[: len(good_png) // 2], "corrupt", why="PNG cut in half")
    add("text.jpg", b"this is not a jpeg\n" * 4, "not_an_image", why="text with an image suffix")
    add("page.png", b"<!doctype html><html><body>404</body></html>", "not_an_image", why="HTML error page")
    add("random.webp", random.Random(seed).randbytes(700), "not_an_image", why="random bytes")
    # unusual but valid modes and formats
    rgba = np.dstack([np.asarray(noise(seed + 3, 30, 20)), np.full((20, 30), 128, np.uint8)])
    add("rgba.png", encode(Image.fromarray(rgba, "RGBA"), "PNG"), DECODED, (20, 30), "RGBA")
    g16 = (np.arange(24 * 36, dtype=np.uint16).reshape(24, 36) * 60).astype(np.uint16)
    add("gray16.png", encode(Image.fromarray(g16), "PNG"), DECODED, (24, 36), "16-bit grey")
    add("cmyk.jpg", encode(noise(seed + 4, 36, 28).convert("CMYK"), "JPEG", quality=90), DECODED, (28, 36), "CMYK")
    add("palette.png", encode(noise(seed + 5, 26, 22).convert("P"), "PNG"), DECODED, (22, 26), "palette")
    pal = noise(seed + 6, 26, 22).convert("P")
    add("palette_trns.png", encode(pal, "PNG", transparency=0), DECODED, (22, 26), "palette + transparency")
    frames = [noise(seed + 7 + k, 20, 20).convert("P") for k in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    add("animated.gif", buf.getvalue(), DECODED, (20, 20), "animated GIF (first frame)")
    add("bilevel.png", encode(noise(seed + 8, 24, 24).convert("1"), "PNG"), DECODED, (24, 24), "1-bit")
    add("la.png", encode(noise(seed + 9, 24, 16).convert("LA"), "PNG"), DECODED, (16, 24), "grey + alpha")
    flt = Image.fromarray(np.linspace(-3, 7, 20 * 30, dtype=np.float32).reshape(20, 30))
    add("float.tif", encode(flt, "TIFF"), DECODED, (20, 30), "32-bit float TIFF")
    add("photo.webp", encode(noise(seed + 10, 30, 30), "WEBP", quality=80), DECODED, (30, 30), "WebP")
    add("photo.bmp", encode(noise(seed + 11, 30, 30), "BMP"), DECODED, (30, 30), "BMP")
    add("png_named.jpg", encode(noise(seed + 12, 30, 30), "PNG"), DECODED, (30, 30), "PNG with a .jpg suffix")
    add("UPPER.JPG", encode(noise(seed + 13, 30, 30), "JPEG"), DECODED, (30, 30), "upper-case suffix")
    add("exif_rot.jpg", exif_rotated_jpeg(seed), DECODED, (40, 20), "EXIF orientation 6 (rotated)")
    add("bad_exif.jpg", bad_exif_jpeg(seed), DECODED, (24, 32), "garbage EXIF block, pixels fine")
    # sizes
    add("one_px.png", encode(Image.new("RGB", (1, 1), (200, 10, 10)), "PNG"), "too_small", why="1x1")
    add("thin.png", encode(noise(seed + 14, 7, 40), "PNG"), "too_small", why="7 px wide")
    add("eight.png", encode(noise(seed + 15, 8, 8), "PNG"), DECODED, (8, 8), "8x8: the smallest accepted")
    add("huge.png", huge_png(12000, 12000), "too_large", why="12000x12000 (144 MP) header, ~20 KB file")
    # names
    nb = os.fsencode(d)
    _write(nb + b"/\xff\xfe.jpg", good_jpg)
    corpus.expected[f"{rel}/\udcff\udcfe.jpg"] = Expected(
        f"{rel}/\udcff\udcfe.jpg", split, label, DECODED, (48, 48), "non-UTF-8 name"
    )
    _write(nb + b"/caf\xe9_trunc.jpg", good_jpg[:200])
    corpus.expected[f"{rel}/caf\udce9_trunc.jpg"] = Expected(
        f"{rel}/caf\udce9_trunc.jpg", split, label, "corrupt", None, "non-UTF-8 name, truncated"
    )
    add("new\nline.png", good_png, DECODED, (48, 48), "newline in the name")
    add("[red]markup.png", encode(noise(seed + 16, 20, 20), "PNG"), DECODED, (20, 20), "rich markup in the name")
    (d / "m[" / "x]").mkdir(parents=True)  # item ".../m[/x]/m.jpg" holds a closing tag rich would choke on
    add("m[/x]/m.jpg", encode(noise(seed + 17, 20, 20), "JPEG"), DECODED, (20, 20), "a markup tag in the path")
    add("m[/x]/cut.jpg", good_jpg[:300], "corrupt", why="listed in the unreadable table: its path must be escaped")
    # files that are not listed
    (d / "notes.txt").write_text("not an image\n")
    (d / "Thumbs.db").write_bytes(b"\0" * 64)
    (d / ".DS_Store").write_bytes(b"\0" * 64)
    _write(d / "._hidden.jpg", good_jpg)
    for n, why in (("notes.txt", "non-image suffix"), ("Thumbs.db", "non-image suffix"),
                   (".DS_Store", "hidden"), ("._hidden.jpg", "hidden")):
        corpus.not_listed[f"{rel}/{n}"] = why
    # file system oddities
    os.mkfifo(d / "fifo.jpg")
    add("fifo.jpg", None, "unreadable", why="a FIFO with an image suffix (must not block)")
    os.symlink("missing.jpg", d / "dangling.jpg")
    add("dangling.jpg", None, "unreadable", why="dangling symlink")
    os.symlink("selfloop.jpg", d / "selfloop.jpg")
    add("selfloop.jpg", None, "unreadable", why="symlink to itself")
    add("g0.png", encode(noise(seed + 20, 40, 40), "PNG"), DECODED, (40, 40), "good")
    os.symlink("g0.png", d / "link_same.png")
    corpus.not_listed[f"{rel}/link_same.png"] = "symlink to g0.png in the same folder: counted once"
    os.symlink(f"../{other}/g1.png", d / "cross.png")
    corpus.not_listed[f"{rel}/cross.png"] = f"symlink to {other}/g1.png: counted once, under {other}"
    os.symlink("..", d / "up")
    corpus.not_listed[f"{rel}/up"] = "symlink to the split folder: not entered"
    (d / "nest").mkdir()
    add("nest/deep.png", encode(noise(seed + 21, 30, 30), "PNG"), DECODED, (30, 30), "in a sub-folder")
    os.symlink(".", d / "nest" / "self")
    corpus.not_listed[f"{rel}/nest/self"] = "symlink loop to its own folder: scanned once"
    os.symlink(f"../../_outside_{split}", d / "ext")
    add("ext/outside.png", None, DECODED, (36, 36), "through a symlink to a folder outside the classes")
    os.symlink(f"../../_outside_{split}", d / "ext2")
    corpus.not_listed[f"{rel}/ext2"] = "second symlink to the same folder: scanned once"
    (d / "dir.jpg").mkdir()
    add("dir.jpg/inner.png", encode(noise(seed + 22, 30, 30), "PNG"), DECODED, (30, 30), "folder named dir.jpg")
    noperm = d / "noperm.png"
    add("noperm.png", encode(noise(seed + 23, 30, 30), "PNG"), DECODED if PERMISSIONS_IGNORED else "unreadable",
        (30, 30) if PERMISSIONS_IGNORED else None, "chmod 000 (readable anyway as root)")
    noperm.chmod(0)


def make_corpus(root: str | Path, *, seed: int = 0) -> Corpus:
    """Write the corpus (see the module docstring) under *root* and return what must become of every file."""
    root = Path(root)
    corpus = Corpus(root)
    for split in ("train", "test"):
        for k, label in enumerate(("angry", "happy")):
            d = root / split / label
            d.mkdir(parents=True)
            for i in range(3):  # g1.png (target of the cross-class symlink), good1.jpg, good2.jpg
                img = noise(seed + 100 * k + 10 * i + (0 if split == "train" else 1000), 36, 36)
                fname = "g1.png" if i == 0 else f"good{i}.jpg"
                fmt = "PNG" if i == 0 else "JPEG"
                (d / fname).write_bytes(encode(img, fmt, **({"quality": 90} if fmt == "JPEG" else {})))
                corpus.expected[f"{split}/{label}/{fname}"] = Expected(
                    f"{split}/{label}/{fname}", split, label, DECODED, (36, 36), "good"
                )
    for k, split in enumerate(("train", "test")):
        (root / f"_outside_{split}").mkdir(parents=True)
        (root / f"_outside_{split}" / "outside.png").write_bytes(encode(noise(seed + 999 + k, 36, 36), "PNG"))
        corpus.not_listed[f"_outside_{split}"] = "hidden folder (prefix _): only reached through a symlink"
    _specials(corpus, "train", "happy", "angry", seed + 10_000)
    _specials(corpus, "test", "angry", "happy", seed + 20_000)
    return corpus


def make_unknown_class_dataset(root: str | Path) -> Path:
    """A dataset whose class folders include names fer-bench does not know (typo, unrelated, non-UTF-8)."""
    root = Path(root)
    for split, names in (("train", ("happy", "happpy", "lunch")), ("test", ("happy", "lunch"))):
        for n in names:
            (root / split / n).mkdir(parents=True)
            (root / split / n / "a.png").write_bytes(encode(noise(len(n), 16, 16), "PNG"))
    bad = os.fsencode(root / "test") + b"/\xff\xfeclass"
    os.mkdir(bad)
    _write(bad + b"/a.png", encode(noise(7, 16, 16), "PNG"))
    return root


def restore_permissions(root: str | Path) -> None:
    """chmod the corpus back so pytest can delete it (a 000 file in a tmp folder is fine as root anyway)."""
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            if not os.path.islink(p):
                try:
                    os.chmod(p, 0o644)
                except OSError:
                    pass


# ------------------------------------------------------------------------------------------ fuzzing


def _bases(seed: int) -> list[tuple[str, bytes]]:
    """Valid small files of every supported format (suffix, bytes)."""
    img = noise(seed, 32, 28)
    exif = Image.Exif()
    exif[0x0112] = 3
    g16 = Image.fromarray(np.asarray(img.convert("L")).astype(np.uint16) * 257)
    return [
        (".png", encode(img, "PNG")),
        (".png", encode(img.convert("L"), "PNG")),
        (".png", encode(img.convert("P"), "PNG")),
        (".png", encode(img.convert("RGBA"), "PNG")),
        (".png", encode(g16, "PNG")),
        (".jpg", encode(img, "JPEG", quality=85)),
        (".jpg", encode(img, "JPEG", quality=85, progressive=True)),
        (".jpg", encode(img, "JPEG", quality=85, exif=exif.tobytes())),
        (".jpeg", encode(img.convert("CMYK"), "JPEG", quality=85)),
        (".gif", encode(img.convert("P"), "GIF")),
        (".bmp", encode(img, "BMP")),
        (".tif", encode(img, "TIFF")),
        (".tiff", encode(img, "TIFF", compression="tiff_deflate")),
        (".webp", encode(img, "WEBP", quality=80)),
    ]


MUTATIONS = ("bitflip", "truncate", "headerswap", "random", "insert", "zerorange", "dims", "dup")


def _set_dims(data: bytearray, rnd: random.Random) -> bytearray:
    """Overwrite the width/height fields of the format (PNG IHDR with or without a fixed CRC, JPEG SOF, GIF,
    BMP) with extreme values: 0, 1, 65535, 2**31-1 or random."""
    choices = [0, 1, 7, 65535, 40000, 2**31 - 1, rnd.randrange(1, 100000)]
    w, h = rnd.choice(choices), rnd.choice(choices)
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 33:
        data[16:24] = struct.pack(">II", w & 0xFFFFFFFF, h & 0xFFFFFFFF)
        if rnd.random() < 0.7:
            data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    elif data[:2] == b"\xff\xd8":
        for marker in (b"\xff\xc0", b"\xff\xc2"):
            k = data.find(marker)
            if k > 0 and len(data) > k + 9:
                data[k + 5:k + 9] = struct.pack(">HH", h & 0xFFFF, w & 0xFFFF)
                break
    elif data[:3] == b"GIF" and len(data) > 10:
        data[6:10] = struct.pack("<HH", w & 0xFFFF, h & 0xFFFF)
    elif data[:2] == b"BM" and len(data) > 26:
        data[18:26] = struct.pack("<ii", min(w, 2**31 - 1), min(h, 2**31 - 1))
    else:
        k = rnd.randrange(0, max(1, len(data) - 4))
        data[k:k + 4] = struct.pack(">I", w & 0xFFFFFFFF)
    return data


def mutate(data: bytes, other: bytes, mutation: str, rnd: random.Random) -> bytes:
    b = bytearray(data)
    if mutation == "bitflip":
        for _ in range(rnd.randint(1, 16)):
            k = rnd.randrange(len(b))
            b[k] ^= 1 << rnd.randrange(8)
    elif mutation == "truncate":
        b = b[: rnd.randrange(0, len(b))]
    elif mutation == "headerswap":
        k = rnd.randint(2, 64)
        b = bytearray(other[:k]) + b[k:]
    elif mutation == "random":
        b = bytearray(rnd.randbytes(rnd.choice([0, 1, 3, 16, 200, 3000])))
    elif mutation == "insert":
        k = rnd.randrange(len(b))
        b[k:k] = rnd.randbytes(rnd.randint(1, 64))
    elif mutation == "zerorange":
        k = rnd.randrange(len(b))
        b[k:k + rnd.randint(1, 256)] = b"\0" * len(b[k:k + rnd.randint(1, 256)])
    elif mutation == "dims":
        b = _set_dims(b, rnd)
    elif mutation == "dup":
        k, n = rnd.randrange(len(b)), rnd.randint(1, 128)
        b[k:k] = b[k:k + n]
    else:  # pragma: no cover
        raise ValueError(mutation)
    return bytes(b)


@dataclass
class FuzzCorpus:
    root: Path
    #: item -> (split, label, mutation, base suffix)
    files: dict[str, tuple[str, str, str, str]] = field(default_factory=dict)
    #: good images written beside the mutants (item -> (split, label))
    good: dict[str, tuple[str, str]] = field(default_factory=dict)

    def items(self, split: str | None = None) -> list[str]:
        return [i for i, v in self.files.items() if split is None or v[0] == split]


def make_fuzz_corpus(root: str | Path, *, per_split: dict[str, int] | None = None, seed: int = 0) -> FuzzCorpus:
    """Write seeded mutants of valid files into ``root/<split>/<angry|happy>/`` (plus 2 good images per class).

    per_split: mutants per split (default train 240, test 120: 360 in all). Deterministic for a seed.
    """
    per_split = per_split or {"train": 240, "test": 120}
    root = Path(root)
    rnd = random.Random(seed)
    bases = _bases(seed)
    fc = FuzzCorpus(root)
    suffixes = [".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".JPG", ".PNG"]
    idx = 0
    for split, n in per_split.items():
        for label in ("angry", "happy"):
            (root / split / label).mkdir(parents=True, exist_ok=True)
            for g in range(2):
                name = f"good{g}.png"
                (root / split / label / name).write_bytes(encode(noise(seed + 7 * g + len(label), 24, 24), "PNG"))
                fc.good[f"{split}/{label}/{name}"] = (split, label)
        for k in range(n):
            label = ("angry", "happy")[k % 2]
            mutation = MUTATIONS[idx % len(MUTATIONS)]
            suffix, data = bases[rnd.randrange(len(bases))]
            _, other = bases[rnd.randrange(len(bases))]
            out = mutate(data, other, mutation, rnd)
            if mutation in ("random", "headerswap"):
                suffix = rnd.choice(suffixes)
            name = f"fz{idx:04d}_{mutation}{suffix}"
            (root / split / label / name).write_bytes(out)
            fc.files[f"{split}/{label}/{name}"] = (split, label, mutation, suffix)
            idx += 1
    return fc
