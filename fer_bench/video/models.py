"""Sequence models of the video track: a 3-layer GRU over per-frame features with an average, attention or
convolution head, then an MLP (Keinert et al., 2025, JMIR 27:e68942, Methods, "Development of the Automatic FER
Model": unidirectional stacked GRU, 3 layers of hidden size 35; heads "GRU average", "GRU HCAM" after Yang et al.
2016 and "GRU convolution" (Conv1D kernel 3, stride 1, same padding, then adaptive average pooling); MLP with two
hidden layers of 24 ReLU units and a softmax; Adam, learning rate 0.001).

Masking is explicit. The model takes two inputs, ``features`` [batch, time, n_features] float32 and ``mask``
[batch, time] bool (True = a real frame, right padding = False), and every masked layer receives ``mask=``
directly. ``keras.layers.Masking(0.0)`` is never used: an all-zero action-unit frame is a real neutral frame, and
after standard scaling a zero is not padding either.

* GRU: masked steps carry the state forward, so the outputs at valid (right-padded) positions do not depend on
  how much padding follows; the GRU repeats its last output on padded steps, which is why every head masks again.
* average: :class:`MaskedMean`, the mean over valid frames only.
* attention: :class:`ContextAttention` (Yang et al. 2016, NAACL, Section 2.2 word attention):
  ``u_t = tanh(W h_t + b)``, ``alpha_t = softmax_t(u_t . u_w)`` over the valid frames only (padded frames get
  weight exactly 0), ``s = sum_t alpha_t h_t``.
* conv: :class:`ZeroPadded` sets padded frames to 0 before the Conv1D, so a valid frame next to padding sees
  the same zero it would see from ``padding="same"`` on the unpadded video; then :class:`MaskedMean`.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import layers, ops

from . import HEADS  # re-exported: fer_bench.video.models.HEADS

GRU_UNITS = 35
GRU_LAYERS = 3
MLP_UNITS = (24, 24)
LEARNING_RATE = 1e-3
ATTENTION_LAYER = "attention"


def _float_mask(mask, dtype):
    return ops.cast(mask, dtype)


@keras.saving.register_keras_serializable(package="fer_bench.video")
class MaskedMean(layers.Layer):
    """Mean over the time axis of [batch, time, channels] counting only frames where ``mask`` is True.

    A row with no valid frame gives zeros (the denominator is clamped to 1), never NaN.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.mean(inputs, axis=1)
        m = _float_mask(mask, inputs.dtype)
        total = ops.sum(inputs * m[:, :, None], axis=1)
        count = ops.maximum(ops.sum(m, axis=1, keepdims=True), 1.0)
        return total / count

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


