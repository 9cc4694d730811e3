"""One image decoded once: upright RGB pixels and what only its file knows, for every branch.

Every branch of a served model, and every branch fit on a data set, reads its inputs from the
same :class:`Decoded` image: a path, file bytes, a PIL image or an array is decoded exactly
once, whatever number of branches look at it. Values that more than one branch needs (the
visual features, a backbone's embedding) are measured once per image and kept with it
(:meth:`Decoded.once`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Decoded:
    """One image decoded once: its pixels and what only the file knows."""

    pixels: np.ndarray
    file_bytes: float = float("nan")
    jpeg_quality: float = float("nan")
    _memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def once(self, key: str, compute: Callable[[Decoded], Any]) -> Any:
        """Return ``compute(self)``, computed at most once per image for each ``key``."""
        with self._lock:
            if key not in self._memo:
                self._memo[key] = compute(self)
            return self._memo[key]


def decode(item: object) -> Decoded:
    """Decode a path, file bytes, PIL image or array into upright RGB pixels, once.

    Raises
    ------
    mediumnet.data.views.ImageError
        If the item cannot be used (named in the message).
    """
    from mediumnet.data.views import ImageError, native_pixels, open_image, to_rgb
    from mediumnet.study.features import file_bytes, jpeg_quality

    if isinstance(item, np.ndarray):
        return Decoded(array_pixels(item))
    if isinstance(item, str | os.PathLike) and not str(item):
        raise ImageError("empty path: give an image file")
    if isinstance(item, bytes | bytearray) and not item:
        raise ImageError("empty image: no bytes")
    im = open_image(item)
    quality = jpeg_quality(im)
    size = file_bytes(item)
    if not isinstance(item, str | os.PathLike | bytes | bytearray):  # a PIL image
        return Decoded(np.asarray(to_rgb(im)), size, quality)
    return Decoded(native_pixels(item), size, quality)


def array_pixels(array: np.ndarray) -> np.ndarray:
    """Return an array given as an image as upright RGB uint8 pixels.

    ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` and ``(H, W, 4)`` (composited on white) are
    taken; floats in [0, 1] are scaled to 0-255, anything else is clipped.

    Raises
    ------
    mediumnet.data.views.ImageError
        For any other shape.
    """
    from mediumnet.data.views import ImageError

    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4) or 0 in array.shape[:2]:
        raise ImageError(f"array of shape {array.shape}: give (H, W), (H, W, 3) or (H, W, 4)")
    if array.dtype != np.uint8:  # floats in [0, 1] are scaled; anything else clipped
        if np.issubdtype(array.dtype, np.floating) and float(np.nanmax(array)) <= 1.0:
            array = array * 255.0
        array = np.clip(np.nan_to_num(array), 0, 255).round().astype(np.uint8)
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    if array.shape[2] == 4:  # composite on white, as for image files
        alpha = array[..., 3:4].astype(np.float32) / 255.0
        array = (array[..., :3] * alpha + 255.0 * (1 - alpha)).round().astype(np.uint8)
    return np.ascontiguousarray(array)
