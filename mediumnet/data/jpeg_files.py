"""JPEG files as the views read them: libjpeg-turbo's pixels, upright, in sRGB, damage named.

A JPEG given as a path or bytes is decoded by libjpeg-turbo through simplejpeg
(:mod:`mediumnet.data.jpeg`), whole for the texture tiles, at the scale Pillow's draft chose
for the composition view, then turned upright and brought to sRGB by the file's profile as
:func:`~mediumnet.data.views.to_rgb` brings Pillow's pixels (the same pixels: the same library
decodes them), a multi-picture JPEG's first picture alike, a CMYK one's inks too. A file whose
damaged data libjpeg fills in is named in one warning, whichever view reads it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mediumnet.data.colour import as_srgb, cmyk_as_srgb, cmyk_image, needs_srgb_conversion
from mediumnet.data.colour import image_name as _name
from mediumnet.data.images import cut_short
from mediumnet.data.jpeg import blocks_lost, jpeg_pixels, quiet_jpeg_pixels, warn_blocks_lost
from mediumnet.data.orientation import EXIF_ORIENTATION, orient

JPEG_FORMATS = ("JPEG", "MPO")
"""Pillow's names of a JPEG file: MPO is a multi-picture one (a camera's stereo pair, a phone's
photograph with its gain map), whose first picture is the one read, by Pillow as by libjpeg."""


LIBJPEG_SPACE = {"RGB": "RGB", "L": "RGB", "CMYK": "CMYK"}
"""What libjpeg-turbo decodes a JPEG of each of Pillow's modes to, for :func:`as_shown`: an RGB
or grey one to RGB, a CMYK or YCCK one to its inks (Pillow opens no JPEG in another mode)."""


def libjpeg_space(im) -> str | None:
    """Return what libjpeg-turbo decodes the JPEG ``im`` to (:data:`LIBJPEG_SPACE`); else None.

    Whatever its profile: :func:`as_shown` brings the pixels to sRGB by it.
    """
    return LIBJPEG_SPACE.get(im.mode) if getattr(im, "format", None) in JPEG_FORMATS else None


def as_shown(pixels: np.ndarray, im, name: str = "<image>") -> np.ndarray:
    """Return libjpeg's ``pixels`` of ``im``'s file upright and in sRGB, as ``(H, W, 3)`` uint8.

    As :func:`~mediumnet.data.views.to_rgb` brings Pillow's: turned by the EXIF orientation,
    converted by the profile the file embeds (or its EXIF names) when it is not sRGB. Inks
    (``(H, W, 4)``, a CMYK JPEG's) are inverted first, as Pillow reads every CMYK JPEG (Adobe's
    convention, which Photoshop writes), then converted by the file's CMYK profile, or as Pillow
    converts them without one.
    """
    turned = orient(pixels, im.getexif().get(EXIF_ORIENTATION, 1))
    if turned.shape[-1] == 4:   # the inverse is a new, contiguous array: no copy before it
        return np.asarray(cmyk_as_srgb(cmyk_image(255 - turned, im.info), name))
    upright = np.ascontiguousarray(turned)
    if not needs_srgb_conversion(im, name):
        return upright
    from PIL import Image

    return np.asarray(as_srgb(Image.fromarray(upright), im, name))


def _jpeg_bytes(source: object, im) -> bytes | None:
    """Return the bytes of a JPEG (RGB, grey or CMYK) given as a path or bytes, else None.

    Raises
    ------
    ImageError
        If a single-picture JPEG lacks its end-of-image marker (a truncated transfer); a
        multi-picture one cut in a later picture reads, as Pillow reads it (the first).
    """
    from mediumnet.data.views import ImageError

    if getattr(im, "format", None) not in JPEG_FORMATS or \
            not isinstance(source, str | os.PathLike | bytes | bytearray):
        return None
    data = bytes(source) if isinstance(source, bytes | bytearray) else Path(source).read_bytes()
    if im.format == "JPEG" and cut_short(data):   # an MPO's end is its last picture's
        raise ImageError(f"{_name(source)}: truncated or corrupt image data (the JPEG ends "
                         "before its end-of-image marker: cut short)")
    return data


def _name_damage(data: bytes, name: str) -> None:
    """Name ``data`` in one warning if libjpeg fills in blocks of it (Pillow reads it silently)."""
    if said := blocks_lost(data):
        warn_blocks_lost(name, said)


def read_jpeg(source: object, im, *, draft: bool = False) -> np.ndarray | None:
    """Return a JPEG's pixels, upright and in sRGB, decoded by libjpeg-turbo; or None.

    Every pixel (:func:`~mediumnet.data.jpeg.jpeg_pixels`: 1.6 times as fast as OpenCV, and a
    damaged file read as libjpeg fills it in and named in one warning, where OpenCV printed
    libjpeg's words alone); with ``draft``, those of the scale ``im``'s draft chose, by a
    strict decode (:func:`~mediumnet.data.jpeg.quiet_jpeg_pixels`: Pillow's pixels of that
    draft, and a word from libjpeg heard). RGB, grey and CMYK alike (:func:`as_shown`).

    None for anything but a JPEG given as a path or bytes, for a file libjpeg-turbo cannot
    decode (TurboJPEG takes no unusual subsampling) and, with ``draft``, for a file libjpeg
    says anything of: Pillow reads or names those as before, and one whose damaged data
    libjpeg fills in is named in one warning all the same.

    Raises
    ------
    ImageError
        If the file lacks its end-of-image marker.
    """
    data = _jpeg_bytes(source, im)
    if data is None:
        return None
    name, space = _name(source), libjpeg_space(im)
    if space is None:
        return None
    pixels = (quiet_jpeg_pixels(data, im.size, space) if draft
              else jpeg_pixels(data, name, space))
    if pixels is not None:
        return as_shown(pixels, im, name)
    if draft:   # what jpeg_pixels leaves to Pillow lost no pixel to damage
        _name_damage(data, name)
    return None
