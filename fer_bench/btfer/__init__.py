"""build-btfer: turn raw photos (a folder per class, or a CSV) into a balanced BTFER-style face test set.

``build_btfer(src, out, BuildConfig(...))`` is the library entry point; ``fer-bench build-btfer`` the CLI.
Modules: :mod:`.sources` (scan SRC), :mod:`.detect` (MTCNN/Haar, downscaled), :mod:`.crop` (face choice and
crop box), :mod:`.dedup` (phash), :mod:`.sample` (seeded balanced sample, stable names, exclusions),
:mod:`.cache` (resumable detection cache), :mod:`.pool` (worker processes), :mod:`.report`, :mod:`.sheets`
(contact sheets), :mod:`.build` (the stages).
"""

from .build import MANIFEST, MANIFEST_COLUMNS, BuildConfig, BuildResult, build_btfer, check_out_dir
from .crop import CropBox, choose_face, crop_box, crop_face
from .dedup import hamming, phash_hex
from .sample import match_exclusions, output_name, read_exclude_file, sample_class
from .sources import SourceItem, SourceScan, scan_source

__all__ = [
    "MANIFEST",
    "MANIFEST_COLUMNS",
    "BuildConfig",
    "BuildResult",
    "CropBox",
    "SourceItem",
    "SourceScan",
    "build_btfer",
    "check_out_dir",
    "choose_face",
    "crop_box",
    "crop_face",
    "hamming",
    "match_exclusions",
    "output_name",
    "phash_hex",
    "read_exclude_file",
    "sample_class",
    "scan_source",
]
