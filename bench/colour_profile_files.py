"""How mediumnet reads masters kept in each of a lab's own ICC profile files.

    .venv/bin/python bench/colour_profile_files.py PROFILE_OR_FOLDER [...] [--image PATH]
                                                  [--quality 95]

For every ICC profile given (files, or folders searched for ``*.icc`` and ``*.icm``), a work is
written as a lab keeps its master in that profile: the work's sRGB pixels converted into the
profile's RGB, grey or CMYK space by LittleCMS and saved, with the profile embedded, as a TIFF
and as a JPEG of ``--quality``. Each file is then decoded as every branch decodes it
(:func:`mediumnet.data.views.native_pixels`) and, beside it, as a reader that ignores profiles
does (Pillow's plain ``convert("RGB")``). The table gives, per profile, what mediumnet does
with it (``converted``; ``as sRGB`` for a profile that renders as sRGB already, whose files
keep the fast decoders; or why it is ignored), and the mean grey-level gap of each decode from
the work's own colours, all in one run. For an RGB profile those colours are the sRGB pixels;
for a grey or CMYK profile, which cannot hold every sRGB colour, they are the sRGB pixels taken
into the profile and back (LittleCMS, perceptual intent, unoptimised: the profile's exact
meaning). Profiles that describe no image's pixels (abstract, named-colour, Lab or XYZ spaces)
are listed as skipped. For an RGB profile two more columns say how exactly the profile is
applied, apart from the master's own 8-bit rounding: the gap of the master's values, decoded
from the 8-bit TIFF and from a 48-bit PNG (each value x 257: :mod:`mediumnet.data.deep`'s
path), from those values taken through the profile by LittleCMS unoptimised.

The work is a smooth field of every hue with a saturated red patch, or ``--image``, one real
image (any file mediumnet reads). Profile files ship with colour-managed systems: Debian's
colord-data, icc-profiles-free and libgs-common hold 40 (eciRGB v1 and v2, Adobe RGB (1998),
ProPhoto/ROMM RGB, SWOP and PostScript CMYK, grey profiles; ICC versions 2 and 4).
"""

import argparse
import io
import sys
import time
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mediumnet.console import quiet  # noqa: E402

SPACE_MODES = {"RGB": "RGB", "GRAY": "L", "CMYK": "CMYK"}
"""The profile colour spaces an image's pixels come in, and the Pillow mode of each."""
IMAGE_CLASSES = {"scnr": "input", "mntr": "display", "prtr": "output", "spac": "colour space"}
OTHER_CLASSES = {"abst": "an abstract", "nmcl": "a named-colour", "link": "a device-link"}
"""ICC profile classes: those an image's pixels can be kept in, and the others."""


def profile_files(paths: list[Path]) -> list[Path]:
    """Return the profile files among ``paths``, folders searched; exit on a missing path."""
    found = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix.lower() in (".icc", ".icm"))
        elif path.is_file():
            found.append(path)
        else:
            sys.exit(f"{path}: no such file or folder; give ICC profile files or folders")
    if not found:
        sys.exit(f"no .icc or .icm files in {', '.join(map(str, paths))}")
    return found


