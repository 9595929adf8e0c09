"""The table of pretrained weight files fer-bench knows: names, URLs, hashes, and the model/init each serves.

Pure data: no file system, no network. Where a file is stored and how it is fetched is
:mod:`fer_bench.models.weights_cache`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import FerBenchError

_VGGFACE_RELEASE = "https://github.com/rcmalli/keras-vggface/releases/download/v2.0/"
_KERAS_APPS = "https://storage.googleapis.com/tensorflow/keras-applications/"


@dataclass(frozen=True)
class WeightsEntry:
    """One known pretrained weight file."""

    name: str
    description: str
    filename: str
    url: str | None
    #: "fer_bench" (our cache), "keras" (keras.applications cache) or "keras_hub" (a keras-hub preset folder)
    store: str
    md5: str | None = None
    sha256: str | None = None
    #: registry model and init this file serves
    model: str = ""
    init: str = ""
    #: short, human name used in error messages
    label: str = ""


def _vggface(arch: str, label: str) -> WeightsEntry:
    fname = f"rcmalli_vggface_tf_notop_{arch}.h5"
    return WeightsEntry(
        name=f"vggface_{arch}", label=label, filename=fname, url=_VGGFACE_RELEASE + fname, store="fer_bench",
        description=f"{label} (keras-vggface v2.0 release, no top)",
        model={"vgg16": "vgg16", "resnet50": "resnet50", "senet50": "senet50"}[arch], init="vggface",
    )


def _imagenet(model: str, label: str, filename: str, url: str, md5: str | None) -> WeightsEntry:
    return WeightsEntry(
        name=f"imagenet_{model}", label=f"ImageNet {label}", filename=filename, url=url, md5=md5, store="keras",
        description=f"keras.applications {label}, ImageNet, no top", model=model, init="imagenet",
    )


KNOWN: dict[str, WeightsEntry] = {e.name: e for e in (
    _vggface("vgg16", "VGGFace VGG16"),
    _vggface("resnet50", "VGGFace2 ResNet50"),
    _vggface("senet50", "VGGFace2 SENet50"),
    _imagenet("vgg16", "VGG16", "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
              _KERAS_APPS + "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
              "6d6bbae143d832006294945121d1f1fc"),
    _imagenet("vgg19", "VGG19", "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
              _KERAS_APPS + "vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
              "253f8cb515780f3b799900260a226db6"),
    _imagenet("resnet50", "ResNet50", "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
              _KERAS_APPS + "resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
              "4d473c1dd8becc155b73f8504c6f6626"),
    _imagenet("mobilenet", "MobileNet", "mobilenet_1_0_224_tf_no_top.h5",
              _KERAS_APPS + "mobilenet/mobilenet_1_0_224_tf_no_top.h5", None),
    _imagenet("mobilenetv2", "MobileNetV2", "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
              _KERAS_APPS + "mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5", None),
    _imagenet("nasnetmobile", "NASNetMobile", "nasnet_mobile_no_top.h5",
              _KERAS_APPS + "nasnet/NASNet-mobile-no-top.h5", "1ed92395b5b598bdda52abe5c0dbfd63"),
    _imagenet("densenet121", "DenseNet121", "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5",
              _KERAS_APPS + "densenet/densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5",
              "30ee3e1110167f948a6b9946edeeb738"),
    _imagenet("inceptionv3", "InceptionV3", "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
              _KERAS_APPS + "inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
              "bcbd6486424b2319ff4ef7d526e38f63"),
    _imagenet("xception", "Xception", "xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
              _KERAS_APPS + "xception/xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
              "b0042744bf5b25fce3cb969f33bebb97"),
    _imagenet("efficientnetv2b0", "EfficientNetV2B0", "efficientnetv2-b0_notop.h5",
              _KERAS_APPS + "efficientnet_v2/efficientnetv2-b0_notop.h5", "893217f2bb855e2983157299931e43ff"),
    WeightsEntry(
        name="imagenet_resnet18", label="ImageNet ResNet18 (keras-hub)", filename="resnet_18_imagenet", url=None,
        store="keras_hub", model="resnet18", init="imagenet",
        description="keras-hub preset resnet_18_imagenet (needs keras-hub; a cached preset folder)",
    ),
)}


def get_entry(name: str) -> WeightsEntry:
    key = name.strip().lower().replace("-", "_")
    if key not in KNOWN:
        raise FerBenchError(
            f"unknown weights {name!r}; known: {', '.join(sorted(KNOWN))} (see `fer-bench weights status`)"
        )
    return KNOWN[key]


def entry_for(model: str, init: str) -> WeightsEntry | None:
    for e in KNOWN.values():
        if e.model == model and e.init == init:
            return e
    return None
