"""Plain JPEG files decoded by libjpeg-turbo, and what its decoder says of damaged data.

A JPEG whose entropy-coded data is damaged (a flipped bit in a transfer, a failing disk)
still decodes: libjpeg fills the blocks it cannot read with grey, or with the smeared
colours of a lost sync, and says why in a warning. Pillow keeps that warning to itself and
OpenCV prints it on standard error ("Corrupt JPEG data: premature end of data segment",
naming no file, between a harvest's or a training's progress lines). simplejpeg (a binding
of libjpeg-turbo's TurboJPEG interface, the same library Pillow and OpenCV decode with)
prints nothing and, decoding strictly, raises the warning as an error: :func:`jpeg_pixels`
reads a file as the others do, 1.6 times as fast as OpenCV (``bench/pipeline.py``), and
names a damaged one in one warning; :func:`libjpeg_complaint` says what libjpeg found, so a
harvest can refuse a file that lost pixels instead of keeping it; :func:`quiet_jpeg_pixels`
decodes a file at a reduced scale and checks it at once, for a harvest's verification.
"""

from __future__ import annotations

import logging
import re

import numpy as np

log = logging.getLogger("mediumnet")

CUT_SHORT = "Premature end of JPEG file"
"""libjpeg's warning for a file that ends before its last block."""
LOST_PIXELS = re.compile(rf"Corrupt JPEG data: (?!bad ICC marker)|{CUT_SHORT}")
"""libjpeg's warnings that mean blocks were not decoded from the file's own data: a segment cut
short, a code not in the tables, a lost restart marker, data left over when the blocks were
done (what a damaged stream leaves most often, as its decoder lost the sync), a file cut
short. Its other warnings leave every pixel as encoded (a bad ICC marker, an unknown JFIF
revision); so do stray bytes among the headers, before the first scan (:func:`lost_pixels`)."""
OUTPUT_SPACE = {"CMYK": "CMYK", "YCCK": "CMYK", "Gray": "GRAY"}
"""The output that decodes each JPEG colour space without a conversion (any other: RGB)."""
START_OF_SCAN = 0xDA


def _without_stray_header_bytes(data: bytes) -> bytes | None:
    """Return a JPEG's bytes without those that belong to no segment among its headers.

    Walks the marker segments from the start-of-image marker to the first start-of-scan
    marker; libjpeg skips such bytes ("N extraneous bytes before marker 0xdb") and decodes
    every block. None when there are none, or when no scan follows the headers.
    """
    kept, at, stray = bytearray(data[:2]), 2, False
    while at + 4 <= len(data):
        if data[at] != 0xFF:   # up to the next marker, as libjpeg skips them
            stray, at = True, data.find(b"\xff", at)
            if at < 0:
                return None
            continue
        marker = data[at + 1]
        if marker == 0xFF:   # fill bytes before a marker
            at += 1
            continue
        if marker == START_OF_SCAN:
            return bytes(kept + data[at:]) if stray else None
        end = at + 2 + int.from_bytes(data[at + 2:at + 4], "big")
        kept += data[at:end]
        at = end
    return None


def lost_pixels(data: bytes, said: str) -> bool:
    """Return whether libjpeg's words ``said`` of a JPEG's bytes ``data`` mean pixels were lost.

    See :data:`LOST_PIXELS`. Extraneous bytes among the headers cost no pixel, but libjpeg
    says no more once it has named them: the data past them is then decoded again without
    them, and what libjpeg says of that decides.
    """
    if not LOST_PIXELS.search(said):
        return False
    past = _past_stray_header_bytes(data, said)
    if past is None:
        return True
    cleaned, later = past
    return later is not None and lost_pixels(cleaned, later)


def _past_stray_header_bytes(data: bytes, said: str) -> tuple[bytes, str | None] | None:
    """Return a JPEG's bytes without the stray bytes among its headers, and libjpeg's word on them.

    libjpeg says no more once it has named such bytes (``said``: "N extraneous bytes before
    marker ..."), though they cost no pixel; what it says of the data without them (None:
    nothing) is what it would have gone on to say. None when ``said`` is not of such bytes.
    """
    cleaned = _without_stray_header_bytes(data) if "extraneous bytes" in said else None
    return None if cleaned is None else (cleaned, _complaint(cleaned))


