"""ICC profiles written from their published values, for files that name a space but embed none.

A camera set to Adobe RGB writes JPEGs that say so in EXIF alone (the DCF option file: colour
space "uncalibrated", interoperability index ``R03``), and LittleCMS builds only sRGB, Lab and
XYZ profiles; :func:`adobe_rgb_profile` is the Adobe RGB (1998) profile such a file needs, as
a matrix/TRC profile from the published D50-adapted primaries and gamma 563/256. The writer
follows the ICC v2 layout: a 128-byte header, the tag table, then the tags, each aligned on
four bytes.
"""

from __future__ import annotations

import functools
import struct

D50 = (0.9642, 1.0, 0.8249)
"""The profile connection space's white."""

XYZ = tuple[float, float, float]


def s15_fixed16(value: float) -> bytes:
    """Return ``value`` as an ICC s15Fixed16Number."""
    return struct.pack(">i", round(value * 65536))


def xyz_tag(x: float, y: float, z: float) -> bytes:
    """Return an ICC XYZType tag."""
    return b"XYZ " + bytes(4) + s15_fixed16(x) + s15_fixed16(y) + s15_fixed16(z)


def gamma_tag(gamma: float) -> bytes:
    """Return an ICC curveType tag of one pure gamma."""
    return b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256)) + bytes(2)


def description_tag(name: str) -> bytes:
    """Return an ICC v2 textDescriptionType tag (ASCII only)."""
    text = name.encode("ascii") + b"\0"
    return (b"desc" + bytes(4) + struct.pack(">I", len(text)) + text + struct.pack(">II", 0, 0)
            + struct.pack(">HB", 0, 0) + bytes(67))


def text_tag(text: str) -> bytes:
    """Return an ICC textType tag (ASCII only)."""
    return b"text" + bytes(4) + text.encode("ascii") + b"\0"


def icc_profile(device_class: bytes, space: bytes, pcs: bytes,
                tags: list[tuple[bytes, bytes]]) -> bytes:
    """Return an ICC v2.1 profile: the header, the tag table and ``tags`` (signature, body).

    Parameters
    ----------
    device_class : bytes
        Four bytes: ``b"mntr"`` (display), ``b"prtr"`` (output), ``b"scnr"`` (input).
    space, pcs : bytes
        Four bytes each: the data colour space (``b"RGB "``, ``b"GRAY"``, ``b"CMYK"``) and the
        connection space (``b"XYZ "`` or ``b"Lab "``).
    tags : list of (bytes, bytes)
        Each tag's signature and body, in the order written.
    """
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for signature, body in tags:
        data += bytes(-(offset + len(data)) % 4)
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    data += bytes(-len(data) % 4)
    header = (struct.pack(">I", offset + len(data)) + bytes(4) + bytes([2, 0x10, 0, 0])
              + device_class + space + pcs + bytes(12) + b"acsp" + bytes(24)
              + struct.pack(">I", 0) + b"".join(s15_fixed16(v) for v in D50) + bytes(48))
    return header + struct.pack(">I", len(tags)) + table + data


def rgb_profile(name: str, red: XYZ, green: XYZ, blue: XYZ, gamma: float) -> bytes:
    """Return a matrix/TRC RGB display profile: D50-adapted primaries and one gamma."""
    return icc_profile(b"mntr", b"RGB ", b"XYZ ", [
        (b"desc", description_tag(name)), (b"cprt", text_tag("No copyright, use freely")),
        (b"wtpt", xyz_tag(*D50)), (b"rXYZ", xyz_tag(*red)), (b"gXYZ", xyz_tag(*green)),
        (b"bXYZ", xyz_tag(*blue)), (b"rTRC", gamma_tag(gamma)), (b"gTRC", gamma_tag(gamma)),
        (b"bTRC", gamma_tag(gamma))])


@functools.cache
def adobe_rgb_profile() -> bytes:
    """Return an Adobe RGB (1998) compatible profile (Adobe's published D50 primaries)."""
    return rgb_profile("Adobe RGB (1998) compatible", (0.60974, 0.31111, 0.01947),
                       (0.20528, 0.62567, 0.06087), (0.14919, 0.06322, 0.74457), 563 / 256)
