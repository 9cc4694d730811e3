"""Colour profiles: a master's pixels as sRGB, whatever profile its file embeds.

Digitisation guidelines (FADGI, Metamorfoze) keep masters in a wide-gamut space: Adobe RGB
(1998), eciRGB v2, ProPhoto RGB, and greyscale scans in a grey profile (Photoshop's "Dot Gain
20%", "Gray Gamma 2.2"). The numbers in such a file mean other colours than the same numbers in
an sRGB file: read as sRGB, an Adobe RGB master looks washed out (sRGB's pure red is stored
there as 219,0,0, and read as sRGB it is that duller red). Every model here learns from sRGB
pixels (web images, the synthetic set), so every pixel a branch sees goes through
:func:`as_srgb`.

A profile is left alone when it renders as sRGB already (an embedded "sRGB IEC61966-2.1"): such
files keep the fast decoders (libjpeg-turbo through simplejpeg, OpenCV for 16 bits) and give the
same pixels as an untagged file. Everything else goes through LittleCMS (Pillow's ``ImageCms``,
perceptual intent, so a profile with a perceptual table uses it and a matrix profile converts
colorimetrically). A profile that cannot be read, or that does not fit the image (an RGB profile
in a greyscale file), is ignored with a warning and the pixels are read as sRGB, as an untagged
file's are; so is every profile under a Pillow built without LittleCMS. A grey scan goes through
its grey profile level by level (:func:`grey_as_srgb`), a 16-bit scan's 65536 levels before they
become 8 bits, so the deep shadows of a linear scan keep their steps; a 16-bit RGB master's
samples go through its profile before 8 bits too (:mod:`mediumnet.data.deep`). A camera's Adobe
RGB JPEG that embeds no profile but says so in EXIF is read as Adobe RGB (1998)
(:mod:`mediumnet.data.icc` writes the profile). A JPEG 2000 master's profile, which Pillow does
not read, is taken from the file's colour specification box, and a HEIF or AVIF file that names
its colours by H.273 code points alone (a Display P3 photograph) is given the profile they mean,
as is a PNG that names them by its chunks (a linear gAMA, other primaries in cHRM, codes in
cICP; :mod:`mediumnet.data.png`), all in :func:`with_file_profile`.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mediumnet.data.heif import HEIF_FORMATS, cicp_colour
from mediumnet.data.icc import adobe_rgb_profile, cicp_profile
from mediumnet.data.jpeg2000 import jp2_icc_profile
from mediumnet.data.png import chunk_profile, png_cicp, usable_chunks

if TYPE_CHECKING:
    from PIL import Image as PILImage
    from PIL import ImageCms

log = logging.getLogger("mediumnet")

SRGB_TOLERANCE = 2
"""Grey levels: a profile whose conversion moves no colour of a 17-step grid further than this
renders as sRGB already, and its pixels are taken as they are."""

CMYK_GRID_POINTS = 33
"""Points a side of the table LittleCMS samples a CMYK profile's conversion on. Its default, 17,
lay 0.2 to 1.2 levels from the profile's exact colours (Debian's three CMYK profiles, random
inks); 33 lies a third as far (0.07 to 0.37), for 0.35 s once per profile and about as fast a
conversion. Exact evaluation would take 3 to 6 times as long per image."""

EXIF_IFD, INTEROP_IFD = 0x8769, 0xA005
EXIF_COLOUR_SPACE, INTEROP_INDEX, UNCALIBRATED = 0xA001, 0x0001, 0xFFFF
"""The EXIF tags a camera's Adobe RGB file is known by (DCF 2.0, option file)."""

_PROFILE_SPACES = {"RGB": ("RGB", "RGBA", "P", "PA"),
                   "GRAY": ("L", "LA", "La", "1", "I;16", "I;16L", "I;16B", "I;16N"),
                   "CMYK": ("CMYK",)}
"""The image modes each colour space of a profile fits."""


_WARNED: set[bytes] = set()
"""Profiles already warned about: one warning per profile, not one per image."""


