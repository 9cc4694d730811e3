"""The visual features of one image, from pixels already decoded: names, meanings, values.

The research observed that drawings have few objects and much empty paper, paintings many
colours leaning to the dark, engravings crisp lines everywhere, photographs often no colour,
and gouache and watercolour look like coloured drawings. :func:`image_features` turns these
observations into measurements of one image — a thumbnail for the whole-image statistics, a
few native-resolution grid tiles for line statistics, and classical texture descriptors (LBP,
GLCM, Gabor: :mod:`mediumnet.study.descriptors`) on both — and :func:`features_from_pixels` does the
same from pixels the served model has already decoded. Every value has a name and a meaning
(:func:`feature_meaning`). :data:`NUMERIC_FOR_MODELS` are the ones the models take. The study
of a whole data set (tables, plots, report) is :mod:`mediumnet.study.explore`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mediumnet.data.decode import Decoded

FEATURES_VERSION = 7
"""Bumped whenever a feature's definition changes; stored with every row of features.parquet.

2: texture descriptors (:mod:`mediumnet.study.descriptors`) on the tiles and the thumbnail; every
value measured on the fully decoded pixels, in the study exactly as in serving.
3: pixels in sRGB: an image's embedded colour profile (Adobe RGB, a grey profile …) is applied
(:mod:`mediumnet.data.colour`).
4: a PNG's colour chunks read as the profile they mean; a grey profile applied level by level,
a 16-bit scan's levels before they become 8 bits.
5: a 16-bit RGB PNG or TIFF read from all its 16 bits, rounded, not cut to its high bytes; a
CMYK profile sampled on a finer table.
6: a JPEG 2000 colour image of 9 to 16 bits a sample read from all its bits (Pillow read its
white as black).
7: so is one in grey with alpha, in sYCC, in CMYK, of signed samples or of more than 16 bits, and a
16-bit TIFF in LZMA or Zstandard; an unsigned 32-bit grey TIFF read unsigned."""

THUMB_EDGE = 256
"""Long edge of the reduced decode the whole-image statistics use."""
TEXTURE_TILE = 256
TEXTURE_TILES = 4
GREY_SPREAD = 8.0
"""Mean channel spread (max - min over R, G, B) below which an image counts as colourless."""
EMPTY_DISTANCE = 18
"""A pixel within this distance (max over channels) of the border's colour is empty paper."""

BASE_NAMES: tuple[str, ...] = (
    "width", "height", "megapixels", "aspect_ratio", "file_bytes", "jpeg_quality",
    "grayscale", "channel_spread", "colourfulness", "saturation_mean", "saturation_std",
    "value_mean", "value_std", "dominant_colours", "dark_share",
    "empty_share", "content_x0", "content_y0", "content_x1", "content_y1", "content_area",
    "edge_density", "sharpness", "line_crispness", "high_freq_energy",
)
"""The size, colour, emptiness and line statistics (the feature study's first version)."""

DESCRIPTOR_SUFFIXES: tuple[str, ...] = ("tiles", "tiles_spread", "thumb")
"""Where each texture descriptor is measured: mean over the native-resolution grid tiles,
its spread (standard deviation) over the tiles, and on the whole-image thumbnail."""


def _descriptor_features() -> tuple[str, ...]:
    from mediumnet.study.descriptors import descriptor_names

    return tuple(f"{name}_{where}" for where in DESCRIPTOR_SUFFIXES
                 for name in descriptor_names())


DESCRIPTOR_NAMES: tuple[str, ...] = _descriptor_features()
"""The texture descriptors: every :func:`mediumnet.study.descriptors.descriptor_names` value at
each place of :data:`DESCRIPTOR_SUFFIXES`."""

FEATURE_NAMES: tuple[str, ...] = BASE_NAMES + DESCRIPTOR_NAMES
"""Every feature :func:`image_features` returns, in a fixed order."""

BASE_NUMERIC: tuple[str, ...] = (
    "aspect_ratio", "grayscale", "channel_spread", "colourfulness", "saturation_mean",
    "saturation_std", "value_mean", "value_std", "dominant_colours", "dark_share",
    "empty_share", "content_area", "edge_density", "sharpness", "line_crispness",
    "high_freq_energy",
)
"""The statistics of :data:`BASE_NAMES` that describe the work rather than its file."""

NUMERIC_FOR_MODELS: tuple[str, ...] = BASE_NUMERIC + tuple(
    n for n in DESCRIPTOR_NAMES if not n.endswith("_tiles_spread"))
"""The features the models take: the work's statistics and its texture descriptors over the
tiles and on the thumbnail (no size, no bytes: those describe the file, not the medium).
The spreads over tiles stay in the study: on real works (peopleart-mediums, grouped splits)
they made the features branch worse (validation macro-F1 0.858 with them, 0.916 without)."""