def synthetic_work() -> np.ndarray:
    """Return a smooth 240x320 sRGB field of every hue, with a saturated red patch."""
    y, x = np.mgrid[0:240, 0:320]
    work = np.stack([x * 255 // 319, y * 255 // 239, 255 - (x + y) * 255 // 558], -1)
    work[:60, :80] = (230, 20, 30)
    return work.astype(np.uint8)


def gap(a: np.ndarray, b: np.ndarray) -> float:
    """Return the mean absolute grey-level difference of two pixel arrays."""
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def measure(data: bytes, work: np.ndarray, quality: int) -> dict[str, object]:
    """Return what mediumnet does with masters in the profile ``data``, and the gaps.

    Keys: ``action`` (converted, as sRGB, or why it is ignored), ``ignored`` (gap of a
    profile-blind reader's TIFF decode), ``tiff`` and ``jpeg`` (gaps of mediumnet's decodes),
    ``ms`` (milliseconds per TIFF decode); or ``skipped`` with the reason alone.
    """
    from PIL import Image, ImageCms
    from png_colour_chunks import png_bytes  # here: that bench imports this one's gap

    from mediumnet.data.colour import profile_conversion
    from mediumnet.data.views import native_pixels

    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(data))
    except (ImageCms.PyCMSError, OSError) as exc:
        return {"skipped": f"not an ICC profile ({exc})"}
    space, device_class = profile.profile.xcolor_space.strip(), profile.profile.device_class
    if device_class not in IMAGE_CLASSES:
        kind = OTHER_CLASSES.get(device_class, f"a '{device_class}'")
        return {"skipped": f"{kind} profile, which no image is kept in"}
    if space not in SPACE_MODES:
        return {"skipped": f"a {IMAGE_CLASSES[device_class]} profile of {space or 'no'} "
                           "space (mediumnet applies RGB, grey and CMYK profiles)"}
    mode, srgb = SPACE_MODES[space], ImageCms.createProfile("sRGB")
    into = ImageCms.buildTransform(srgb, profile, "RGB", mode,
                                   renderingIntent=ImageCms.Intent.PERCEPTUAL)
    master = Image.new(mode, (work.shape[1], work.shape[0]))
    # LittleCMS's own apply: ImageCms.applyTransform also copies the output profile's bytes
    # into the image's info, which fails for Ghostscript's v4 CMYK profiles ("Could not
    # determine profile size"); save() embeds the file's own bytes anyway.
    into.transform.apply(Image.fromarray(work).getim(), master.getim())
    # The master's values through the profile unoptimised: its exact colours (LittleCMS's
    # optimised grey transform reads a linear profile's deepest shadows up to 10 levels dark).
    exact = np.asarray(ImageCms.applyTransform(master, ImageCms.buildTransform(
        profile, srgb, mode, "RGB", renderingIntent=ImageCms.Intent.PERCEPTUAL,
        flags=ImageCms.Flags.NOOPTIMIZE)))
    colours = work if mode == "RGB" else exact
    conversion = profile_conversion(data, mode)
    action = ("converted" if conversion.needed else
              f"ignored: {conversion.problem}" if conversion.problem else "as sRGB")
    result = {"action": action}
    if mode == "RGB":   # how exactly the profile is applied, at 16 bits (and at 8, below)
        sixteen = png_bytes(np.asarray(master).astype(np.uint16) * 257,
                            [(b"iCCP", b"master\0\0" + zlib.compress(data))])
        result["exact16"] = gap(native_pixels(sixteen), exact)
    for fmt, options in (("TIFF", {}), ("JPEG", {"quality": quality})):
        buffer = io.BytesIO()
        master.save(buffer, fmt, icc_profile=data, **options)
        pixels = native_pixels(buffer.getvalue())
        if fmt == "TIFF":
            started = time.perf_counter()
            for _ in range(5):   # after a first decode, which built the transform
                native_pixels(buffer.getvalue())
            result["ms"] = (time.perf_counter() - started) / 5 * 1000
            plain = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
            result["ignored"] = gap(plain, colours)
            if mode == "RGB":
                result["exact8"] = gap(pixels, exact)
        result[fmt.lower()] = gap(pixels, colours)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profiles", type=Path, nargs="+", metavar="PROFILE_OR_FOLDER")
    parser.add_argument("--image", type=Path, help="one real work instead of the synthetic one")
    parser.add_argument("--quality", type=int, default=95)
    args = parser.parse_args()
    quiet()
    from PIL import ImageCms

    from mediumnet.data.views import ImageError, native_pixels

    try:
        work = native_pixels(args.image) if args.image else synthetic_work()
    except (ImageError, OSError) as exc:
        sys.exit(f"{args.image}: cannot be read ({exc}); give an image file")
    print(f"work: {args.image or 'synthetic'}, {work.shape[1]}x{work.shape[0]}; "
          f"JPEG quality {args.quality}")
    print("gap: mean grey-level difference from the work's colours in the profile; ignored: "
          "decoded by a reader that ignores profiles; tiff, jpeg: decoded by mediumnet; ms: "
          "milliseconds per TIFF decode by mediumnet")
    rows = []
    for path in profile_files(args.profiles):
        data = path.read_bytes()
        try:
            profile = ImageCms.ImageCmsProfile(io.BytesIO(data))
            described = (f"v{profile.profile.version:.1f} "
                         f"{profile.profile.xcolor_space.strip():<4} "
                         f"{ImageCms.getProfileDescription(profile).strip()[:32]}")
        except (ImageCms.PyCMSError, OSError):
            described = "?"
        rows.append((path.name, described, measure(data, work, args.quality)))
    width = max(len(name) for name, _, _ in rows)
    print(f"{'profile':<{width}} {'version, space, description':<42} {'ignored':>7} "
          f"{'tiff':>5} {'jpeg':>5} {'ms':>5} {'8-bit':>5} {'16-bit':>6}  mediumnet")
    for name, described, result in rows:
        if "skipped" in result:
            print(f"{name:<{width}} {described:<42} {'':>7} {'':>5} {'':>5} {'':>5} {'':>5} "
                  f"{'':>6}  skipped: {result['skipped']}")
            continue
        exactness = (f"{result['exact8']:5.3f} {result['exact16']:6.3f}" if "exact16" in result
                     else f"{'':>5} {'':>6}")
        print(f"{name:<{width}} {described:<42} {result['ignored']:7.2f} {result['tiff']:5.2f} "
              f"{result['jpeg']:5.2f} {result['ms']:5.1f} {exactness}  {result['action']}")
    measured = [r for _, _, r in rows if "skipped" not in r]
    converted = [r for r in measured if r["action"] == "converted"]
    if converted:
        print(f"{len(measured)} profiles measured, {len(converted)} converted: mediumnet's "
              f"decode lies {max(r['tiff'] for r in converted):.2f} (TIFF) and "
              f"{max(r['jpeg'] for r in converted):.2f} (JPEG) levels off at most, a reader "
              f"that ignores them {min(r['ignored'] for r in converted):.2f} to "
              f"{max(r['ignored'] for r in converted):.2f}")
    rgb = [r for r in converted if "exact16" in r]
    if rgb:
        print(f"{len(rgb)} RGB profiles converted: a master's values as 8-bit TIFFs lie "
              f"{np.mean([r['exact8'] for r in rgb]):.3f} levels on average from the "
              f"profile's exact colours (at most {max(r['exact8'] for r in rgb):.3f}), as "
              f"48-bit PNGs {np.mean([r['exact16'] for r in rgb]):.3f} (at most "
              f"{max(r['exact16'] for r in rgb):.3f})")


if __name__ == "__main__":
    main()
