"""Export a trained model for inference: RepVGG blocks re-parameterised, optional flip TTA baked in.

Why: a run's ``model.keras`` is the training form (multi-branch RepVGG blocks, no TTA). The exported file is
what you ship: the same function in inference mode (re-parameterisation is checked numerically here, not
assumed), smaller and faster for RepVGG, and - with ``flip_tta`` - it scores what the run reported for a
``strong``-recipe model without the evaluator having to remember ``--tta``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import FerBenchError
from ..fsutil import atomic_path

#: largest allowed |float32 copy - source| on a softmax output when a mixed-precision model is exported
MAX_FLOAT32_DIFF = 5e-2


def export_model(src: Path, out: Path, *, flip_tta: bool = False, check_images: int = 8, seed: int = 0) -> dict:
    """Load *src*, re-parameterise, optionally wrap with flip TTA, verify against the source and save to *out*.

    Returns a summary: parameter counts before/after and the max abs difference of the outputs on random
    images (without TTA, against the source model; it must be < 1e-4).
    """
    import keras

    from ..models.layers import FlipAverage
    from ..models.loading import load_keras
    from ..models.repvgg import reparameterize

    src, out = Path(src), Path(out)
    hint = "pass the model.keras of a run folder"
    if not src.is_file():
        raise FerBenchError(f"{src}: no such model file; {hint}")
    if out.suffix != ".keras":
        raise FerBenchError(f"{out}: the exported file must end in .keras")
    model = load_keras(src, hint=hint)
    fused = reparameterize(model)
    shape = (check_images, *model.input_shape[1:])
    x = np.random.default_rng(seed).uniform(0, 255, size=shape).astype("float32")
    diff = float(np.max(np.abs(model.predict(x, verbose=0) - fused.predict(x, verbose=0))))
    if diff >= 1e-4:
        raise FerBenchError(f"{src}: re-parameterised model differs from the original by {diff:.2e}; not exported")
    # a model trained under --precision bf16 / mixed is saved computing in that dtype; the exported file computes
    # in float32 on every machine (bfloat16 is emulated, slowly, on CPUs without AVX512_BF16/AMX)
    from .ensemble import float32_copy

    final = float32_copy(fused)
    diff32 = 0.0
    if final is not fused:
        diff32 = float(np.max(np.abs(fused.predict(x, verbose=0) - final.predict(x, verbose=0))))
        if diff32 >= MAX_FLOAT32_DIFF:
            raise FerBenchError(f"{src}: the float32 copy differs from the model by {diff32:.2e} (limit "
                                f"{MAX_FLOAT32_DIFF:.0e}); not exported")
    if flip_tta:
        inputs = keras.Input(model.input_shape[1:], name="image")
        final = keras.Model(inputs, FlipAverage(final, name="flip_tta")(inputs), name=f"{model.name}_flip_tta")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out, ".keras") as tmp:  # Keras insists on the .keras suffix
        final.save(tmp)
    return {"source": str(src), "output": str(out), "flip_tta": flip_tta, "params_source": int(model.count_params()),
            "params_exported": int(final.count_params()), "max_abs_diff_reparam": diff,
            "max_abs_diff_float32": diff32,
            "bytes": out.stat().st_size}
