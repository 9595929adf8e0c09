"""The BTFER authors' own CNNs (Ipinze Tutuianu et al., 2024, §3.3; code: github.com/gipinze/ResearchModels_GIT).

Sequential Simple, Sequential 3 Conv, Sequential 4 Conv, Modular, Ensemble and SMMB (the paper's
"self-designed" networks) plus the authors' "Mediapipe CNN". Layer stacks follow the paper text where it gives
one and the authors' notebooks where it does not; each docstring lists the deviations and parameter counts.
All are trained from scratch on x/255 inputs (``Preprocess("rescale")``) and save to ``.keras`` without
custom_objects.
"""

from __future__ import annotations

import keras
from keras import layers

from .layers import Grayscale, model_input
from .spec import ModelSpec, register


def build_sequential_4conv(input_size: int, num_classes: int, init: str, preprocess_mode: str) -> keras.Model:
    """Sequential 4 Conv, following the paper text (Ipinze Tutuianu et al., 2024, §3.3, Fig. 4).

    Block 1: Conv 32 3x3 'same' -> Conv 64 3x3 -> MP 2 -> Drop .25 | Block 2: Conv 128 x2 -> MP 2 | Block 3:
    Conv 256 x2 -> MP 2 | Block 4: Conv 512 + BN + ReLU -> Drop .2 | GAP -> Dense 1024 -> Drop .5 -> softmax.

    Padding: the paper gives 'same' only for the first conv, so the others use Keras' default 'valid' (as the
    authors' code does); the Block-4 conv is 'same' as in the authors' code, since a 'valid' 3x3 conv does not
    fit the 2x2 map left at 48 px. 2,840,775 parameters at any size (the paper's "~3M"; it is the same count as
    the authors' "Model 10"). The authors' notebooks for "Conv3" and "Conv4" run byte-identical code (their
    Conv3); we follow the paper's two different descriptions instead.
    """
    inputs, x = model_input(input_size, preprocess_mode)
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Dropout(0.25)(x)
    x = layers.Conv2D(128, 3, activation="relu")(x)
    x = layers.Conv2D(128, 3, activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(256, 3, activation="relu")(x)
    x = layers.Conv2D(256, 3, activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(512, 3, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.Dropout(0.2)(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(1024, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="sequential_4conv")


def build_sequential_3conv(input_size: int, num_classes: int, init: str, preprocess_mode: str) -> keras.Model:
    """Sequential 3 Conv, following the paper text (Ipinze Tutuianu et al., 2024, §3.3, Fig. 3).

    Block 1: Conv 32 3x3 'same' -> Conv 64 3x3 -> MP 2 -> Drop .25 | Block 2: Conv 128 x2 -> MP 2 | Block 3:
    Conv 512 3x3 'same' + BN + ReLU -> MP 2 | GAP -> Dense 1024 -> Drop .5 -> softmax. 1,365,703 parameters
    (the paper's "~1,3M"; the same count as the authors' Conv3 code, which orders pools and
    dropouts slightly differently: Conv 128 -> MP -> Conv 128 -> Drop .25 -> Conv 512 -> BN -> MP -> Drop .2).
    """
    inputs, x = model_input(input_size, preprocess_mode)
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Dropout(0.25)(x)
    x = layers.Conv2D(128, 3, activation="relu")(x)
    x = layers.Conv2D(128, 3, activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(512, 3, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(1024, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="sequential_3conv")


def build_sequential_simple(input_size: int, num_classes: int, init: str, preprocess_mode: str) -> keras.Model:
    """Sequential Simple (paper §3.3): Conv32 -> Conv64 -> MP -> Drop .1 | Conv128 -> MP | Conv64 -> MP |
    Flatten -> Dense 512 -> Drop .2 -> softmax.

    Follows the paper text. The authors' "Sequential 1" code differs (Conv 256 as the 4th conv, Drop .1 after
    every pool: 2,489,671 params at 48 px, 88,997,191 at 224). The paper's PARAM column is itself
    split: "~2.5" at 48 px matches the code, "~22M" at 224 px matches the text (ours: 22.3M at 224, 0.70M at 48).
    """
    inputs, x = model_input(input_size, preprocess_mode)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Dropout(0.1)(x)
    x = layers.Conv2D(128, 3, activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(512, activation="relu")(x)
    x = layers.Dropout(0.2)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="sequential_simple")




def _modular_branch(x, kernel: int, name: str):
    for i, filters in enumerate((32, 64, 128), start=1):
        x = layers.Conv2D(filters, kernel, padding="same", activation="relu", name=f"{name}_conv{i}")(x)
        x = layers.MaxPooling2D(2, name=f"{name}_pool{i}")(x)
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = layers.Dense(512, activation="relu", name=f"{name}_dense512")(x)
    x = layers.Dropout(0.5, name=f"{name}_drop1")(x)
    x = layers.Dense(256, activation="relu", name=f"{name}_dense256")(x)
    return layers.Dropout(0.5, name=f"{name}_drop2")(x)


def build_modular(input_size: int, num_classes: int, init: str, preprocess_mode: str) -> keras.Model:
    """Modular (MNN, paper §3.3, Fig. 7): a local sub-network (Conv 32/64/128 3x3 'same', each + MP 2 ->
    Flatten -> Dense 512 -> Drop .5 -> Dense 256 -> Drop .5) and a global one (the same with 5x5 kernels) on the
    same input, concatenated -> softmax. 24 layers (input and preprocessing included), as the paper says;
    5,337,735 params at 48 px and 103,379,591 at 224 (paper: ~5M / ~103M; the authors' code: the same)."""
    inputs, x = model_input(input_size, preprocess_mode)
    local = _modular_branch(x, 3, "local")
    glob = _modular_branch(x, 5, "global")
    x = layers.Concatenate(name="concat")([local, glob])
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="modular")


def _ensemble_member(x, widths: tuple[int, int, int], num_classes: int, name: str):
    for stage, filters in enumerate(widths, start=1):
        for i in (1, 2):
            x = layers.Conv2D(filters, 3, padding="same", name=f"{name}_s{stage}_conv{i}")(x)
            x = layers.BatchNormalization(name=f"{name}_s{stage}_bn{i}")(x)
            x = layers.Activation("relu", name=f"{name}_s{stage}_relu{i}")(x)
        x = layers.MaxPooling2D(2, name=f"{name}_s{stage}_pool")(x)
        x = layers.Dropout(0.25, name=f"{name}_s{stage}_drop")(x)
    x = layers.GlobalAveragePooling2D(name=f"{name}_gap")(x)
    x = layers.Dense(512, activation="relu", name=f"{name}_dense512")(x)
    x = layers.Dropout(0.25, name=f"{name}_drop")(x)
    return layers.Dense(num_classes, activation="softmax", name=f"{name}_softmax")(x)


def build_ensemble(input_size: int, num_classes: int, init: str, preprocess_mode: str) -> keras.Model:
    """Ensemble (paper §3.3, Fig. 6): three CNNs trained jointly, each ending in its own softmax; the
    prediction is the average of the three softmaxes.

    Each CNN: 3 stages of [Conv 3x3 'same' + BN + ReLU] x2 -> MP 2 -> Drop .25, then GAP -> Dense 512 ->
    Drop .25 -> softmax. CNN-1 and CNN-2 use widths 32/64/128, CNN-3 64/128/256 (the paper's "variations in
    convolutional layers" as the authors' code has them). The paper gives Dropout 0.25 after the
    Dense 512, the authors' code 0.5; we follow the paper. 2,001,045 parameters (paper: ~2M).
    """
    inputs, x = model_input(input_size, preprocess_mode)
    members = [
        _ensemble_member(x, (32, 64, 128), num_classes, "cnn1"),
        _ensemble_member(x, (32, 64, 128), num_classes, "cnn2"),
        _ensemble_member(x, (64, 128, 256), num_classes, "cnn3"),
    ]
    outputs = layers.Average(name="predictions")(members)
    return keras.Model(inputs, outputs, name="ensemble")


def build_smmb(input_size: int, num_classes: int, init: str, preprocess_mode: str) -> keras.Model:
    """SMMB, single model multi-branch (paper §3.3, Fig. 8).

    Shared: Conv 32, 64, 64 (3x3 'same', ReLU). Branch A ("face detection"): MP 2 -> Conv 128 -> Flatten ->
    Dense 64. Branch B ("emotion"): Conv 128 -> MP 2 -> Conv 256 -> MP 2 -> MultiHeadAttention(4 heads,
    key_dim 32) over the spatial positions (self-attention, no residual) -> LayerNorm -> Dense 128 -> Drop .5 ->
    Flatten. Concatenate -> softmax. 5,512,455 parameters at 48 px (paper: ~5,5M). Attention is quadratic in
    the number of positions (144 at 48 px, 3,136 at 224 px), so 224 px is memory-hungry; the paper ran 48 only.
    """
    inputs, x = model_input(input_size, preprocess_mode)
    x = layers.Conv2D(32, 3, padding="same", activation="relu", name="shared_conv1")(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu", name="shared_conv2")(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu", name="shared_conv3")(x)
    a = layers.MaxPooling2D(2, name="face_pool")(x)
    a = layers.Conv2D(128, 3, padding="same", activation="relu", name="face_conv")(a)
    a = layers.Flatten(name="face_flatten")(a)
    a = layers.Dense(64, activation="relu", name="face_dense")(a)
    b = layers.Conv2D(128, 3, padding="same", activation="relu", name="emo_conv1")(x)
    b = layers.MaxPooling2D(2, name="emo_pool1")(b)
    b = layers.Conv2D(256, 3, padding="same", activation="relu", name="emo_conv2")(b)
    b = layers.MaxPooling2D(2, name="emo_pool2")(b)
    h, w, c = (int(d) for d in b.shape[1:])
    b = layers.Reshape((h * w, c), name="emo_tokens")(b)
    b = layers.MultiHeadAttention(num_heads=4, key_dim=32, name="emo_attention")(b, b)
    b = layers.LayerNormalization(name="emo_norm")(b)
    b = layers.Dense(128, activation="relu", name="emo_dense")(b)
    b = layers.Dropout(0.5, name="emo_drop")(b)
    b = layers.Flatten(name="emo_flatten")(b)
    x = layers.Concatenate(name="concat")([a, b])
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="smmb")


def build_mediapipe_cnn(input_size: int, num_classes: int, init: str, preprocess_mode: str) -> keras.Model:
    """The authors' "Mediapipe CNN" (no MediaPipe involved), on grayscale: RGB 0..255 ->
    x/255 -> luma -> [Conv 64 (valid) + BN, Conv 64 + BN, MP, Drop .5] -> [128 + BN x2, MP, Drop .4] ->
    [256 + BN x2, MP, Drop .5] -> [512 + BN x2, MP, Drop .4] -> Flatten -> Dense 1024 -> Drop .5 -> Dense 256
    -> softmax; he_normal convs. 7,054,279 parameters at 48 px. Not one of the paper's tables' rows (the paper
    mentions "MediaPipe + VGGNet" in its Table 4 only)."""
    inputs, x = model_input(input_size, preprocess_mode)
    x = Grayscale(name="grayscale")(x)
    for stage, (filters, drop) in enumerate(((64, 0.5), (128, 0.4), (256, 0.5), (512, 0.4)), start=1):
        for i in (1, 2):
            pad = "valid" if stage == 1 and i == 1 else "same"
            x = layers.Conv2D(filters, 3, padding=pad, activation="relu", kernel_initializer="he_normal",
                              name=f"s{stage}_conv{i}")(x)
            x = layers.BatchNormalization(name=f"s{stage}_bn{i}")(x)
        x = layers.MaxPooling2D(2, name=f"s{stage}_pool")(x)
        x = layers.Dropout(drop, name=f"s{stage}_drop")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(1024, activation="relu", name="fc1024")(x)
    x = layers.Dropout(0.5, name="fc_drop")(x)
    x = layers.Dense(256, activation="relu", name="fc256")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="mediapipe_cnn")


register(ModelSpec(
    name="sequential_4conv", builder=build_sequential_4conv, family="custom",
    description="BTFER authors' Sequential 4 Conv (GAP head)",
    aliases=("Sequential 4 Conv", "Sequential 4Conv", "Sequential 4Conv*", "conv4"), min_size=34,
))
register(ModelSpec(
    name="sequential_3conv", builder=build_sequential_3conv, family="custom",
    description="BTFER authors' Sequential 3 Conv (GAP head)",
    aliases=("Sequential 3 Conv", "Sequential 3Conv", "conv3"), min_size=18,
))
register(ModelSpec(
    name="sequential_simple", builder=build_sequential_simple, family="custom",
    description="BTFER authors' Sequential Simple (Flatten head)",
    aliases=("Sequential Simple", "Sequential Simple*", "Sequential 1"), min_size=24,
))
register(ModelSpec(
    name="modular", builder=build_modular, family="custom",
    description="BTFER authors' Modular network (local 3x3 + global 5x5 branches)",
    aliases=("Modular", "MNN", "Modular - MNN", "MNN - Modular"), min_size=8,
))
register(ModelSpec(
    name="ensemble", builder=build_ensemble, family="custom",
    description="BTFER authors' Ensemble (three CNNs, averaged softmaxes)", aliases=("Ensemble",), min_size=8,
))
register(ModelSpec(
    name="smmb", builder=build_smmb, family="custom",
    description="BTFER authors' single-model multi-branch net with self-attention",
    aliases=("SMMB", "Single model multi branch"), min_size=4, resolutions=(48,),
))
register(ModelSpec(
    name="mediapipe_cnn", builder=build_mediapipe_cnn, family="custom",
    description="BTFER authors' 'Mediapipe CNN' (grayscale 8-conv net; not in the paper's tables)",
    aliases=("Mediapipe CNN", "MediaPipe"), min_size=18, learning_rate=1e-3, resolutions=(48,),
))