_BASE_MEANINGS = {
    "width": "width in pixels", "height": "height in pixels",
    "megapixels": "pixels in millions", "aspect_ratio": "width over height",
    "file_bytes": "size of the file in bytes",
    "jpeg_quality": "JPEG quality (1-100) estimated from the quantisation table",
    "grayscale": "1 when the image has no colour (mean channel spread under 8)",
    "channel_spread": "mean spread between the R, G and B values of a pixel",
    "colourfulness": "Hasler and Suesstrunk's colourfulness",
    "saturation_mean": "mean HSV saturation", "saturation_std": "spread of HSV saturation",
    "value_mean": "mean HSV brightness", "value_std": "spread of HSV brightness",
    "dominant_colours": "number of the 64 coarse colours that cover over 3 % of the image",
    "dark_share": "share of pixels darker than a quarter of full brightness",
    "empty_share": "share of pixels close to the border's colour (empty paper)",
    "content_x0": "left edge of the content's bounding box (share of the width)",
    "content_y0": "top edge of the content's bounding box (share of the height)",
    "content_x1": "right edge of the content's bounding box (share of the width)",
    "content_y1": "bottom edge of the content's bounding box (share of the height)",
    "content_area": "share of the image the content's bounding box covers",
    "edge_density": "share of tile pixels on a Canny edge (lines everywhere: engraving)",
    "sharpness": "variance of the tiles' Laplacian (focus, crisp detail)",
    "line_crispness": "gradient at edges over the local contrast (crisp engraved lines "
                      "reach full contrast within a pixel)",
    "high_freq_energy": "share of the tiles' spectral energy above a quarter of the "
                        "sampling rate (grain, hatching)",
}
_WHERE = {"tiles": "mean over the native-resolution tiles",
          "tiles_spread": "spread over the native-resolution tiles",
          "thumb": "on the whole-image thumbnail"}


def feature_meaning(name: str) -> str:
    """Return the one-line meaning of a feature of :data:`FEATURE_NAMES`.

    Raises
    ------
    KeyError
        If ``name`` is not a feature.
    """
    from mediumnet.study.descriptors import descriptor_meaning

    if name in _BASE_MEANINGS:
        return _BASE_MEANINGS[name]
    if name not in DESCRIPTOR_NAMES:
        raise KeyError(name)
    for where in sorted(_WHERE, key=len, reverse=True):
        if name.endswith("_" + where):
            return f"{descriptor_meaning(name[:-len(where) - 1])}; {_WHERE[where]}"
    raise KeyError(name)


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


def _texture_stats(greys: list[np.ndarray]) -> dict[str, float]:
    import cv2

    edges, sharp, crisp, high = [], [], [], []
    for grey in greys:
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


def _descriptors(greys: list[np.ndarray], thumb_grey: np.ndarray) -> dict[str, float]:
    from mediumnet.study.descriptors import describe, descriptor_names

    per_tile = np.stack([describe(grey) for grey in greys])
    places = {"tiles": per_tile.mean(axis=0), "tiles_spread": per_tile.std(axis=0),
              "thumb": describe(thumb_grey)}
    names = descriptor_names()
    return {f"{name}_{where}": float(values[i]) for where, values in places.items()
            for i, name in enumerate(names)}


def image_features(source: object) -> dict[str, float]:
    """Measure one image: size, colour, emptiness, line statistics and texture descriptors.

    The image is decoded once, fully, exactly as the served model decodes it, so that the
    values a model is trained on are the values it is served (:func:`features_from_pixels`).

    Parameters
    ----------
    source : path or bytes

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
    from mediumnet.data.views import native_pixels, open_image

    quality = jpeg_quality(open_image(source))
    return features_from_pixels(native_pixels(source), file_bytes=file_bytes(source),
                                jpeg_quality=quality)


def features_from_pixels(pixels: np.ndarray, *, file_bytes: float = float("nan"),
                         jpeg_quality: float = float("nan")) -> dict[str, float]:
    """Measure already decoded pixels: every value of :data:`FEATURE_NAMES`.

    The whole-image statistics are taken on a thumbnail (long edge :data:`THUMB_EDGE`,
    box-filtered from the full pixels); the line statistics and the texture descriptors on
    :data:`TEXTURE_TILES` native-resolution tiles on a fixed grid; the descriptors also on the
    thumbnail. The served ensemble decodes an image once and cuts every view and these
    values from the same pixels; :func:`image_features` decodes a file the same way.

    Parameters
    ----------
    pixels : numpy.ndarray
        ``(H, W, 3)`` uint8 RGB, upright.
    file_bytes, jpeg_quality : float
        What only the file knows (NaN when there is no file).
    """
    import cv2
    from PIL import Image

    from mediumnet.data.views import tiles_from_pixels

    height, width = pixels.shape[:2]
    thumb_image = Image.fromarray(np.ascontiguousarray(pixels))
    thumb_image.thumbnail((THUMB_EDGE, THUMB_EDGE), Image.Resampling.BOX)
    thumb = np.asarray(thumb_image)
    tile = min(TEXTURE_TILE, width, height)
    tiles = tiles_from_pixels(pixels, tile, TEXTURE_TILES, mode="grid")[0]
    greys = [cv2.cvtColor(t, cv2.COLOR_RGB2GRAY) for t in tiles]
    features = {"width": float(width), "height": float(height),
                "megapixels": width * height / 1e6, "aspect_ratio": width / height,
                "file_bytes": file_bytes, "jpeg_quality": jpeg_quality}
    features.update(_colour_stats(thumb))
    features.update(_emptiness(thumb))
    features.update(_texture_stats(greys))
    features.update(_descriptors(greys, cv2.cvtColor(thumb, cv2.COLOR_RGB2GRAY)))
    return {name: float(features[name]) for name in FEATURE_NAMES}


def decoded_features(image: Decoded) -> dict[str, float]:
    """Return :func:`features_from_pixels` of a decoded image, measured once per image.

    A served ensemble may need the features twice (a branch fit on them, and the
    meta-learner's own inputs): they are measured once and kept with the image.
    """
    return image.once("visual_features", lambda im: features_from_pixels(
        im.pixels, file_bytes=im.file_bytes, jpeg_quality=im.jpeg_quality))
