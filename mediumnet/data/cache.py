"""An on-disk cache of every work's view, built once per manifest and view settings.

Decoding multi-megapixel originals is the expensive part of every epoch, so it is done once,
for the view a branch's preprocessor reads:

- a whole-image view (a preprocessor with ``size`` and ``from_file``): every work's view,
  ``(N, S, S, 3)`` uint8 in one memory-mapped file;
- a tile view (a preprocessor with ``tile``, ``bounded_from_file`` and ``grid``): every
  work's bounded-resolution copy (native pixels unless the long edge exceeds the
  preprocessor's bound) in one flat memory-mapped file, from which training tiles are cut at
  fresh random places every epoch, plus the fixed evaluation grid tiles.

The cache lives in ``DATASET_DIR/cache/<view>-<key>/``; ``<key>`` hashes the manifest's content
(ids and image bytes, not its split) with the view's settings and the cache format version, so
a changed manifest or setting builds a new cache and everything else reuses the old one: a
second epoch and a second run decode nothing. A cache appears atomically (built in a temporary
folder, then renamed). Files that cannot be decoded are skipped, counted and listed in the
cache's ``index.json``; the rest goes on. The preprocessor is handed in: this module knows no
branch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mediumnet.errors import DatasetError
from mediumnet.labels import MEDIUMS

if TYPE_CHECKING:
    import pandas as pd

CACHE_VERSION = 8
"""Bumped when the cached pixels change. 2: an image's embedded colour profile is applied, so
every view is sRGB (:mod:`mediumnet.data.colour`). 3: a PNG's colour chunks are read as the
profile they mean (:mod:`mediumnet.data.png`); a grey profile is applied level by level, a
16-bit scan's levels before they become 8 bits. 4: a 16-bit RGB PNG or TIFF is read from all
its 16 bits (:mod:`mediumnet.data.deep`); a CMYK profile is sampled on a finer table. 5: so is
a JPEG 2000 colour image of 9 to 16 bits a sample, whose white Pillow read as black. 6: and one
in grey with alpha, sYCC or CMYK, of signed samples or of more than 16 bits; a 16-bit TIFF in
LZMA or Zstandard too; an unsigned 32-bit grey TIFF read unsigned. 7: a PNG's 16-bit grey with
alpha taken through its grey profile (it was ignored: Pillow opens such a file as RGBA). 8: a
multi-picture JPEG's composition view decoded at reduced DCT scale, as a plain JPEG's."""
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


def is_tile_view(preprocessor: Any) -> bool:
    """Return whether a preprocessor reads tiles of a bounded copy (else one whole view)."""
    return hasattr(preprocessor, "bounded_from_file")


def cache_key(manifest: pd.DataFrame, preprocessor: Any) -> str:
    """Return the cache key of a view: manifest content, view settings, format version."""
    from mediumnet.data.manifest import manifest_digest

    payload = json.dumps({"content": manifest_digest(manifest, ("id", "sha256")),
                          "view": preprocessor.view,
                          "settings": preprocessor.cache_settings(),
                          "version": CACHE_VERSION}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _build_whole(tmp: Path, root: Path, manifest: pd.DataFrame, preprocessor: Any,
                 workers: int) -> dict[str, Any]:
    from mediumnet.data.views import map_images

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


def _build_tiles(tmp: Path, root: Path, manifest: pd.DataFrame, preprocessor: Any,
                 workers: int) -> dict[str, Any]:
    from mediumnet.data.views import map_images

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


def build_cache(dataset_dir: str | os.PathLike[str], preprocessor: Any, *,
                workers: int | None = None) -> ViewCache:
    """Build (or reuse) the cache of a preprocessor's view for the manifest of ``dataset_dir``.

    Parameters
    ----------
    dataset_dir : path-like
        Dataset folder with a manifest.
    preprocessor : branch preprocessor
        A whole-image one (``size``, ``from_file``) or a tile one (``tile``,
        ``tiles_per_image``, ``bounded_from_file``, ``grid``); its ``view`` names the cache
        and its ``cache_settings()`` key it.
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
    view = preprocessor.view
    key = cache_key(manifest, preprocessor)
    final = root / "cache" / f"{view}-{key}"
    index_path = final / "index.json"
    built = False
    if not index_path.is_file():
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".building-{view}-"))
        try:
            builder = _build_tiles if is_tile_view(preprocessor) else _build_whole
            meta = builder(tmp, root, manifest, preprocessor, workers or os.cpu_count() or 1)
            failed_rows = meta.pop("failed_rows")
            index = {"view": view, "key": key, "settings": preprocessor.cache_settings(),
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
