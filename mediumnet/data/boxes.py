"""Boxes, as JPEG 2000 and the ISO base media file format (HEIF, AVIF) lay a file out.

Each box is a 4-byte big-endian length (the header included), a 4-byte type and its payload;
a length of 1 puts the real one in the next 8 bytes, and 0 makes the box run to the end of the
file. The colour readers (:mod:`mediumnet.data.colour`'s JPEG 2000 header,
:mod:`mediumnet.data.heif`'s item properties) walk them through these two functions, which
never raise on a file that is not as the standards say: they stop and give nothing.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from typing import BinaryIO

MAX_BOX = 16 * 2**20
"""Bytes: a header box (a JPEG 2000 ``jp2h``, a HEIF ``meta``) larger than this is not read;
a lab's JP2 header or an iPhone's ``meta`` holds a few kilobytes."""


def top_level_box(fp: BinaryIO, wanted: bytes, *, stop: tuple[bytes, ...] = ()
                  ) -> bytes | None:
    """Return the payload of the first box of type ``wanted`` from ``fp``'s position on.

    The boxes before it are skipped, not read. None when a box of a type in ``stop`` comes
    first (a JPEG 2000 codestream before its header), when the boxes end or break before it,
    or when it is larger than :data:`MAX_BOX` or runs to the end of the file. A payload cut
    short by the file's end is returned as far as it goes.
    """
    length = seek_box(fp, wanted, stop=stop)
    return fp.read(length) if length is not None and 0 < length <= MAX_BOX else None


def seek_box(fp: BinaryIO, wanted: bytes, *, stop: tuple[bytes, ...] = ()) -> int | None:
    """Put ``fp`` at the payload of the first box of type ``wanted`` from its position on.

    Returns the payload's length as the box states it (-1 for a box that runs to the end of
    the file), without reading it: a JPEG 2000 codestream of a gigabyte is found as fast as a
    header. None, as :func:`top_level_box` gives it, when the box is not found.
    """
    while len(header := fp.read(8)) == 8:
        length, kind = struct.unpack(">I4s", header)
        size = 8
        if length == 1:   # the length follows, in eight bytes
            extended = fp.read(8)
            if len(extended) < 8:
                return None
            length, size = struct.unpack(">Q", extended)[0], 16
        if kind == wanted and (length == 0 or length >= size):
            return length - size if length else -1
        if kind in stop or length < size:   # 0: the box runs to the end
            return None
        fp.seek(length - size, os.SEEK_CUR)
    return None


def boxes(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """Yield the type and payload of each box laid end to end in ``data``.

    Stops at the first box that does not fit: a length under its own header, past the end of
    ``data``, or 0 (which only a file's last box may have, never one inside another).
    """
    position = 0
    while position + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        size = 8
        if length == 1:
            if position + 16 > len(data):
                return
            length, size = struct.unpack_from(">Q", data, position + 8)[0], 16
        if length < size or position + length > len(data):
            return
        yield kind, data[position + size:position + length]
        position += length
