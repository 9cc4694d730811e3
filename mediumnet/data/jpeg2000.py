"""JPEG 2000 files: the colour their header names, and the samples their codestream holds.

Archives keep masters as JPEG 2000 (lossless, often at 16 bits a sample). A JP2 or JPX file is
a series of boxes (:mod:`mediumnet.data.boxes`): a header box ``jp2h`` whose first colour
specification box (``colr``) names the colours, by an enumerated space (sRGB, greyscale, sYCC)
or by an ICC profile, and a box ``jp2c`` holding the codestream. A raw codestream (``.j2k``,
``.j2c``) is that codestream alone, with no colour box. The codestream starts with its SIZ
marker segment: each component's bit depth, sign and subsampling.

Pillow reads neither the profile (:func:`jp2_icc_profile` does, for
:mod:`mediumnet.data.colour`) nor, right, an image in colour or in grey with alpha of more than 8
bits a sample: it rounds each sample to 8 bits and does not clamp, so the samples within 1/512 of
white wrap round to 0, white paper read as black and an opaque alpha as transparent.
:func:`jpeg2000_layout` tells :mod:`mediumnet.data.deep`, which reads such a file at all its
bits, what the file holds.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

from mediumnet.data.boxes import boxes, seek_box, top_level_box

JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
"""The box a JP2 or JPX file starts with (a raw .j2k codestream has no boxes, so no profile)."""

CODESTREAM_START = b"\xff\x4f\xff\x51"
"""A codestream's first two markers: start of codestream (SOC), then the image size (SIZ)."""

CODESTREAM_END = b"\xff\xd9"
"""The marker a whole codestream ends with (EOC): a file cut short lacks it."""

SRGB_SPACE = 16
"""The enumerated colour space (EnumCS) of sRGB in a ``colr`` box (ISO/IEC 15444-1, I.5.3.3)."""

CMYK_SPACE = 12
"""The enumerated colour space of CMYK (ink: 0 is bare paper)."""

GREY_SPACE = 17
"""The enumerated colour space of greyscale."""

SYCC_SPACE = 18
"""The enumerated colour space of sYCC: luma and chroma, which a reader turns into sRGB."""


@dataclass(frozen=True)
class Component:
    """One image component (a channel) as a codestream's SIZ marker segment states it."""

    bits: int
    """Bits of each sample, 1 to 38."""
    signed: bool
    subsampling: tuple[int, int]
    """Horizontal and vertical distance between samples (1, 1: one sample per pixel)."""


@dataclass(frozen=True)
class Jpeg2000Layout:
    """What a JPEG 2000 file holds, read from its header and its codestream's first bytes."""

    components: tuple[Component, ...]
    colour_method: int | None
    """How the header's first colour box names the colours: 1 by an enumerated space, 2 and 3
    by an ICC profile; None for a raw codestream (which the readers take as sRGB)."""
    colour_space: int | None
    """The enumerated space (EnumCS) of a colour box of method 1; None otherwise."""
    codestream_start: int
    """Where the codestream starts in the file (0 for a raw codestream)."""
    codestream_end: int | None
    """Where the codestream ends in the file (past its last byte); None: at the file's end."""


def jpeg2000_layout(fp: BinaryIO) -> Jpeg2000Layout | None:
    """Return the layout of the JPEG 2000 file ``fp``, read from its start; None if not one.

    Only headers are read: the boxes before the codestream are skipped, not read. None too for
    a JP2 file without a header box or a colour box, or a codestream that does not start as the
    standard says; nothing that is not as the standard lays it out raises.
    """
    head = fp.read(12)
    if head.startswith(CODESTREAM_START):
        fp.seek(0)
        method, colour_space, start, end = None, None, 0, None
    elif head == JP2_SIGNATURE:
        header = top_level_box(fp, b"jp2h", stop=(b"jp2c",))
        colour = None if header is None else _colour_box(header)
        length = seek_box(fp, b"jp2c")
        if colour is None or length is None:
            return None
        method, colour_space = colour[0], colour[1] if colour[0] == 1 else None
        start = fp.tell()
        end = start + length if length >= 0 else None
    else:
        return None
    size = fp.read(42)   # SOC, SIZ's marker, length, capabilities, eight sizes, Csiz
    if len(size) < 42 or not size.startswith(CODESTREAM_START):
        return None
    (count,) = struct.unpack_from(">H", size, 40)
    described = fp.read(3 * count)
    if count == 0 or len(described) < 3 * count:
        return None
    components = tuple(Component((described[3 * c] & 0x7F) + 1, bool(described[3 * c] & 0x80),
                                 (described[3 * c + 1], described[3 * c + 2]))
                       for c in range(count))
    return Jpeg2000Layout(components, method, colour_space, start, end)


def jp2_icc_profile(fp: BinaryIO) -> bytes | None:
    """Return the ICC profile in a JPEG 2000 file's colour specification box, or None.

    ``fp`` is the file, read from its start. The profile is that of the header's first
    colour specification box, the one a JP2 reader uses: a restricted ICC profile (method 2,
    JP2) or any ICC profile (method 3, JPX). None for an enumerated space (sRGB, greyscale,
    sYCC), a raw codestream, or a header that is not as the standard lays it out.
    """
    if fp.read(12) != JP2_SIGNATURE:
        return None
    header = top_level_box(fp, b"jp2h", stop=(b"jp2c",))
    colour = None if header is None else _colour_box(header)
    return colour[1] if colour is not None and colour[0] in (2, 3) and colour[1] else None


def _colour_box(jp2h: bytes) -> tuple[int, int | bytes] | None:
    """Return the method of a JP2 header's first ``colr`` box and its space or profile.

    Method 1 gives the enumerated space (an int), methods 2 and 3 the ICC profile (bytes,
    empty when the box holds none), any other method (a vendor's) its payload; None without a
    colour box, or with one cut short.
    """
    for kind, body in boxes(jp2h):
        if kind == b"colr":   # method, precedence, approximation, then the space or profile
            if body[:1] == b"\x01":
                return (1, struct.unpack(">I", body[3:7])[0]) if len(body) >= 7 else None
            return (body[0], body[3:]) if body else None
    return None
