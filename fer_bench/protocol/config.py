"""A run is a frozen config; its hash names its result folder, so sweeps resume and skip finished runs."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

from ..errors import FerBenchError

BALANCES = ("none", "simple", "conservative")  # the one list of class-weighting methods (protocol.balance)
WEIGHTED_BALANCES = tuple(b for b in BALANCES if b != "none")  # the ones the paper's tables compare
PROTOCOLS = ("fer-bench", "paper")
RECIPES = ("paper", "strong")
RESOLUTIONS = (48, 224)
PRECISIONS = ("float32", "mixed", "bf16")


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run's result (besides the data on disk and package versions).

    protocol:
      ``fer-bench`` (default): validation carved from the training split (stratified, seeded,
      ``val_fraction``), each backbone's native preprocessing, area/bicubic resize, best weights restored,
      every test set evaluated once at the end on every image, unshuffled.
      ``paper``: the BTFER authors' choices, for comparison only: their test split doubles as validation
      (model selection on the test set), x/255 for every backbone, nearest-neighbour resize.
    recipe: ``paper`` (Adam 1e-4, the paper callbacks) or ``strong`` (see protocol.recipes).
    init_from: a Keras model file (a run's model.keras or an exported file) whose weights, matched by layer
      name, initialise the network before training: continued training, recorded with the file's sha256.
      Left out of the hash when unset, so configs written before the option existed keep their folders.
    tests: cross-domain test sets. Left out (None), they follow the one default rule (:func:`default_tests`):
      synthetic training data (``synth:...``) is tested on ``synth:wild``, anything else on no extra set. The
      rule is applied at construction, so ``cfg.tests`` is always a tuple and the hash of a config given the
      default equals the hash of the same config given those tests explicitly; ``tests_given`` says which.
    model: a registry name or alias; :meth:`resolved` replaces an alias by the registry name (the hash of a run
      uses the resolved name, so ``fer_bench.api.run`` and the CLI resolve before running).
    teacher: a Keras model file (a fer-bench run's model.keras, an exported or ensemble file, TTA views
      included) whose softmax outputs on the fit images become soft targets: knowledge distillation. The
      target of a fit image is ``(1 - teacher_weight) * one-hot + teacher_weight * teacher``; the teacher sees
      the un-augmented face once (outputs cached), the student the augmented one. Recorded with the file's
      sha256; left out of the hash when unset (as are ``teacher_weight`` then), so earlier folders keep names.
    precision: ``float32`` (default), ``mixed`` (Keras' ``mixed_float16`` policy, GPUs only: a run on a machine
      without a GPU refuses it in one line) or ``bf16`` (``mixed_bfloat16``: CPUs with AVX512_BF16 or AMX, and
      GPUs; 1.45x the float32 training rate of fer_vgg on a 2-core AVX512_BF16 CPU, benchmarks/precision.py).
      Mixed precision changes the numbers, so it is part of the hash, but only when it is not the default:
      every config written before the option existed keeps its folder.
    devices: None (default: no distribution strategy, TensorFlow's default device), an int N or ``"all"``:
      train under ``tf.distribute.MirroredStrategy`` on N (all) GPUs, or logical CPUs on a machine without
      GPUs. ``batch_size`` stays the *global* batch (split across the replicas) and the learning rate is
      unchanged, so the training computed is the same as on one device (up to the order of floating-point
      reductions): the device count is recorded in ``run.json`` and never part of the hash.
      :func:`scale_for_devices` applies the linear scaling rule (batch and LR x N) by changing ``batch_size``
      and ``learning_rate``, which are part of the hash.
    """

    model: str = "sequential_4conv"
    res: int = 48
    weights: str = "scratch"
    balance: str = "conservative"
    train: str = "synth:lab"
    tests: tuple[str, ...] | None = None
    seed: int = 0
    epochs: int = 100
    frozen_epochs: int = 20
    batch_size: int = 64
    val_fraction: float = 0.1
    protocol: str = "fer-bench"
    recipe: str = "paper"
    learning_rate: float | None = None
    color: str = "auto"
    conservative_cap: float = 3.0
    es_patience: int = 20
    lr_patience: int = 10
    augment: bool = True
    deterministic: bool = True
    max_train_images: int | None = None
    init_from: str | None = None
    precision: str = "float32"
    teacher: str | None = None
    teacher_weight: float = 0.5
    devices: int | str | None = field(default=None, compare=False)
    extra: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    tests_given: bool = field(default=True, init=False, compare=False, repr=False)

    def __post_init__(self):
        given = self.tests is not None
        object.__setattr__(self, "tests_given", given)
        object.__setattr__(self, "tests", tuple(self.tests) if given else default_tests(self.train))
        if self.balance not in BALANCES:
            raise FerBenchError(f"unknown --balance {self.balance!r}; use one of {', '.join(BALANCES)}")
        if self.protocol not in PROTOCOLS:
            raise FerBenchError(f"unknown --protocol {self.protocol!r}; use one of {', '.join(PROTOCOLS)}")
        if self.recipe not in RECIPES:
            raise FerBenchError(f"unknown --recipe {self.recipe!r}; use one of {', '.join(RECIPES)}")
        if not 8 <= int(self.res) <= 1024:
            raise FerBenchError(f"--res {self.res} is out of range; use 48 or 224 (8..1024 accepted)")
        if not 0.0 < self.val_fraction < 0.5:
            raise FerBenchError(f"--val-fraction {self.val_fraction} must be between 0 and 0.5")
        if self.epochs < 1 or self.frozen_epochs < 0:
            raise FerBenchError("--epochs must be >= 1 and --frozen-epochs >= 0")
        if not 0.0 < self.teacher_weight <= 1.0:
            raise FerBenchError(f"--teacher-weight {self.teacher_weight} must be in (0, 1]")
        if self.teacher is None and self.teacher_weight != 0.5:
            raise FerBenchError("--teacher-weight needs --teacher FILE.keras (the model to distil from)")
        if self.precision not in PRECISIONS:
            raise FerBenchError(f"unknown --precision {self.precision!r}; use one of {', '.join(PRECISIONS)}")
        object.__setattr__(self, "devices", parse_devices(self.devices))

    def resolved(self) -> RunConfig:
        """This config with the model alias replaced by its registry name (unknown models raise a one-line
        FerBenchError) and the default test sets applied: what a run records and hashes."""
        from ..models.registry import get_spec

        name = get_spec(self.model).name
        tests = self.tests if self.tests_given else default_tests(self.train)
        return dataclasses.replace(self, model=name, tests=tests)

    def replace(self, **changes) -> RunConfig:
        """dataclasses.replace that keeps "tests not given" (so a new ``train`` gets its own default tests)."""
        if not self.tests_given and "tests" not in changes:
            changes["tests"] = None
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("tests_given", None)
        d["tests"] = list(self.tests)
        d["extra"] = [list(kv) for kv in self.extra]
        if d.get("init_from") is None:
            d.pop("init_from", None)
        if d.get("teacher") is None:  # unset: out of the hash, as before the option existed
            d.pop("teacher", None)
            d.pop("teacher_weight", None)
        if d.get("precision") == "float32":  # the default is left out: hashes from before the option stay
            d.pop("precision", None)
        if d.get("devices") is None:
            d.pop("devices", None)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> RunConfig:
        known = {f.name for f in dataclasses.fields(cls) if f.init}
        d = {k: v for k, v in d.items() if k in known}
        d["tests"] = tuple(d.get("tests", ()))
        d["extra"] = tuple(tuple(kv) for kv in d.get("extra", ()))
        return cls(**d)

    def config_hash(self) -> str:
        """12 hex chars of sha256 over the canonical JSON of the config (key order independent)."""
        d = self.to_dict()
        d.pop("devices", None)  # where a run trains never changes what it computes (see the class docstring)
        text = json.dumps(d, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def short_name(self) -> str:
        return f"{self.model}-{self.res}-{self.weights}-{self.balance}-seed{self.seed}"


def default_tests(train: str) -> tuple[str, ...]:
    """The one default-test rule: synthetic training data is tested cross-domain on ``synth:wild``."""
    return ("synth:wild",) if str(train).strip().startswith("synth:") else ()


def parse_devices(value) -> int | str | None:
    """``--devices``: None / "" (no strategy), a positive int (also as text) or ``"all"``."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "all":
            return "all"
        if not text.isdigit():
            raise FerBenchError(f"--devices {value!r}: use a number of devices (1, 2, ...) or all")
        value = int(text)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise FerBenchError(f"--devices {value!r}: use a number of devices (1, 2, ...) or all")
    return value


def scale_for_devices(cfg: RunConfig, n: int) -> RunConfig:
    """The linear scaling rule for N replicas: global batch x N and learning rate x N (Goyal et al. 2017).

    The learning rate scaled is the one the run would use (``learning_rate``, else the recipe's or the model's
    default). Both fields are part of the hash, so a scaled run gets a folder of its own.
    """
    from ..models.registry import get_spec
    from .recipes import RECIPES

    if not isinstance(n, int) or n < 1:
        raise FerBenchError("--scale-batch needs a number of devices (--devices N), not 'all'")
    if n == 1:
        return cfg
    lr = cfg.learning_rate or RECIPES[cfg.recipe].default_lr or get_spec(cfg.model).learning_rate
    return cfg.replace(batch_size=cfg.batch_size * n, learning_rate=float(lr) * n)
