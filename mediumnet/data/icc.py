"""ICC profiles written from their published values, for files that name a space but embed none.

A camera set to Adobe RGB writes JPEGs that say so in EXIF alone (the DCF option file: colour
space "uncalibrated", interoperability index ``R03``), and LittleCMS builds only sRGB, Lab and
XYZ profiles; :func:`adobe_rgb_profile` is the Adobe RGB (1998) profile such a file needs, as
a matrix/TRC profile from the published D50-adapted primaries and gamma 563/256. A HEIF or
AVIF file may name its space by code points alone (ITU-T H.273: an ``nclx`` colour box, such
as Display P3 with sRGB's curve); :func:`cicp_profile` writes the profile those codes mean,
its primaries adapted from their white to D50 by Bradford's transform, as ICC prescribes; a
PNG's gAMA and cHRM chunks are written so too (:mod:`mediumnet.data.png`, an RGB or a grey
profile). The writer follows the ICC v2 layout: a 128-byte header, the tag table, then the
tags, each aligned on four bytes.
"""

from __future__ import annotations

import functools
import struct

import numpy as np

D50 = (0.9642, 1.0, 0.8249)
"""The profile connection space's white."""

XYZ = tuple[float, float, float]
XY = tuple[float, float]

D65: XY = (0.3127, 0.3290)
"""The white of sRGB, Display P3, BT.709 and BT.2020, as chromaticity."""

CICP_PRIMARIES: dict[int, tuple[str, XY, XY, XY, XY]] = {
    1: ("BT.709", (0.64, 0.33), (0.30, 0.60), (0.15, 0.06), D65),
    4: ("BT.470 M", (0.67, 0.33), (0.21, 0.71), (0.14, 0.08), (0.310, 0.316)),
    5: ("BT.470 BG", (0.64, 0.33), (0.29, 0.60), (0.15, 0.06), D65),
    6: ("SMPTE 170M", (0.630, 0.340), (0.310, 0.595), (0.155, 0.070), D65),
    7: ("SMPTE 240M", (0.630, 0.340), (0.310, 0.595), (0.155, 0.070), D65),
    9: ("BT.2020", (0.708, 0.292), (0.170, 0.797), (0.131, 0.046), D65),
    11: ("DCI-P3", (0.680, 0.320), (0.265, 0.690), (0.150, 0.060), (0.314, 0.351)),
    12: ("Display P3", (0.680, 0.320), (0.265, 0.690), (0.150, 0.060), D65),
    22: ("EBU 3213", (0.630, 0.340), (0.295, 0.605), (0.155, 0.077), D65),
}
"""H.273's colour primaries by code point: a name, red, green, blue and white (x, y). Code 2
(unspecified) is taken as 1, sRGB's own primaries."""

SRGB_CURVE = (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)
"""sRGB's decoding curve as an ICC parametric curve of type 3: g, a, b, c, d."""
CICP_CURVES: dict[int, tuple[str, tuple[float, ...]]] = {
    **{code: ("sRGB", SRGB_CURVE) for code in (1, 2, 6, 13, 14, 15)},
    4: ("gamma 2.2", (2.2,)), 5: ("gamma 2.8", (2.8,)), 8: ("linear", (1.0,))}
"""H.273's transfer characteristics by code point, as parametric curves. The standard-range
video curves (BT.709, BT.601, BT.2020: 1, 6, 14, 15) are shown by displays about as sRGB's
and are read as it, as is 2 (unspecified). PQ and HLG (16, 18) are HDR, which no display
profile maps to sRGB: they are not here."""


def s15_fixed16(value: float) -> bytes:
    """Return ``value`` as an ICC s15Fixed16Number."""
    return struct.pack(">i", round(value * 65536))


def xyz_tag(x: float, y: float, z: float) -> bytes:
    """Return an ICC XYZType tag."""
    return b"XYZ " + bytes(4) + s15_fixed16(x) + s15_fixed16(y) + s15_fixed16(z)


def gamma_tag(gamma: float) -> bytes:
    """Return an ICC curveType tag of one pure gamma."""
    return b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256)) + bytes(2)


def parametric_curve_tag(parameters: tuple[float, ...]) -> bytes:
    """Return an ICC parametricCurveType tag: a pure gamma (one parameter) or type 3 (five)."""
    kind = {1: 0, 5: 3}[len(parameters)]
    return (b"para" + bytes(4) + struct.pack(">HH", kind, 0)
            + b"".join(s15_fixed16(value) for value in parameters))


