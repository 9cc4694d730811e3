"""HEIF and AVIF files: a phone's HEIC photograph and an AVIF read, and the colour they name.

A curator photographing works in the stores with a phone gets HEIC files (HEVC in a HEIF
container, an iPhone's default); web collections and image servers hand out AVIF (AV1 in the
same container). Pillow reads AVIF itself; HEIC is read by pi-heif (libheif with the libde265
decoder; decoding only, under permissive licences, where pillow-heif also bundles the GPL x265
encoder). :func:`register_heif_reader` makes Pillow open HEIC through it, once per process.

Such a file names its colours either by an ICC profile (which both readers hand on as
``icc_profile``) or by H.273 code points in an ``nclx`` colour box, which neither reads for
colour: :func:`cicp_colour` finds the primary image's, so a Display P3 photograph is converted
to sRGB like a profiled one (:mod:`mediumnet.data.colour`).
"""

from __future__ import annotations

import functools
import os
import struct
from typing import BinaryIO

from mediumnet.data.boxes import boxes, top_level_box

HEIF_FORMATS = ("HEIF", "AVIF")
"""Pillow's format names of the files read here: pi-heif's HEIC and HEIF, Pillow's AVIF."""


@functools.cache
def register_heif_reader() -> None:
    """Let Pillow open HEIC and HEIF files (pi-heif's plugin), once per process."""
    import pi_heif

    pi_heif.register_heif_opener()


def cicp_colour(fp: BinaryIO) -> tuple[int, int] | None:
    """Return the H.273 colour primaries and transfer of a HEIF or AVIF file's primary image.

    ``fp`` is the file, read from its start. The codes are those of the ``nclx`` colour box
    among the primary item's properties; where the primary item has no colour box (an
    iPhone's grid of tiles gives it to the tiles), the first ``nclx`` box of the file. None
    when the file is not HEIF, names no ``nclx`` colour (an ICC profile instead, or nothing),
    or is not laid out as ISO/IEC 23008-12 says.
    """
    head = fp.read(8)
    if head[4:8] != b"ftyp":   # a HEIF file starts with its file type box
        return None
    fp.seek(-len(head), os.SEEK_CUR)
    meta = top_level_box(fp, b"meta")
    if meta is None or len(meta) < 4:
        return None
    try:
        return _primary_nclx(meta[4:])   # meta is a full box: version and flags first
    except (struct.error, IndexError):
        return None


def _primary_nclx(meta: bytes) -> tuple[int, int] | None:
    children = dict(boxes(meta))
    pitm, iprp = children.get(b"pitm"), children.get(b"iprp")
    if pitm is None or iprp is None:
        return None
    primary = struct.unpack_from(">H" if pitm[0] == 0 else ">I", pitm, 4)[0]
    properties_boxes = dict(boxes(iprp))
    properties = list(boxes(properties_boxes.get(b"ipco", b"")))
    associated = _associations(properties_boxes.get(b"ipma", b"")).get(primary, [])
    own = [properties[i - 1] for i in associated if 0 < i <= len(properties)]
    colours = [body for kind, body in own if kind == b"colr"] or [
        body for kind, body in properties if kind == b"colr" and body[:4] == b"nclx"]
    for body in colours:
        if body[:4] == b"nclx" and len(body) >= 11:
            primaries, transfer = struct.unpack_from(">HH", body, 4)
            return primaries, transfer
    return None


def _associations(ipma: bytes) -> dict[int, list[int]]:
    """Return each item's property indices (from 1) in an item property association box."""
    if len(ipma) < 8:
        return {}
    version, wide = ipma[0], ipma[3] & 1
    count = struct.unpack_from(">I", ipma, 4)[0]
    position, found = 8, {}
    for _ in range(count):
        item = struct.unpack_from(">H" if version < 1 else ">I", ipma, position)[0]
        position += 2 if version < 1 else 4
        indices, associations = [], ipma[position]
        position += 1
        for _ in range(associations):   # an essential bit, then the index in 15 or 7 bits
            if wide:
                indices.append(struct.unpack_from(">H", ipma, position)[0] & 0x7FFF)
            else:
                indices.append(ipma[position] & 0x7F)
            position += 2 if wide else 1
        found[item] = indices
    return found
