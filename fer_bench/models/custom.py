"""The BTFER authors' own small CNNs (seed 003 section 3.3; reference code section 6)."""

from __future__ import annotations

import keras
from keras import layers

from .layers import model_input
from .registry import ModelSpec, register


def build_sequential_4conv(input_size: int, num_classes: int, init: str, preprocess_mode: str) -> keras.Model:
    """Sequential 4 Conv, following the paper text (seed 003 §3.3).

    The authors' code for "Conv3" and "Conv4" is byte-identical (reference §6); we follow the paper: Conv32 same
    -> Conv64 -> MP -> Drop .25 | Conv128 x2 -> MP | Conv256 x2 -> MP | Conv512 + BN -> Drop .2 | GAP ->
    Dense 1024 -> Drop .5 -> softmax.
    """
    inputs, x = model_input(input_size, preprocess_mode)
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Dropout(0.25)(x)
    x = layers.Conv2D(128, 3, padding="same", activation="relu")(x)
    x = layers.Conv2D(128, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(256, 3, padding="same", activation="relu")(x)
    x = layers.Conv2D(256, 3, padding="same", activation="relu")(x)
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


def build_sequential_simple(input_size: int, num_classes: int, init: str, preprocess_mode: str) -> keras.Model:
    """Sequential Simple (paper §3.3): Conv32 -> Conv64 -> MP -> Drop .1 | Conv128 -> MP | Conv64 -> MP |
    Flatten -> Dense 512 -> Drop .2 -> softmax."""
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


register(ModelSpec(
    name="sequential_4conv", builder=build_sequential_4conv, family="custom",
    description="BTFER authors' Sequential 4 Conv (GAP head)", aliases=("Sequential 4 Conv", "conv4"),
))
register(ModelSpec(
    name="sequential_simple", builder=build_sequential_simple, family="custom",
    description="BTFER authors' Sequential Simple (Flatten head)", aliases=("Sequential Simple",),
))