def curve_tag(gamma: float | bytes) -> bytes:
    """Return ``gamma`` as a curve tag: a pure gamma written, or a tag already written.

    A tag already written (:func:`parametric_curve_tag`) is returned as it is.
    """
    return gamma if isinstance(gamma, bytes) else gamma_tag(gamma)


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


def rgb_profile(name: str, red: XYZ, green: XYZ, blue: XYZ, gamma: float | bytes) -> bytes:
    """Return a matrix/TRC RGB display profile: D50-adapted primaries and one curve.

    ``gamma`` is a pure gamma, or a curve tag already written (:func:`curve_tag`).
    """
    curve = curve_tag(gamma)
    return icc_profile(b"mntr", b"RGB ", b"XYZ ", [
        (b"desc", description_tag(name)), (b"cprt", text_tag("No copyright, use freely")),
        (b"wtpt", xyz_tag(*D50)), (b"rXYZ", xyz_tag(*red)), (b"gXYZ", xyz_tag(*green)),
        (b"bXYZ", xyz_tag(*blue)), (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)])


def grey_profile(name: str, gamma: float | bytes) -> bytes:
    """Return a grey display profile: D50 white and one curve.

    ``gamma`` is a pure gamma, or a curve tag already written (:func:`curve_tag`).
    """
    return icc_profile(b"mntr", b"GRAY", b"XYZ ", [
        (b"desc", description_tag(name)), (b"cprt", text_tag("No copyright, use freely")),
        (b"wtpt", xyz_tag(*D50)), (b"kTRC", curve_tag(gamma))])


BRADFORD = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367],
                     [0.0389, -0.0685, 1.0296]])
"""The Bradford cone response matrix, by which ICC adapts a white to D50."""


def d50_primaries(red: XY, green: XY, blue: XY, white: XY) -> tuple[XYZ, XYZ, XYZ]:
    """Return the XYZ of full red, green and blue under D50, from chromaticities and their white.

    The RGB-to-XYZ matrix that takes (1, 1, 1) to ``white``, then Bradford's adaptation from
    ``white`` to D50: the columns a matrix/TRC profile stores as rXYZ, gXYZ and bXYZ.
    """
    def xyz(x: float, y: float) -> np.ndarray:
        return np.array([x / y, 1.0, (1 - x - y) / y])

    primaries = np.stack([xyz(*red), xyz(*green), xyz(*blue)], axis=1)
    white_xyz = xyz(*white)
    to_xyz = primaries * np.linalg.solve(primaries, white_xyz)
    cones = BRADFORD @ np.array(D50) / (BRADFORD @ white_xyz)
    adapted = np.linalg.solve(BRADFORD, np.diag(cones) @ BRADFORD) @ to_xyz
    red_xyz, green_xyz, blue_xyz = (
        (float(column[0]), float(column[1]), float(column[2])) for column in adapted.T)
    return red_xyz, green_xyz, blue_xyz


@functools.cache
def cicp_profile(primaries: int, transfer: int) -> bytes | None:
    """Return the profile H.273's ``primaries`` and ``transfer`` code points mean.

    None for sRGB's own (primaries 1 or 2 with an sRGB-like curve), which needs no profile.

    Raises
    ------
    ValueError
        A pair this module has no profile for (HDR's PQ and HLG among them); the message
        names the codes: "H.273 primaries 9, transfer 16 (HDR, which is read without tone
        mapping)".
    """
    space = CICP_PRIMARIES.get(1 if primaries == 2 else primaries)
    curve = CICP_CURVES.get(transfer)
    if space is None or curve is None:
        hdr = " (HDR, which is read without tone mapping)" if transfer in (16, 18) else ""
        raise ValueError(f"H.273 primaries {primaries}, transfer {transfer}{hdr}")
    if space[0] == "BT.709" and curve[0] == "sRGB":
        return None
    name, red, green, blue, white = space
    return rgb_profile(f"{name} with {curve[0]} curve (H.273 {primaries}/{transfer})",
                       *d50_primaries(red, green, blue, white), parametric_curve_tag(curve[1]))


@functools.cache
def adobe_rgb_profile() -> bytes:
    """Return an Adobe RGB (1998) compatible profile (Adobe's published D50 primaries)."""
    return rgb_profile("Adobe RGB (1998) compatible", (0.60974, 0.31111, 0.01947),
                       (0.20528, 0.62567, 0.06087), (0.14919, 0.06322, 0.74457), 563 / 256)
