"""The visual features of one image, from pixels already decoded: names, meanings, values.

The research observed that drawings have few objects and much empty paper, paintings many
colours leaning to the dark, engravings crisp lines everywhere, photographs often no colour,
and gouache and watercolour look like coloured drawings. :func:`image_features` turns these
observations into measurements of one image — from a reduced-size decode for the whole-image
statistics and a few native-resolution grid tiles for line and texture statistics — and
:func:`features_from_pixels` does the same from pixels the served model has already decoded.
:data:`NUMERIC_FOR_MODELS` are the ones the stacking ensemble takes. The study of a whole data
set (tables, plots, report) is :mod:`mediumnet.explore`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

FEATURES_VERSION = 1
"""Bumped whenever a feature's definition changes; stored with every row of features.parquet."""

THUMB_EDGE = 256
"""Long edge of the reduced decode the whole-image statistics use."""
TEXTURE_TILE = 256
TEXTURE_TILES = 4
GREY_SPREAD = 8.0
"""Mean channel spread (max - min over R, G, B) below which an image counts as colourless."""
EMPTY_DISTANCE = 18
"""A pixel within this distance (max over channels) of the border's colour is empty paper."""

FEATURE_NAMES: tuple[str, ...] = (
    "width", "height", "megapixels", "aspect_ratio", "file_bytes", "jpeg_quality",
    "grayscale", "channel_spread", "colourfulness", "saturation_mean", "saturation_std",
    "value_mean", "value_std", "dominant_colours", "dark_share",
    "empty_share", "content_x0", "content_y0", "content_x1", "content_y1", "content_area",
    "edge_density", "sharpness", "line_crispness", "high_freq_energy",
)
"""Every feature :func:`image_features` returns, in a fixed order."""

NUMERIC_FOR_MODELS: tuple[str, ...] = (
    "aspect_ratio", "grayscale", "channel_spread", "colourfulness", "saturation_mean",
    "saturation_std", "value_mean", "value_std", "dominant_colours", "dark_share",
    "empty_share", "content_area", "edge_density", "sharpness", "line_crispness",
    "high_freq_energy",
)
"""The features that describe the work rather than its file (for models: no size, no bytes)."""


def file_bytes(source: object) -> float:
    """Return the size of an image's file in bytes (a path or the bytes); NaN for a PIL image."""
    if isinstance(source, bytes | bytearray):
        return float(len(source))
    if isinstance(source, str | os.PathLike):
        return float(Path(source).stat().st_size)
    return float("nan")


def jpeg_quality(im) -> float:
    """Estimate the JPEG quality (1-100) from the luminance quantisation table; NaN if none."""
    tables = getattr(im, "quantization", None) or {}
    if 0 not in tables:
        return float("nan")
    # The IJG base luminance table; a file's table is this scaled by its quality.
    base = (16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40,
            57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35,
            55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112,
            100, 103, 99)
    table = np.asarray(sorted(tables[0]), dtype=np.float64)
    scale = float(np.mean(table / np.asarray(sorted(base), dtype=np.float64))) * 100
    quality = (200 - scale) / 2 if scale <= 100 else 5000 / scale
    return float(np.clip(round(quality), 1, 100))


def _colour_stats(rgb: np.ndarray) -> dict[str, float]:
    import cv2

    pixels = rgb.astype(np.float32)
    spread = float((pixels.max(axis=2) - pixels.min(axis=2)).mean())
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    rg, yb = r - g, 0.5 * (r + g) - b
    colourfulness = math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean())
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV).astype(np.float32)
    sat, val = hsv[..., 1] / 255.0, hsv[..., 2] / 255.0
    quantised = (rgb[..., 0] // 64) * 16 + (rgb[..., 1] // 64) * 4 + rgb[..., 2] // 64
    shares = np.bincount(quantised.ravel(), minlength=64) / quantised.size
    return {"grayscale": float(spread < GREY_SPREAD), "channel_spread": spread,
            "colourfulness": float(colourfulness), "saturation_mean": float(sat.mean()),
            "saturation_std": float(sat.std()), "value_mean": float(val.mean()),
            "value_std": float(val.std()), "dominant_colours": float((shares > 0.03).sum()),
            "dark_share": float((val < 0.25).mean())}


def _emptiness(rgb: np.ndarray) -> dict[str, float]:
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]]).astype(np.int16)
    paper = np.median(border, axis=0)
    content = np.abs(rgb.astype(np.int16) - paper).max(axis=2) > EMPTY_DISTANCE
    h, w = content.shape
    rows, cols = np.nonzero(content.any(axis=1))[0], np.nonzero(content.any(axis=0))[0]
    if len(rows) == 0:
        box = (0.5, 0.5, 0.5, 0.5)
    else:
        box = (cols[0] / w, rows[0] / h, (cols[-1] + 1) / w, (rows[-1] + 1) / h)
    return {"empty_share": float(1 - content.mean()), "content_x0": float(box[0]),
            "content_y0": float(box[1]), "content_x1": float(box[2]),
            "content_y1": float(box[3]), "content_area": float((box[2] - box[0])
                                                               * (box[3] - box[1]))}


