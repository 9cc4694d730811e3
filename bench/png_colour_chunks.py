"""How mediumnet reads real works kept as PNGs that name their colours by chunks, not a profile.

    .venv/bin/python bench/png_colour_chunks.py FOLDER [--limit 60] [--seed 0]

Up to ``--limit`` images of FOLDER (any files mediumnet reads, found as ``harvest folder``
finds them; a random draw of ``--seed`` when there are more) are written again as PNGs, each
in every way a PNG names its space without an ICC profile:

- linear light, gAMA 1.0 (a scientific camera's or a raw converter's linear export);
- gamma 1.8, gAMA 0.55556 (a Mac of before 2009);
- Adobe RGB (1998) by gAMA 1/2.2 and Adobe's primaries in cHRM;
- Display P3 by a cICP chunk (PNG's third edition; H.273 codes 12 and 13);
- sRGB by gAMA 1/2.2 and sRGB's primaries in cHRM, as ImageMagick and GIMP write it;
- the work in grey, linear, gAMA 1.0, as 16-bit and as 8-bit levels (a linear grey scan);
- the work at 16 bits per channel (48-bit PNGs, as a raw converter exports them), linear by
  gAMA 1.0 and in Adobe RGB by gAMA and cHRM.

The pixels are the work's sRGB pixels taken into each space (the curves in floating point, the
primaries by LittleCMS; at 16 bits in floating point too), rounded to 8 bits (16 for the 16-bit
files). Each file is decoded as every branch decodes it
(:func:`mediumnet.data.views.native_pixels`) and as a reader that ignores the chunks does (the
same pixels in a PNG without them). The table gives, per space, the mean grey-level gap of each
decode from the sRGB work (its grey for the grey files: the mean over images, and the worst
image), the mean gap in the work's darkest tenth of light (linear below 0.1: the shadows, where
a linear file's 8 bits are coarse), and milliseconds per decode by mediumnet beside the sRGB
PNG's; all in one run.
"""

import argparse
import io
import struct
import sys
import time
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from colour_profile_files import gap  # noqa: E402  (bench/ is on the path when run)

from mediumnet.console import quiet  # noqa: E402

SRGB_CHRM = (0.3127, 0.3290, 0.64, 0.33, 0.30, 0.60, 0.15, 0.06)
ADOBE_CHRM = (0.3127, 0.3290, 0.64, 0.33, 0.21, 0.71, 0.15, 0.06)
"""White, red, green, blue (x, y): sRGB's and Adobe RGB (1998)'s, as a cHRM chunk holds them."""


def gama(file_gamma: float) -> tuple[bytes, bytes]:
    """Return a gAMA chunk of ``file_gamma`` (the encoding exponent)."""
    return b"gAMA", struct.pack(">I", round(file_gamma * 100000))


def chrm(values: tuple[float, ...]) -> tuple[bytes, bytes]:
    """Return a cHRM chunk of eight chromaticities."""
    return b"cHRM", struct.pack(">8I", *(round(v * 100000) for v in values))


def srgb_to_linear(work: np.ndarray) -> np.ndarray:
    """Return sRGB pixels (uint8) as linear light in [0, 1]."""
    v = work / 255.0
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def to_8bit(values: np.ndarray) -> np.ndarray:
    """Return values in [0, 1] as rounded 8-bit pixels."""
    return np.clip(values * 255 + 0.5, 0, 255).astype(np.uint8)


def adobe_rgb_linear(linear: np.ndarray) -> np.ndarray:
    """Return linear sRGB light as linear Adobe RGB (1998) light (floating point, clipped)."""
    from mediumnet.data.icc import d50_primaries

    white = tuple(ADOBE_CHRM[:2])
    srgb = np.array(d50_primaries(*np.reshape(SRGB_CHRM[2:], (3, 2)), white)).T
    adobe = np.array(d50_primaries(*np.reshape(ADOBE_CHRM[2:], (3, 2)), white)).T
    return np.clip(linear @ np.linalg.solve(adobe, srgb).T, 0, 1)


def to_16bit(values: np.ndarray) -> np.ndarray:
    """Return values in [0, 1] as rounded 16-bit samples."""
    return (np.clip(values, 0, 1) * 65535).round().astype(np.uint16)


def through_profile(work: np.ndarray, profile: bytes) -> np.ndarray:
    """Return sRGB pixels as they are written in ``profile``'s RGB space (LittleCMS)."""
    from PIL import Image, ImageCms

    transform = ImageCms.buildTransform(ImageCms.createProfile("sRGB"),
                                        ImageCms.ImageCmsProfile(io.BytesIO(profile)),
                                        "RGB", "RGB")
    return np.asarray(ImageCms.applyTransform(Image.fromarray(work), transform))


Variant = tuple[np.ndarray, list[tuple[bytes, bytes]], np.ndarray]


