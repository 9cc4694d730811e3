"""EXIF orientation: how a stored image is turned, and its pixels set upright.

A camera writes its pixels as the sensor read them and says in EXIF tag 0x0112 how to show them
(1 upright, 2-8 mirrored and turned). Decoders that read pixels themselves (OpenCV for a plain
JPEG, or a 16-bit master) leave the tag to the caller, which turns the array with
:func:`orient`; the harvest swaps a quarter-turned image's width and height.
"""

from __future__ import annotations

import numpy as np

EXIF_ORIENTATION = 0x0112
"""The EXIF tag that says how the stored pixels are shown."""

QUARTER_TURNS = (5, 6, 7, 8)
"""EXIF orientations shown a quarter turn from the stored pixels: width and height swap. Pillow
applies a TIFF's orientation as it loads it (the tag is gone then), libheif a HEIC's."""


def orient(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to an ``(H, W, C)`` array, as a view where possible."""
    if orientation in (2, 4, 5, 7):
        array = array[:, ::-1]  # mirror first, then rotate (EXIF's order)
    turns = {3: 2, 4: 2, 5: 1, 6: 3, 7: 3, 8: 1}.get(orientation, 0)
    return np.rot90(array, turns) if turns else array
