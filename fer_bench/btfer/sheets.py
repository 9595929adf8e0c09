"""Contact sheets for the manual clean-up: PNG grids of the selected faces with their file names.

``DIR/_sheets/<class>_01.png``, ``<class>_02.png``, ... (48 thumbnails per sheet, 8 x 6). The folder name
starts with ``_`` so it is obviously not a class and every dataset adapter skips it. A reviewer writes the
names printed under the faces to reject (e.g. ``angry_0123456789.jpg``) into a text file and re-runs
build-btfer with ``--exclude FILE``.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

SHEETS_DIR = "_sheets"
COLS, ROWS = 8, 6
THUMB = 144
PAD = 6
CAPTION = 16
HEADER = 26


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def _fit(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while len(text) > 4 and draw.textlength("…" + text, font=font) > width:
        text = text[1:]
    return "…" + text


def contact_sheets(
    out_dir: Path, label: str, files: list[str], *, cols: int = COLS, rows: int = ROWS, thumb: int = THUMB
) -> list[Path]:
    """Write the sheets of one class; ``files`` are output names relative to ``out_dir``. Returns the paths."""
    sheet_dir = out_dir / SHEETS_DIR
    sheet_dir.mkdir(parents=True, exist_ok=True)
    per_sheet = cols * rows
    chunks = [files[i : i + per_sheet] for i in range(0, len(files), per_sheet)] or [[]]
    font, hfont = _font(11), _font(14)
    cell_w, cell_h = thumb + PAD, thumb + CAPTION + PAD
    written: list[Path] = []
    for n, chunk in enumerate(chunks, start=1):
        nrows = max(1, -(-len(chunk) // cols))
        sheet = Image.new("RGB", (cols * cell_w + PAD, HEADER + nrows * cell_h + PAD), (255, 255, 255))
        draw = ImageDraw.Draw(sheet)
        title = (
            f"{label}  sheet {n}/{len(chunks)}  ({len(files)} faces)  - to reject a face, list its name "
            f"in a text file and re-run with --exclude FILE"
        )
        draw.text((PAD, 6), _fit(draw, title, hfont, sheet.width - 2 * PAD), fill=(0, 0, 0), font=hfont)
        for k, rel in enumerate(chunk):
            r, c = divmod(k, cols)
            x, y = PAD + c * cell_w, HEADER + r * cell_h
            with Image.open(out_dir / rel) as im:
                im = im.convert("RGB")
                im.thumbnail((thumb, thumb))
                sheet.paste(im, (x + (thumb - im.width) // 2, y + (thumb - im.height) // 2))
            name = _fit(draw, Path(rel).name, font, thumb)
            tw = draw.textlength(name, font=font)
            draw.text((x + (thumb - tw) / 2, y + thumb + 2), name, fill=(0, 0, 0), font=font)
        path = sheet_dir / f"{label}_{n:02d}.png"
        sheet.save(path, format="PNG")
        written.append(path)
    return written
