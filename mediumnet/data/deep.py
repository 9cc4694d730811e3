"""16-bit RGB masters: all 16 bits of each sample read, and taken to sRGB before 8 bits.

Digitisation guidelines keep colour masters as 48-bit TIFFs (FADGI, Metamorfoze), raw
converters export 48-bit PNGs and TIFFs, and archives keep lossless JPEG 2000 masters of 12 or
16 bits a sample. Pillow has no 16-bit RGB mode: it reads a PNG or TIFF by keeping each
sample's high byte, a level off in a quarter of the samples (up to a level from the exact
value, where rounding stays within half of one), and applies the file's profile only then, to
8-bit values: a profiled master is rounded twice, and a linear one has lost the steps of its
deep shadows before its profile spreads them over sRGB's levels. A JPEG 2000 it rounds without
clamping: the samples within 1/512 of the top wrap round to 0, white paper read as black
(:mod:`mediumnet.data.jpeg2000`). A 48-bit (or, with alpha, 64-bit) PNG or TIFF, or a PNG's
16-bit grey with alpha, is decoded here by OpenCV (a TIFF in LZMA or Zstandard, which OpenCV
lacks, by imagecodecs' libtiff); a JPEG 2000 of more than 8 bits in colour, in CMYK or in
grey with alpha (its samples scaled to 16 bits, signed ones offset by half their range as
OpenJPEG's own tools show them, sYCC turned into RGB) by imagecodecs, OpenJPEG's decoder
(:func:`deep_pixels`). :func:`deep_as_srgb` takes the samples to 8-bit sRGB:

- no profile, or one that renders as sRGB already: each sample rounded to 8 bits;
- a matrix/TRC profile (Adobe RGB (1998), eciRGB, ProPhoto, a PNG's linear or gamma chunks):
  the steps LittleCMS takes with an 8-bit pixel, without rounding first. Each channel through
  its own tone curve (LittleCMS, unoptimised, one 65536-level table per channel), the 3 x 3
  matrix from the profile's primaries to sRGB's (both D50-adapted, as ICC keeps them), and
  sRGB's curve (LittleCMS again, a table of 65536 linear levels);
- any other profile (lookup tables: a scanner's or camera's own): rounded to 8 bits, then
  converted as an 8-bit file is (:func:`~mediumnet.data.colour.as_srgb`).

Alpha is composited on white at 16 bits, as :func:`~mediumnet.data.views.to_rgb` composites an
8-bit image; grey and alpha becomes a 16-bit grey, taken through its grey profile before 8 bits
as a 16-bit grey scan is (:func:`deep_grey_as_srgb`). Anything not read here as Pillow sees it
(another size, another channel count; a JPEG 2000 of mixed depths, in another colour space,
or with subsampled components other than sYCC's chroma) is left to Pillow's 8-bit reading, a
JPEG 2000 of more than 8 bits with a warning (Pillow's wraps it).
"""

from __future__ import annotations

import functools
import io
import logging
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mediumnet.data.colour import (
    as_srgb,
    cmyk_as_srgb,
    cmyk_image,
    grey_as_srgb,
    grey_image,
    grey_level_table,
    inks_read_as_rgba,
    pixel_profile,
    srgb_conversion,
)
from mediumnet.data.icc import grey_profile
from mediumnet.data.images import cut_short
from mediumnet.data.jpeg2000 import (
    CMYK_SPACE,
    GREY_SPACE,
    SRGB_SPACE,
    SYCC_SPACE,
    Jpeg2000Layout,
    jpeg2000_layout,
)
from mediumnet.data.orientation import EXIF_ORIENTATION, orient
from mediumnet.data.png import chunk_body

if TYPE_CHECKING:
    from PIL import Image as PILImage

DEEP_RAWMODES = frozenset({*(f"{mode};16{order}" for mode in ("RGB", "RGBA") for order in "BLN"),
                           "LA;16B"})
"""How Pillow's PNG and TIFF readers name 16-bit RGB and RGBA samples (big, little, native),
and a PNG's 16-bit grey with alpha (which Pillow opens as RGBA, as OpenCV reads it)."""

TIFF_COMPRESSIONS = frozenset({"raw", "tiff_lzw", "tiff_adobe_deflate", "tiff_deflate",
                               "packbits"})
