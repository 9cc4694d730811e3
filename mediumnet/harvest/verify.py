"""Decode-verify downloaded image bytes before anything is kept.

An image is kept only if Pillow identifies it and decodes every pixel: a zero-byte body, an
HTML error page served as ``image/jpeg``, a truncated transfer and a corrupt file (a JPEG
whose blocks libjpeg fills in for damaged data too, which Pillow reads without a word) are
each rejected with their own reason, so the harvest summary can count them.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from mediumnet.data.colour import with_file_profile
from mediumnet.data.deep import deep_as_srgb, deep_pixels, is_deep_rgb
from mediumnet.data.images import cut_short, image_format, phash, unopened
from mediumnet.data.jpeg import CUT_SHORT as JPEG_CUT_SHORT
from mediumnet.data.jpeg import blocks_lost, libjpeg_complaint, quiet_jpeg_pixels
from mediumnet.data.jpeg_files import JPEG_FORMATS, as_shown, libjpeg_space
from mediumnet.data.libtiff import why_failed
from mediumnet.data.orientation import EXIF_ORIENTATION, QUARTER_TURNS
from mediumnet.data.pixels import MAX_PIXELS, TooManyPixelsError, open_within_pixels
from mediumnet.data.views import ImageError, to_rgb
from mediumnet.errors import BROKEN_FILE_ERRORS, MediumnetError

FORMAT_EXT = {"JPEG": ".jpg", "PNG": ".png", "TIFF": ".tif", "WEBP": ".webp", "GIF": ".gif",
              "BMP": ".bmp", "JPEG2000": ".jp2", "MPO": ".jpg", "HEIF": ".heic", "AVIF": ".avif"}
CUT_SHORT = re.compile(r"truncat|broken data stream|got \d+ bytes, expected \d+|only got \d+",
                       re.I)
"""How Pillow ("image file is truncated", "Expected to read 37 bytes but only got 0"), zlib and
libtiff ("Read error on strip 12; got 13037 bytes, expected 26294") say that a file ends before
its pixels do, for a format whose own bytes do not say it (:func:`_reason`)."""


def _reason(data: bytes, why: str = "") -> str:
    """Return ``truncated`` for a file that ends before its format's last bytes, else ``corrupt``.

    Where the format does not say (:func:`~mediumnet.data.images.cut_short`: a TIFF, a HEIF),
    by the decoder's words ``why`` (:data:`CUT_SHORT`).
    """
    cut = cut_short(data)
    return "truncated" if cut or (cut is None and CUT_SHORT.search(why)) else "corrupt"


class BadImageError(MediumnetError):
    """Bytes that are not a complete, decodable image; ``reason`` is a short code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class VerifiedImage:
    """What verification learned about a decodable image."""

    ext: str
    width: int
    height: int
    phash: str


def open_within_limit(fp: Any, max_pixels: int = MAX_PIXELS) -> Any:
    """Open an image lazily, as :func:`~mediumnet.data.pixels.open_within_pixels` does.

    Raises
    ------
    BadImageError
        ``too_many_pixels``. Pillow's own errors (not an image, a truncated header) pass as
        they are.
    """
    try:
        return open_within_pixels(fp, max_pixels)
    except TooManyPixelsError as exc:
        raise BadImageError("too_many_pixels", str(exc)) from None


def verify_image(data: bytes, *, max_pixels: int = MAX_PIXELS) -> VerifiedImage:
    """Decode ``data`` fully; return its format, size as shown (upright) and perceptual hash.

    Raises
    ------
    BadImageError
        With reason ``empty``, ``not_an_image`` (HTML, text, unknown format), ``truncated``,
        ``corrupt`` (pixels that do not decode, a JPEG whose damaged data libjpeg fills in,
        or a file that begins as a JPEG, TIFF, ... and does not open) or ``too_many_pixels``.
    """
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise BadImageError("empty", "zero-byte image")
    head = data[:64].lstrip().lower()
    if head.startswith((b"<!doctype", b"<html", b"<?xml", b"{", b"<head")):
        raise BadImageError("not_an_image", "an HTML, XML or JSON page instead of an image")
    try:
        with open_within_limit(io.BytesIO(data), max_pixels) as im:
            fmt = im.format or ""
            width, height = im.size
            im.draft("RGB", (256, 256))  # JPEG: decode every block, at reduced scale
            # A JPEG that libjpeg decodes without a word: its pixels and the damage check in
            # one decode, where Pillow's decode and the check were two.
            space = libjpeg_space(im)
            quiet = quiet_jpeg_pixels(data, im.size, space) if space else None
            # A 16-bit master (a JPEG 2000 of more than 8 bits: Pillow reads its white as
            # black) decoded from all its bits; anything else, or one that cannot be read so,
            # by Pillow, which names a cut or corrupt file.
            deep = deep_pixels(im) if quiet is None and is_deep_rgb(im) else None
            if deep is None and quiet is None:
                im.load()
            turn = im.getexif().get(EXIF_ORIENTATION, 1)
            if turn in QUARTER_TURNS:
                width, height = height, width   # the size as shown, upright (a TIFF's is)
            # The branches' conversion: a 16-bit scan scaled to 8 bits, not clipped to white
            # (every such scan hashed alike, and all were merged as near-duplicates); the
            # colours in sRGB, a JPEG 2000's profile too.
            im = with_file_profile(im, data)
            rgb = (as_shown(quiet, im) if quiet is not None
                   else np.asarray(to_rgb(im) if deep is None else deep_as_srgb(deep, im)))
    except BadImageError:
        raise
    except ImageError as exc:
        raise BadImageError(_reason(data), f"image does not decode ({exc})") from None
    except UnidentifiedImageError:   # of a known format by its first bytes, it is damaged
        if image_format(data[:16]) is None:
            raise BadImageError("not_an_image", "not a recognised image format") from None
        raise BadImageError(_reason(data), unopened(data)) from None
    except OSError as exc:
        why = why_failed(exc)   # libtiff's own words for a TIFF, not "decoder error -2"
        if "broken data stream" in why and image_format(data[:16]) == "JPEG":
            # Pillow's words for any JPEG libjpeg gives up on, in libjpeg's own
            said = libjpeg_complaint(data)
            why = f"libjpeg: {said}" if said else why
        raise BadImageError(_reason(data, why), f"image does not decode ({why})") from None
    except Image.DecompressionBombError:
        raise BadImageError("too_many_pixels", f"more than {max_pixels:,} pixels") from None
    except BROKEN_FILE_ERRORS as exc:   # a malformed header, a plugin's decoder failing
        raise BadImageError(_reason(data), f"image does not decode ({exc})") from None
    if fmt == "JPEG" and cut_short(data):
        raise BadImageError("truncated", "JPEG without its end-of-image marker")
    # damage libjpeg fills in with grey or smeared blocks, which Pillow reads without a word
    said = blocks_lost(data) if fmt in JPEG_FORMATS and quiet is None else None
    if said:
        raise BadImageError("truncated" if said == JPEG_CUT_SHORT else "corrupt",
                            f"damaged JPEG data, blocks lost (libjpeg: {said})")
    return VerifiedImage(ext=FORMAT_EXT.get(fmt, ".img"), width=width, height=height,
                         phash=phash(rgb))
