"""The pixel limit: how large an image any branch takes, checked from its header.

An image of more pixels is refused before it is decoded, as a possible decompression bomb: a
crafted header claiming 10^10 pixels would otherwise take all the memory. The branches
(:func:`mediumnet.data.views.open_image`) and the harvest (the folder source's header check,
:func:`mediumnet.harvest.verify.verify_image`) open images through :func:`open_within_pixels`
and say the refusal each in their own words.
"""

from __future__ import annotations

from typing import Any

from mediumnet.errors import MediumnetError

MAX_PIXELS = 200_000_000
"""Images with more pixels are refused as possible decompression bombs (PIL's limit, set
explicitly: a 20,000 x 10,000 scan passes, a crafted header claiming 10^10 pixels does not)."""


class TooManyPixelsError(MediumnetError):
    """An image of more pixels than any branch takes; the message says how many."""


def within_pixels(im: Any, max_pixels: int = MAX_PIXELS) -> Any:
    """Return the opened image ``im``, or close it and refuse it when it is over ``max_pixels``.

    Raises
    ------
    TooManyPixelsError
        "16000x14000 is more than 200,000,000 pixels".
    """
    width, height = im.size
    if width * height > max_pixels:
        im.close()
        raise TooManyPixelsError(f"{width}x{height} is more than {max_pixels:,} pixels")
    return im


def open_within_pixels(fp: Any, max_pixels: int = MAX_PIXELS) -> Any:
    """Open an image lazily (its header only), refusing one of more than ``max_pixels``.

    Pillow's own limit is set to :data:`MAX_PIXELS`, not its smaller default, so an image
    within it opens without a warning.

    Parameters
    ----------
    fp : path or file object
        What :func:`PIL.Image.open` takes.
    max_pixels : int
        The most pixels taken.

    Returns
    -------
    PIL.Image.Image
        The opened image (close it, or use it as a context manager).

    Raises
    ------
    TooManyPixelsError
        The header declares more pixels (or Pillow refused it as a bomb before saying how
        many). Pillow's own errors (no such file, not an image, a truncated header) pass as
        they are.
    """
    from PIL import Image

    from mediumnet.data.heif import register_heif_reader
    from mediumnet.data.libtiff import listen_to_libtiff

    register_heif_reader()   # a phone's HEIC photographs open like any other image
    listen_to_libtiff()      # a broken TIFF said in mediumnet's line, not on standard error
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        im = Image.open(fp)
    except Image.DecompressionBombError:
        raise TooManyPixelsError(f"more than {max_pixels:,} pixels") from None
    return within_pixels(im, max_pixels)
