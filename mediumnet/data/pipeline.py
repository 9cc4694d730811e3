"""tf.data pipelines over an on-disk cache of preprocessed views.

Decoding multi-megapixel originals is the expensive part of every epoch, so it is done once:

- ``cache/composition-<key>/``: every work's composition view, ``(N, S, S, 3)`` uint8 in one
  memory-mapped file;
- ``cache/texture-<key>/``: every work's bounded-resolution copy (native pixels unless the long
  edge exceeds ``data.cache_long_edge``) in one flat memory-mapped file, from which training
  tiles are cut at fresh random places every epoch, plus the fixed evaluation grid tiles.

``<key>`` hashes the manifest's content (ids and image bytes, not its split) with the view's
settings and the cache format version, so a changed manifest or setting builds a new cache and
everything else reuses the old one: a second epoch and a second run decode nothing. A cache
appears atomically (built in a temporary folder, then renamed). Files that cannot be decoded
are skipped, counted and listed in the cache's ``index.json``; the rest goes on.

Only this module touches ``tf.data``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from mediumnet.errors import DatasetError
from mediumnet.labels import MEDIUMS

if TYPE_CHECKING:
    import pandas as pd
    import tensorflow as tf

    from mediumnet.config import Config

CACHE_VERSION = 1
View = Literal["composition", "texture"]
log = logging.getLogger("mediumnet")


@dataclass
class ViewCache:
    """A built cache of one view for one manifest."""

    path: Path
    view: str
    ids: list[str]
    labels: list[str]
    failed: dict[str, str] = field(default_factory=dict)
    built: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    def rows(self, manifest: pd.DataFrame, split: str,
             classes: tuple[str, ...] | None = None) -> np.ndarray:
        """Cache rows of the works of ``split`` (all when empty) that decoded.

        With ``classes``, works of other mediums are left out.

        Raises
        ------
        DatasetError
            If the split has no works.
        """
        from mediumnet.data.splits import require_split

        root = self.path.parent.parent  # DATASET_DIR/cache/<view>-<key>
        wanted = set(require_split(manifest, split, root)["id"]) if split else set(self.ids)
        known = set(classes or MEDIUMS)
        return np.array([i for i, work_id in enumerate(self.ids)
                         if work_id in wanted and work_id not in self.failed
                         and self.labels[i] in known], dtype=np.int64)

    def image_reader(self):
        """Return ``read(row) -> (H, W, 3) uint8``: a texture cache's bounded copies, mapped.

        Nothing is copied or decoded: each call is a view into the memory-mapped pixel file.
        """
        pixels = np.memmap(self.path / "pixels.u8", dtype=np.uint8, mode="r")
        offsets = np.load(self.path / "offsets.npy")
        shapes = np.load(self.path / "shapes.npy")

        def read(row: int) -> np.ndarray:
            h, w = shapes[row]
            return pixels[offsets[row]: offsets[row] + h * w * 3].reshape(h, w, 3)

        return read


def view_settings(view: str, config: Config) -> dict[str, Any]:
    """Return the settings that change a view's cached pixels (they enter the cache key)."""
    from mediumnet.preprocessing import view_preprocessor

    return view_preprocessor(view, config).cache_settings()


def cache_key(manifest: pd.DataFrame, view: str, config: Config) -> str:
    """Return the cache key of a view: manifest content, view settings, format version."""
    from mediumnet.data.manifest import manifest_digest

    payload = json.dumps({"content": manifest_digest(manifest, ("id", "sha256")),
                          "view": view, "settings": view_settings(view, config),
                          "version": CACHE_VERSION}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _build_composition(tmp: Path, root: Path, manifest: pd.DataFrame, config: Config,
                       workers: int) -> dict[str, Any]:
    from mediumnet.data.views import map_images
    from mediumnet.preprocessing import view_preprocessor

    preprocessor = view_preprocessor("composition", config)
    size = preprocessor.size
    paths = [root / p for p in manifest["image_path"]]
    images = np.lib.format.open_memmap(tmp / "images.npy", mode="w+", dtype=np.uint8,
                                       shape=(len(paths), size, size, 3))
    failed: dict[int, str] = {}
    for i, (view, error) in enumerate(map_images(preprocessor.from_file, paths, workers)):
        if error:
            failed[i] = error
        else:
            images[i] = view
    images.flush()
    return {"failed_rows": failed}


def _build_texture(tmp: Path, root: Path, manifest: pd.DataFrame, config: Config,
                   workers: int) -> dict[str, Any]:
    from mediumnet.data.views import map_images
    from mediumnet.preprocessing import view_preprocessor

    preprocessor = view_preprocessor("texture", config)
    tile = preprocessor.tile
    paths = [root / p for p in manifest["image_path"]]
    grid = np.lib.format.open_memmap(tmp / "grid.npy", mode="w+", dtype=np.uint8,
                                     shape=(len(paths), preprocessor.tiles_per_image, tile,
                                            tile, 3))
    offsets = np.zeros(len(paths), np.int64)
    shapes = np.zeros((len(paths), 2), np.int64)
    failed: dict[int, str] = {}
    position = 0
    with (tmp / "pixels.u8").open("wb") as fh:
        for i, (pixels, error) in enumerate(
                map_images(preprocessor.bounded_from_file, paths, workers)):
            if error:
                failed[i] = error
                continue
            grid[i] = preprocessor.grid(pixels)
            data = np.ascontiguousarray(pixels).tobytes()
            fh.write(data)
            offsets[i], shapes[i] = position, pixels.shape[:2]
            position += len(data)
    grid.flush()
    np.save(tmp / "offsets.npy", offsets)
    np.save(tmp / "shapes.npy", shapes)
    return {"failed_rows": failed, "pixel_bytes": position}


_BUILDERS = {"composition": _build_composition, "texture": _build_texture}


def build_cache(dataset_dir: str | os.PathLike[str], view: View, config: Config, *,
                workers: int | None = None) -> ViewCache:
    """Build (or reuse) the cache of ``view`` for the manifest of ``dataset_dir``.

    Parameters
    ----------
    dataset_dir : path-like
        Dataset folder with a manifest.
    view : {"composition", "texture"}
    config : Config
        ``config.data`` gives the view settings.
    workers : int, optional
        Decoding threads (default: one per CPU core).

    Returns
    -------
    ViewCache
        ``built`` says whether it was built now (False: reused from disk).

    Raises
    ------
    DatasetError
        If there is no manifest, or no image of it could be decoded.
    """
    from mediumnet.data.manifest import read_manifest

    root = Path(dataset_dir)
    manifest = read_manifest(root).sort_values("id").reset_index(drop=True)
    if manifest.empty:
        raise DatasetError(f"the manifest of {root} is empty: build the data set first")
    key = cache_key(manifest, view, config)
    final = root / "cache" / f"{view}-{key}"
    index_path = final / "index.json"
    built = False
    if not index_path.is_file():
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".building-{view}-"))
        try:
            meta = _BUILDERS[view](tmp, root, manifest, config, workers or os.cpu_count() or 1)
            failed_rows = meta.pop("failed_rows")
            index = {"view": view, "key": key, "settings": view_settings(view, config),
                     "ids": list(manifest["id"]), "labels": list(manifest["label"]),
                     "failed": {manifest["id"][i]: msg for i, msg in failed_rows.items()},
                     **meta}
            (tmp / "index.json").write_text(json.dumps(index))
            try:
                os.replace(tmp, final)
            except OSError:  # another process built it first: use theirs
                shutil.rmtree(tmp, ignore_errors=True)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        built = True
    index = json.loads(index_path.read_text())
    cache = ViewCache(path=final, view=view, ids=index["ids"], labels=index["labels"],
                      failed=index["failed"], built=built, meta=index)
    if cache.failed:
        log.warning("%d of %d images could not be decoded and are left out (listed in %s)",
                    len(cache.failed), len(cache.ids), index_path)
    if len(cache.failed) == len(cache.ids):
        raise DatasetError(f"none of the {len(cache.ids)} images of {root} could be decoded: "
                           f"see {index_path}")
    return cache


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