def variants(work: np.ndarray) -> dict[str, Variant]:
    """Return each space's pixels, the chunks that name it and the sRGB pixels it shows.

    ``sRGB`` (no chunk) first; the grey files show the work's grey (Pillow's ``L``).
    """
    from PIL import Image

    from mediumnet.data.icc import adobe_rgb_profile, cicp_profile

    linear = srgb_to_linear(work)
    grey = np.asarray(Image.fromarray(work).convert("L"))
    grey_linear = srgb_to_linear(grey)
    grey_work = np.repeat(grey[..., None], 3, axis=2)
    return {
        "sRGB, no chunk": (work, [], work),
        "linear, gAMA 1.0": (to_8bit(linear), [gama(1.0)], work),
        "gamma 1.8, gAMA": (to_8bit(linear ** (1 / 1.8)), [gama(1 / 1.8)], work),
        "Adobe RGB, gAMA+cHRM": (through_profile(work, adobe_rgb_profile()),
                                 [gama(256 / 563), chrm(ADOBE_CHRM)], work),
        "Display P3, cICP": (through_profile(work, cicp_profile(12, 13)),
                             [(b"cICP", bytes([12, 13, 0, 1]))], work),
        "sRGB, gAMA+cHRM": (work, [gama(1 / 2.2), chrm(SRGB_CHRM)], work),
        "grey linear 16-bit, gAMA": ((grey_linear * 65535).round().astype(np.uint16),
                                     [gama(1.0)], grey_work),
        "grey linear 8-bit, gAMA": (to_8bit(grey_linear), [gama(1.0)], grey_work),
        "linear 48-bit, gAMA 1.0": (to_16bit(linear), [gama(1.0)], work),
        "Adobe RGB 48-bit, gAMA+cHRM": (to_16bit(adobe_rgb_linear(linear) ** (256 / 563)),
                                        [gama(256 / 563), chrm(ADOBE_CHRM)], work),
    }


def png_bytes(pixels: np.ndarray, chunks: list[tuple[bytes, bytes]]) -> bytes:
    """Return ``pixels`` as a PNG file holding ``chunks`` before its image data.

    16-bit RGB pixels are written by OpenCV (Pillow cannot), the chunks after its header.
    """
    from PIL import Image, PngImagePlugin

    if pixels.dtype == np.uint16 and pixels.ndim == 3:
        import cv2

        data = cv2.imencode(".png", np.ascontiguousarray(pixels[..., ::-1]))[1].tobytes()
        return data[:33] + b"".join(   # the signature and IHDR: 8 + 25 bytes
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
            for kind, body in chunks) + data[33:]

    info = PngImagePlugin.PngInfo()
    for kind, data in chunks:
        info.add(kind, data)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def chosen_images(folder: Path, limit: int, seed: int) -> list[Path]:
    """Return the images of ``folder`` as ``harvest folder`` finds them, ``limit`` at most.

    A random draw of ``seed`` when there are more; the bench exits with the reason when the
    folder cannot be read.
    """
    from mediumnet.data.images import images_in
    from mediumnet.errors import MediumnetError

    try:
        files = images_in(folder)
    except MediumnetError as exc:
        sys.exit(str(exc))
    if len(files) > limit:
        chosen = np.random.default_rng(seed).choice(len(files), limit, replace=False)
        files = [files[i] for i in sorted(chosen)]
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--limit", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    quiet()

    from mediumnet.data.views import ImageError, native_pixels

    files = chosen_images(args.folder, args.limit, args.seed)
    gaps: dict[str, list[tuple[float, float, float, float]]] = {}
    seconds: dict[str, float] = {}
    for path in files:
        try:
            work = native_pixels(path)
        except ImageError as exc:
            print(f"skipped: {exc}")
            continue
        for name, (pixels, chunks, shown) in variants(work).items():
            data = png_bytes(pixels, chunks)
            started = time.perf_counter()
            read = native_pixels(data)
            seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - started
            blind = native_pixels(png_bytes(pixels, []))
            dark = srgb_to_linear(shown) < 0.1
            gaps.setdefault(name, []).append((
                gap(read, shown), gap(read[dark], shown[dark]) if dark.any() else np.nan,
                gap(blind, shown), gap(blind[dark], shown[dark]) if dark.any() else np.nan))
    count = len(next(iter(gaps.values()), []))
    if not count:
        sys.exit(f"{args.folder}: no image could be read")
    print(f"{count} works of {args.folder} as PNG files; gap: mean grey-level difference from "
          "the work's sRGB pixels (mean over works, worst work; shadows: where the work's "
          "light is below 0.1 linear); mediumnet: decoded as the branches see it; ignoring "
          "chunks: the same pixels without them; ms: per decode by mediumnet")
    width = max(map(len, gaps))
    print(f"{'space':<{width}} {'mediumnet':>9} {'worst':>6} {'shadows':>7} "
          f"{'ignoring chunks':>15} {'worst':>6} {'shadows':>7} {'ms':>6}")
    for name, rows in gaps.items():
        read, read_dark, blind, blind_dark = np.array(rows).T
        print(f"{name:<{width}} {read.mean():9.2f} {read.max():6.2f} "
              f"{np.nanmean(read_dark):7.2f} {blind.mean():15.2f} {blind.max():6.2f} "
              f"{np.nanmean(blind_dark):7.2f} {seconds[name] / count * 1000:6.1f}")


if __name__ == "__main__":
    main()
