"""tf.data over a decode-once cache: shuffle indices, gather uint8 batches from the memory map, augment.

Only index batches flow through the shuffle buffer; pixels are gathered from the memory-mapped uint8 array
per batch, converted to float32 per batch, and augmented per batch with Keras preprocessing layers on the
CPU while the model trains on the previous batch (prefetch). Nothing is decoded per epoch, and at no point
does the whole data set exist as float32.

The paper's augmentation (Keras ImageDataGenerator: rotation 20 deg, width/height shift 0.2, zoom 0.2,
horizontal flip, fill 'nearest') is applied as one fused random affine resampling per image
(:class:`RandomAffine`), exactly as ImageDataGenerator composes it; see its docstring for why not the chain of
Keras 3 RandomRotation/RandomTranslation/RandomZoom/RandomFlip layers.
"""

from __future__ import annotations

import mmap

import numpy as np
import tensorflow as tf

from .cache import CachedSplit

AUTOTUNE = tf.data.AUTOTUNE


class RandomAffine:
    """The paper's augmentation as ONE random affine resampling per image (a Keras-compatible callable).

    Keras ImageDataGenerator composes rotation, shift, zoom and flip into a single affine matrix and resamples
    once. Chaining Keras 3's RandomRotation, RandomTranslation and RandomZoom layers resamples three times,
    which visibly blurs 48 px faces and costs three passes; this layer composes the same random parameters
    (rotation U(-r, r) degrees, shifts U(-s, s) of the size, per-axis zoom U(1-z, 1+z), horizontal flip with
    p = 0.5, fill 'nearest', bilinear sampling) into one ``keras.ops.image.affine_transform`` call.
    """

    def __init__(self, rotation_deg: float = 20.0, shift: float = 0.2, zoom: float = 0.2, flip: bool = True,
                 seed: int | None = None):
        self.rotation = float(rotation_deg) * np.pi / 180.0
        self.shift, self.zoom, self.flip, self.seed = float(shift), float(zoom), bool(flip), seed
        self._gen = tf.random.Generator.from_seed(seed) if seed is not None else \
            tf.random.Generator.from_non_deterministic_state()

    def transforms(self, n, h, w, seed=None):
        """(n, 8) inverse-mapping transforms (output pixel -> input pixel) for affine_transform.

        With ``seed`` (an int32/int64 tensor of shape [2]) the draws are stateless: the same seed gives the same
        transforms in any process, whichever thread runs the batch. Training passes (run seed, epoch, batch), so
        a resumed run augments exactly as an uninterrupted one. Without it, the layer's own generator is used.
        """
        if seed is not None:
            keys = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=6)

            def uniform(i, lo=0.0, hi=1.0):
                return tf.random.stateless_uniform([n], keys[i], lo, hi)
        else:
            def uniform(i, lo=0.0, hi=1.0):
                return self._gen.uniform([n], lo, hi)
        theta = uniform(0, -self.rotation, self.rotation)
        zx = uniform(1, 1.0 - self.zoom, 1.0 + self.zoom)
        zy = uniform(2, 1.0 - self.zoom, 1.0 + self.zoom)
        tx = uniform(3, -self.shift, self.shift) * tf.cast(w, tf.float32)
        ty = uniform(4, -self.shift, self.shift) * tf.cast(h, tf.float32)
        fx = tf.where(uniform(5) < 0.5, -1.0, 1.0) if self.flip else tf.ones([n])
        cos, sin = tf.cos(theta), tf.sin(theta)
        # M = R(theta) @ diag(zx, zy) @ diag(fx, 1)
        m00, m01 = cos * zx * fx, -sin * zy
        m10, m11 = sin * zx * fx, cos * zy
        cx, cy = (tf.cast(w, tf.float32) - 1.0) / 2.0, (tf.cast(h, tf.float32) - 1.0) / 2.0
        a2 = cx + tx - (m00 * cx + m01 * cy)
        b2 = cy + ty - (m10 * cx + m11 * cy)
        zeros = tf.zeros([n])
        return tf.stack([m00, m01, a2, m10, m11, b2, zeros, zeros], axis=1)

    def __call__(self, x, training: bool = True, seed=None):
        if not training:
            return x
        shape = tf.shape(x)
        t = self.transforms(shape[0], shape[1], shape[2], seed=seed)
        return tf.raw_ops.ImageProjectiveTransformV3(
            images=x, transforms=t, output_shape=shape[1:3], fill_value=0.0, interpolation="BILINEAR",
            fill_mode="NEAREST")


