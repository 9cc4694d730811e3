"""ICC colour profiles for tests and benchmarks, written with :mod:`mediumnet.data.icc`.

LittleCMS, through Pillow's ``ImageCms``, builds only sRGB, Lab and XYZ profiles, and this
machine holds no others; digitisation masters come in Adobe RGB (1998), ProPhoto RGB, grey and
CMYK profiles. Here: the matrix/TRC RGB profiles (the published D50 primaries, a pure gamma
curve), a grey TRC profile, and a CMYK printer profile and an RGB scanner profile with 8-bit
lookup tables to Lab.
``python -m tests.iccprofiles DIR`` writes the RGB ones as files (for
``bench/colour_profiles.py``).
"""

from __future__ import annotations

import numpy as np

from mediumnet.data.icc import (
    D50,
    SRGB_CURVE,
    adobe_rgb_profile,
    d50_primaries,
    description_tag,
    grey_profile,
    icc_profile,
    parametric_curve_tag,
    rgb_profile,
    s15_fixed16,
    text_tag,
    xyz_tag,
)


def cmyk_profile(name: str, black_weight: float, grid: int = 5) -> bytes:
    """Return a CMYK printer profile (AToB0, 8-bit table) whose full black darkens by a part.

    Ink ``c`` takes ``c`` of the red, and so on, and black scales what is left by
    ``1 - black_weight * k``: with ``black_weight=0.5`` full black prints mid grey, where a
    conversion that ignores the profile gives black.
    """
    steps = np.linspace(0, 1, grid)
    c, m, y, k = np.meshgrid(steps, steps, steps, steps, indexing="ij")
    rgb = np.stack([1 - c, 1 - m, 1 - y], -1) * (1 - black_weight * k)[..., None]
    return icc_profile(b"prtr", b"CMYK", b"Lab ", [
        (b"desc", description_tag(name)), (b"cprt", text_tag("test profile")),
        (b"wtpt", xyz_tag(*D50)), (b"A2B0", lab_table(rgb, 4, grid))])


def rgb_table_profile(name: str, grid: int = 9) -> bytes:
    """Return an RGB scanner profile (AToB0, 8-bit table) that reads red as green, green as red.

    A profile of lookup tables, as a scanner's or camera's own profile is, not a matrix and
    curves.
    """
    steps = np.linspace(0, 1, grid)
    r, g, b = np.meshgrid(steps, steps, steps, indexing="ij")
    return icc_profile(b"scnr", b"RGB ", b"Lab ", [
        (b"desc", description_tag(name)), (b"cprt", text_tag("test profile")),
        (b"wtpt", xyz_tag(*D50)), (b"A2B0", lab_table(np.stack([g, r, b], -1), 3, grid))])