def _texture_stats(tiles: np.ndarray) -> dict[str, float]:
    import cv2

    edges, sharp, crisp, high = [], [], [], []
    for tile in tiles:
        grey = cv2.cvtColor(tile, cv2.COLOR_RGB2GRAY)
        # Smoothed first, as Canny intends: film grain and canvas weave are not lines.
        found = cv2.Canny(cv2.GaussianBlur(grey, (0, 0), 1.0), 60, 150) > 0
        edges.append(found.mean())
        sharp.append(cv2.Laplacian(grey, cv2.CV_32F).var())
        # Line crispness: gradient at edge pixels over the local contrast around them. A crisp
        # engraved line reaches its full contrast within a pixel; a soft pencil line does not.
        gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
        magnitude = cv2.magnitude(gx, gy) / 4.0
        kernel = np.ones((5, 5), np.uint8)
        contrast = (cv2.dilate(grey, kernel).astype(np.float32)
                    - cv2.erode(grey, kernel).astype(np.float32))
        if found.any():
            crisp.append(float(np.median(magnitude[found] / (contrast[found] + 1.0))))
        spectrum = np.abs(np.fft.rfft2(grey.astype(np.float32) - grey.mean())) ** 2
        fy = np.fft.fftfreq(grey.shape[0])[:, None]
        fx = np.fft.rfftfreq(grey.shape[1])[None, :]
        radius = np.sqrt(fx ** 2 + fy ** 2)
        total = spectrum.sum()
        high.append(float(spectrum[radius > 0.25].sum() / total) if total > 0 else 0.0)
    return {"edge_density": float(np.mean(edges)), "sharpness": float(np.mean(sharp)),
            "line_crispness": float(np.mean(crisp)) if crisp else 0.0,
            "high_freq_energy": float(np.mean(high))}


def image_features(source: object) -> dict[str, float]:
    """Measure one image: size, colour, emptiness, and line/texture statistics.

    Parameters
    ----------
    source : path, bytes or PIL image

    Returns
    -------
    dict
        One float per name in :data:`FEATURE_NAMES` (``jpeg_quality`` is NaN for non-JPEGs,
        ``file_bytes`` NaN for a PIL image).

    Raises
    ------
    mediumnet.data.views.ImageError
        If the image cannot be used (named in the message).
    """
    from PIL import Image

    from mediumnet.data.views import _name, open_image, texture_tiles, to_rgb

    im = open_image(source)
    width, height = im.size
    quality = jpeg_quality(im)
    size_bytes = file_bytes(source)
    scale = THUMB_EDGE / max(width, height)
    if scale < 1 and im.format == "JPEG":
        im.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))
    rgb_image = to_rgb(im, _name(source))
    rgb_image.thumbnail((THUMB_EDGE, THUMB_EDGE), Image.Resampling.BOX)
    rgb = np.asarray(rgb_image)
    tile = min(TEXTURE_TILE, width, height)
    tiles = texture_tiles(source, tile, TEXTURE_TILES, mode="grid")
    return _assemble(rgb, tiles, width, height, size_bytes, quality)


def _assemble(thumb: np.ndarray, tiles: np.ndarray, width: int, height: int,
              file_bytes: float, jpeg_quality: float) -> dict[str, float]:
    features = {"width": float(width), "height": float(height),
                "megapixels": width * height / 1e6, "aspect_ratio": width / height,
                "file_bytes": file_bytes, "jpeg_quality": jpeg_quality}
    features.update(_colour_stats(thumb))
    features.update(_emptiness(thumb))
    features.update(_texture_stats(tiles))
    return {name: float(features[name]) for name in FEATURE_NAMES}


def features_from_pixels(pixels: np.ndarray, *, file_bytes: float = float("nan"),
                         jpeg_quality: float = float("nan")) -> dict[str, float]:
    """:func:`image_features` of already decoded pixels (no second decode).

    The served ensemble decodes an image once and cuts every view and these statistics from
    the same pixels. The thumbnail is reduced from the full pixels instead of a DCT-scaled
    decode, so values differ from :func:`image_features` by a hair; a model must be trained
    and served on the same one of the two (the stack is: both go through this function).

    Parameters
    ----------
    pixels : numpy.ndarray
        ``(H, W, 3)`` uint8 RGB, upright.
    file_bytes, jpeg_quality : float
        What only the file knows (NaN when there is no file).
    """
    from PIL import Image

    from mediumnet.data.views import tiles_from_pixels

    height, width = pixels.shape[:2]
    thumb = Image.fromarray(np.ascontiguousarray(pixels))
    thumb.thumbnail((THUMB_EDGE, THUMB_EDGE), Image.Resampling.BOX)
    tile = min(TEXTURE_TILE, width, height)
    tiles = tiles_from_pixels(pixels, tile, TEXTURE_TILES, mode="grid")[0]
    return _assemble(np.asarray(thumb), tiles, width, height, file_bytes, jpeg_quality)
