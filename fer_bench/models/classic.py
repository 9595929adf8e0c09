"""Classic CNNs of the BTFER benchmark (Ipinze Tutuianu et al., 2024, §3.2), trained from scratch.

LeNet5, AlexNet, ZFNet, VGGNet, GoogLeNet and ResNet18. The paper text names these networks but gives no layer
stacks, so the stacks follow the authors' notebooks (github.com/gipinze/ResearchModels_GIT) except where they
contain a plain bug or contradict the paper; each builder's docstring says where it deviates.

All take raw RGB 0..255 (``Preprocess("rescale")`` = x/255, as the authors did) and end in softmax.
GoogLeNet and ResNet18 have two stems, like the authors' 48 px and 224 px notebooks: inputs smaller than
:data:`LARGE_INPUT` (112 px) use the small-input stem, larger ones the ImageNet stem.
"""

from __future__ import annotations

import keras
from keras import layers

from ..errors import FerBenchError
from .layers import model_input
from .spec import ModelSpec, register, should_load

#: inputs of at least this size use the ImageNet-style stems of GoogLeNet and ResNet18
LARGE_INPUT = 112


# ------------------------------------------------------------------------------------------------ LeNet5
def build_lenet5(input_size: int, num_classes: int, init: str, preprocess_mode: str) -> keras.Model:
    """LeNet5* (Flatten): Conv 6 5x5 -> MP 2 -> Conv 16 5x5 -> MP 2 -> Flatten -> Dense 120 -> Dense 84 ->
    softmax, all ReLU (the authors used ReLU instead of tanh; their code: 169,271 params at 48)."""
    inputs, x = model_input(input_size, preprocess_mode)
    x = layers.Conv2D(6, 5, activation="relu", name="conv1")(x)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(16, 5, activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(120, activation="relu", name="fc1")(x)
    x = layers.Dense(84, activation="relu", name="fc2")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="lenet5")


# ------------------------------------------------------------------------------------------------ AlexNet
def build_alexnet(input_size: int, num_classes: int, init: str, preprocess_mode: str) -> keras.Model:
    """AlexNet* (Flatten, as the paper's table marks it): Conv 96 11x11 s4 -> MP 3 s2 -> BN | Conv 256 5x5 ->
    MP 3 s2 -> BN | Conv 384, 384, 256 3x3 -> MP 3 s2 (same) -> BN | Flatten -> 4096 -> Drop .5 -> 4096 ->
    Drop .5 -> softmax.

    The authors' 48-px notebook used GAP where the table says Flatten; at 48 px the last map is 1x1, so both
    give the authors' code's 21,612,295 parameters. At 224 px Flatten makes it the classic ~58M AlexNet.
    (The "AlexNet" folder of the authors' 48 Conservative tree runs the Modular code.)
    """
    inputs, x = model_input(input_size, preprocess_mode)
    x = layers.Conv2D(96, 11, strides=4, activation="relu", name="conv1")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    x = layers.BatchNormalization(name="bn1")(x)
    x = layers.Conv2D(256, 5, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool2")(x)
    x = layers.BatchNormalization(name="bn2")(x)
    x = layers.Conv2D(384, 3, padding="same", activation="relu", name="conv3")(x)
    x = layers.Conv2D(384, 3, padding="same", activation="relu", name="conv4")(x)
    x = layers.Conv2D(256, 3, padding="same", activation="relu", name="conv5")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool5")(x)
    x = layers.BatchNormalization(name="bn5")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(4096, activation="relu", name="fc6")(x)
    x = layers.Dropout(0.5, name="drop6")(x)
    x = layers.Dense(4096, activation="relu", name="fc7")(x)
    x = layers.Dropout(0.5, name="drop7")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="alexnet")