"""A TIFF's compressions (as Pillow names them) that OpenCV's libtiff decodes; a master in
another (LZMA, Zstandard) is decoded by imagecodecs' libtiff."""

WRAPPED_MODES = ("L", "LA", "RGB", "RGBA", "CMYK")
"""Pillow's modes of a JPEG 2000 it reads through its 8-bit unpackers, which wrap more bits (a
single grey component of more than 8 bits it reads as ``I;16``, right)."""

JPEG2000_SPACES = {"LA": (GREY_SPACE,), "RGB": (SRGB_SPACE, SYCC_SPACE),
                   "RGBA": (SRGB_SPACE, SYCC_SPACE), "CMYK": (CMYK_SPACE,)}
"""The enumerated colour spaces of a deep JPEG 2000 read here, by the mode Pillow opens it in."""

_WARNED_KINDS: set[str] = set()
"""Kinds of JPEG 2000 file left to Pillow's wrapping reading that were named in a warning."""

log = logging.getLogger("mediumnet")

CHUNK_PIXELS = 1 << 20
"""Pixels converted at a time: a 100-megapixel master needs tens of MB of scratch, not GBs."""


@dataclass(frozen=True)
class DeepConversion:
    """A matrix/TRC profile's conversion to sRGB, as tables over 16-bit samples.

    Attributes
    ----------
    curves : numpy.ndarray
        ``(3, 65536)`` float32: each channel's linear light in [0, 1] for each 16-bit sample.
    matrix : numpy.ndarray
        ``(3, 3)``: the profile's linear RGB to sRGB's linear RGB.
    encode : numpy.ndarray
        ``(65536,)`` uint8: sRGB's 8-bit level of each 16-bit linear level.
    """

    curves: np.ndarray
    matrix: np.ndarray
    encode: np.ndarray


def is_deep_rgb(im: PILImage.Image) -> bool:
    """Return whether ``im``, opened and not yet loaded, is read here from all its bits.

    A 16-bit RGB(A) PNG or TIFF, or a JPEG 2000 in colour, in CMYK or in grey with alpha of more
    than 8 bits a sample (:func:`jpeg2000_bits`; its header is read, not its codestream).
    """
    if im.format == "JPEG2000" and im.mode in WRAPPED_MODES and im.tile:
        reduced = im.reduce   # a level, or a method when none is set: reduced, Pillow decodes
        return not isinstance(reduced, int) and _file_jpeg2000_bits(im) is not None
    if im.mode not in ("RGB", "RGBA") or not im.tile:
        return False
    if im.format not in ("PNG", "TIFF"):
        return False
    args = im.tile[0].args
    return (args[0] if isinstance(args, tuple) and args else args) in DEEP_RAWMODES


def jpeg2000_bits(layout: Jpeg2000Layout | None, mode: str) -> int | None:
    """Return the bits a sample of a JPEG 2000 image that is read here has; None if not.

    Such an image, which Pillow opens in ``mode`` (LA, RGB, RGBA, CMYK), has one component a
    channel, of one depth from 9 to 32 bits, signed or not, one sample per pixel each (sYCC's
    chroma may have fewer: the decoder spreads it), in the space of an ICC profile (or none: a
    raw codestream), or in the mode's enumerated spaces (:data:`JPEG2000_SPACES`).
    """
    spaces = JPEG2000_SPACES.get(mode)
    if spaces is None or layout is None or len(layout.components) != len(mode) or not (
            layout.colour_method in (None, 2, 3) or layout.colour_space in spaces):
        return None
    bits = {component.bits for component in layout.components}
    chroma = (1, 2) if layout.colour_space == SYCC_SPACE else ()
    if len(bits) > 1 or any(c.subsampling != (1, 1) for index, c in enumerate(layout.components)
                            if index not in chroma):
        return None
    return bits.pop() if 8 < min(bits) <= 32 else None


def _file_jpeg2000_bits(im: PILImage.Image) -> int | None:
    """Return :func:`jpeg2000_bits` of the file a JPEG 2000 ``im`` was opened from.

    A file of more than 8 bits a sample that is not read here (mixed depths, another colour
    space, subsampled components other than sYCC's chroma) is named in a warning, once per
    kind: Pillow's reading wraps it.
    """
    layout = _from_start(im, jpeg2000_layout)
    bits = jpeg2000_bits(layout, im.mode)
    if bits is None and layout is not None and max(c.bits for c in layout.components) > 8:
        _warn_wrapped(layout, im)
    return bits


