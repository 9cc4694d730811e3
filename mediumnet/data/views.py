"""The two views every branch sees: the whole work shrunk (composition) and native tiles (texture).

``source`` is always a path, the bytes of an image file, or a PIL image. Every odd mode a
museum archive holds is handled: grayscale, CMYK, 16-bit, palette, alpha (composited on white),
the EXIF orientation, and an embedded colour profile (Adobe RGB, eciRGB, a grey profile: the
pixels are converted to sRGB, :mod:`mediumnet.data.colour`). A file that is not a complete
image, or whose pixel count is over :data:`MAX_PIXELS` (a decompression bomb), raises
:class:`ImageError` naming the file.

Speed: a JPEG is decoded at reduced scale for the composition view (PIL ``draft``'s scale:
libjpeg's DCT scaling decodes 1/2, 1/4 or 1/8 of the pixels directly), then resized with
Lanczos antialiasing; a gallery's thumbnail takes a JPEG 2000 at a coarse resolution level too
(an archive's master in a tenth of the time). Texture tiles need every native pixel, so the
image is fully decoded. JPEGs (RGB, grey and CMYK) are decoded by libjpeg-turbo through
simplejpeg (:mod:`mediumnet.data.jpeg_files`: the fastest full decoder measured here, see
``bench/pipeline.py``, and one that names damage Pillow reads silently), anything else by
Pillow.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from mediumnet.data.colour import (
    as_srgb,
    cmyk_as_srgb,
    with_file_profile,
    with_inks_as_cmyk,
)
from mediumnet.data.colour import image_name as _name
from mediumnet.data.deep import (
    deep_as_srgb,
    deep_grey_as_srgb,
    deep_pixels,
    is_deep_rgb,
    wrap_shows_as_zero,
)
from mediumnet.data.images import unopened
from mediumnet.data.jpeg_files import JPEG_FORMATS, read_jpeg
from mediumnet.data.libtiff import why_failed
from mediumnet.data.pixels import MAX_PIXELS as MAX_PIXELS  # re-exported: the views' limit
from mediumnet.data.pixels import TooManyPixelsError, open_within_pixels, within_pixels
from mediumnet.errors import BROKEN_FILE_ERRORS, MediumnetError

PAD_VALUE = 127
"""The neutral grey of the letterbox."""

TileMode = Literal["random", "grid", "center"]


class ImageError(MediumnetError):
    """An image that cannot be used; the message names the file."""


@dataclass(frozen=True)
class TileFlags:
    """What :func:`texture_tiles` had to do beyond cutting tiles."""

    padded: bool
    """The image was smaller than a tile on some side and was padded."""
    rejected_blank: int
    """Candidate tiles rejected as almost blank (random mode only)."""


def open_image(source: object):
    """Open ``source`` lazily (header only) with the pixel limit set; name it on failure.

    Raises
    ------
    ImageError
        Missing file, not an image, a decompression bomb, or zero area.
    """
    from PIL import Image, UnidentifiedImageError

    name = _name(source)
    try:
        if isinstance(source, Image.Image):
            im = within_pixels(source)
        else:
            fp = io.BytesIO(source) if isinstance(source, bytes | bytearray) else Path(source)
            im = open_within_pixels(fp)
    except TooManyPixelsError as exc:
        raise ImageError(f"{name}: {exc}, refused as a possible decompression bomb") from None
    except FileNotFoundError:
        raise ImageError(f"{name}: no such image file") from None
    except UnidentifiedImageError:
        raise ImageError(f"{name}: {unopened(source)}") from None
    except BROKEN_FILE_ERRORS as exc:
        raise ImageError(f"{name}: truncated or corrupt image file ({exc})") from None
    width, height = im.size
    if width <= 0 or height <= 0:
        raise ImageError(f"{name}: the image has zero area ({width}x{height})")
    return with_file_profile(im, source)


def open_reduced(source: object, long_edge: int, *, wavelet_levels: bool = True):
    """Open ``source`` (:func:`open_image`) to be decoded at the least scale covering ``long_edge``.

    A JPEG is decoded by DCT scaling (PIL ``draft``; a multi-picture one's first picture too,
    so that a phone's photograph with its gain map reads as the plain JPEG would), a JPEG 2000
    at its coarsest resolution level still as large (PIL ``reduce``: a 27-megapixel master in a
    tenth of the time; a level that does not decode gives way to a finer one; a deep file's only
    if a white Pillow wraps round would read 0 and none does,
    :func:`~mediumnet.data.deep.wrap_shows_as_zero`), anything else, or with
    ``wavelet_levels=False``, whole. Raises :class:`ImageError` as
    :func:`open_image` does.
    """
    from PIL import Image

    im = open_image(source)
    scale = long_edge / max(im.size)
    if scale >= 1:
        return im
    target = [max(1, math.ceil(side * scale)) for side in im.size]
    if im.format in JPEG_FORMATS:   # a multi-picture one's first picture alike
        im.draft("RGB", tuple(target))
    elif im.format == "JPEG2000" and wavelet_levels and not isinstance(source, Image.Image):
        deep = is_deep_rgb(im)
        levels, most = 0, 0 if deep and not wrap_shows_as_zero(im) else 8
        while levels < most and all(-(-side >> (levels + 1)) >= goal
                                    for side, goal in zip(im.size, target, strict=True)):
            levels += 1
        for level in range(levels, 0, -1):
            im.reduce = level
            try:
                im.load()
                if deep and not np.asarray(im).all():   # a 0: black, or white wrapped round
                    return open_image(source)   # whole, from all its bits
                return im
            except BROKEN_FILE_ERRORS:   # a level the file lacks, or its decoder cannot give
                im = open_image(source)
    return im


def to_rgb(im, name: str = "<image>"):
    """Decode ``im`` fully and return it as 8-bit sRGB, upright, alpha composited on white.

    Pixels in another colour space than sRGB (an embedded profile, a camera's Adobe RGB
    named in EXIF) are converted to sRGB (:mod:`mediumnet.data.colour`); a 16-bit RGB PNG or
    TIFF, or a JPEG 2000 of more than 8 bits, from all its bits (:mod:`mediumnet.data.deep`).

    Raises
    ------
    ImageError
        If the pixel data is truncated or corrupt.
    """
    from PIL import Image, ImageOps

    try:
        if is_deep_rgb(im) and (deep := deep_pixels(im)) is not None:   # all 16 bits
            return deep_as_srgb(deep, im, name)
        im.load()
        source = im = with_inks_as_cmyk(im)   # as the file wrote it: its EXIF, its inks
        im = ImageOps.exif_transpose(im)
    except BROKEN_FILE_ERRORS as exc:
        raise ImageError(f"{name}: truncated or corrupt image data ({why_failed(exc)})") from None
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):   # grey, 16 bits by its profile
        return deep_grey_as_srgb(np.asarray(im), source, name)
    if mode == "CMYK":
        return cmyk_as_srgb(im, name)
    if mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or im.mode == "RGBA":
        rgba = im.convert("RGBA")
        rgb = Image.alpha_composite(Image.new("RGBA", rgba.size, (255,) * 4), rgba).convert("RGB")
    else:
        rgb = im if mode == "RGB" else im.convert("RGB")
    return as_srgb(rgb, source, name)


def composition_view(source: object, size: int, *, pad: int = PAD_VALUE) -> np.ndarray:
    """Return the whole image letterboxed into ``size`` x ``size``: aspect and margins kept.

    Parameters
    ----------
    source : path, bytes or PIL image
    size : int
        Side of the square view in pixels.
    pad : int
        Grey level of the letterbox bands.

    Returns
    -------
    numpy.ndarray
        ``(size, size, 3)`` uint8.

    Raises
    ------
    ImageError
        If the image cannot be used (named in the message).
    """
    if size <= 0:
        raise MediumnetError(f"composition view size {size}: use a positive size")
    name = _name(source)
    # A model's input: a JPEG by DCT scaling, which differs from the full decode far below what
    # changes a prediction; a JPEG 2000's coarse levels differ half as much again (by 3.3 grey
    # levels on average against 2.1, 20 peopleart-mediums works at three times their size), so
    # a JPEG 2000 is decoded whole here (thumbnails take its coarse levels).
    im = open_reduced(source, size, wavelet_levels=False)
    pixels = read_jpeg(source, im, draft=True)
    if pixels is not None:   # a JPEG, decoded by libjpeg-turbo
        return letterbox_pixels(pixels, size, pad=pad)
    return _letterbox(to_rgb(im, name), size, pad)


def _letterbox(rgb, size: int, pad: int) -> np.ndarray:
    """Shrink an RGB PIL image to fit ``size`` (Lanczos) and centre it on a ``pad`` square."""
    from PIL import Image

    w, h = rgb.size
    fit = size / max(w, h)
    new = (max(1, round(w * fit)), max(1, round(h * fit)))
    if new != (w, h):
        rgb = rgb.resize(new, Image.Resampling.LANCZOS, reducing_gap=3.0)
    out = np.full((size, size, 3), pad, dtype=np.uint8)
    top, left = (size - new[1]) // 2, (size - new[0]) // 2
    out[top:top + new[1], left:left + new[0]] = np.asarray(rgb)
    return out


def native_pixels(source: object) -> np.ndarray:
    """Return every pixel of ``source`` as ``(H, W, 3)`` uint8 RGB, upright.

    JPEG files (RGB, grey and CMYK) are decoded by libjpeg-turbo (through simplejpeg,
    :func:`~mediumnet.data.jpeg_files.read_jpeg`); anything else by Pillow with the mode
    handling of :func:`to_rgb`.
    """
    im = open_image(source)
    rgb = read_jpeg(source, im)
    return np.asarray(to_rgb(im, _name(source))) if rgb is None else rgb


def grid_positions(height: int, width: int, tile: int, n: int) -> list[tuple[int, int]]:
    """Top-left corners of ``n`` tiles spread evenly over the image, deterministic.

    The grid has about as many columns and rows as the aspect ratio suggests; tile centres sit
    at the centres of equal cells, so the set is the same for the same size every time.
    """
    if n <= 0:
        return []
    aspect = width / height
    rows = max(1, round(math.sqrt(n / aspect)))
    cols = math.ceil(n / rows)
    positions = []
    for r in range(rows):
        for c in range(cols):
            if len(positions) == n:
                break
            y = int(np.clip(round((r + 0.5) * height / rows - tile / 2), 0, max(0, height - tile)))
            x = int(np.clip(round((c + 0.5) * width / cols - tile / 2), 0, max(0, width - tile)))
            positions.append((y, x))
    return positions


def fixed_positions(height: int, width: int, tile: int, n: int,
                    mode: str) -> list[tuple[int, int]]:
    """Top-left corners of the ``grid`` or ``center`` tiles (the centre crop repeated)."""
    if mode == "center":
        return [((height - tile) // 2, (width - tile) // 2)] * n
    return grid_positions(height, width, tile, n)


def _pad_to_tile(pixels: np.ndarray, tile: int, pad: int) -> tuple[np.ndarray, bool]:
    h, w = pixels.shape[:2]
    if h >= tile and w >= tile:
        return pixels, False
    out = np.full((max(h, tile), max(w, tile), 3), pad, dtype=np.uint8)
    top, left = (out.shape[0] - h) // 2, (out.shape[1] - w) // 2
    out[top:top + h, left:left + w] = pixels
    return out, True


def tiles_from_pixels(pixels: np.ndarray, tile: int, n: int, *, mode: TileMode = "grid",
                      rng: np.random.Generator | None = None, blank_std: float = 0.0,
                      pad: int = PAD_VALUE) -> tuple[np.ndarray, TileFlags]:
    """Cut tiles from decoded pixels (the work behind :func:`texture_tiles`)."""
    if tile <= 0 or n <= 0:
        raise MediumnetError(f"tile={tile}, n={n}: both must be positive")
    pixels, padded = _pad_to_tile(pixels, tile, pad)
    h, w = pixels.shape[:2]
    rejected = 0
    if mode in ("center", "grid"):
        positions = fixed_positions(h, w, tile, n, mode)
    elif mode == "random":
        rng = rng if rng is not None else np.random.default_rng()
        positions = []
        attempts = 0
        while len(positions) < n:
            y = int(rng.integers(0, h - tile + 1))
            x = int(rng.integers(0, w - tile + 1))
            attempts += 1
            if blank_std > 0 and attempts <= n * 10:
                patch = pixels[y:y + tile:4, x:x + tile:4]
                if float(patch.std()) < blank_std:
                    rejected += 1
                    continue
            positions.append((y, x))
    else:
        raise MediumnetError(f"tile mode {mode!r}: choose random, grid or center")
    # contiguous whatever the pixels' layout (a turned JPEG's are a view of the stored ones)
    tiles = np.ascontiguousarray(np.stack([pixels[y:y + tile, x:x + tile] for y, x in positions]))
    return tiles, TileFlags(padded=padded, rejected_blank=rejected)


def texture_tiles(source: object, tile: int, n: int, *, mode: TileMode = "grid",
                  rng: np.random.Generator | None = None, blank_std: float = 0.0,
                  with_flags: bool = False):
    """Return ``n`` native-resolution ``tile`` x ``tile`` tiles of ``source``.

    Parameters
    ----------
    source : path, bytes or PIL image
    tile : int
        Tile side in pixels.
    n : int
        Number of tiles.
    mode : {"random", "grid", "center"}
        ``random``: fresh positions on every call (training augmentation); ``grid``: a fixed,
        evenly spread set (evaluation); ``center``: the research's single centre crop, repeated.
    rng : numpy.random.Generator, optional
        Source of randomness for ``random``.
    blank_std : float
        In ``random`` mode, reject candidate tiles whose grey-level standard deviation is below
        this (an empty paper margin carries no texture); after ``10 n`` candidates any tile is
        accepted.
    with_flags : bool
        Also return a :class:`TileFlags` (was the image padded, how many tiles were rejected).

    Returns
    -------
    numpy.ndarray or (numpy.ndarray, TileFlags)
        ``(n, tile, tile, 3)`` uint8. Images smaller than a tile are padded with neutral grey.

    Raises
    ------
    ImageError
        If the image cannot be used (named in the message).
    """
    rgb = native_pixels(source)
    tiles, flags = tiles_from_pixels(rgb, tile, n, mode=mode, rng=rng, blank_std=blank_std)
    return (tiles, flags) if with_flags else tiles


def map_images(func, sources: list, workers: int):
    """Apply ``func`` to every image source in threads, in order, never stopping on a bad one.

    The decoders and OpenCV release the GIL, so threads use every core; at most 64 images
    are in flight, which bounds memory on sets of thousands of large scans.

    Yields
    ------
    (result, error) : tuple
        ``result`` of ``func``, or None with the message of the :class:`ImageError` raised.
    """
    from concurrent.futures import ThreadPoolExecutor

    def safe(source):
        try:
            return func(source), None
        except ImageError as exc:
            return None, str(exc)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for start in range(0, len(sources), 64):
            yield from pool.map(safe, sources[start:start + 64])


def bounded_pixels(source: object, long_edge: int) -> np.ndarray:
    """Return the pixels of ``source``, downscaled only if its long edge exceeds ``long_edge``.

    The bounded copy that the texture cache keeps: native resolution for all but the largest
    scans, so tiles cut from it keep their texture.
    """
    return bound_pixels(native_pixels(source), long_edge)


def bound_pixels(pixels: np.ndarray, long_edge: int | None) -> np.ndarray:
    """Downscale decoded pixels (area averaging) only if their long edge exceeds ``long_edge``.

    ``None`` keeps every pixel.
    """
    import cv2

    h, w = pixels.shape[:2]
    if not long_edge or max(h, w) <= long_edge:
        return pixels
    scale = long_edge / max(h, w)
    return cv2.resize(pixels, (max(1, round(w * scale)), max(1, round(h * scale))),
                      interpolation=cv2.INTER_AREA)


def letterbox_pixels(pixels: np.ndarray, size: int, *, pad: int = PAD_VALUE) -> np.ndarray:
    """Return the composition view of already decoded pixels (no second decode).

    :func:`composition_view` without the decode, for callers that cut every view from one
    decoded image (the served ensemble).

    The resize is Pillow's Lanczos with the same ``reducing_gap`` as :func:`composition_view`;
    the two differ only by the DCT-scaled decode that function starts from (a difference far
    below what changes a prediction).
    """
    from PIL import Image

    return _letterbox(Image.fromarray(np.ascontiguousarray(pixels)), size, pad)


def thumbnail(path: str | os.PathLike[str], edge: int) -> np.ndarray | None:
    """Return a small RGB copy of an image file for galleries, or None if it is unreadable.

    Decoded at reduced scale where the format allows (:func:`open_reduced`), converted as the
    branches see it (:func:`to_rgb`: upright, a 16-bit scan scaled to 8 bits), then shrunk to
    fit ``edge``.
    """
    try:
        rgb = to_rgb(open_reduced(path, edge), str(path))
    except ImageError:
        return None
    rgb.thumbnail((edge, edge))
    return np.asarray(rgb)
