"""How mediumnet reads real works kept as JPEG 2000 masters of more than 8 bits a sample.

    .venv/bin/python bench/jpeg2000_masters.py FOLDER [--limit 60] [--seed 0] [--large 12]

Up to ``--limit`` images of FOLDER (any files mediumnet reads, found as ``harvest folder``
finds them; a random draw of ``--seed`` when there are more) are written again as lossless
JPEG 2000 files (imagecodecs, mediumnet's reader too) as an archive keeps a master: the work's
sRGB levels at 16 bits (x 257) and at 12 bits, a raw 16-bit codestream (``.j2k``), at 16 bits
with an opaque alpha channel, at 16 bits with the levels squeezed into 16 to 239 (no paper
white, no deep black), as signed 16-bit samples (offset by half the range), as 16-bit sYCC
(luma and chroma), and its grey (Pillow's luma) at 16 bits with an opaque alpha channel. Each
8-bit level comes back from these exactly (within a level for sYCC), so the work's own pixels
(squeezed for the one, grey for the other) are the truth. Each file is decoded as every
branch decodes it (:func:`mediumnet.data.views.native_pixels`) and as Pillow alone decodes it
(the reading before :mod:`mediumnet.data.deep` took these files: Pillow rounds a sample to 8
bits without clamping, so the top 1/512 of the range wraps round to 0); and shrunk for a gallery
(:func:`mediumnet.data.views.thumbnail`) by mediumnet (from Pillow's coarsest wavelet level that
covers it when that level holds no 0, where white may have wrapped; whole otherwise) and from
Pillow's coarse level alone. The table gives, per file kind, the mean grey-level gap from the
work (mean over works, worst work), the share of pixels with a channel off by more than 128
levels (white read as black, an opaque pixel as transparent), milliseconds per decode and per
thumbnail, and the share of works whose thumbnail mediumnet took from a coarse level, all in
one run.

``--large N`` times one N-megapixel master too (the first work enlarged, 16 bits), as it is and
with its levels squeezed into 16 to 239 (a painting photographed without paper white or deep
black, whose coarse levels hold no 0): a whole decode by mediumnet and by Pillow, and a
thumbnail by mediumnet and from Pillow's coarse level. 0 skips it.
"""

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from colour_profile_files import gap  # noqa: E402  (bench/ is on the path when run)
from png_colour_chunks import chosen_images, png_bytes  # noqa: E402

from mediumnet.console import quiet  # noqa: E402

THUMB = 128
"""Long edge of the gallery thumbnails, as a collection page shows them."""


def encoded(pixels: np.ndarray, bits: int, codec: str = "jp2", space: str | None = None
            ) -> bytes:
    """Return ``pixels`` as a lossless JPEG 2000 of ``bits`` a sample (in ``space``: SYCC)."""
    import imagecodecs

    return imagecodecs.jpeg2k_encode(
        pixels, level=0, codecformat=codec, bitspersample=bits,
        colorspace=None if space is None else imagecodecs.JPEG2K.CLRSPC[space])


def luma_chroma(deep: np.ndarray) -> np.ndarray:
    """Return 16-bit sRGB samples as sYCC's full-range luma and chroma (IEC 61966-2-1 Amd. 1)."""
    r, g, b = (deep[..., c].astype(np.float64) for c in range(3))
    y = 0.299 * r + 0.587 * g + 0.114 * b
    ycc = np.dstack([y, (b - y) / 1.772 + 32768, (r - y) / 1.402 + 32768])
    return np.clip(np.round(ycc), 0, 65535).astype(np.uint16)


def variants(work: np.ndarray) -> dict[str, tuple[bytes, np.ndarray]]:
    """Return the work's masters, by kind, each with the 8-bit pixels it holds."""
    from PIL import Image

    deep = work.astype(np.uint16) * 257
    twelve = np.round(work * (4095 / 255)).astype(np.uint16)
    opaque = np.dstack([deep, np.full(work.shape[:2], 65535, np.uint16)])
    mild = squeezed(work)
    grey = np.asarray(Image.fromarray(work).convert("L"))
    grey_opaque = np.dstack([grey.astype(np.uint16) * 257, opaque[..., 3]])
    return {"16-bit JP2": (encoded(deep, 16), work), "12-bit JP2": (encoded(twelve, 12), work),
            "16-bit raw codestream": (encoded(deep, 16, "j2k"), work),
            "16-bit JP2, opaque alpha": (encoded(opaque, 16), work),
            "16-bit JP2, levels 16-239": (encoded(mild.astype(np.uint16) * 257, 16), mild),
            "16-bit JP2, signed": (encoded((deep.astype(np.int32) - 32768).astype(np.int16),
                                           16), work),
            "16-bit JP2, sYCC": (encoded(luma_chroma(deep), 16, space="SYCC"), work),
            "16-bit grey JP2, opaque alpha": (encoded(grey_opaque, 16),
                                              np.repeat(grey[..., None], 3, axis=2))}


def squeezed(work: np.ndarray) -> np.ndarray:
    """Return the work's levels squeezed into 16 to 239: no paper white, no deep black."""
    return np.round(16 + work * (223 / 255)).astype(np.uint8)


def pillow_alone(data: bytes, reduce: int = 0) -> np.ndarray:
    """Return Pillow's reading of a JPEG 2000 (at a wavelet level), on white as mediumnet's."""
    from PIL import Image

    im = Image.open(io.BytesIO(data))
    if reduce:
        im.reduce = reduce
    rgba = im.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))


