"""PNG's colour chunks: the space a PNG names without an ICC profile, as the profile it means.

A PNG says how its numbers are shown by one of four means, in this order of precedence (PNG,
third edition, 2025): a ``cICP`` chunk (H.273 code points, as a HEIF file's ``nclx`` box), an
embedded ICC profile (``iCCP``), an ``sRGB`` chunk, or a ``gAMA`` chunk (the exponent the
numbers were encoded with) with a ``cHRM`` chunk (the chromaticities of the white and the three
primaries). Pillow reads the last three into ``info`` (``icc_profile``, ``srgb``, ``gamma``,
``chromaticity``) and converts by none; it does not read ``cICP`` (:func:`png_cicp` does).

A scientific camera's export or a raw converter's linear output says gAMA 1.0: read as sRGB,
its linear mid grey (128) shows as sRGB's 128 where it means sRGB's 188, and the work looks
dark and hard. A file from a Mac of before 2009 says 1/1.8. Many writers (ImageMagick, GIMP,
libpng's "sRGB-compatible" settings) write gAMA 1/2.2 with sRGB's chromaticities to mean
sRGB: within :data:`GAMMA_TOLERANCE` and :data:`CHROMATICITY_TOLERANCE` of those, the file is
sRGB, as libpng and the browsers read it (a pure 2.2 curve differs from sRGB's by up to 7 grey
levels in the shadows, which would otherwise be "converted").
"""

from __future__ import annotations

import functools
import os
import struct
from typing import BinaryIO

