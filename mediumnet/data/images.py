"""The content-addressed image store and image fingerprints.

Images live at ``DATASET_DIR/images/ab/abcdef….jpg``, named by the SHA-256 of their bytes:
the same file is stored once whatever source it came from, and a stored file is never
rewritten. The perceptual hash (pHash) finds near-duplicates that differ in bytes. A table's
image paths (a harvest's CSV, a batch to score) are read here too.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

IMAGES_DIR = "images"


def table_image_path(base: str | os.PathLike[str], text: str) -> Path:
    r"""Return where an image path written in a table points: relative to the table's folder.

    A table exported on Windows separates folders with backslashes (``scans\0042.tif``): where
    no file has the name as written, the same path with slashes is taken.

    Parameters
    ----------
    base : path-like
        The folder the table lies in.
    text : str
        The path as the table writes it (an absolute path is taken as it is).
    """
    path = Path(base) / text
    if "\\" in text and not path.exists():
        slashed = Path(base) / text.replace("\\", "/")
        if slashed.exists():
            return slashed
    return path


def sha256_bytes(data: bytes) -> str:
    """Return the hexadecimal SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def image_relpath(sha256: str, ext: str = ".jpg") -> str:
    """Return the store path of an image, relative to the dataset folder.

    Examples
    --------
    >>> image_relpath("abcdef0123", ".jpg")
    'images/ab/abcdef0123.jpg'
    """
    ext = ext if ext.startswith(".") else f".{ext}"
    return f"{IMAGES_DIR}/{sha256[:2]}/{sha256}{ext.lower()}"


def store_image_bytes(dataset_dir: str | os.PathLike[str], data: bytes,
                      ext: str = ".jpg") -> tuple[str, str]:
    """Write image bytes into the store unless they are already there.

    The file appears atomically (temporary file, then rename): a reader never sees half an
    image, and an interrupted write leaves nothing behind under the final name.

    Returns
    -------
    relpath : str
        Path relative to ``dataset_dir``.
    sha256 : str
        SHA-256 of ``data``.
    """
    digest = sha256_bytes(data)
    relpath = image_relpath(digest, ext)
    target = Path(dataset_dir) / relpath
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return relpath, digest


def phash(rgb: np.ndarray) -> str:
    """Return the 64-bit DCT perceptual hash of an image as 16 hexadecimal characters.

    The image is reduced to 32x32 grey levels; the hash keeps the sign of the 8x8
    lowest-frequency DCT coefficients (without the DC term) against their median, so it
    survives resizing, recompression and small colour changes. Near-duplicates differ in few
    bits (compare with :func:`phash_distance`).

    Parameters
    ----------
    rgb : numpy.ndarray
        ``(H, W, 3)`` or ``(H, W)`` uint8 image.
    """
    import cv2

    grey = rgb if rgb.ndim == 2 else cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    small = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].flatten()[1:]
    bits = low > np.median(low)
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return f"{value:016x}"


def phash_distance(a: str, b: str) -> int:
    """Return the number of differing bits between two :func:`phash` values."""
    return (int(a, 16) ^ int(b, 16)).bit_count()