def pillow_thumbnail(data: bytes, edge: int) -> np.ndarray:
    """Return a thumbnail from Pillow's coarsest wavelet level at least ``edge`` long.

    A level the file lacks gives way to the next finer one, as in mediumnet.
    """
    from PIL import Image

    size = max(Image.open(io.BytesIO(data)).size)
    level = 0
    while level < 8 and -(-size >> (level + 1)) >= edge:
        level += 1
    while True:
        try:
            small = Image.fromarray(pillow_alone(data, level))
            break
        except OSError:
            if not level:
                raise
            level -= 1
    small.thumbnail((edge, edge))
    return np.asarray(small)


def sized(small: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Return a thumbnail at ``reference``'s size (a coarse level's can be a pixel off)."""
    import cv2

    if small.shape == reference.shape:
        return small
    return cv2.resize(small, reference.shape[1::-1], interpolation=cv2.INTER_AREA)


def wrapped(read: np.ndarray, work: np.ndarray) -> float:
    """Return the share of pixels with a channel more than 128 levels from the work's."""
    return float((np.abs(read.astype(np.int16) - work).max(axis=-1) > 128).mean())


def timed(function, *args) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - started


def large_master(work: np.ndarray, megapixels: float) -> None:
    """Print the decode times of ``megapixels`` 16-bit masters made from ``work``."""
    import cv2

    from mediumnet.data.views import native_pixels, open_reduced, thumbnail

    scale = (megapixels * 1e6 / (work.shape[0] * work.shape[1])) ** 0.5
    size = (round(work.shape[1] * scale), round(work.shape[0] * scale))
    large = cv2.resize(work, size, interpolation=cv2.INTER_CUBIC)
    for name, levels in (("as it is", large), ("levels 16-239", squeezed(large))):
        data = encoded(levels.astype(np.uint16) * 257, 16)
        read, whole = timed(native_pixels, data)
        pillow, pillow_whole = timed(pillow_alone, data)
        _, ours = timed(thumbnail, data, THUMB)
        _, coarse = timed(pillow_thumbnail, data, THUMB)
        how = "whole" if open_reduced(data, THUMB).size == size else "coarse level"
        print(f"a {size[0]}x{size[1]} 16-bit master, {name} ({len(data) / 1e6:.0f} MB): whole "
              f"decode {whole:.2f} s by mediumnet, {pillow_whole:.2f} s by Pillow ("
              f"{wrapped(pillow, read):.2%} of pixels wrapped); thumbnail {ours:.2f} s by "
              f"mediumnet ({how}), {coarse:.2f} s from Pillow's coarse level")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--limit", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--large", type=float, default=12)
    args = parser.parse_args()
    quiet()

    from mediumnet.data.views import ImageError, native_pixels, open_reduced, thumbnail

    rows: dict[str, list[tuple[float, ...]]] = {}
    first = None
    for path in chosen_images(args.folder, args.limit, args.seed):
        try:
            work = native_pixels(path)
        except ImageError as exc:
            print(f"skipped: {exc}")
            continue
        first = work if first is None else first
        for name, (data, shown) in variants(work).items():
            small_work = thumbnail(png_bytes(shown, []), THUMB)
            read, read_s = timed(native_pixels, data)
            alone, alone_s = timed(pillow_alone, data)
            small, small_s = timed(thumbnail, data, THUMB)
            coarse, coarse_s = timed(pillow_thumbnail, data, THUMB)
            rows.setdefault(name, []).append((
                gap(read, shown), wrapped(read, shown), read_s,
                gap(alone, shown), wrapped(alone, shown), alone_s,
                gap(sized(small, small_work), small_work), small_s,
                gap(sized(coarse, small_work), small_work),
                wrapped(sized(coarse, small_work), small_work), coarse_s,
                open_reduced(data, THUMB).size != work.shape[1::-1]))
    if first is None:
        sys.exit(f"{args.folder}: no image could be read")
    count = len(next(iter(rows.values())))
    print(f"{count} works of {args.folder} as lossless JPEG 2000 masters; gap: mean grey-level "
          "difference from the work (mean over works, worst work); wrapped: share of pixels with "
          "a channel off by more than 128 levels (white read as black, opaque as transparent); "
          f"ms: per decode; thumbnails of {THUMB} px against the work's; level: share of "
          "works whose thumbnail mediumnet took from a coarse level")
    width = max(map(len, rows))
    print(f"{'master':<{width}} {'mediumnet':>9} {'worst':>6} {'wrapped':>7} {'ms':>6} "
          f"{'Pillow':>7} {'worst':>6} {'wrapped':>7} {'ms':>6} {'thumb':>6} {'ms':>6} "
          f"{'level':>6} {'coarse':>7} {'wrapped':>7} {'ms':>6}")
    for name, values in rows.items():
        table = np.array(values)
        mean = np.nanmean(table, axis=0)
        print(f"{name:<{width}} {mean[0]:9.2f} {table[:, 0].max():6.2f} {mean[1]:7.2%} "
              f"{mean[2] * 1000:6.1f} {mean[3]:7.2f} {table[:, 3].max():6.2f} {mean[4]:7.2%} "
              f"{mean[5] * 1000:6.1f} {mean[6]:6.2f} {mean[7] * 1000:6.1f} {mean[11]:6.0%} "
              f"{mean[8]:7.2f} {mean[9]:7.2%} {mean[10] * 1000:6.1f}")
    if args.large > 0:
        large_master(first, args.large)


if __name__ == "__main__":
    main()