@dataclass(frozen=True)
class ProfileConversion:
    """What an embedded profile asks for: a conversion to sRGB, or why it is ignored.

    Attributes
    ----------
    transform : ImageCms.ImageCmsTransform or None
        An RGB or CMYK profile's conversion to sRGB; None when none is needed, it cannot be
        made, or the profile is a grey one.
    grey_levels : numpy.ndarray or None
        A grey profile's conversion: the sRGB pixels ``(65536, 3)`` uint8 of every 16-bit grey
        level (an 8-bit level ``v`` is ``257 * v``); None when none is needed.
    problem : str
        Why the profile is ignored (it cannot be read, it does not fit the pixels, no
        LittleCMS); empty when it is used, or renders as sRGB already.
    """

    transform: object | None = None
    grey_levels: np.ndarray | None = None
    problem: str = ""

    @property
    def needed(self) -> bool:
        """Whether the pixels are to be converted (the profile is used, not sRGB already)."""
        return self.transform is not None or self.grey_levels is not None


@functools.lru_cache(maxsize=64)
def profile_conversion(profile_bytes: bytes, mode: str) -> ProfileConversion:
    """Return how pixels in ``mode`` (RGB, L or CMYK) with ``profile_bytes`` become sRGB.

    No transform when the profile renders as sRGB already (no problem then), cannot be read,
    or does not fit ``mode`` (the problem says which). Cached: a collection's masters share
    a few profiles.
    """
    from PIL import Image

    try:
        from PIL import ImageCms
    except ImportError:   # a Pillow built without LittleCMS (some system packages)
        return ProfileConversion(problem="this Pillow has no LittleCMS (PIL.ImageCms), so no "
                                         "colour profile can be applied; install Pillow's own "
                                         "wheel: pip install --force-reinstall pillow")
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(profile_bytes))
        space = profile.profile.xcolor_space.strip()
        if mode != {"GRAY": "L"}.get(space, space):
            return ProfileConversion(problem=f"its colour profile ({_description(profile)}) "
                                             f"is for {space or 'unknown'} pixels, not {mode}")
        if mode == "L":
            grey_levels = grey_level_table(profile)
        else:
            # One transform serves every thread (the view cache decodes in threads):
            # LittleCMS's one-pixel cache is not thread-safe, hence NOCACHE.
            flags = ImageCms.Flags.NOCACHE
            if mode == "CMYK":
                flags |= ImageCms.Flags.GRIDPOINTS(CMYK_GRID_POINTS)
            transform = ImageCms.buildTransform(
                profile, ImageCms.createProfile("sRGB"), mode, "RGB",
                renderingIntent=ImageCms.Intent.PERCEPTUAL, flags=flags)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as exc:
        return ProfileConversion(problem=f"its colour profile cannot be read ({exc})")
    levels = np.linspace(0, 255, 17).round().astype(np.uint8)
    if mode == "L":
        expected = np.repeat(levels[:, None], 3, axis=1)
        converted = grey_levels[levels.astype(np.int64) * 257]   # 16-bit rows of 8-bit levels
        needed = ProfileConversion(grey_levels=grey_levels)
    elif mode == "RGB":
        expected = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1
                            ).reshape(1, -1, 3)
        converted = np.asarray(ImageCms.applyTransform(Image.fromarray(expected), transform))
        needed = ProfileConversion(transform)
    else:
        return ProfileConversion(transform)
    if np.abs(converted.astype(np.int16) - expected).max() <= SRGB_TOLERANCE:
        return ProfileConversion()
    return needed