def lab_table(srgb: np.ndarray, inputs: int, grid: int) -> bytes:
    """Return an ICC lut8Type tag: each grid point's sRGB colour (floats in [0, 1]) as Lab."""
    from PIL import Image, ImageCms

    pixels = Image.fromarray((srgb.reshape(1, -1, 3) * 255).round().astype(np.uint8))
    lab = np.asarray(ImageCms.applyTransform(pixels, ImageCms.buildTransform(
        ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB"), "RGB", "LAB"))).copy()
    lab[..., 1:] = (lab[..., 1:].astype(np.int16) + 128) % 256  # Pillow keeps a and b signed
    ramp = bytes(range(256))
    identity = b"".join(s15_fixed16(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
    return (b"mft1" + bytes(4) + bytes([inputs, 3, grid, 0]) + identity + ramp * inputs
            + lab.reshape(-1).tobytes() + ramp * 3)


ADOBE_RGB = adobe_rgb_profile()
"""Adobe RGB (1998): the space FADGI and Metamorfoze name for colour masters."""
PROPHOTO_RGB = rgb_profile("ProPhoto RGB compatible", (0.7977, 0.2880, 0.0),
                           (0.1352, 0.7119, 0.0), (0.0313, 0.0001, 0.8249), 1.8)
"""ProPhoto RGB (ROMM): the widest space in common use, a camera raw converter's default."""
DISPLAY_P3 = rgb_profile("Display P3 (Apple's published D50 primaries)",
                         (0.515102, 0.241196, -0.001050), (0.291965, 0.692239, 0.041882),
                         (0.157153, 0.066574, 0.784378), parametric_curve_tag(SRGB_CURVE))
"""Display P3 as Apple's profile states it: an iPhone's colour space, written independently of
the H.273 code points mediumnet reads."""
GREY_GAMMA_18 = grey_profile("Gray Gamma 1.8", 1.8)
"""A grey scan's profile with a gamma far from sRGB's."""
GREY_LINEAR = grey_profile("Gray Gamma 1.0", 1.0)
"""A linear grey scan's profile (Photoshop's "Gray Gamma 1.0"; a scientific camera's export)."""
CMYK_HALF_BLACK = cmyk_profile("CMYK half black", 0.5)
"""A CMYK profile whose full black is mid grey."""
RGB_TABLE_SWAPPED = rgb_table_profile("RGB table, red and green swapped")
"""An RGB profile of lookup tables whose red is green and green red."""


def jp2_with_profile(jp2: bytes, profile: bytes, method: int = 2) -> bytes:
    """Return a JP2 file (as OpenJPEG writes it) with ``profile`` in its colour box.

    OpenJPEG, through Pillow, writes an enumerated sRGB or greyscale space; a lab's encoder
    (Kakadu, Grok) embeds the master's profile as a restricted ICC profile (method 2).
    """
    import struct

    out, position = b"", 0
    while position < len(jp2):
        length, kind = struct.unpack(">I4s", jp2[position:position + 8])
        length = length or len(jp2) - position
        box = jp2[position:position + length]
        if kind == b"jp2h":
            body, inner = b"", 8
            while inner < len(box):
                sub_length, sub_kind = struct.unpack(">I4s", box[inner:inner + 8])
                if sub_kind == b"colr":
                    colour = bytes([method, 0, 0]) + profile
                    body += struct.pack(">I4s", 8 + len(colour), b"colr") + colour
                else:
                    body += box[inner:inner + sub_length]
                inner += sub_length
            box = struct.pack(">I4s", 8 + len(body), b"jp2h") + body
        out += box
        position += length
    return out


def smooth_work(height: int = 240, width: int = 320) -> np.ndarray:
    """Return a smooth, saturated sRGB work ``(height, width, 3)`` uint8.

    Gradients of every hue, so a JPEG keeps it and a profile read as sRGB shows, and a plain
    red patch (230, 20, 30) in the top-left quarter of each side.
    """
    y, x = np.mgrid[0:height, 0:width]
    work = np.stack([x * 255 // (width - 1), y * 255 // (height - 1),
                     255 - (x + y) * 255 // (width + height - 2)], -1).astype(np.uint8)
    work[:height // 4, :width // 4] = (230, 20, 30)
    return work


def grey_ramp(bits: int) -> np.ndarray:
    """Return 8 rows of every grey level, as 8-bit pixels or as 16-bit (each level x 257)."""
    ramp = np.repeat(np.arange(256, dtype=np.uint8)[None], 8, axis=0)
    return ramp.astype(np.uint16) * 257 if bits == 16 else ramp


def srgb_levels(linear: np.ndarray) -> np.ndarray:
    """Return the sRGB levels (0-255, float) of linear light values in [0, 1]."""
    return 255 * np.where(linear <= 0.0031308, 12.92 * linear,
                          1.055 * np.maximum(linear, 0) ** (1 / 2.4) - 0.055)


def ramp_through_gamma(gamma: float) -> np.ndarray:
    """Return the sRGB levels (0-255, float) of grey levels 0-255 encoded with a pure ``gamma``."""
    return srgb_levels((np.arange(256) / 255) ** gamma)


def mean_gap(a: np.ndarray, b: np.ndarray) -> float:
    """Return the mean absolute grey-level difference of two uint8 pixel arrays."""
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def convert(rgb: np.ndarray, profile: bytes) -> np.ndarray:
    """Return sRGB pixels ``(H, W, 3)`` uint8 as they are written in ``profile``'s RGB space."""
    import io

    from PIL import Image, ImageCms

    transform = ImageCms.buildTransform(ImageCms.createProfile("sRGB"),
                                        ImageCms.ImageCmsProfile(io.BytesIO(profile)),
                                        "RGB", "RGB")
    return np.asarray(ImageCms.applyTransform(Image.fromarray(rgb), transform))


if __name__ == "__main__":
    import sys
    from pathlib import Path

    folder = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    folder.mkdir(parents=True, exist_ok=True)
    for file_name, data in (("adobe-rgb-1998-compatible.icc", ADOBE_RGB),
                            ("prophoto-rgb-compatible.icc", PROPHOTO_RGB)):
        (folder / file_name).write_bytes(data)
        print(folder / file_name)


def adobe_rgb_16(work: np.ndarray) -> np.ndarray:
    """The sRGB work as an Adobe RGB (1998) master keeps it: 16 bits, in floating point."""
    v = work / 255.0
    linear = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    white = (0.3127, 0.3290)
    srgb = np.array(d50_primaries((0.64, 0.33), (0.30, 0.60), (0.15, 0.06), white)).T
    adobe = np.array(d50_primaries((0.64, 0.33), (0.21, 0.71), (0.15, 0.06), white)).T
    in_adobe = np.clip(linear @ np.linalg.solve(adobe, srgb).T, 0, 1)
    return (in_adobe ** (256 / 563) * 65535).round().astype(np.uint16)


def rounded(samples: np.ndarray, bits: int = 16) -> np.ndarray:
    """Samples of ``bits`` bits as 8-bit levels, each rounded once from its exact value."""
    return np.round(samples.astype(np.float64) * 255 / ((1 << bits) - 1)).astype(np.uint8)