def wrap_shows_as_zero(im: PILImage.Image) -> bool:
    """Return whether each sample Pillow wraps in a deep JPEG 2000 ``im`` reads as 0.

    So it does in RGB(A), CMYK or grey and alpha, signed samples too (Pillow offsets them by
    half their range, as here): a coarse level Pillow reads with no 0 in it is read right
    (:func:`~mediumnet.data.views.open_reduced`). Not in sYCC, whose samples Pillow turns into
    RGB after wrapping them: a chroma sample wrapped round can give a colour with no 0.
    """
    layout = _from_start(im, jpeg2000_layout)
    return layout is not None and layout.colour_space != SYCC_SPACE


def _warn_wrapped(layout: Jpeg2000Layout, im: PILImage.Image) -> None:
    """Name a JPEG 2000 of more than 8 bits that Pillow reads, once per kind of file."""
    components = layout.components
    kind = ("subsampled components" if any(c.subsampling != (1, 1) for c in components)
            else "mixed depths" if len({c.bits for c in components}) > 1
            else "more than 32 bits" if components[0].bits > 32
            else f"colour space {layout.colour_space}" if layout.colour_method == 1
            else f"colour method {layout.colour_method}")
    if kind in _WARNED_KINDS:
        return
    _WARNED_KINDS.add(kind)
    opaque = ", an opaque alpha as transparent" if im.mode.endswith("A") else ""
    log.warning("%s: a JPEG 2000 of %s at %d bits a sample is read by Pillow at 8 bits, "
                "which wraps the top 1/512 of the range round to 0 (white read as black%s); "
                "save it as RGB of one depth, not subsampled, or at 8 bits (any other such file "
                "is read the same way)",
                getattr(im, "filename", "") or "<image>", kind,
                max(c.bits for c in components), opaque)


def deep_pixels(im: PILImage.Image) -> np.ndarray | None:
    """Return the 16-bit samples of ``im`` (:func:`is_deep_rgb`), ``(H, W, channels)`` uint16.

    Upright (a TIFF's orientation tag is applied by OpenCV's TIFF reader, as by Pillow's, or
    here for one imagecodecs reads; a PNG's EXIF or XMP orientation here, an ``eXIf`` chunk
    after the image data too), RGB(A) order, or grey and alpha, or CMYK (a JPEG 2000's, whose
    samples of other depths are scaled to 16 bits: the top becomes 65535). None when the file
    cannot be read again, is cut, or is read otherwise than Pillow sees it: the caller then lets
    Pillow read it.
    """
    data = _from_start(im, lambda fp: fp.read())
    if data is None:
        return None
    channels = len(im.mode)
    layout = jpeg2000_layout(io.BytesIO(data)) if im.format == "JPEG2000" else None
    bits = jpeg2000_bits(layout, im.mode) if im.format == "JPEG2000" else 16
    if bits is None or not _complete(im, data, layout):
        return None   # Pillow names a cut file (OpenCV's readers print)
    array = _decoded(data, im, layout)
    if array is None or array.shape != (*im.size[::-1], channels):
        return None   # Pillow's size: a TIFF's upright too, a PNG's as stored
    if im.format == "PNG" and "exif" not in im.info:
        # What Pillow's 8-bit decode would have read from an eXIf chunk after the image data
        # (or that there is none), so that reading the EXIF does not decode the file again.
        exif = chunk_body(io.BytesIO(data), b"eXIf", before_image_data=False)
        im.info["exif"] = b"" if exif is None else b"Exif\0\0" + exif
    del data   # a master's bytes can be as large as its pixels: not both held on
    if layout is not None:   # OpenJPEG's samples: 0 to 2**bits - 1, or signed
        return _widened(array, bits, signed=layout.components[0].signed)
    if im.format == "PNG":   # as the 8-bit path turns it: EXIF, else XMP (Pillow's getexif)
        return orient(array, im.getexif().get(EXIF_ORIENTATION, 1))
    return array