def paper_augmentation(seed: int | None = None, *, rotation_deg: float = 20.0, shift: float = 0.2,
                       zoom: float = 0.2, flip: bool = True) -> RandomAffine:
    """The BTFER authors' training augmentation (ImageDataGenerator: rotation 20, shifts 0.2, zoom 0.2,
    horizontal flip, fill nearest), as one fused random affine transform per image."""
    return RandomAffine(rotation_deg, shift, zoom, flip, seed)


def keras_layer_augmentation(seed: int | None = None, *, rotation_deg: float = 20.0, shift: float = 0.2,
                             zoom: float = 0.2, flip: bool = True):
    """The same augmentation as four chained Keras 3 preprocessing layers (kept for comparison in the
    pipeline benchmark: three bilinear resamplings, slower and blurrier than :class:`RandomAffine`)."""
    import keras
    from keras import layers

    aug = [
        layers.RandomRotation(rotation_deg / 360.0, fill_mode="nearest", seed=seed),
        layers.RandomTranslation(shift, shift, fill_mode="nearest", seed=None if seed is None else seed + 1),
        layers.RandomZoom(zoom, fill_mode="nearest", seed=None if seed is None else seed + 2),
    ]
    if flip:
        aug.append(layers.RandomFlip("horizontal", seed=None if seed is None else seed + 3))
    return keras.Sequential(aug, name="paper_augmentation")


class _PageShedder:
    """Keep a large memory-mapped cache from piling up in this process's resident memory.

    Pages of the cache that a run has read stay mapped, so RSS grows towards the whole cache file (1.44 GB for
    FER2013 at 224 px) although the kernel could drop them at any time. Every ``every`` batches this releases the
    mapping's pages with madvise(MADV_DONTNEED): the mapping is read-only and file-backed, so nothing is lost;
    the data stays in the page cache and the next read maps it again. Small caches are left alone.
    """

    def __init__(self, images, every: int = 64, min_bytes: int = 256 << 20):
        mm = getattr(images, "_mmap", None)
        ok = mm is not None and hasattr(mm, "madvise") and hasattr(mmap, "MADV_DONTNEED")
        self.mm = mm if ok and images.nbytes >= min_bytes else None
        self.every, self.n = every, 0

    def tick(self) -> None:
        if self.mm is None:
            return
        self.n += 1
        if self.n % self.every == 0:
            try:
                self.mm.madvise(mmap.MADV_DONTNEED)
            except (OSError, ValueError):  # platform without it, or a closed map: keep going without shedding
                self.mm = None


def _op_determinism() -> bool:
    """Whether TensorFlow's op determinism is on in this process (no public getter in TF 2.21)."""
    from tensorflow.python.framework import config as tf_config

    probe = getattr(tf_config, "is_op_determinism_enabled", None)
    return bool(probe()) if probe is not None else False


class EpochCounter:
    """Which epoch the training stream is producing. The trainer sets ``epoch`` at each epoch start (so a
    resumed run starts at its real epoch); left unset, each pass over the dataset counts one epoch."""

    def __init__(self):
        self.epoch: int | None = None
        self._passes = 0

    def next_epoch(self) -> int:
        if self.epoch is not None:
            return int(self.epoch)
        e, self._passes = self._passes, self._passes + 1
        return e