from mediumnet.data.icc import (
    SRGB_CURVE,
    d50_primaries,
    grey_profile,
    parametric_curve_tag,
    rgb_profile,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

SRGB_CHROMATICITY = (0.3127, 0.3290, 0.64, 0.33, 0.30, 0.60, 0.15, 0.06)
"""sRGB's white, red, green and blue as (x, y) pairs, in the order of Pillow's ``chromaticity``
(that of the cHRM chunk)."""

SRGB_FILE_GAMMA = 1 / 2.2
"""The gAMA value writers give an sRGB file (stored as 45455)."""

GAMMA_TOLERANCE = 0.02
"""A relative gap: a file gamma this close to 1/2.2 is sRGB's curve."""

CHROMATICITY_TOLERANCE = 0.01
"""Each x and y of a cHRM chunk this close to sRGB's is sRGB's."""

GAMMA_RANGE = (0.01, 10.0)
"""The file gammas taken (decoding exponents 0.1 to 100); a gAMA outside is ignored."""


def png_cicp(fp: BinaryIO) -> tuple[int, int] | None:
    """Return the H.273 colour primaries and transfer of a PNG's ``cICP`` chunk, or None.

    ``fp`` is the file, read from its start. Only the chunks before the image data are read
    (the chunk must precede it). None when the file is not a PNG, has no such chunk, or gives
    one that names a matrix (a PNG's pixels are RGB or grey: the matrix must be 0).
    """
    body = chunk_body(fp, b"cICP")
    if body is None or len(body) != 4 or body[2] != 0:
        return None
    return body[0], body[1]


def chunk_body(fp: BinaryIO, kind: bytes, *, before_image_data: bool = True) -> bytes | None:
    """Return the data of a PNG's first chunk ``kind`` (``b"cICP"``), or None without one.

    ``fp`` is the file, read from its start. With ``before_image_data`` only the chunks before
    the image data are read (where ``kind`` must be), otherwise every chunk to the end. None
    too for a file that is not a PNG, or a chunk cut short.
    """
    if fp.read(8) != PNG_SIGNATURE:
        return None
    while len(header := fp.read(8)) == 8:
        length, found = struct.unpack(">I4s", header)
        if found == b"IEND" or (before_image_data and found == b"IDAT"):
            return None
        if found == kind:
            body = fp.read(length)
            return body if len(body) == length else None
        fp.seek(length + 4, os.SEEK_CUR)   # the data, then its CRC
    return None


def is_srgb_gamma(gamma: float) -> bool:
    """Return whether a gAMA value means sRGB's curve (within :data:`GAMMA_TOLERANCE`)."""
    return abs(gamma / SRGB_FILE_GAMMA - 1) <= GAMMA_TOLERANCE


def is_srgb_chromaticity(chromaticity: tuple[float, ...]) -> bool:
    """Return whether a cHRM chunk's eight values are sRGB's (within the tolerance)."""
    return all(abs(value - srgb) <= CHROMATICITY_TOLERANCE
               for value, srgb in zip(chromaticity, SRGB_CHROMATICITY, strict=True))


def check_chromaticity(chromaticity: tuple[float, ...]) -> str:
    """Return why a cHRM chunk's values cannot be a colour space; empty when they can.

    Each (x, y) must lie in the chromaticity diagram's triangle (x, y > 0 and x + y < 1),
    and the three primaries must not lie on one line.
    """
    if len(chromaticity) != 8:
        return f"cHRM holds {len(chromaticity)} values, not 8"
    pairs = [chromaticity[i:i + 2] for i in range(0, 8, 2)]
    if any(x < 0 or y <= 0 or x + y >= 1 for x, y in pairs):
        return f"cHRM's chromaticities {tuple(round(v, 5) for v in chromaticity)} are no colours"
    (_, _), (rx, ry), (gx, gy), (bx, by) = pairs
    if abs((gx - rx) * (by - ry) - (bx - rx) * (gy - ry)) < 1e-6:
        return "cHRM's primaries lie on one line"
    return ""


def usable_chunks(gamma: float | None, chromaticity: tuple[float, ...] | None
                  ) -> tuple[float | None, tuple[float, ...] | None, list[str]]:
    """Return the gAMA and cHRM values that can be used, and why any other is left out.

    A gAMA outside :data:`GAMMA_RANGE` (0 among them, which the standard forbids) and
    chromaticities that are no colour space (:func:`check_chromaticity`) become None; each
    problem is a phrase naming the chunk and its values.
    """
    problems = []
    if gamma is not None and not GAMMA_RANGE[0] <= gamma <= GAMMA_RANGE[1]:
        problems.append(f"its gAMA chunk ({gamma:g}) is outside {GAMMA_RANGE[0]:g} to "
                        f"{GAMMA_RANGE[1]:g}")
        gamma = None
    if chromaticity is not None and (problem := check_chromaticity(tuple(chromaticity))):
        problems.append(problem)
        chromaticity = None
    return gamma, None if chromaticity is None else tuple(chromaticity), problems


@functools.cache
def chunk_profile(gamma: float | None, chromaticity: tuple[float, ...] | None, *, grey: bool
                  ) -> bytes | None:
    """Return the ICC profile a PNG's gAMA and cHRM chunks mean; None when they mean sRGB.

    Parameters
    ----------
    gamma : float or None
        The gAMA chunk's file gamma (the encoding exponent: 1.0 linear, 0.45455 sRGB-like),
        within :data:`GAMMA_RANGE` (:func:`usable_chunks`); None without the chunk, when
        sRGB's own curve is taken.
    chromaticity : tuple of 8 floats or None
        The cHRM chunk's white, red, green and blue (x, y), a colour space
        (:func:`check_chromaticity`); None without it, when sRGB's are taken. A grey image's
        profile uses none of them (its white is D50, as ICC's).
    grey : bool
        A grey profile (for grey pixels) instead of an RGB one.
    """
    srgb_curve = gamma is None or is_srgb_gamma(gamma)
    srgb_primaries = grey or chromaticity is None or is_srgb_chromaticity(chromaticity)
    if srgb_curve and srgb_primaries:
        return None
    # A gAMA of 1/2.2 beside other primaries is taken as the pure gamma it states (Adobe RGB's
    # own curve is one); without a gAMA, sRGB's curve.
    curve = parametric_curve_tag(SRGB_CURVE if gamma is None else (1 / gamma,))
    described = "sRGB curve" if gamma is None else f"gamma {1 / gamma:.3g}"
    if grey:
        return grey_profile(f"PNG gAMA grey, {described}", curve)
    chromaticity = chromaticity or SRGB_CHROMATICITY
    white, red, green, blue = (tuple(chromaticity[i:i + 2]) for i in range(0, 8, 2))
    primaries = "sRGB primaries" if is_srgb_chromaticity(chromaticity) else "cHRM primaries"
    return rgb_profile(f"PNG {primaries}, {described}",
                       *d50_primaries(red, green, blue, white), curve)