def _from_start(im: PILImage.Image, read):
    """Return ``read(fp)`` of the file ``im`` was opened from, read from its start.

    The file is left where Pillow had it. None when there is no file, or it was closed since.
    """
    fp = getattr(im, "fp", None)
    try:
        position = fp.tell()
        fp.seek(0)
        result = read(fp)
        fp.seek(position)
    except (AttributeError, OSError, ValueError):
        return None
    return result


def _decoded(data: bytes, im: PILImage.Image, layout: Jpeg2000Layout | None
             ) -> np.ndarray | None:
    """Return the samples of the file ``im`` was opened from (its ``data``); None if it cannot.

    A PNG's or TIFF's by OpenCV: 16-bit RGB(A), a TIFF's upright. A TIFF in a compression
    OpenCV lacks (:data:`TIFF_COMPRESSIONS`) by imagecodecs' libtiff, turned upright by its
    orientation tag as OpenCV turns one. A JPEG 2000's (``layout``) by imagecodecs
    (OpenJPEG; OpenCV reads neither grey with alpha nor sYCC as a JPEG 2000 means them): RGB(A),
    CMYK or grey and alpha, of the file's own depth and sign, sYCC turned into RGB. A file whose
    colours an ICC profile gives has its codestream alone decoded: imagecodecs would apply the
    profile itself, and the caller does (as for any other file). A file that cannot be decoded
    (cut, corrupt) gives None, and Pillow names it.
    """
    if layout is not None:
        import imagecodecs

        coded = memoryview(data)[layout.codestream_start:layout.codestream_end] \
            if layout.colour_method in (2, 3) else data
        try:
            return imagecodecs.jpeg2k_decode(coded)
        except imagecodecs.Jpeg2kError:
            return None
    if im.format == "TIFF" and im.info.get("compression") not in TIFF_COMPRESSIONS:
        import imagecodecs

        try:
            array = imagecodecs.tiff_decode(data)
        except (imagecodecs.TiffError, IndexError):   # IndexError: a directory it cannot read
            return None
        turned = orient(array, im.getexif().get(EXIF_ORIENTATION, 1))
        return turned if turned.dtype == np.uint16 and turned.ndim == 3 else None
    import cv2

    array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None or array.dtype != np.uint16 or array.ndim != 3 or array.shape[2] < 3:
        return None
    return cv2.cvtColor(array, cv2.COLOR_BGR2RGB if array.shape[2] == 3 else cv2.COLOR_BGRA2RGBA,
                        dst=array)   # OpenCV's BGR(A), swapped in place: no second copy


def _complete(im: PILImage.Image, data: bytes, layout: Jpeg2000Layout | None) -> bool:
    """Return whether a PNG's, TIFF's or JPEG 2000's ``data`` hold all its image data.

    ``layout`` is a JPEG 2000's, read from ``data``: its codestream must be as long as its box
    says too (one that lost bytes in its middle is left to Pillow, which names it).
    """
    if im.format == "JPEG2000" and layout is not None and layout.codestream_end is not None \
            and layout.codestream_end > len(data):
        return False
    if im.format in ("PNG", "JPEG2000"):
        return cut_short(data) is False
    tags = getattr(im, "tag_v2", {})
    offsets, counts = tags.get(273) or tags.get(324), tags.get(279) or tags.get(325)
    return bool(offsets and counts) and max(
        offset + count for offset, count in zip(offsets, counts, strict=False)) <= len(data)


