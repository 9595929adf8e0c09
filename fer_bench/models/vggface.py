"""VGGFace (VGG16) and VGGFace2 (ResNet50, SENet50) backbones re-implemented in Keras 3.

``keras_vggface`` (rcmalli, 2019) no longer imports under TF >= 2.6, so these are fresh
Keras 3 implementations whose layers carry the names of the published keras-vggface v2.0 h5 files
(``rcmalli_vggface_tf_notop_{vgg16,resnet50,senet50}.h5``):

* VGG16 (VGGFace v1): ``conv1_1`` .. ``conv5_3`` (3x3, ReLU, bias) and ``pool1`` .. ``pool5``.
* ResNet50 (VGGFace2): stem ``conv1/7x7_s2`` (no bias) + ``conv1/7x7_s2/bn``; bottleneck blocks
  ``conv{stage}_{block}_1x1_reduce``, ``.._3x3``, ``.._1x1_increase`` (each with ``/bn``) and, in the first
  block of a stage, the projection ``.._1x1_proj`` (+ ``/bn``). No conv biases; BN epsilon 1e-3.
* SENet50 (VGGFace2): the same names, BN epsilon 1e-4, plus the squeeze-excitation convs
  ``conv{stage}_{block}_1x1_down`` / ``.._1x1_up`` (1x1, with bias) on the residual branch.

Keras 3 forbids ``/`` in layer names, so ``/`` is written ``__`` (``conv1__7x7_s2__bn``); the loader in
:mod:`fer_bench.models.h5io` translates (:func:`~fer_bench.models.h5io.keras_layer_name`).

**Size-agnostic** (a documented deviation): keras-vggface ends ResNet50/SENet50 with a fixed
``AveragePooling2D(7, 7)`` (``avg_pool``, no weights), which only works for inputs >= 197 px. These backbones
stop before it and the paper head's GlobalAveragePooling2D does the pooling. At 224 px the final map is 7x7,
so GAP is exactly the original AvgPool(7x7) + Flatten, and the same weights give the same features; smaller
inputs (48 px) now work too.

Preprocessing (``Preprocess`` modes): VGG16 ``vggface1`` (RGB->BGR, minus 93.5940/104.7624/129.1863),
ResNet50/SENet50 ``vggface2`` (RGB->BGR, minus 91.4953/103.8827/131.0912), on the 0..255 scale, which is
``keras_vggface.utils.preprocess_input(version=1|2)``.
"""

from __future__ import annotations

import keras
from keras import layers

from .h5io import keras_layer_name, load_h5_by_name
from .layers import model_input, paper_head
from .spec import ModelSpec, register, should_load
from .weights_cache import require

ARCHS = ("vgg16", "resnet50", "senet50")
_N = keras_layer_name


def _vgg16(x):
    for block, (filters, n) in enumerate(((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)), start=1):
        for i in range(1, n + 1):
            x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{block}_{i}")(x)
        x = layers.MaxPooling2D(2, strides=2, name=f"pool{block}")(x)
    return x


def _bn(name: str, eps: float):
    return layers.BatchNormalization(axis=-1, epsilon=eps, name=_N(name + "/bn"))


