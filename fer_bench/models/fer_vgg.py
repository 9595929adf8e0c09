"""fer_vgg: a compact VGG-style network for 48x48 faces, used by the `strong` recipe (not from the paper).

Why: the paper's best 48 px FER2013 model reaches 0.68 with ImageNet VGG16 (15M parameters). VGG-style
stacks with BatchNorm are the strongest plain CNNs on FER2013 (Khaireddin & Chen 2021 report 0.733 with a
VGG variant), and a narrow version trains at a useful speed on a laptop CPU. Four stages of two 3x3 conv +
BN + ReLU, max-pooling and spatial dropout, then Flatten -> Dense 256 -> Dropout 0.5 -> softmax.
"""

from __future__ import annotations

import keras
from keras import layers

from .layers import model_input
from .spec import ModelSpec, register


def build_fer_vgg(input_size: int, num_classes: int, init: str, preprocess_mode: str,
                  widths=(32, 64, 128, 256)) -> keras.Model:
    inputs, x = model_input(input_size, preprocess_mode)
    for stage, w in enumerate(widths):
        for j in range(2):
            x = layers.Conv2D(w, 3, padding="same", use_bias=False, kernel_initializer="he_normal",
                              name=f"s{stage}_conv{j}")(x)
            x = layers.BatchNormalization(name=f"s{stage}_bn{j}")(x)
            x = layers.Activation("relu", name=f"s{stage}_relu{j}")(x)
        x = layers.MaxPooling2D(2, name=f"s{stage}_pool")(x)
        x = layers.SpatialDropout2D(0.1 + 0.05 * stage, name=f"s{stage}_drop")(x)
    x = layers.Flatten(name="flatten")(x) if input_size <= 64 else layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(256, use_bias=False, name="fc")(x)
    x = layers.BatchNormalization(name="fc_bn")(x)
    x = layers.Activation("relu", name="fc_relu")(x)
    x = layers.Dropout(0.5, name="fc_drop")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="fer_vgg")


register(ModelSpec(
    name="fer_vgg", builder=build_fer_vgg, family="custom",
    description="compact VGG-style CNN with BatchNorm for 48 px faces (fer-bench strong recipe; not in the paper)",
    aliases=("vgg_fer",), learning_rate=1e-3,
))
