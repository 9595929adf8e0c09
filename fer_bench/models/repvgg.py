"""RepVGG (Ding et al., CVPR 2021) done properly: multi-branch training blocks, single-conv inference blocks.

Training-time block (:class:`RepVGGBlock`, ``deploy=False``)::

    y = ReLU( BN(Conv3x3_s(x)) + BN(Conv1x1_s(x)) + BN(x) )      # the identity BN only when stride 1 and C_in == C_out

Structural re-parameterisation (:func:`reparameterize`) folds each BN into its conv, pads the 1x1 kernel to
3x3 (at the centre), writes the identity as a 3x3 kernel with a 1 at the centre of channel i -> i, and sums the
three into ONE 3x3 convolution with bias: ``y = ReLU(Conv3x3_s(x) + b)``. In inference mode both forms
compute the same function (up to float rounding).

Padding: the 3x3 branch pads 1 pixel on every side and convolves 'valid'; the 1x1 branch convolves 'valid'
unpadded. For stride 2, TF's 'same' padding would pad only bottom/right, putting the 3x3 window's centre one
pixel away from the 1x1 sample, and the fused kernel would be wrong; explicit symmetric padding keeps them
aligned (as PyTorch's padding=1 / padding=0 in the original RepVGG).

Layout of the fer-bench ``repvgg`` model: the BTFER authors' "create_repvgg_a0" (their notebooks; not the real
RepVGG-A0) is a stem Conv 64 3x3 s2 and 11 blocks of (channels, stride) = (64,1), (128,2), (128,1), (256,2),
(256,1), (256,1), (512,2), (512,1) x4, where each of their blocks holds two 3x3 convs (and has no
re-parameterisation at all, plus a stop_gradient bug). We keep their widths, strides and depth and make every
3x3 conv a RepVGG block: stem RepVGG(64, s2), then for each of their blocks RepVGG(c, s) + RepVGG(c, 1), then
GAP -> softmax. Inference form: 26.26M parameters, which is the paper's "~26,5M" (the authors' code: 26.45M);
the training form adds the 1x1 branches and BNs.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from .layers import model_input
from .spec import ModelSpec, register

#: (channels, stride) of the authors' 11 blocks; each becomes two RepVGG blocks
AUTHORS_LAYOUT = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (256, 1), (512, 2), (512, 1), (512, 1),
                  (512, 1), (512, 1))


@keras.saving.register_keras_serializable(package="fer_bench")
class RepVGGBlock(layers.Layer):
    """A RepVGG block; ``deploy=True`` is the re-parameterised single-conv form."""

    def __init__(self, filters: int, strides: int = 1, deploy: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.strides = int(strides)
        self.deploy = bool(deploy)
        self.use_identity = False

    def build(self, input_shape):
        cin = int(input_shape[-1])
        self.use_identity = self.strides == 1 and cin == self.filters
        padded = (input_shape[0], None if input_shape[1] is None else input_shape[1] + 2,
                  None if input_shape[2] is None else input_shape[2] + 2, cin)
        if self.deploy:
            self.conv = layers.Conv2D(self.filters, 3, strides=self.strides, padding="valid", use_bias=True,
                                      name="rbr_reparam")
            self.conv.build(padded)
        else:
            self.conv3 = layers.Conv2D(self.filters, 3, strides=self.strides, padding="valid", use_bias=False,
                                       name="rbr_dense_conv")
            self.bn3 = layers.BatchNormalization(name="rbr_dense_bn")
            self.conv1 = layers.Conv2D(self.filters, 1, strides=self.strides, padding="valid", use_bias=False,
                                       name="rbr_1x1_conv")
            self.bn1 = layers.BatchNormalization(name="rbr_1x1_bn")
            self.conv3.build(padded)
            out = self.conv3.compute_output_shape(padded)
            self.bn3.build(out)
            self.conv1.build(input_shape)
            self.bn1.build(out)
            if self.use_identity:
                self.bn_id = layers.BatchNormalization(name="rbr_identity")
                self.bn_id.build(input_shape)
        self.built = True

    def call(self, x, training=None):
        xp = ops.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
        if self.deploy:
            return ops.relu(self.conv(xp))
        y = self.bn3(self.conv3(xp), training=training) + self.bn1(self.conv1(x), training=training)
        if self.use_identity:
            y = y + self.bn_id(x, training=training)
        return ops.relu(y)

    def compute_output_shape(self, input_shape):
        def out(n):
            return None if n is None else (n - 1) // self.strides + 1

        return (input_shape[0], out(input_shape[1]), out(input_shape[2]), self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "strides": self.strides, "deploy": self.deploy}

    # ---------------------------------------------------------------- re-parameterisation
    @staticmethod
    def _fold(kernel: np.ndarray, bn: layers.BatchNormalization) -> tuple[np.ndarray, np.ndarray]:
        gamma, beta, mean, var = (np.asarray(ops.convert_to_numpy(v), dtype=np.float64) for v in
                                  (bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance))
        std = np.sqrt(var + bn.epsilon)
        return kernel * (gamma / std), beta - mean * gamma / std

    def fused_kernel_bias(self) -> tuple[np.ndarray, np.ndarray]:
        """(3x3 kernel HWIO, bias) equivalent to the three branches in inference mode."""
        if self.deploy:
            k, b = (ops.convert_to_numpy(w) for w in self.conv.weights)
            return np.asarray(k), np.asarray(b)
        k3 = np.asarray(ops.convert_to_numpy(self.conv3.kernel), dtype=np.float64)
        kernel, bias = self._fold(k3, self.bn3)
        k1 = np.zeros_like(k3)
        k1[1:2, 1:2] = np.asarray(ops.convert_to_numpy(self.conv1.kernel), dtype=np.float64)
        k1f, b1 = self._fold(k1, self.bn1)
        kernel, bias = kernel + k1f, bias + b1
        if self.use_identity:
            kid = np.zeros_like(k3)
            for i in range(self.filters):
                kid[1, 1, i, i] = 1.0
            kidf, bid = self._fold(kid, self.bn_id)
            kernel, bias = kernel + kidf, bias + bid
        return kernel.astype(np.float32), bias.astype(np.float32)


def reparameterize(model: keras.Model) -> keras.Model:
    """Return an inference copy of ``model`` whose RepVGG blocks are single 3x3 convolutions.

    Every other layer is cloned with its weights. The result computes the same function as ``model`` in
    inference mode (BN moving statistics), and saves/loads as a plain ``.keras`` file. Models without RepVGG
    blocks are returned as a weight-identical clone.
    """
    def clone(layer):
        if isinstance(layer, RepVGGBlock):
            cfg = layer.get_config()
            cfg["deploy"] = True
            return RepVGGBlock.from_config(cfg)
        return layer.__class__.from_config(layer.get_config())

    new = keras.models.clone_model(model, clone_function=clone)
    old_layers = {lay.name: lay for lay in model.layers}
    for lay in new.layers:
        src = old_layers[lay.name]
        if isinstance(src, RepVGGBlock):
            kernel, bias = src.fused_kernel_bias()
            lay.conv.set_weights([kernel, bias])
        elif src.weights:
            lay.set_weights(src.get_weights())
    return new


def build_repvgg(input_size: int, num_classes: int, init: str, preprocess_mode: str,
                 layout: tuple[tuple[int, int], ...] = AUTHORS_LAYOUT, stem: int = 64,
                 deploy: bool = False) -> keras.Model:
    """RepVGG with the BTFER authors' widths (see the module docstring), training form unless ``deploy``."""
    inputs, x = model_input(input_size, preprocess_mode)
    x = RepVGGBlock(stem, 2, deploy=deploy, name="stem")(x)
    for i, (channels, stride) in enumerate(layout, start=1):
        x = RepVGGBlock(channels, stride, deploy=deploy, name=f"block{i}a")(x)
        x = RepVGGBlock(channels, 1, deploy=deploy, name=f"block{i}b")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="repvgg")


register(ModelSpec(
    name="repvgg", builder=build_repvgg, family="repvgg",
    description="RepVGG (authors' widths; multi-branch for training, reparameterize() for inference)",
    aliases=("RepVGG", "RepVGG-A0", "create_repvgg_a0"), min_size=16,
))
