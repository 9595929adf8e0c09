"""keras.applications backbones with the BTFER paper head (Ipinze Tutuianu et al., 2024, §3.2 and §3.5).

Every model: raw RGB 0..255 -> Preprocess(mode) -> backbone (a nested keras.Model named ``"backbone"``, so
:func:`~fer_bench.models.registry.backbone_of` finds it and the trainer can freeze it in phase 1) ->
GlobalAveragePooling2D -> Dense 256 ReLU -> Dropout 0.2 -> Dense 128 ReLU -> Dense C softmax.

The paper head uses GAP for every pretrained backbone (Tables 2-3 star none of them); the authors' notebooks
sometimes used Flatten instead, which is identical at 48 px for VGG (1x1x512) and only changes the head size at
224 px (the authors' notebooks, github.com/gipinze/ResearchModels_GIT).

ImageNet weights: the application is always instantiated with ``weights=None`` and the no-top file is then
loaded from the Keras cache (``~/.keras/models``) by :func:`fer_bench.models.weights_cache.require`, which raises a
FerBenchError naming ``fer-bench weights fetch imagenet_<model>`` when it is absent. Keras' own downloader is
never reached, so nothing is fetched silently.

``vgg16`` with ``init="vggface"`` and ``resnet50`` with ``init="vggface"`` switch to the Keras 3 ports of the
keras-vggface VGG16 / VGGFace2 ResNet50 (:mod:`fer_bench.models.vggface`); their parameter counts differ
slightly from the ImageNet architecture for ResNet50 (no conv biases: 24,119,495 vs 24,146,055 with the head).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras

from .layers import model_input, paper_head
from .spec import ModelSpec, register, should_load
from .weights_cache import require


@dataclass(frozen=True)
class _App:
    name: str
    factory: Callable[[], Callable[..., keras.Model]]
    mode: str  # native preprocessing of the ImageNet weights
    min_size: int = 32
    aliases: tuple[str, ...] = ()
    extra: tuple[tuple[str, object], ...] = ()
    description: str = ""


A = keras.applications
APPS: dict[str, _App] = {a.name: a for a in (
    _App("vgg16", lambda: A.VGG16, "caffe", aliases=("VGG16 - IN", "VGG-16", "VGG16 - ImageNet", "vgg16_imagenet"),
         description="VGG16 (ImageNet / VGGFace / scratch) + paper head"),
    _App("vgg19", lambda: A.VGG19, "caffe", aliases=("VGG-19",), description="VGG19 + paper head"),
    _App("resnet50", lambda: A.ResNet50, "caffe", aliases=("ResNet50 - IN", "ResNet50 - VF", "resnet50_imagenet"),
         description="ResNet50 (ImageNet, or VGGFace2 with init=vggface) + paper head"),
    _App("mobilenet", lambda: A.MobileNet, "tf", aliases=("MobileNetV1",), extra=(("alpha", 1.0),),
         description="MobileNet (alpha 1.0) + paper head"),
    _App("mobilenetv2", lambda: A.MobileNetV2, "tf", aliases=("MobileNet V2", "MobilNetV2"),
         extra=(("alpha", 1.0),), description="MobileNetV2 (alpha 1.0) + paper head"),
    _App("efficientnetv2b0", lambda: A.EfficientNetV2B0, "raw",
         aliases=("EfficientNetV2_B0", "EfficientNetV2-B0", "EfficientNetV2"),
         extra=(("include_preprocessing", True),),
         description="EfficientNetV2-B0 (built-in rescaling) + paper head"),
    _App("nasnetmobile", lambda: A.NASNetMobile, "tf", aliases=("NasNet Mobile", "NasNet", "NASNet"),
         description="NASNetMobile + paper head"),
    _App("densenet121", lambda: A.DenseNet121, "torch", aliases=("DenseNet 121", "DenseNe121"),
         description="DenseNet121 + paper head"),
    _App("inceptionv3", lambda: A.InceptionV3, "tf", min_size=75, aliases=("Inception V3", "Inception-v3"),
         description="InceptionV3 + paper head (inputs >= 75 px)"),
    _App("xception", lambda: A.Xception, "tf", min_size=71, description="Xception + paper head (inputs >= 71 px)"),
)}


def backbone_architecture(name: str, input_size: int, layer_name: str = "backbone") -> keras.Model:
    """The keras.applications no-top backbone with random weights (never downloads)."""
    app = APPS[name]
    fn = app.factory()
    # some applications look up their block table by `name` (EfficientNetV2), so rename afterwards
    model = fn(include_top=False, weights=None, input_shape=(input_size, input_size, 3), **dict(app.extra))
    model.name = layer_name
    return model


def _builder(app: _App):
    def build(input_size: int, num_classes: int, init: str, preprocess_mode: str, *,
              load_pretrained: bool | None = None) -> keras.Model:
        if init == "vggface":
            from .vggface import build_vggface

            return build_vggface(app.name, input_size, num_classes, init, preprocess_mode,
                                 model_name=f"{app.name}_vggface", load_pretrained=load_pretrained)
        path = None
        if init == "imagenet" and should_load(load_pretrained):
            path = require(f"imagenet_{app.name}")  # fail fast, before building
        inputs, x = model_input(input_size, preprocess_mode)
        bb = backbone_architecture(app.name, input_size)
        if path is not None:
            bb.load_weights(str(path))
        outputs = paper_head(bb(x), num_classes, pooling="gap")
        return keras.Model(inputs, outputs, name=app.name)

    build.__name__ = build.__qualname__ = f"build_{app.name}"
    build.__doc__ = f"{app.description}. Backbone nested as 'backbone'."
    return build


for _app in APPS.values():
    globals()[f"build_{_app.name}"] = _b = _builder(_app)  # importable as fer_bench.models.applications:build_X
    _inits: tuple[str, ...] = ("scratch", "imagenet")
    _pre = {"scratch": _app.mode, "imagenet": _app.mode}
    if _app.name == "vgg16":
        _inits = ("scratch", "imagenet", "vggface")
        _pre["vggface"] = "vggface1"
    elif _app.name == "resnet50":
        _inits = ("scratch", "imagenet", "vggface")
        _pre["vggface"] = "vggface2"
    register(ModelSpec(
        name=_app.name, builder=_b, family="keras.applications", description=_app.description,
        aliases=_app.aliases, inits=_inits, preprocessing=_pre, min_size=_app.min_size, two_phase=True,
        resolutions=(48, 224) if _app.min_size <= 48 else (224,),
    ))