# ------------------------------------------------------------------------------------------------ ZFNet
def build_zfnet(input_size: int, num_classes: int, init: str, preprocess_mode: str) -> keras.Model:
    """ZFNet: Conv 96 7x7 s2 (uniform init) -> MP 2 | Conv 256 5x5 s2 same -> MP 2 | Conv 384, 384, 256 3x3
    same -> MP 2 | Flatten -> 4096 -> Drop .5 -> 4096 -> Drop .5 -> softmax (the authors' code: 21,589,127 at 48)."""
    inputs, x = model_input(input_size, preprocess_mode)
    x = layers.Conv2D(96, 7, strides=2, activation="relu", name="conv1",
                      kernel_initializer=keras.initializers.RandomUniform(-0.05, 0.05))(x)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(256, 5, strides=2, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Conv2D(384, 3, padding="same", activation="relu", name="conv3")(x)
    x = layers.Conv2D(384, 3, padding="same", activation="relu", name="conv4")(x)
    x = layers.Conv2D(256, 3, padding="same", activation="relu", name="conv5")(x)
    x = layers.MaxPooling2D(2, name="pool5")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(4096, activation="relu", name="fc6")(x)
    x = layers.Dropout(0.5, name="drop6")(x)
    x = layers.Dense(4096, activation="relu", name="fc7")(x)
    x = layers.Dropout(0.5, name="drop7")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="zfnet")


# ------------------------------------------------------------------------------------------------ VGGNet
def build_vggnet(input_size: int, num_classes: int, init: str, preprocess_mode: str) -> keras.Model:
    """VGGNet: VGG16 configuration D from scratch with its classic classifier, as the authors' code does:
    2x64, MP, 2x128, MP, 3x256, MP, 3x512, MP, 3x512, MP (3x3 same) -> Flatten -> Dense 4096 -> Dense 4096 ->
    softmax, no dropout and no BN.

    Parameters: 33,625,927 at 48 px and 134,289,223 at 224 px (as the authors' code). The paper's PARAM column says
    ~15M (48) and ~12M (224), which fits no code the authors published; we follow their code.
    """
    inputs, x = model_input(input_size, preprocess_mode)
    for block, (filters, n) in enumerate(((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)), start=1):
        for i in range(1, n + 1):
            x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"block{block}_conv{i}")(x)
        x = layers.MaxPooling2D(2, strides=2, name=f"block{block}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(4096, activation="relu", name="fc1")(x)
    x = layers.Dense(4096, activation="relu", name="fc2")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="vggnet")


# ------------------------------------------------------------------------------------------------ GoogLeNet
#: Inception filter lists in the original GoogLeNet order: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj
INCEPTION = {
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64), "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64), "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128),
}


def _inception(x, name: str):
    f1, f3r, f3, f5r, f5, fp = INCEPTION[name]
    p = f"inception_{name}"
    b1 = layers.Conv2D(f1, 1, padding="same", activation="relu", name=f"{p}_1x1")(x)
    b2 = layers.Conv2D(f3r, 1, padding="same", activation="relu", name=f"{p}_3x3_reduce")(x)
    b2 = layers.Conv2D(f3, 3, padding="same", activation="relu", name=f"{p}_3x3")(b2)
    b3 = layers.Conv2D(f5r, 1, padding="same", activation="relu", name=f"{p}_5x5_reduce")(x)
    b3 = layers.Conv2D(f5, 5, padding="same", activation="relu", name=f"{p}_5x5")(b3)
    b4 = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{p}_pool")(x)
    b4 = layers.Conv2D(fp, 1, padding="same", activation="relu", name=f"{p}_pool_proj")(b4)
    return layers.Concatenate(name=f"{p}_concat")([b1, b2, b3, b4])