def grey_level_table(profile: ImageCms.ImageCmsProfile) -> np.ndarray:
    """Return the sRGB pixels ``(65536, 3)`` uint8 of every 16-bit level through a grey profile.

    LittleCMS unoptimised: its optimised 8-bit grey transform reads the deepest shadows of a
    linear profile up to 10 levels dark (level 2 of 255 as 12, where 22 is right).
    """
    from PIL import Image, ImageCms

    transform = ImageCms.buildTransform(
        profile, ImageCms.createProfile("sRGB"), "I;16", "RGB",
        renderingIntent=ImageCms.Intent.PERCEPTUAL,
        flags=ImageCms.Flags.NOOPTIMIZE | ImageCms.Flags.NOCACHE)
    ramp = Image.frombytes("I;16", (256, 256), np.arange(65536, dtype="<u2").tobytes())
    return np.asarray(ImageCms.applyTransform(ramp, transform)).reshape(-1, 3)


def _description(profile: ImageCms.ImageCmsProfile) -> str:
    from PIL import ImageCms

    try:
        return ImageCms.getProfileDescription(profile).strip() or "unnamed"
    except ImageCms.PyCMSError:
        return "unnamed"


def _profile_mode(im: PILImage.Image) -> str | None:
    """Return the mode LittleCMS is given for ``im`` (RGB, L or CMYK); None for any other.

    Other modes (32-bit and float greyscale, CIELab, YCbCr) are converted by Pillow alone.
    """
    for space, modes in _PROFILE_SPACES.items():
        if im.mode in modes:
            return "L" if space == "GRAY" else space
    return None


def srgb_conversion(im: PILImage.Image, name: str = "<image>") -> ProfileConversion:
    """Return what brings ``im``'s pixels to sRGB (``needed`` is False when nothing does).

    The profile is the one ``im`` embeds; an RGB image without one whose EXIF says Adobe RGB
    (:func:`exif_says_adobe_rgb`) takes Adobe RGB (1998). Nothing is needed for an image
    without a profile, with a profile that renders as sRGB already, or with one that cannot
    be used: a warning names the first image of each such profile, whose pixels are then read
    as sRGB.
    """
    profile, mode = pixel_profile(im), _profile_mode(im)
    if profile is None or mode is None:
        return ProfileConversion()
    conversion = profile_conversion(profile, mode)
    if conversion.problem and profile not in _WARNED:
        _WARNED.add(profile)
        log.warning("%s: %s; the profile is ignored and the pixels read as sRGB (so are "
                    "those of any other image with this profile)", name, conversion.problem)
    return conversion


def pixel_profile(im: PILImage.Image) -> bytes | None:
    """Return the profile ``im``'s pixels are in: the one it embeds, or Adobe RGB named in EXIF.

    None for an image that names no profile (its pixels are sRGB).
    """
    profile = im.info.get("icc_profile")
    if not profile and _profile_mode(im) == "RGB" and exif_says_adobe_rgb(im):
        profile = adobe_rgb_profile()
    return bytes(profile) if profile and isinstance(profile, bytes | bytearray) else None


def exif_says_adobe_rgb(im: PILImage.Image) -> bool:
    """Return whether ``im``'s EXIF alone says its pixels are Adobe RGB.

    A camera set to Adobe RGB writes DCF's option file: the colour space "uncalibrated"
    (0xFFFF) and the interoperability index ``R03``, often with no profile embedded.
    """
    try:
        exif = im.getexif()
        if exif.get_ifd(EXIF_IFD).get(EXIF_COLOUR_SPACE) != UNCALIBRATED:
            return False
        index = exif.get_ifd(INTEROP_IFD).get(INTEROP_INDEX, "")
    except (OSError, ValueError, SyntaxError, struct.error, KeyError, TypeError):
        return False   # EXIF that cannot be parsed says nothing
    return (index.decode("ascii", "replace") if isinstance(index, bytes) else str(index)
            ).strip("\0 ") == "R03"


def needs_srgb_conversion(im: PILImage.Image, name: str = "<image>") -> bool:
    """Return whether ``im``'s pixels are in another colour space than sRGB (to convert)."""
    return srgb_conversion(im, name).needed


