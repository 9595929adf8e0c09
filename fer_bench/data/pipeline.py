"""tf.data over a decode-once cache: shuffle indices, gather uint8 batches from the memory map, augment.

Only index batches flow through the shuffle buffer; pixels are gathered from the memory-mapped uint8 array
per batch, converted to float32 per batch, and augmented per batch with Keras preprocessing layers on the
CPU while the model trains on the previous batch (prefetch). Nothing is decoded per epoch, and at no point
does the whole data set exist as float32.

The paper's augmentation (Keras ImageDataGenerator: rotation 20 deg, width/height shift 0.2, zoom 0.2,
horizontal flip, fill 'nearest') maps to RandomRotation(20/360), RandomTranslation(0.2, 0.2),
RandomZoom(0.2) and RandomFlip("horizontal"), all with fill_mode="nearest".
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .cache import CachedSplit

AUTOTUNE = tf.data.AUTOTUNE


def paper_augmentation(seed: int | None = None, *, rotation_deg: float = 20.0, shift: float = 0.2,
                       zoom: float = 0.2, flip: bool = True):
    """The BTFER authors' training augmentation as Keras 3 preprocessing layers (one Sequential)."""
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


def make_dataset(cached: CachedSplit, indices=None, *, batch_size: int = 64, num_classes: int = 7,
                 shuffle: bool = False, augment=None, class_weights: dict[int, float] | None = None,
                 seed: int = 0, repeat: bool = False) -> tf.data.Dataset:
    """Batches of (float32 RGB 0..255 images, one-hot labels[, per-sample weights]).

    Args:
        cached: the decoded split (images may be 1-channel grey; they are expanded to RGB per batch).
        indices: rows of *cached* to use (default: all, in order). Evaluation keeps this order exactly.
        shuffle: reshuffle the indices every epoch (training).
        augment: a Keras layer/model applied per batch in training mode, or None.
        class_weights: canonical index -> weight; adds a third element with per-sample weights.
    """
    images, labels = cached.images, cached.labels.astype(np.int64)
    idx = np.arange(len(labels)) if indices is None else np.asarray(indices, dtype=np.int64)
    h, w, c = images.shape[1:]
    weight_table = None
    if class_weights is not None:
        weight_table = np.ones(num_classes, dtype=np.float32)
        for k, v in class_weights.items():
            weight_table[int(k)] = float(v)

    def gather(batch_idx: np.ndarray):
        # sorted reads are sequential on the memory map; the permutation is undone right after
        order = np.argsort(batch_idx, kind="stable")
        rows = batch_idx[order]
        out = np.empty((len(rows), h, w, c), dtype=np.uint8)
        out[order] = images[rows]
        return out, labels[batch_idx]

    ds = tf.data.Dataset.from_tensor_slices(idx)
    if shuffle:
        ds = ds.shuffle(len(idx), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size)

    def load(b):
        x, y = tf.numpy_function(gather, [b], [tf.uint8, tf.int64], stateful=False)
        x.set_shape([None, h, w, c])
        y.set_shape([None])
        x = tf.cast(x, tf.float32)
        if c == 1:
            x = tf.image.grayscale_to_rgb(x)
        return x, y

    ds = ds.map(load, num_parallel_calls=AUTOTUNE, deterministic=True)
    if augment is not None:
        ds = ds.map(lambda x, y: (augment(x, training=True), y), num_parallel_calls=AUTOTUNE,
                    deterministic=True)

    def finish(x, y):
        onehot = tf.one_hot(y, num_classes)
        if weight_table is None:
            return x, onehot
        return x, onehot, tf.gather(tf.constant(weight_table), y)

    ds = ds.map(finish, num_parallel_calls=AUTOTUNE, deterministic=True)
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
