"""tf.data pipelines over the cached views of a data set (only this module touches tf.data).

:func:`make_dataset` gives batched ``(uint8 images, one-hot labels)`` of one split from the
view cache of :mod:`mediumnet.data.cache`: a whole-image view gives one input per work; a tile
view gives, in training, ``data.tiles_per_image_train`` tiles per work cut at fresh random
places every epoch, and in the other splits the fixed evaluation grid of each work, in work
order (so per-work predictions can be pooled). :func:`class_weights` gives the balanced
penalty for rare mediums.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from mediumnet.data.cache import ViewCache, build_cache, is_tile_view
from mediumnet.errors import DatasetError
from mediumnet.labels import MEDIUMS

if TYPE_CHECKING:
    import pandas as pd
    import tensorflow as tf

    from mediumnet.config import Config

__all__ = ["ViewCache", "build_cache", "class_weights", "make_dataset"]


def class_weights(manifest: pd.DataFrame, split: str = "train",
                  classes: tuple[str, ...] | None = None) -> dict[int, float]:
    """Balanced class weights from one split: ``n / (k * n_c)`` per medium of ``classes``.

    The penalty the research asked for: an error on a rare medium costs more. Keys are output
    indices into ``classes`` (default: all five :data:`~mediumnet.labels.MEDIUMS`, absent
    ones weighted 0).
    """
    from mediumnet.data.splits import require_split

    labels = require_split(manifest, split)["label"] if split else manifest["label"]
    if labels.empty:
        raise DatasetError("the manifest has no works: build the data set first")
    counts = labels.value_counts()
    classes = classes or MEDIUMS
    present = [m for m in classes if counts.get(m, 0) > 0]
    total = float(counts[present].sum())
    return {i: (total / (len(present) * counts[m]) if m in present else 0.0)
            for i, m in enumerate(classes)}


def make_dataset(dataset_dir: str | os.PathLike[str], preprocessor: Any, split: str,
                 config: Config, *, batch_size: int, shuffle: bool | None = None,
                 seed: int | None = None, cache: ViewCache | None = None,
                 classes: tuple[str, ...] | None = None) -> tf.data.Dataset:
    """Return batches of ``(images, one-hot labels)`` of one view and one split, from the cache.

    Parameters
    ----------
    dataset_dir : path-like
        Dataset folder (manifest with a ``split`` column).
    preprocessor : branch preprocessor
        The view to read (:func:`mediumnet.data.cache.build_cache`). A whole-image view gives
        one ``(S, S, 3)`` view per work. A tile view gives, in the ``train`` split,
        ``data.tiles_per_image_train`` tiles per work cut at fresh random places every epoch;
        in other splits, the preprocessor's grid tiles of each work, in work order
        (consecutive, so per-work predictions can be pooled).
    split : {"train", "val", "test"}
    config : Config
        ``data`` (training tiles, blank-tile rejection) and ``train`` (seed, batch mixing).
    batch_size : int
        Model inputs per batch.
    shuffle : bool, optional
        Shuffle works (default: only for ``train``).
    seed : int, optional
        Shuffle seed (default ``train.seed``).
    cache : ViewCache, optional
        An already built cache (default: built or reused now).
    classes : tuple of str, optional
        The mediums the model tells apart, its output order (default: all five); labels are
        one-hot over these, and works of other mediums are left out.

    Returns
    -------
    tf.data.Dataset
        uint8 images (normalisation is inside the models) and float32 one-hot labels.
    """
    import tensorflow as tf

    from mediumnet.data.manifest import read_manifest

    cache = cache or build_cache(dataset_dir, preprocessor)
    manifest = read_manifest(dataset_dir)
    classes = tuple(classes or MEDIUMS)
    rows = cache.rows(manifest, split, classes)
    onehot = np.eye(len(classes), dtype=np.float32)[
        [classes.index(x) if x in classes else 0 for x in cache.labels]]
    shuffle = (split == "train") if shuffle is None else shuffle
    seed = config.train.seed if seed is None else seed
    autotune = tf.data.AUTOTUNE

    ds = tf.data.Dataset.from_tensor_slices(rows)
    if shuffle:
        ds = ds.shuffle(len(rows), seed=seed, reshuffle_each_iteration=True)
    onehot_t = tf.constant(onehot)

    # Works are read a group at a time: one Python call per group, not per work, keeps the
    # cached epoch at memory speed.
    if not is_tile_view(preprocessor):
        images = np.load(cache.path / "images.npy", mmap_mode="r")
        size = preprocessor.size

        def read(idx):
            x = tf.numpy_function(lambda j: images[np.asarray(j)], [idx], tf.uint8)
            x.set_shape((None, size, size, 3))
            return x, tf.gather(onehot_t, idx)

        ds = ds.batch(batch_size).map(read, num_parallel_calls=autotune)
        return _mix_batches(ds, split, config).prefetch(autotune)

    read, k = _tile_reader(cache, preprocessor, split, config, onehot_t)
    works_per_read = max(1, batch_size // k)
    ds = (ds.batch(works_per_read).map(read, num_parallel_calls=autotune).unbatch()
          .batch(batch_size))
    # Unbatching hides how many batches there are; state it, so that Keras knows where an
    # epoch ends instead of running into the end of the data (and warning about it).
    ds = ds.apply(tf.data.experimental.assert_cardinality(-(-len(rows) * k // batch_size)))
    return _mix_batches(ds, split, config).prefetch(autotune)


def _tile_reader(cache: ViewCache, preprocessor: Any, split: str, config: Config, onehot_t):
    """Return ``read(work rows) -> (tiles, labels)`` and the tiles per work of a split.

    Training cuts fresh random tiles of the bounded copies on every pass; other splits read
    the fixed evaluation grid.
    """
    import tensorflow as tf

    d = config.data
    tile = preprocessor.tile
    if split == "train":
        from mediumnet.data.views import tiles_from_pixels

        read_image = cache.image_reader()
        k = d.tiles_per_image_train
        # The random state lives here, in Python, and goes on across passes: every epoch cuts
        # new tiles. (A random op inside the tf.data function restarts with every iterator
        # once a global seed is set, and would repeat the first epoch's tiles.)
        seeds = np.random.default_rng(config.train.seed)
        lock = threading.Lock()

        def cut(idx):
            with lock:
                rng = np.random.default_rng(int(seeds.integers(2**62)))
            return np.concatenate([
                tiles_from_pixels(read_image(j), tile, k, mode="random", rng=rng,
                                  blank_std=d.blank_tile_std)[0] for j in np.asarray(idx)])

        def read(idx):
            x = tf.numpy_function(cut, [idx], tf.uint8)
            x.set_shape((None, tile, tile, 3))
            return x, tf.repeat(tf.gather(onehot_t, idx), k, axis=0)

        return read, k
    grid = np.load(cache.path / "grid.npy", mmap_mode="r")
    k = preprocessor.tiles_per_image

    def read_grid(idx):
        x = tf.numpy_function(
            lambda j: grid[np.asarray(j)].reshape(-1, tile, tile, 3), [idx], tf.uint8)
        x.set_shape((None, tile, tile, 3))
        return x, tf.repeat(tf.gather(onehot_t, idx), k, axis=0)

    return read_grid, k


def _mix_batches(ds: tf.data.Dataset, split: str, config: Config) -> tf.data.Dataset:
    """MixUp or CutMix the training batches (``train.batch_mix``); other splits untouched.

    Keras core's layers, which mix images and labels together; mixed images are float32 in
    the 0-255 range, which the models take as they take uint8.
    """
    if split != "train" or config.train.batch_mix == "none":
        return ds
    import keras
    import tensorflow as tf

    seed = config.train.seed
    layer = (keras.layers.MixUp(alpha=0.2, seed=seed) if config.train.batch_mix == "mixup"
             else keras.layers.CutMix(factor=1.0, seed=seed))

    def mix(images, labels):
        out = layer({"images": tf.cast(images, "float32"), "labels": labels}, training=True)
        return out["images"], out["labels"]

    return ds.map(mix, num_parallel_calls=tf.data.AUTOTUNE)
