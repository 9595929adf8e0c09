"""Serializable building blocks shared by the model families (saved .keras files load without custom_objects)."""

from __future__ import annotations

import keras
from keras import layers, ops

from .views import VIEW_SETS, view_names  # noqa: F401 - re-exported: the named view sets live in views.py

# ImageNet caffe-style means (BGR), VGGFace v1 (VGG16) and v2 (ResNet50/SENet50) means (BGR)
_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
_VGGFACE1_BGR_MEAN = (93.5940, 104.7624, 129.1863)
_VGGFACE2_BGR_MEAN = (91.4953, 103.8827, 131.0912)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)


@keras.saving.register_keras_serializable(package="fer_bench")
class Preprocess(layers.Layer):
    """Map raw RGB pixels (0..255) to what a backbone expects.

    Modes: ``rescale`` x/255; ``tf`` x/127.5-1; ``torch`` ImageNet mean/std on x/255; ``caffe`` RGB->BGR minus
    ImageNet means; ``vggface1`` / ``vggface2`` RGB->BGR minus the VGGFace (v1) / VGGFace2 (v2) means;
    ``raw`` identity (EfficientNet/ConvNeXt carry their own normalisation).
    """

    def __init__(self, mode: str = "rescale", **kwargs):
        super().__init__(**kwargs)
        self.mode = mode

    def call(self, x):
        x = ops.cast(x, "float32")
        m = self.mode
        if m == "rescale":
            return x / 255.0
        if m == "tf":
            return x / 127.5 - 1.0
        if m == "torch":
            return (x / 255.0 - ops.convert_to_tensor(_TORCH_MEAN)) / ops.convert_to_tensor(_TORCH_STD)
        if m in ("caffe", "vggface1", "vggface2"):
            mean = {"caffe": _CAFFE_BGR_MEAN, "vggface1": _VGGFACE1_BGR_MEAN, "vggface2": _VGGFACE2_BGR_MEAN}[m]
            bgr = ops.flip(x, axis=-1)
            return bgr - ops.convert_to_tensor(mean)
        if m == "raw":
            return x
        raise ValueError(f"unknown preprocessing mode {m!r}")

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


def paper_head(x, num_classes: int, pooling: str = "gap", name_prefix: str = "head"):
    """The BTFER head on a backbone: GAP|Flatten -> Dense 256 ReLU -> Dropout 0.2 -> Dense 128 ReLU -> softmax."""
    x = layers.GlobalAveragePooling2D(name=f"{name_prefix}_gap")(x) if pooling == "gap" else \
        layers.Flatten(name=f"{name_prefix}_flatten")(x)
    x = layers.Dense(256, activation="relu", name=f"{name_prefix}_dense256")(x)
    x = layers.Dropout(0.2, name=f"{name_prefix}_dropout")(x)
    x = layers.Dense(128, activation="relu", name=f"{name_prefix}_dense128")(x)
    return layers.Dense(num_classes, activation="softmax", name="predictions")(x)


def model_input(input_size: int, preprocess_mode: str):
    """Input layer (raw RGB 0..255) followed by the Preprocess layer; returns (inputs, preprocessed)."""
    inputs = keras.Input((input_size, input_size, 3), name="image")
    return inputs, Preprocess(preprocess_mode, name="preprocess")(inputs)


@keras.saving.register_keras_serializable(package="fer_bench")
class Grayscale(layers.Layer):
    """RGB -> one luma channel (ITU-R BT.601: 0.299 R + 0.587 G + 0.114 B, as OpenCV's BGR2GRAY).

    Used by models the authors trained on grayscale input (their "Mediapipe CNN"), so the model input stays
    RGB like every other fer-bench model.
    """

    def call(self, x):
        w = ops.convert_to_tensor((0.299, 0.587, 0.114), dtype=x.dtype)
        return ops.sum(x * w, axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 1)


@keras.saving.register_keras_serializable(package="fer_bench")
class FlipAverage(layers.Layer):
    """Horizontal-flip test-time augmentation inside the model: mean of ``inner(x)`` and ``inner(flip(x))``.

    Why a layer: a model exported with TTA gives the TTA score to anyone who loads it, with no evaluation flag to
    remember. The wrapped model is serialised as a sub-model, so the file reloads without custom_objects once
    fer_bench is imported (as for every fer-bench model, whose first layer is :class:`Preprocess`).
    """

    def __init__(self, inner: keras.Model, **kwargs):
        super().__init__(**kwargs)
        self.inner = inner

    def call(self, x):
        return (self.inner(x) + self.inner(ops.flip(x, axis=2))) * 0.5

    def compute_output_shape(self, input_shape):
        return self.inner.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "inner": keras.saving.serialize_keras_object(self.inner)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["inner"] = keras.saving.deserialize_keras_object(config["inner"])
        return cls(**config)


def apply_view(x, name: str):
    """One test-time view of a batch of square images (graph ops, so it runs inside a saved model)."""
    size = int(x.shape[1])
    if name == "id":
        return x
    if name == "zoom":
        crop = int(round(size * 44 / 48))
        o = (size - crop) // 2
        return ops.image.resize(x[:, o:o + crop, o:o + crop], (size, size), interpolation="bilinear")
    s = max(1, int(round(size / 24)))
    dx, dy = {"right": (s, 0), "left": (-s, 0), "down": (0, s), "up": (0, -s)}[name]
    # edge padding by repeating the border rows / columns (the TensorFlow backend pads constant/reflect only)
    p = ops.concatenate([ops.repeat(x[:, :1], s, axis=1), x, ops.repeat(x[:, -1:], s, axis=1)], axis=1)
    p = ops.concatenate([ops.repeat(p[:, :, :1], s, axis=2), p, ops.repeat(p[:, :, -1:], s, axis=2)], axis=2)
    return p[:, s + dy:s + dy + size, s + dx:s + dx + size]


@keras.saving.register_keras_serializable(package="fer_bench")
class ViewAverage(layers.Layer):
    """Multi-view test-time augmentation inside the model: the mean of ``inner`` over a named view set, each view
    also flipped (``views="flip"`` is :class:`FlipAverage`'s two views). Like FlipAverage, a file built with it
    gives its score to anyone who loads it."""

    def __init__(self, inner: keras.Model, views: str = "flip", **kwargs):
        super().__init__(**kwargs)
        self.inner = inner
        self.views = views
        self._names = view_names(views)

    def call(self, x):
        outs = []
        for name in self._names:
            v = apply_view(x, name)
            outs += [self.inner(v), self.inner(ops.flip(v, axis=2))]
        return ops.mean(ops.stack(outs, axis=0), axis=0)

    def compute_output_shape(self, input_shape):
        return self.inner.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "inner": keras.saving.serialize_keras_object(self.inner),
                "views": self.views}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["inner"] = keras.saving.deserialize_keras_object(config["inner"])
        return cls(**config)