def make_dataset(dataset_dir: str | os.PathLike[str], view: View, split: str, config: Config,
                 *, shuffle: bool | None = None, seed: int | None = None,
                 cache: ViewCache | None = None,
                 classes: tuple[str, ...] | None = None) -> tf.data.Dataset:
    """Return batches of ``(images, one-hot labels)`` of one view and one split, from the cache.

    Parameters
    ----------
    dataset_dir : path-like
        Dataset folder (manifest with a ``split`` column).
    view : {"composition", "texture"}
        ``composition``: one ``(S, S, 3)`` view per work. ``texture``: in the ``train`` split,
        ``data.tiles_per_image_train`` tiles per work cut at fresh random places every epoch;
        in other splits, the ``data.tiles_per_image_eval`` grid tiles of each work, in work
        order (consecutive, so per-work predictions can be pooled).
    split : {"train", "val", "test"}
    config : Config
        View settings (``data``) and batch sizes (``composition``/``texture``).
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

    cache = cache or build_cache(dataset_dir, view, config)
    manifest = read_manifest(dataset_dir)
    classes = tuple(classes or MEDIUMS)
    rows = cache.rows(manifest, split, classes)
    onehot = np.eye(len(classes), dtype=np.float32)[
        [classes.index(x) if x in classes else 0 for x in cache.labels]]
    shuffle = (split == "train") if shuffle is None else shuffle
    seed = config.train.seed if seed is None else seed
    d = config.data
    autotune = tf.data.AUTOTUNE

    ds = tf.data.Dataset.from_tensor_slices(rows)
    if shuffle:
        ds = ds.shuffle(len(rows), seed=seed, reshuffle_each_iteration=True)
    onehot_t = tf.constant(onehot)

    # Works are read a group at a time: one Python call per group, not per work, keeps the
    # cached epoch at memory speed.
    if view == "composition":
        images = np.load(cache.path / "images.npy", mmap_mode="r")
        size, batch = d.composition_size, config.composition.batch_size

        def read(idx):
            x = tf.numpy_function(lambda j: images[np.asarray(j)], [idx], tf.uint8)
            x.set_shape((None, size, size, 3))
            return x, tf.gather(onehot_t, idx)

        ds = ds.batch(batch).map(read, num_parallel_calls=autotune)
        return _mix_batches(ds, split, config).prefetch(autotune)

    batch = config.texture.batch_size
    read, k = _tile_reader(cache, split, config, onehot_t)
    works_per_read = max(1, batch // k)
    ds = ds.batch(works_per_read).map(read, num_parallel_calls=autotune).unbatch().batch(batch)
    # Unbatching hides how many batches there are; state it, so that Keras knows where an
    # epoch ends instead of running into the end of the data (and warning about it).
    ds = ds.apply(tf.data.experimental.assert_cardinality(-(-len(rows) * k // batch)))
    return _mix_batches(ds, split, config).prefetch(autotune)


def _tile_reader(cache: ViewCache, split: str, config: Config, onehot_t):
    """Return ``read(work rows) -> (tiles, labels)`` and the tiles per work of a split.

    Training cuts fresh random tiles of the bounded copies on every pass; other splits read
    the fixed evaluation grid.
    """
    import tensorflow as tf

    d = config.data
    tile = d.texture_tile
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
    k = d.tiles_per_image_eval

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