def as_srgb(rgb: PILImage.Image, source: PILImage.Image, name: str = "<image>"
            ) -> PILImage.Image:
    """Return ``rgb`` (8-bit RGB pixels of ``source``) converted by ``source``'s profile.

    ``rgb`` is returned as it is when ``source`` needs no conversion. For a CMYK ``source``
    use :func:`cmyk_as_srgb`; for a grey one, the grey channel of ``rgb`` is converted
    (:func:`grey_as_srgb`).
    """
    conversion = srgb_conversion(source, name)
    if conversion.grey_levels is not None:
        return _through_levels(np.asarray(rgb.getchannel(0)), conversion.grey_levels)
    if conversion.transform is None or _profile_mode(source) == "CMYK":
        return rgb
    from PIL import ImageCms

    return ImageCms.applyTransform(rgb, conversion.transform)


def grey_as_srgb(grey: np.ndarray, source: PILImage.Image, name: str = "<image>"
                 ) -> PILImage.Image | None:
    """Return grey pixels of ``source`` as sRGB by its grey profile; None when none applies.

    ``grey`` is ``(H, W)``: 8-bit levels, or a 16-bit scan's own levels (uint16), which are
    converted before any is taken to 8 bits.
    """
    levels = srgb_conversion(source, name).grey_levels
    return None if levels is None else _through_levels(grey, levels)


def _through_levels(grey: np.ndarray, levels: np.ndarray) -> PILImage.Image:
    """Return grey pixels (8- or 16-bit) looked up in a grey profile's 65536 sRGB levels."""
    from PIL import Image

    # 65535 = 255 * 257: every 257th row is an 8-bit level's
    return Image.fromarray((levels[::257] if grey.dtype == np.uint8 else levels)[grey])


def cmyk_as_srgb(cmyk: PILImage.Image, name: str = "<image>") -> PILImage.Image:
    """Return a CMYK image converted to sRGB by its embedded profile, or Pillow's way without."""
    transform = srgb_conversion(cmyk, name).transform
    if transform is None:
        return cmyk.convert("RGB")
    from PIL import ImageCms

    return ImageCms.applyTransform(cmyk, transform)


def image_name(source: object) -> str:
    """Return how messages name an image given as a path, a file's bytes or a PIL image."""
    if isinstance(source, str | os.PathLike):
        return str(source)
    if isinstance(source, bytes | bytearray):
        return f"<{len(source)} bytes>"
    return getattr(source, "filename", "") or "<PIL image>"


def with_file_profile(im: PILImage.Image, source: object) -> PILImage.Image:
    """Return ``im``, given the colour profile its file names but Pillow does not apply.

    A JPEG 2000 file's colour specification box (:func:`jp2_icc_profile`); a HEIF or AVIF
    file's H.273 colour codes (:func:`~mediumnet.data.heif.cicp_colour`), as the profile they
    mean (:func:`~mediumnet.data.icc.cicp_profile`; codes of no profile, such as HDR's, are
    named in one warning and the pixels read as sRGB); a PNG's colour chunks
    (:func:`_with_png_profile`). ``source`` is what ``im`` was opened from: a path or the
    file's bytes (a PIL image's own file name serves otherwise). Any other format, a file with
    an ICC profile Pillow read (a PNG's ``cICP`` chunk overrides it), or a file that cannot be
    read again, leaves ``im`` as it is.
    """
    if im.format == "PNG":
        return _with_png_profile(im, source)
    if im.format not in ("JPEG2000", *HEIF_FORMATS) or im.info.get("icc_profile"):
        return im
    if im.format == "JPEG2000":
        profile = _read_file(im, source, jp2_icc_profile)
    else:
        codes = _read_file(im, source, cicp_colour)
        profile = None if codes is None else _codes_profile(codes, image_name(source or im))
    if profile:
        im.info["icc_profile"] = profile
    return im


def inks_read_as_rgba(im: PILImage.Image) -> bool:
    """Return whether ``im`` holds inks that Pillow opened as RGBA.

    Pillow opens a JPEG 2000 of four components whose colour box holds a CMYK profile (as a
    prepress encoder writes one) as RGBA: its black ink would be taken for alpha.
    """
    profile = im.info.get("icc_profile")
    return (im.format == "JPEG2000" and im.mode == "RGBA" and isinstance(profile, bytes)
            and profile[16:20] == b"CMYK")