def build_googlenet(input_size: int, num_classes: int, init: str, preprocess_mode: str) -> keras.Model:
    """GoogLeNet (Inception v1, no auxiliary heads) with the original inception filter order.

    * inputs < 112 px (the authors' 48 px notebook): Conv 64 3x3 -> MP 2 -> Conv 64 1x1 -> Conv 192 3x3 ->
      MP 2 -> 3a 3b -> MP -> 4a 4b -> MP -> 4c 4d 4e -> MP -> 5a 5b -> GAP -> Dropout 0.4 -> softmax;
    * inputs >= 112 px: the ImageNet stem (Conv 64 7x7 s2 -> MP 3 s2 -> Conv 64 1x1 -> Conv 192 3x3 -> MP 3 s2)
      and the original pools (none between 4b and 4c), GAP head (= the authors' AvgPool 7x7 at 224 px).

    Deviation from the authors' code: their inception module feeds the filter lists in a
    permuted order (1x1 reduce 64 -> 3x3 96, 1x1 128 -> 5x5 16, pool -> 1x1 32, 1x1 32), a bug; we use the
    original GoogLeNet assignment the paper cites: 5,973,047 parameters at 48 px instead of their 5,909,319.
    """
    inputs, x = model_input(input_size, preprocess_mode)
    large = input_size >= LARGE_INPUT
    if large:
        x = layers.Conv2D(64, 7, strides=2, padding="same", activation="relu", name="conv1")(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
    else:
        x = layers.Conv2D(64, 3, padding="same", activation="relu", name="conv1")(x)
        x = layers.MaxPooling2D(2, strides=2, padding="same", name="pool1")(x)
    x = layers.Conv2D(64, 1, padding="same", activation="relu", name="conv2_reduce")(x)
    x = layers.Conv2D(192, 3, padding="same", activation="relu", name="conv2")(x)

    def pool(t, name):
        return (layers.MaxPooling2D(3, strides=2, padding="same", name=name)(t) if large
                else layers.MaxPooling2D(2, strides=2, padding="same", name=name)(t))

    x = pool(x, "pool2")
    x = _inception(x, "3a")
    x = _inception(x, "3b")
    x = pool(x, "pool3")
    x = _inception(x, "4a")
    x = _inception(x, "4b")
    if not large:
        x = pool(x, "pool4b")
    x = _inception(x, "4c")
    x = _inception(x, "4d")
    x = _inception(x, "4e")
    x = pool(x, "pool4")
    x = _inception(x, "5a")
    x = _inception(x, "5b")
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(0.4, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="googlenet")


# ------------------------------------------------------------------------------------------------ ResNet18
def _basic_block(x, filters: int, strides: int, name: str):
    y = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False, name=f"{name}_conv1")(x)
    y = layers.BatchNormalization(name=f"{name}_bn1")(y)
    y = layers.Activation("relu", name=f"{name}_relu1")(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    y = layers.BatchNormalization(name=f"{name}_bn2")(y)
    if strides != 1 or int(x.shape[-1]) != filters:
        s = layers.Conv2D(filters, 1, strides=strides, use_bias=False, name=f"{name}_proj")(x)
        s = layers.BatchNormalization(name=f"{name}_proj_bn")(s)
    else:
        s = x
    y = layers.Add(name=f"{name}_add")([y, s])
    return layers.Activation("relu", name=f"{name}_out")(y)


def _resnet18_head(x, num_classes: int):
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(0.2, name="dropout1")(x)
    x = layers.Dense(1024, activation="relu", name="fc1024")(x)
    x = layers.Dropout(0.5, name="dropout2")(x)
    return layers.Dense(num_classes, activation="softmax", name="predictions")(x)


def _resnet18_imagenet(input_size: int, num_classes: int, preprocess_mode: str, load: bool) -> keras.Model:
    """ResNet18 from the keras-hub ``resnet_18_imagenet`` preset, only when cached locally (never downloads)."""
    from .weights_cache import keras_hub_preset_dir, require

    if not load:
        raise FerBenchError(
            "ResNet18 ImageNet comes from a keras-hub preset, so its architecture exists only where the preset "
            "is cached; use --init scratch (same layers as the authors' ResNet18) or fetch the preset"
        )
    require("imagenet_resnet18")  # keras-hub installed + preset folder cached, else a one-line error with the fix
    preset = keras_hub_preset_dir()
    import keras_hub  # type: ignore[import-not-found]

    try:
        bb = keras_hub.models.ResNetBackbone.from_preset(str(preset))
    except Exception as exc:
        raise FerBenchError(f"could not load the keras-hub preset in {preset}: {exc}") from exc
    bb.name = "backbone"
    inputs, x = model_input(input_size, preprocess_mode)
    outputs = _resnet18_head(bb(x), num_classes)
    return keras.Model(inputs, outputs, name="resnet18_imagenet")


def build_resnet18(input_size: int, num_classes: int, init: str, preprocess_mode: str, *,
                   load_pretrained: bool | None = None) -> keras.Model:
    """ResNet18 + Dropout + Dense (Ipinze Tutuianu et al., 2024, §3.2): basic blocks [64, 128, 256, 512] x 2
    (first strides 1,2,2,2), head GAP -> Dropout 0.2 -> Dense 1024 ReLU -> Dropout 0.5 -> softmax.

    Stem: Conv 64 3x3 s1 + BN + ReLU, no max-pool, for inputs < 112 px (11,710,919 params at 48, as the authors' code);
    Conv 64 7x7 s2 + BN + ReLU + MaxPool 3 s2 for larger inputs (11,718,599). ``init="imagenet"`` uses the
    keras-hub ``resnet_18_imagenet`` preset as a nested "backbone", only if keras-hub is installed and the
    preset is cached offline; otherwise a FerBenchError says how to get it.
    """
    if init == "imagenet":
        return _resnet18_imagenet(input_size, num_classes, preprocess_mode, should_load(load_pretrained))
    inputs, x = model_input(input_size, preprocess_mode)
    if input_size >= LARGE_INPUT:
        x = layers.Conv2D(64, 7, strides=2, padding="same", use_bias=False, name="stem_conv")(x)
        x = layers.BatchNormalization(name="stem_bn")(x)
        x = layers.Activation("relu", name="stem_relu")(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    else:
        x = layers.Conv2D(64, 3, padding="same", use_bias=False, name="stem_conv")(x)
        x = layers.BatchNormalization(name="stem_bn")(x)
        x = layers.Activation("relu", name="stem_relu")(x)
    for stage, (filters, strides) in enumerate(((64, 1), (128, 2), (256, 2), (512, 2)), start=1):
        x = _basic_block(x, filters, strides, f"stage{stage}_block1")
        x = _basic_block(x, filters, 1, f"stage{stage}_block2")
    outputs = _resnet18_head(x, num_classes)
    return keras.Model(inputs, outputs, name="resnet18")


register(ModelSpec(
    name="lenet5", builder=build_lenet5, family="classic", description="LeNet5* (ReLU, Flatten)",
    aliases=("LeNet", "LeNet5*", "LeNet-5"), min_size=16, learning_rate=1e-3,
))
register(ModelSpec(
    name="alexnet", builder=build_alexnet, family="classic", description="AlexNet* (BN, Flatten)",
    aliases=("AlexNet*",), min_size=35,
))
register(ModelSpec(
    name="zfnet", builder=build_zfnet, family="classic", description="ZFNet", aliases=("ZF_NET", "ZFNET"),
    min_size=33,
))
register(ModelSpec(
    name="vggnet", builder=build_vggnet, family="classic",
    description="VGGNet (VGG16-D from scratch, Flatten -> 4096 -> 4096)", min_size=32,
))
register(ModelSpec(
    name="googlenet", builder=build_googlenet, family="classic",
    description="GoogLeNet / Inception v1 (two stems: <112 px and >=112 px)", aliases=("GoogleNet", "Inception v1"),
    min_size=32,
))
register(ModelSpec(
    name="resnet18", builder=build_resnet18, family="classic",
    description="ResNet18 + Dropout + Dense 1024 (two stems; ImageNet via keras-hub only if cached)",
    aliases=("Resnet18", "ResNet18 + Dropout + Dense", "ResNet-18"),
    inits=("scratch", "imagenet"), preprocessing={"scratch": "rescale", "imagenet": "torch"}, min_size=32,
))