def _widened(samples: np.ndarray, bits: int, signed: bool = False) -> np.ndarray:
    """Return samples of ``bits`` bits as 16-bit ones: ``2**bits - 1`` becomes 65535.

    Signed samples are first offset by half their range (0 becomes mid-grey), as OpenJPEG's own
    tools show them. Unsigned samples of at most 16 bits are looked up in a table, in place.
    """
    if bits == 16 and samples.dtype == np.uint16:
        return samples
    top = (1 << bits) - 1
    flat = samples.reshape(-1)   # a view of the decoder's contiguous array (a copy otherwise)
    if not signed and bits < 16:
        table = ((np.minimum(np.arange(65536, dtype=np.uint32), top) * 65535 + top // 2)
                 // top).astype(np.uint16)
        for start in range(0, len(flat), CHUNK_PIXELS):
            flat[start:start + CHUNK_PIXELS] = table[flat[start:start + CHUNK_PIXELS]]
        return flat.reshape(samples.shape)
    offset = 1 << (bits - 1) if signed else 0
    wide = np.empty(len(flat), np.uint16)
    for start in range(0, len(flat), CHUNK_PIXELS):
        chunk = np.clip(flat[start:start + CHUNK_PIXELS].astype(np.int64) + offset, 0, top)
        wide[start:start + len(chunk)] = (chunk * 65535 + top // 2) // top
    return wide.reshape(samples.shape)


def deep_as_srgb(pixels: np.ndarray, source: PILImage.Image, name: str = "<image>"
                 ) -> PILImage.Image:
    """Return 16-bit RGB(A) ``pixels`` of ``source`` as 8-bit sRGB, alpha composited on white.

    ``source`` is the image the pixels were read from: its profile (or EXIF) says their space,
    as for an 8-bit image (:func:`~mediumnet.data.colour.srgb_conversion`, which warns about a
    profile that cannot be used). Grey and alpha (``(H, W, 2)``, or RGBA of equal channels in
    a grey profile: a PNG's) becomes a 16-bit grey on white, then sRGB as
    :func:`deep_grey_as_srgb` takes it; CMYK (a JPEG 2000's) is rounded to 8 bits and
    converted as an 8-bit CMYK file is (its CMYK profile samples a table of 8-bit inks).
    """
    from PIL import Image

    if source.mode == "CMYK" or inks_read_as_rgba(source):   # a JPEG 2000's inks, rounded
        inks = ((pixels.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
        return cmyk_as_srgb(cmyk_image(inks, source.info), name)
    if pixels.shape[-1] == 4 and _grey_read_as_rgba(pixels, source):
        pixels, source = pixels[..., [0, 3]], grey_image(source.info)
    if pixels.shape[-1] == 2:
        grey = _on_white(pixels.reshape(-1, 2)).astype(np.uint16)
        return deep_grey_as_srgb(grey.reshape(pixels.shape[:2]), source, name)
    conversion = srgb_conversion(source, name)
    deep = deep_conversion(pixel_profile(source)) if conversion.transform is not None else None
    flat = pixels.reshape(-1, pixels.shape[-1])
    out = np.empty((len(flat), 3), np.uint8)
    for start in range(0, len(flat), CHUNK_PIXELS):
        rgb = _on_white(flat[start:start + CHUNK_PIXELS])
        if deep is None:
            out[start:start + len(rgb)] = (rgb * 255 + 32767) // 65535   # rounded
        else:
            linear = np.stack([deep.curves[c][rgb[:, c]] for c in range(3)], axis=1)
            levels = np.clip(linear @ deep.matrix.T * 65535 + 0.5, 0, 65535).astype(np.uint16)
            out[start:start + len(rgb)] = deep.encode[levels]
    rgb8 = Image.fromarray(out.reshape(*pixels.shape[:2], 3))
    if deep is None and conversion.transform is not None:   # a profile of lookup tables
        return as_srgb(rgb8, source, name)
    return rgb8


def _grey_read_as_rgba(pixels: np.ndarray, source: PILImage.Image) -> bool:
    """Return whether RGBA ``pixels`` are a grey and alpha in a grey profile.

    So is a PNG's 16-bit grey with alpha, which Pillow opens (and OpenCV reads) as RGBA: its
    grey profile is for the grey, which the three equal channels repeat.
    """
    profile = pixel_profile(source)
    return (profile is not None and profile[16:20] == b"GRAY"
            and np.array_equal(pixels[..., 0], pixels[..., 1])
            and np.array_equal(pixels[..., 0], pixels[..., 2]))


def _on_white(samples: np.ndarray) -> np.ndarray:
    """Return ``(N, 3 or 4)`` 16-bit samples as ``(N, 3)`` uint32, any alpha over white.

    Grey and alpha, ``(N, 2)``, gives ``(N, 1)``.
    """
    colours = 1 if samples.shape[1] == 2 else 3
    colour = samples[:, :colours].astype(np.uint32)
    if samples.shape[1] == colours:
        return colour
    alpha = samples[:, colours:].astype(np.uint32)
    return (colour * alpha + 65535 * (65535 - alpha) + 32767) // 65535


def deep_grey_as_srgb(values: np.ndarray, source: PILImage.Image, name: str = "<image>"
                      ) -> PILImage.Image:
    """Return grey samples of ``source`` (``(H, W)``) as 8-bit sRGB.

    16-bit samples (any byte order) go through the file's grey profile before they become 8
    bits (:func:`~mediumnet.data.colour.grey_as_srgb`); without one, each is scaled to 255 and
    rounded, then converted as an 8-bit image of ``source`` is
    (:func:`~mediumnet.data.colour.as_srgb`). Samples of another type (32-bit, float) are
    scaled from their largest; a TIFF's unsigned 32-bit samples, which Pillow keeps as signed
    ones (those past 2**31 negative: black), as unsigned.
    """
    from PIL import Image

    if values.dtype == np.int32 and _unsigned_32_bits(source):
        values = values.view(np.uint32)   # the same bits, read as the file means them
    sixteen = values.dtype.kind == "u" and values.dtype.itemsize == 2
    if sixteen and (converted := grey_as_srgb(values, source, name)) is not None:
        return converted
    top = 65535.0 if sixteen else max(float(values.max()), 1.0)
    grey = np.clip(values.astype(np.float32) / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return as_srgb(Image.fromarray(np.repeat(grey[..., None], 3, axis=2)), source, name)


def _unsigned_32_bits(source: PILImage.Image) -> bool:
    """Return whether ``source`` is a TIFF of one unsigned 32-bit sample a pixel."""
    tags = getattr(source, "tag_v2", None)
    return tags is not None and tuple(tags.get(258, ())) == (32,) and tags.get(339, 1) in (1, (1,))


@functools.lru_cache(maxsize=16)
def deep_conversion(profile_bytes: bytes | None) -> DeepConversion | None:
    """Return a matrix/TRC RGB profile's conversion as 16-bit tables; None for another profile.

    None too for a profile with lookup tables to the connection space (LittleCMS uses those
    before the matrix), or one that cannot be read. Cached: a collection's masters share a few
    profiles (about 40 ms each to build).
    """
    from PIL import Image, ImageCms

    if profile_bytes is None:
        return None
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(profile_bytes)).profile
        curves = [tag_body(profile_bytes, tag) for tag in (b"rTRC", b"gTRC", b"bTRC")]
        if not profile.is_matrix_shaper or any(intent[0] for intent in profile.clut.values()) \
                or None in curves:
            return None
        linear = ImageCms.ImageCmsProfile(io.BytesIO(grey_profile("linear", 1.0)))
        ramp = Image.frombytes("I;16", (256, 256), np.arange(65536, dtype="<u2").tobytes())
        tables = []
        for curve in curves:
            transform = ImageCms.buildTransform(
                ImageCms.ImageCmsProfile(io.BytesIO(grey_profile("channel", curve))), linear,
                "I;16", "I;16", renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
                flags=ImageCms.Flags.NOOPTIMIZE | ImageCms.Flags.NOCACHE)
            tables.append(np.asarray(ImageCms.applyTransform(ramp, transform)).ravel())
        srgb = ImageCms.createProfile("sRGB")
        matrix = np.linalg.solve(_colorants(srgb), _colorants(profile))
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError, np.linalg.LinAlgError):
        return None
    return DeepConversion(np.stack(tables).astype(np.float32) / 65535, matrix.astype(np.float32),
                          grey_level_table(linear)[:, 0].copy())


def _colorants(profile) -> np.ndarray:
    """Return a matrix/TRC profile's red, green and blue XYZ (D50-adapted) as columns."""
    return np.array([profile.red_colorant[0], profile.green_colorant[0],
                     profile.blue_colorant[0]], dtype=np.float64).T


def tag_body(profile_bytes: bytes, signature: bytes) -> bytes | None:
    """Return the body of an ICC profile's tag ``signature`` (``b"rTRC"``); None without it."""
    if len(profile_bytes) < 132:
        return None
    (count,) = struct.unpack_from(">I", profile_bytes, 128)
    for entry in range(min(count, (len(profile_bytes) - 132) // 12)):
        tag, offset, size = struct.unpack_from(">4sII", profile_bytes, 132 + 12 * entry)
        if tag == signature and offset + size <= len(profile_bytes):
            return profile_bytes[offset:offset + size]
    return None