def with_inks_as_cmyk(im: PILImage.Image) -> PILImage.Image:
    """Return ``im``, loaded, or its channels as the CMYK they are (:func:`inks_read_as_rgba`)."""
    return cmyk_image(np.asarray(im), im.info) if inks_read_as_rgba(im) else im


def grey_image(info: dict) -> PILImage.Image:
    """Return a one-pixel grey image that carries ``info`` (its profile).

    A stand-in for an image of grey samples that Pillow opened as RGB(A): given as the
    source of those samples (:func:`grey_as_srgb`), its profile is taken as the grey one it is.
    """
    from PIL import Image

    image = Image.new("L", (1, 1))
    image.info = dict(info)
    return image


def cmyk_image(inks: np.ndarray, info: dict) -> PILImage.Image:
    """Return ``(H, W, 4)`` 8-bit inks as a CMYK image that carries ``info`` (its profile).

    The image shares the inks' memory (read-only: every conversion of it makes a new one).
    """
    from PIL import Image

    image = Image.frombuffer("CMYK", inks.shape[1::-1], np.ascontiguousarray(inks), "raw",
                             "CMYK", 0, 1)
    image.info = dict(info)
    return image


def _read_file(im: PILImage.Image, source: object, read):
    """Return ``read(fp)`` of the file ``im`` was opened from; None when it cannot be read."""
    try:
        if isinstance(source, bytes | bytearray):
            return read(io.BytesIO(source))
        path = source if isinstance(source, str | os.PathLike) else getattr(im, "filename", "")
        if not path:
            return None
        with open(path, "rb") as fp:
            return read(fp)
    except OSError:   # gone since it was opened
        return None


def _codes_profile(codes: tuple[int, int], name: str) -> bytes | None:
    """Return the profile H.273 colour codes mean; None for sRGB's.

    Codes of no profile are named in one warning per pair, and give None.
    """
    try:
        return cicp_profile(*codes)
    except ValueError as exc:
        key = b"cicp %d/%d" % codes
        if key not in _WARNED:
            _WARNED.add(key)
            log.warning("%s: its colour codes (%s) name no space mediumnet converts; the "
                        "pixels are read as sRGB (so are those of any other image with these "
                        "codes)", name, exc)
        return None


def _with_png_profile(im: PILImage.Image, source: object) -> PILImage.Image:
    """Return a PNG's ``im``, given the profile its colour chunks mean (:mod:`~mediumnet.data.png`).

    A ``cICP`` chunk comes first: its codes' profile replaces any embedded one (none for
    sRGB's codes, or for codes of no profile, which are named in a warning). Then an embedded
    profile or an ``sRGB`` chunk stands; without either, ``gAMA`` and ``cHRM`` give the
    profile they mean. A chunk whose values are no colour space is named in one warning and
    left out.
    """
    name = image_name(source or im)
    codes = _read_file(im, source, png_cicp)
    if codes is not None:
        im.info.pop("icc_profile", None)
        if profile := _codes_profile(codes, name):
            im.info["icc_profile"] = profile
        return im
    if im.info.get("icc_profile") or "srgb" in im.info:
        return im
    gamma, chromaticity = im.info.get("gamma"), im.info.get("chromaticity")
    if gamma is None and chromaticity is None:
        return im
    gamma, chromaticity, problems = usable_chunks(gamma, chromaticity)
    for problem in problems:
        key = b"png " + problem.encode()
        if key not in _WARNED:
            _WARNED.add(key)
            log.warning("%s: %s, so it is left out (so it is in any other image with this "
                        "chunk)", name, problem)
    profile = chunk_profile(gamma, chromaticity, grey=_profile_mode(im) == "L")
    if profile:
        im.info["icc_profile"] = profile
    return im
