"""Model cards: what fer-bench knows about each architecture, as data (``fer_bench/models/cards.toml``).

The card file ships inside the package (``pip install .`` included). Each card merges the hand-written part
(paper names, the paper's PARAM figures and reported numbers, the authors' code parameter counts, notes) with
the generated ``measured`` block (family, builder, aliases, min size, inits, preprocessing, measured parameter
counts; regenerate with ``python benchmarks/count_params.py``).

>>> paper_numbers("resnet50", 224, "rafdb", "simple", init="vggface")["in_domain"]["accuracy"]
0.86
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import tomllib

from ..errors import FerBenchError

CARDS_FILE = "cards.toml"
DATASETS = ("rafdb", "fer2013", "affectnet")
#: the class-weighting columns of the paper's tables (not the options a run accepts: see protocol.config)
PAPER_TABLE_BALANCES = ("simple", "conservative")
METRICS = ("precision", "recall", "f1", "accuracy")

_DATASET_ALIASES = {
    "rafdb": "rafdb", "raf_db": "rafdb", "raf": "rafdb", "fer2013": "fer2013", "fer": "fer2013",
    "fer_2013": "fer2013", "affectnet": "affectnet", "affectnet7": "affectnet", "affectnet_7": "affectnet",
}


def cards_text() -> str:
    """The raw TOML text of the card file shipped with the package."""
    return resources.files("fer_bench.models").joinpath(CARDS_FILE).read_text(encoding="utf8")


@functools.lru_cache(maxsize=1)
def _load() -> dict[str, dict[str, Any]]:
    raw = tomllib.loads(cards_text())
    cards: dict[str, dict[str, Any]] = {}
    for name, card in raw.items():
        measured = card.pop("measured", {})
        cards[name] = {"name": name, **measured, **card}
    return cards


def load_cards() -> dict[str, dict[str, Any]]:
    """{model name: card dict}. Keys per card: name, family, builder, aliases, min_size, inits, preprocessing,
    params ({init: {"48": n, "224": n}}), paper_names, paper_param, reference_params, paper_default_init,
    notes, paper (raw "RES/INIT/DATASET" -> four [P, R, F1, Acc] lists)."""
    import copy

    return copy.deepcopy(_load())


def _canonical(model: str) -> str:
    cards = _load()
    if model in cards:
        return model
    try:
        from .registry import get_spec

        return get_spec(model).name
    except FerBenchError:
        return model.strip().lower()


def get_card(model: str) -> dict[str, Any]:
    """The card of a model (name or alias); FerBenchError when there is none."""
    name = _canonical(model)
    card = _load().get(name)
    if card is None:
        raise FerBenchError(f"no model card for {model!r}; cards exist for {', '.join(sorted(_load()))}")
    import copy

    return copy.deepcopy(card)


def _dataset_key(dataset: str) -> str:
    k = dataset.strip().lower().replace("-", "_").replace(" ", "_")
    if k not in _DATASET_ALIASES:
        raise FerBenchError(f"unknown dataset {dataset!r} for paper numbers; use one of {', '.join(DATASETS)}")
    return _DATASET_ALIASES[k]


def paper_numbers(model: str, res: int, dataset: str, balance: str, init: str | None = None) -> dict | None:
    """The BTFER paper's reported numbers for one (model, resolution, dataset, class balancing) cell.

    Returns ``{"in_domain": {"precision", "recall", "f1", "accuracy"}, "cross_domain": {...}}`` (cross-domain =
    the BTFER test set), or None when the paper has no such row (or it was not transcribed). ``init`` picks the
    pretraining row (``vgg16``: imagenet / vggface / scratch; ``resnet50`` at 224: imagenet / vggface); by
    default the card's ``paper_default_init``.
    """
    b = balance.strip().lower()
    if b not in PAPER_TABLE_BALANCES:
        raise FerBenchError(f"unknown balancing {balance!r}; use simple or conservative")
    ds = _dataset_key(dataset)
    card = _load().get(_canonical(model))
    if card is None:
        return None
    table = card.get("paper", {})
    inits = [init] if init else [card.get("paper_default_init", "scratch")]
    if not init:  # fall back to the only row there is (e.g. SENet50 = vggface)
        inits += sorted({k.split("/")[1] for k in table if k.startswith(f"{int(res)}/")})
    for i in inits:
        row = table.get(f"{int(res)}/{i}/{ds}")
        if row is not None:
            off = 0 if b == "simple" else 2
            return {
                "in_domain": dict(zip(METRICS, row[off], strict=True)),
                "cross_domain": dict(zip(METRICS, row[off + 1], strict=True)),
            }
    return None


def paper_rows(model: str) -> list[dict[str, Any]]:
    """Every transcribed paper row of a model as flat dicts (res, init, dataset, balance, split, metrics)."""
    card = get_card(model)
    out = []
    for key, row in card.get("paper", {}).items():
        res, init, ds = key.split("/")
        for bi, bal in enumerate(PAPER_TABLE_BALANCES):
            for si, split in enumerate(("in_domain", "cross_domain")):
                out.append({"res": int(res), "init": init, "dataset": ds, "balance": bal, "split": split,
                            **dict(zip(METRICS, row[2 * bi + si], strict=True))})
    return out


def measured_params(model: str, res: int, init: str | None = None) -> int | None:
    """Parameter count measured by benchmarks/count_params.py (None if not measured)."""
    card = get_card(model)
    params = card.get("params", {})
    if init is None:
        init = next(iter(params), None)
    return params.get(init, {}).get(str(int(res))) if init else None