@keras.saving.register_keras_serializable(package="fer_bench.video")
class ZeroPadded(layers.Layer):
    """Multiply [batch, time, channels] by the mask: padded frames become exactly 0 (used before the Conv1D)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return inputs
        return inputs * _float_mask(mask, inputs.dtype)[:, :, None]

    def compute_mask(self, inputs, mask=None):
        return None  # the Conv1D after this layer does not support masking; the mask is passed on explicitly

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="fer_bench.video")
class ContextAttention(layers.Layer):
    """Attention with a learned context vector (Yang et al. 2016, "Hierarchical Attention Networks for Document
    Classification", NAACL, Section 2.2), over frames instead of words.

    ``u_t = tanh(W h_t + b)``, ``alpha_t = exp(u_t . u_w) / sum_{valid t'} exp(u_t' . u_w)``,
    ``s = sum_t alpha_t h_t``. The softmax runs over valid frames only: scores are shifted by the maximum over
    valid frames, exponentiated, multiplied by the mask and normalised, so padded frames get weight exactly 0 and
    a row with no valid frame gets all-zero weights (and ``s = 0``) instead of NaN.

    Returns ``[s, alpha]``: s [batch, channels], alpha [batch, time].
    """

    def __init__(self, attention_size: int = GRU_UNITS, **kwargs):
        super().__init__(**kwargs)
        self.attention_size = int(attention_size)
        self.supports_masking = True

    def build(self, input_shape):
        channels = input_shape[-1]
        self.w = self.add_weight(name="w", shape=(channels, self.attention_size), initializer="glorot_uniform")
        self.b = self.add_weight(name="b", shape=(self.attention_size,), initializer="zeros")
        self.u_w = self.add_weight(name="u_w", shape=(self.attention_size,), initializer="glorot_uniform")

    def call(self, inputs, mask=None):
        u = ops.tanh(ops.matmul(inputs, self.w) + self.b)  # [B, T, A]
        score = ops.sum(u * self.u_w, axis=-1)  # [B, T]
        if mask is None:
            m = ops.ones_like(score)
        else:
            m = _float_mask(mask, score.dtype)
        valid = m > 0
        very_negative = ops.full_like(score, -1e9)
        peak = ops.max(ops.where(valid, score, very_negative), axis=1, keepdims=True)
        e = ops.exp(ops.where(valid, score - peak, ops.zeros_like(score))) * m
        alpha = e / ops.maximum(ops.sum(e, axis=1, keepdims=True), 1e-12)
        s = ops.sum(alpha[:, :, None] * inputs, axis=1)
        return [s, alpha]

    def compute_mask(self, inputs, mask=None):
        return [None, None]

    def compute_output_shape(self, input_shape):
        return [(input_shape[0], input_shape[2]), (input_shape[0], input_shape[1])]

    def get_config(self):
        return {**super().get_config(), "attention_size": self.attention_size}


def build_sequence_model(
    n_features: int,
    n_classes: int,
    head: str,
    *,
    gru_units: int = GRU_UNITS,
    gru_layers: int = GRU_LAYERS,
    attention_size: int | None = None,
    conv_filters: int | None = None,
    conv_activation: str | None = None,
    mlp_units: Sequence[int] = MLP_UNITS,
    learning_rate: float = LEARNING_RATE,
    compile: bool = True,
) -> keras.Model:
    """The GRU + head + MLP classifier of Keinert et al. (2025), Methods, "Development of the Automatic FER Model".

    Inputs ``features`` [batch, time, n_features] float32 and ``mask`` [batch, time] bool; output softmax
    probabilities [batch, n_classes]. ``head`` is "average", "attention" (layer named ``"attention"``, see
    :func:`attention_model`) or "conv". The paper gives neither the attention size nor the conv filter count or
    activation: defaults are attention size = conv filters = ``gru_units`` and a linear conv. Compiled (unless
    ``compile=False``) with Adam(``learning_rate``) and sparse categorical cross-entropy on integer labels.
    """
    if head not in HEADS:
        raise ValueError(f"unknown head {head!r}; expected one of {', '.join(HEADS)}")
    if n_features < 1 or n_classes < 2:
        raise ValueError(f"need n_features >= 1 and n_classes >= 2, got {n_features} and {n_classes}")
    features = keras.Input((None, n_features), dtype="float32", name="features")
    mask = keras.Input((None,), dtype="bool", name="mask")
    h = features
    for i in range(gru_layers):
        h = layers.GRU(gru_units, return_sequences=True, name=f"gru_{i + 1}")(h, mask=mask)
    if head == "average":
        pooled = MaskedMean(name="masked_mean")(h, mask=mask)
    elif head == "attention":
        pooled, _ = ContextAttention(attention_size or gru_units, name=ATTENTION_LAYER)(h, mask=mask)
    else:
        z = ZeroPadded(name="zero_padded")(h, mask=mask)
        z = layers.Conv1D(
            conv_filters or gru_units, 3, strides=1, padding="same", activation=conv_activation, name="conv"
        )(z)
        pooled = MaskedMean(name="masked_mean")(z, mask=mask)
    y = pooled
    for i, units in enumerate(mlp_units):
        y = layers.Dense(units, activation="relu", name=f"mlp_{i + 1}")(y)
    probs = layers.Dense(n_classes, activation="softmax", name="probs")(y)
    model = keras.Model([features, mask], probs, name=f"gru_{head}")
    if compile:
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    return model


def attention_model(model: keras.Model) -> keras.Model:
    """A model sharing ``model``'s weights that maps (features, mask) to the attention weights [batch, time].

    Works on a freshly built or a reloaded attention-head model; raises ValueError for the other heads.
    """
    try:
        layer = model.get_layer(ATTENTION_LAYER)
    except ValueError as exc:
        raise ValueError(f"model {model.name!r} has no attention layer (head is not 'attention')") from exc
    return keras.Model(model.inputs, layer.output[1], name=f"{model.name}_attention_weights")


def pad_batch(sequences: Sequence[np.ndarray], max_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad per-video feature matrices [T_i, F] to ``x`` [N, T, F] float32 (zeros) and ``mask`` [N, T] bool.

    ``T`` is ``max_len`` when given (longer videos keep their first ``max_len`` frames), else the longest video.
    Right padding keeps the GRU on Keras's cuDNN path and makes the padded tail irrelevant to valid outputs. An
    empty video gives an all-False mask row: the CPU path returns the heads' zero pooling for it, but Keras's cuDNN
    GRU (TensorFlow on a GPU) rejects fully masked rows and masks that are not right-padded, so drop empty videos
    before batching for GPU runs.
    """
    if len(sequences) == 0:
        raise ValueError("pad_batch needs at least one sequence")
    arrays = [np.asarray(s, dtype=np.float32) for s in sequences]
    for i, a in enumerate(arrays):
        if a.ndim != 2:
            raise ValueError(f"sequence {i} has shape {a.shape}; expected [time, n_features]")
    n_features = arrays[0].shape[1]
    if any(a.shape[1] != n_features for a in arrays):
        raise ValueError(f"sequences differ in feature count: {sorted({a.shape[1] for a in arrays})}")
    if max_len is not None and max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    t = max_len if max_len is not None else max(max(a.shape[0] for a in arrays), 1)
    x = np.zeros((len(arrays), t, n_features), dtype=np.float32)
    mask = np.zeros((len(arrays), t), dtype=bool)
    for i, a in enumerate(arrays):
        n = min(a.shape[0], t)
        x[i, :n] = a[:n]
        mask[i, :n] = True
    return x, mask
