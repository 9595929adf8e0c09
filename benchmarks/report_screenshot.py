"""Screenshot a `fer-bench report` HTML file in a real headless browser (desktop and phone width).

Checks the report as a user sees it: the figures render (they are embedded, the browser gets no network), nothing
overflows the page width, text is legible. Look at the PNGs afterwards. Needs Chromium (Debian: ``apt-get
install chromium``; ``--chromium PATH`` or ``$CHROMIUM`` for another binary).

    python benchmarks/report_screenshot.py results/reference/report.html --out results/reference/report_screenshot.png
    python benchmarks/report_screenshot.py report.html --out shot.png --phone   # also shot_phone.png (390 px)

Writes OUT (desktop, 1280 px wide, the first screen unless --height is larger) and with --phone
``<OUT stem>_phone.png`` (390 px wide, the first 2,400 px). It also reports the widest element's right edge
at each width via ``--dump-dom`` with a small script: an edge beyond the window width means horizontal overflow.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--mute-audio"]

# appended to a copy of the page: after load, write the widest right edge of any element into the DOM
_PROBE = """<script>window.addEventListener('load',function(){var w=0,who='';
document.querySelectorAll('body *').forEach(function(e){if(e.closest('.scroll,.fig'))return;
var r=e.getBoundingClientRect();if(r.right>w){w=r.right;who=e.tagName+'.'+e.className;}});
var p=document.createElement('pre');p.id='fer-probe';p.textContent='PROBE '+Math.round(w)+' '+
document.documentElement.scrollWidth+' '+window.innerWidth+' '+who;document.body.appendChild(p);});</script>"""


def chromium() -> str:
    for cand in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                 shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if cand and Path(cand).exists():
            return cand
    sys.exit("error: no Chromium found; install it (apt-get install chromium) or pass --chromium PATH")


def _run(browser: str, args: list[str], timeout: int = 120) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="fer-shot-") as profile:
        return subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              text=True, timeout=timeout)


def screenshot(browser: str, html: Path, out: Path, width: int, height: int) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    proc = _run(browser, [f"--screenshot={out}", f"--window-size={width},{height}", html.resolve().as_uri()])
    if not out.is_file():
        sys.exit(f"error: chromium wrote no screenshot ({proc.stderr.strip()[-300:]})")
    return out


def overflow(browser: str, html: Path, width: int) -> str:
    """'PROBE <widest right edge> <document scroll width> <element>' at a window width."""
    with tempfile.TemporaryDirectory(prefix="fer-probe-") as tmp:
        page = Path(tmp) / "page.html"
        page.write_text(html.read_text(encoding="utf8").replace("</body>", _PROBE + "</body>"), encoding="utf8")
        proc = _run(browser, ["--dump-dom", "--virtual-time-budget=5000", f"--window-size={width},900",
                              page.as_uri()])
    import re

    m = re.search(r"PROBE (\d+) (\d+) (\d+) ([^<]*)", proc.stdout)
    return m.group(0) if m else "PROBE unavailable"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("html", type=Path)
    ap.add_argument("--out", type=Path, required=True, help="desktop screenshot PNG")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=900)
    ap.add_argument("--phone", action="store_true", help="also a 390 px wide screenshot, <stem>_phone.png")
    ap.add_argument("--chromium", default=None)
    a = ap.parse_args(argv)
    if not a.html.is_file():
        sys.exit(f"error: {a.html}: no such file")
    browser = a.chromium or chromium()
    shots = [(a.out, a.width, a.height)]
    if a.phone:
        shots.append((a.out.with_name(a.out.stem + "_phone.png"), 390, 2400))
    for out, w, h in shots:
        screenshot(browser, a.html, out, w, h)
        probe = overflow(browser, a.html, w).split()
        if len(probe) < 4:
            print(f"{out}: {w}x{h}; overflow probe unavailable")
            continue
        edge, page, inner = (int(x) for x in probe[1:4])
        verdict = "fits" if page <= inner else f"OVERFLOWS (page {page} px wide)"
        print(f"{out}: {w}x{h} (layout width {inner} px); widest element outside scroll boxes ends at {edge} px "
              f"({' '.join(probe[4:])}); {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