def _se(x, stage: int, block: int, ratio: int = 16):
    c = int(x.shape[-1])
    p = f"conv{stage}_{block}"
    s = layers.GlobalAveragePooling2D(keepdims=True, name=f"{p}_se_pool")(x)
    s = layers.Conv2D(c // ratio, 1, use_bias=True, name=f"{p}_1x1_down")(s)
    s = layers.Activation("relu", name=f"{p}_se_relu")(s)
    s = layers.Conv2D(c, 1, use_bias=True, name=f"{p}_1x1_up")(s)
    s = layers.Activation("sigmoid", name=f"{p}_se_gate")(s)
    return layers.Multiply(name=f"{p}_se_scale")([x, s])


def _bottleneck(x, filters, stage: int, block: int, strides: int, project: bool, eps: float, se: bool):
    f1, f2, f3 = filters
    p = f"conv{stage}_{block}"
    y = layers.Conv2D(f1, 1, strides=strides, use_bias=False, name=f"{p}_1x1_reduce")(x)
    y = _bn(f"{p}_1x1_reduce", eps)(y)
    y = layers.Activation("relu", name=f"{p}_relu1")(y)
    y = layers.Conv2D(f2, 3, padding="same", use_bias=False, name=f"{p}_3x3")(y)
    y = _bn(f"{p}_3x3", eps)(y)
    y = layers.Activation("relu", name=f"{p}_relu2")(y)
    y = layers.Conv2D(f3, 1, use_bias=False, name=f"{p}_1x1_increase")(y)
    y = _bn(f"{p}_1x1_increase", eps)(y)
    if se:
        y = _se(y, stage, block)
    if project:
        shortcut = layers.Conv2D(f3, 1, strides=strides, use_bias=False, name=f"{p}_1x1_proj")(x)
        shortcut = _bn(f"{p}_1x1_proj", eps)(shortcut)
    else:
        shortcut = x
    y = layers.Add(name=f"{p}_add")([y, shortcut])
    return layers.Activation("relu", name=f"{p}_out")(y)


def _resnet50(x, se: bool):
    eps = 1e-4 if se else 1e-3
    x = layers.Conv2D(64, 7, strides=2, padding="same", use_bias=False, name=_N("conv1/7x7_s2"))(x)
    x = _bn("conv1/7x7_s2", eps)(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    for stage, (filters, blocks) in enumerate(
            (((64, 64, 256), 3), ((128, 128, 512), 4), ((256, 256, 1024), 6), ((512, 512, 2048), 3)), start=2):
        for block in range(1, blocks + 1):
            strides = (1 if stage == 2 else 2) if block == 1 else 1
            x = _bottleneck(x, filters, stage, block, strides, project=block == 1, eps=eps, se=se)
    return x


def backbone(arch: str, input_size: int, name: str = "backbone") -> keras.Model:
    """The no-top VGGFace backbone (random init) on a (size, size, 3) preprocessed input."""
    if arch not in ARCHS:
        raise ValueError(f"unknown VGGFace architecture {arch!r}")
    inp = keras.Input((input_size, input_size, 3), name=f"{name}_input")
    out = _vgg16(inp) if arch == "vgg16" else _resnet50(inp, se=arch == "senet50")
    return keras.Model(inp, out, name=name)


def load_vggface_weights(model_or_backbone: keras.Model, arch: str) -> dict:
    """Load the cached keras-vggface v2.0 weights of ``arch`` by layer name (FerBenchError if absent)."""
    path = require(f"vggface_{arch}")
    return load_h5_by_name(model_or_backbone, path, require_all=True)


def build_vggface(arch: str, input_size: int, num_classes: int, init: str, preprocess_mode: str,
                  model_name: str | None = None, *, load_pretrained: bool | None = None) -> keras.Model:
    """VGGFace backbone (nested, named "backbone") + the BTFER paper head (GAP)."""
    path = None
    if init == "vggface" and should_load(load_pretrained):
        path = require(f"vggface_{arch}")  # fail before building anything heavy
    inputs, x = model_input(input_size, preprocess_mode)
    bb = backbone(arch, input_size)
    if path is not None:
        load_h5_by_name(bb, path, require_all=True)
    outputs = paper_head(bb(x), num_classes, pooling="gap")
    return keras.Model(inputs, outputs, name=model_name or f"{arch}_vggface")


def build_senet50(input_size: int, num_classes: int, init: str, preprocess_mode: str, *,
                  load_pretrained: bool | None = None) -> keras.Model:
    """VGGFace2 SENet50 + paper head (224 in the paper; size-agnostic here, see the module docstring)."""
    return build_vggface("senet50", input_size, num_classes, init, preprocess_mode, model_name="senet50",
                         load_pretrained=load_pretrained)


register(ModelSpec(
    name="senet50", builder=build_senet50, family="vggface",
    description="SENet50 (VGGFace2 weights, keras-vggface layout) + paper head",
    aliases=("SeNet50", "SeNet", "senet50_vggface", "SENet50 - VF"),
    inits=("vggface", "scratch"), preprocessing={"vggface": "vggface2", "scratch": "vggface2"},
    min_size=32, two_phase=True,
))