def make_dataset(cached: CachedSplit, indices=None, *, batch_size: int = 64, num_classes: int = 7,
                 shuffle: bool = False, augment=None, class_weights: dict[int, float] | None = None,
                 seed: int = 0, repeat: bool = False, clock: EpochCounter | None = None,
                 soft_targets: np.ndarray | None = None, soft_weight: float = 0.0) -> tf.data.Dataset:
    """Batches of (float32 RGB 0..255 images, one-hot labels[, per-sample weights]).

    Args:
        cached: the decoded split (images may be 1-channel grey; they are expanded to RGB per batch).
        indices: rows of *cached* to use (default: all, in order). Evaluation keeps this order exactly.
        shuffle: a new order every epoch (training): epoch e's permutation and augmentation derive from
            (seed, e) only, where e comes from *clock* (set by the trainer at each epoch start) or, without one,
            counts the passes over the dataset.
        augment: a Keras layer/model applied per batch in training mode, or None.
        class_weights: canonical index -> weight; adds a third element with per-sample weights.
        soft_targets: (rows of *cached*, classes) probabilities of a teacher (knowledge distillation): the
            label of row i becomes ``(1 - soft_weight) * one-hot + soft_weight * soft_targets[i]``.
    """
    images, labels = cached.images, cached.labels.astype(np.int64)
    idx = np.arange(len(labels)) if indices is None else np.asarray(indices, dtype=np.int64)
    h, w, c = images.shape[1:]
    weight_table = None
    if class_weights is not None:
        weight_table = np.ones(num_classes, dtype=np.float32)
        for k, v in class_weights.items():
            weight_table[int(k)] = float(v)

    shed = _PageShedder(images)
    soft = None if soft_targets is None else np.asarray(soft_targets, dtype=np.float32)
    if soft is not None and soft.shape != (len(labels), num_classes):
        raise ValueError(f"soft_targets shape {soft.shape} != ({len(labels)}, {num_classes})")

    def gather(batch_idx: np.ndarray):
        shed.tick()
        # sorted reads are sequential on the memory map; the permutation is undone right after
        order = np.argsort(batch_idx, kind="stable")
        rows = batch_idx[order]
        out = np.empty((len(rows), h, w, c), dtype=np.uint8)
        out[order] = images[rows]
        if soft is not None:
            return out, labels[batch_idx], soft[batch_idx]
        return out, labels[batch_idx]

    stateless = shuffle and isinstance(augment, RandomAffine)
    if shuffle:  # the order of epoch e is a pure function of (seed, e): a resumed run sees the same batches
        clock = clock if clock is not None else EpochCounter()

        def epoch_order():
            e = clock.next_epoch()
            perm = idx[np.random.default_rng([seed, e]).permutation(len(idx))]
            return perm, np.full(len(perm), e, dtype=np.int64)

        ds = tf.data.Dataset.from_tensors(np.int64(0)).map(
            lambda _: tuple(tf.numpy_function(epoch_order, [], [tf.int64, tf.int64], stateful=True)))
        ds = ds.unbatch()
        if repeat:
            ds = ds.repeat()
        else:  # the order is made at run time; tell tf.data (and Keras' progress) how many batches an epoch has
            ds = ds.apply(tf.data.experimental.assert_cardinality(len(idx)))
        ds = ds.batch(batch_size).enumerate()
    else:
        ds = tf.data.Dataset.from_tensor_slices(idx)
        if repeat:
            ds = ds.repeat()
        ds = ds.batch(batch_size)

    def load(*args):
        if shuffle:  # (batch number, (indices, epoch of each index))
            batch_no, (b, epochs) = args
        else:
            (b,) = args
        if soft is not None:
            x, y, t = tf.numpy_function(gather, [b], [tf.uint8, tf.int64, tf.float32], stateful=False)
            t.set_shape([None, num_classes])
        else:
            x, y = tf.numpy_function(gather, [b], [tf.uint8, tf.int64], stateful=False)
        x.set_shape([None, h, w, c])
        y.set_shape([None])
        x = tf.cast(x, tf.float32)
        if augment is not None:  # before grey -> RGB: a third of the pixels to resample for grey data
            if stateless:
                aug_seed = tf.stack([tf.cast(seed, tf.int64) * 1_000_003 + epochs[0], batch_no])
                x = augment(x, training=True, seed=aug_seed)
            else:
                x = augment(x, training=True)
        if c == 1:
            x = tf.image.grayscale_to_rgb(x)
        if soft is not None:
            return x, (y, t)
        return x, y

    # With TensorFlow's op determinism on, tf.data runs every map of a pipeline that holds a stateful function
    # (the epoch order above) one element at a time anyway, rewriting parallel maps into plain ones (and
    # logging an E0000 line about an unknown attribute as it does); ask for plain maps then.
    par = {} if _op_determinism() else {"num_parallel_calls": AUTOTUNE, "deterministic": True}
    ds = ds.map(load, **par)

    def finish(x, y):
        if soft is not None:
            y, t = y
            onehot = (1.0 - soft_weight) * tf.one_hot(y, num_classes) + soft_weight * t
        else:
            onehot = tf.one_hot(y, num_classes)
        if weight_table is None:
            return x, onehot
        return x, onehot, tf.gather(tf.constant(weight_table), y)

    ds = ds.map(finish, **par)
    return ds.prefetch(AUTOTUNE)


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Carve a validation subset: per class, round(fraction * n_c) indices (at least 1 when n_c >= 2).

    Returns (train_indices, val_indices), both sorted. Deterministic for a seed.
    """
    rng = np.random.default_rng(seed)
    train, val = [], []
    labels = np.asarray(labels)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        members = members[rng.permutation(len(members))]
        k = int(round(fraction * len(members)))
        if len(members) >= 2:
            k = min(max(k, 1), len(members) - 1)
        else:
            k = 0
        val.extend(members[:k])
        train.extend(members[k:])
    return np.sort(np.array(train, dtype=np.int64)), np.sort(np.array(val, dtype=np.int64))