def jpeg_pixels(data: bytes, name: str = "<image>", space: str = "RGB") -> np.ndarray | None:
    """Decode a JPEG's bytes into ``(H, W, 3)`` uint8 RGB, as stored (not turned upright).

    With ``space`` ``"CMYK"`` (a CMYK or YCCK file's), its ``(H, W, 4)`` inks as libjpeg gives
    them (a CMYK file's samples as stored, a YCCK one's turned into them).

    Damaged entropy data (:func:`lost_pixels`) decodes as libjpeg fills it in, as Pillow and
    OpenCV read it, and one warning names the file (``name``) in libjpeg's words (OpenCV
    printed them naming no file).

    Returns
    -------
    numpy.ndarray or None
        None when libjpeg-turbo stops at an error or says anything else: Pillow then reads
        the file as it always does, or names why it cannot.
    """
    import simplejpeg

    try:
        return simplejpeg.decode_jpeg(data, space)
    except ValueError as exc:
        said = str(exc)
    if past := _past_stray_header_bytes(data, said):   # libjpeg-turbo stops at them
        data, said = past   # the damage past them, if any
    if said is None or not lost_pixels(data, said):
        return None   # Pillow reads every pixel, as it always did
    try:
        pixels = simplejpeg.decode_jpeg(data, space, strict=False)
    except ValueError:
        return None
    warn_blocks_lost(name, said)
    return pixels


def warn_blocks_lost(name: str, said: str) -> None:
    """Name a JPEG (``name``) whose damaged data libjpeg fills in, in its words (``said``)."""
    log.warning("%s: damaged JPEG data, blocks lost (libjpeg: %s); read as libjpeg fills them "
                "in", name, said)


def quiet_jpeg_pixels(data: bytes, size: tuple[int, int], space: str = "RGB") -> np.ndarray | None:
    """Decode a JPEG's bytes at the DCT scale that gives ``size``, if libjpeg says nothing of them.

    One strict decode by libjpeg-turbo: every block entropy-decoded, as :func:`libjpeg_complaint`
    decodes them, and the pixels of the scale (1, 1/2, 1/4 or 1/8) that Pillow's ``draft``
    chose for ``size`` (``(width, height)``), the same pixels as Pillow's decode of that
    draft, as stored (not turned upright).

    Returns
    -------
    numpy.ndarray or None
        ``(H, W, 3)`` uint8 RGB, or with ``space`` ``"CMYK"`` the ``(H, W, 4)`` inks
        (:func:`jpeg_pixels`); None when libjpeg says anything at all (damage, stray bytes
        among the headers, an error) or its scale does not give ``size``: then the file is to
        be read the long way, and libjpeg's word weighed by :func:`libjpeg_complaint`.
    """
    import simplejpeg

    width, height = size
    try:
        pixels = simplejpeg.decode_jpeg(data, space, min_width=width, min_height=height)
    except ValueError:
        return None
    return pixels if pixels.shape[:2] == (height, width) else None


def libjpeg_complaint(data: bytes) -> str | None:
    """Return what libjpeg says first while decoding ``data`` (a JPEG's bytes); None if nothing.

    Every block is entropy-decoded, at an eighth of the size (the inverse transform of the
    scaled-down blocks is all that is saved): a warning (:func:`lost_pixels` tells those that
    cost pixels) or the error that stops the decode. libjpeg says no more after its first
    word: where that word is stray bytes among the headers (harmless), the data past them is
    decoded again without them and any damage there is what is returned. Damage that leaves
    every code valid (a flipped bit that changes one coefficient) is not seen at all.
    """
    said = _complaint(data)
    past = _past_stray_header_bytes(data, said) if said else None
    return (past[1] or said) if past else said


def blocks_lost(data: bytes) -> str | None:
    """Return libjpeg's word on a JPEG's bytes when it means blocks were lost; else None.

    :func:`libjpeg_complaint`, kept when :func:`lost_pixels` says the word costs pixels:
    what a harvest refuses and a view names. Past stray bytes among the headers, the data is
    weighed without them, once (not decoded again to learn that the bytes cost nothing).
    """
    said = _complaint(data)
    if said and (past := _past_stray_header_bytes(data, said)):
        data, said = past   # the damage past them, if any
    return said if said and lost_pixels(data, said) else None


def _complaint(data: bytes) -> str | None:
    """Return libjpeg's first word on decoding ``data`` at an eighth of its size; None if none."""
    import simplejpeg

    try:
        space = simplejpeg.decode_jpeg_header(data)[2]
        simplejpeg.decode_jpeg(data, OUTPUT_SPACE.get(space, "RGB"), min_height=1,
                               min_width=1)   # the smallest scale libjpeg decodes to: 1/8
    except ValueError as exc:
        return str(exc)
    return None
