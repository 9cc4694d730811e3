"""A 16-bit RGB master (48-bit PNG or TIFF): read from all its 16 bits, as the sRGB it shows."""

import io
import struct
import zlib

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageOps, PngImagePlugin

from mediumnet.data import deep
from mediumnet.data.decode import decode
from mediumnet.data.orientation import orient
from mediumnet.data.png import chunk_profile
from mediumnet.data.views import ImageError, composition_view, native_pixels, thumbnail
from tests.iccprofiles import (
    ADOBE_RGB,
    RGB_TABLE_SWAPPED,
    adobe_rgb_16,
    mean_gap,
    rounded,
    smooth_work,
    srgb_levels,
)

RNG = np.random.default_rng(7)
NOISE = (RNG.random((48, 64, 3)) * 65536).astype(np.uint16)
"""16-bit samples of every value: Pillow's high byte is a level off the rounded one in 1 of 4."""
LINEAR = chunk_profile(1.0, None, grey=False)
"""The profile a linear PNG (gAMA 1.0) means: sRGB's primaries, a linear curve."""


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png16(pixels: np.ndarray, *chunks: tuple[bytes, bytes]) -> bytes:
    """A 48- or 64-bit PNG (OpenCV writes them; Pillow cannot) with chunks after its header."""
    order = [2, 1, 0, 3][:pixels.shape[2]]
    data = cv2.imencode(".png", np.ascontiguousarray(pixels[..., order]))[1].tobytes()
    return data[:33] + b"".join(chunk(*c) for c in chunks) + data[33:]   # 8 + 25 (IHDR)


def iccp(profile: bytes) -> tuple[bytes, bytes]:
    return b"iCCP", b"master\0\0" + zlib.compress(profile)


def tiff16(pixels: np.ndarray, profile: bytes | None = None, orientation: int | None = None
           ) -> bytes:
    """A 48- or 64-bit TIFF, as a scanner writes a master (tifffile: Pillow cannot)."""
    tags = [(34675, "B", len(profile), profile, True)] if profile else []
    tags += [(274, "H", 1, orientation, True)] if orientation else []
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, pixels, photometric="rgb", extratags=tags, compression="zlib",
                     extrasamples=[2] if pixels.shape[2] == 4 else None)
    return buffer.getvalue()


def master(fmt: str, pixels: np.ndarray, profile: bytes | None = None) -> bytes:
    if fmt == "PNG":
        return png16(pixels, *([iccp(profile)] if profile else []))
    return tiff16(pixels, profile)


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_a_48_bit_master_is_rounded_to_8_bits_not_cut(fmt):
    data = master(fmt, NOISE)
    assert Image.open(io.BytesIO(data)).mode == "RGB"

    assert (native_pixels(data) == rounded(NOISE)).all()   # Pillow alone: 1 in 4 a level off
    twin = io.BytesIO()
    Image.fromarray(rounded(NOISE)).save(twin, "PNG")
    assert (composition_view(data, 32) == composition_view(twin.getvalue(), 32)).all()


@pytest.mark.parametrize("writer", ["opencv-lzw", "tiled", "big-endian", "deflate-predictor"])
def test_a_48_bit_tiff_is_read_at_16_bits_as_scanners_lay_it_out(writer):
    if writer == "opencv-lzw":
        data = cv2.imencode(".tiff", NOISE[..., ::-1])[1].tobytes()   # LZW, OpenCV's default
    else:
        options = {"tiled": {"tile": (16, 16)}, "big-endian": {"byteorder": ">"},
                   "deflate-predictor": {"compression": "zlib", "predictor": True}}[writer]
        buffer = io.BytesIO()
        tifffile.imwrite(buffer, NOISE, photometric="rgb", **options)
        data = buffer.getvalue()

    assert (native_pixels(data) == rounded(NOISE)).all()


@pytest.mark.parametrize("compression", ["lzma", "zstd"])
def test_a_48_bit_tiff_in_a_compression_opencv_lacks_is_read_upright_and_quietly(
        compression, capfd):
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, NOISE, photometric="rgb", compression=compression,
                     extratags=[(274, "H", 1, 6, True)])   # turned a quarter
    data = buffer.getvalue()
    shown = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    assert (shown == orient(NOISE >> 8, 6)).all()   # Pillow's: the high bytes

    assert (native_pixels(data) == orient(rounded(NOISE), 6)).all()
    assert "TIFF" not in capfd.readouterr().err   # OpenCV never tried (it would say so)


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_a_64_bit_master_with_alpha_is_composited_on_white_at_16_bits(fmt):
    alpha = np.linspace(0, 65535, NOISE.shape[1]).round().astype(np.uint16)
    pixels = np.dstack([NOISE, np.broadcast_to(alpha, NOISE.shape[:2])])
    a = alpha[None, :, None] / 65535
    expected = (NOISE * a + 65535 * (1 - a)) * 255 / 65535

    read = native_pixels(master(fmt, pixels))
    assert np.abs(read - expected).max() <= 0.5 + 1e-6   # rounded once
    assert (read[:, 0] == 255).all()   # fully transparent: white


def grey_alpha_png(grey: np.ndarray, alpha: np.ndarray, *chunks: tuple[bytes, bytes]) -> bytes:
    """A PNG of 16-bit grey with alpha (colour type 4), with chunks before its image data."""
    rows = np.stack([grey, alpha], -1).astype(">u2")
    data = zlib.compress(b"".join(b"\0" + row.tobytes() for row in rows))
    header = struct.pack(">IIBBBBB", grey.shape[1], grey.shape[0], 16, 4, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + b"".join(chunk(*c) for c in chunks)
            + chunk(b"IDAT", data) + chunk(b"IEND", b""))


def test_a_16_bit_grey_png_with_alpha_is_composited_on_white_at_16_bits():
    grey, alpha = NOISE[..., 0], NOISE[..., 1]
    scan = grey_alpha_png(grey, alpha)
    assert Image.open(io.BytesIO(scan)).mode == "RGBA"   # Pillow: its high bytes

    a = alpha / 65535
    expected = (grey * a + 65535 * (1 - a)) * 255 / 65535
    read = native_pixels(scan)
    assert np.abs(read - expected[..., None]).max() <= 0.5 + 1e-6


def test_a_16_bit_grey_png_with_alpha_takes_its_grey_profile_before_8_bits(caplog):
    from mediumnet.data.icc import grey_profile

    grey = np.linspace(0, 65535, 48 * 64).reshape(48, 64).astype(np.uint16)   # linear light
    alpha = np.full(grey.shape, 65535, np.uint16)
    alpha[:, :8] = 0
    scan = grey_alpha_png(grey, alpha, iccp(grey_profile("linear", 1.0)))

    light = grey / 65535.0
    srgb = np.where(light <= 0.0031308, 12.92 * light, 1.055 * light ** (1 / 2.4) - 0.055)
    read = native_pixels(scan)
    assert np.abs(read[:, 8:].astype(int) - np.round(srgb * 255)[:, 8:, None]).max() <= 1
    assert (read[:, :8] == 255).all()   # transparent: the white beneath
    assert len(np.unique(read[:2, 8:])) > 40   # the deep shadows' steps, kept
    assert "profile" not in caplog.text   # not refused as a grey profile over RGB pixels


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_a_48_bit_linear_master_keeps_the_shadow_steps_8_bits_lose(fmt):
    linear = np.linspace(0, 0.02, 256)   # the darkest 2 % of the light: six 8-bit levels
    pixels = np.repeat((linear * 65535).round().astype(np.uint16)[None, :, None], 3, 2)
    pixels = np.repeat(pixels, 8, 0)
    data = png16(pixels, (b"gAMA", struct.pack(">I", 100000))) if fmt == "PNG" \
        else tiff16(pixels, LINEAR)

    shadows = native_pixels(data)[4]
    assert np.abs(shadows - srgb_levels(linear)[:, None]).max() <= 1
    assert len(np.unique(shadows[:, 1])) >= 30   # sRGB spends 37 levels on them
    assert (shadows[:, 0] == shadows[:, 2]).all()


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_a_48_bit_adobe_rgb_master_is_read_as_the_srgb_work_it_shows(fmt, tmp_path):
    work = smooth_work(120, 160)
    data = master(fmt, adobe_rgb_16(work), ADOBE_RGB)
    as_stored = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    assert mean_gap(as_stored, work) > 5   # a reader that ignores the profile

    assert mean_gap(native_pixels(data), work) < 0.1   # at 8 bits first: 0.4
    assert np.abs(native_pixels(data).astype(int) - work).max() <= 1
    assert mean_gap(decode(data).pixels, work) < 0.1   # the served model's decode
    path = tmp_path / f"master.{fmt.lower()}"
    path.write_bytes(data)
    assert mean_gap(native_pixels(path), work) < 0.1
    assert mean_gap(decode(Image.open(path)).pixels, work) < 0.1   # a PIL image
    assert mean_gap(thumbnail(path, 160), work) < 0.1


def test_a_large_master_is_converted_in_parts_as_it_is_whole(monkeypatch):
    data = tiff16(adobe_rgb_16(smooth_work(120, 160)), ADOBE_RGB)
    whole = native_pixels(data)
    monkeypatch.setattr(deep, "CHUNK_PIXELS", 1000)
    assert (native_pixels(data) == whole).all()


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_a_turned_48_bit_master_is_read_upright(fmt, orientation):
    if fmt == "TIFF":
        data = tiff16(NOISE, orientation=orientation)
    else:
        exif = Image.Exif()
        exif[0x0112] = orientation
        data = png16(NOISE, (b"eXIf", exif.tobytes().removeprefix(b"Exif\0\0")))

    eight_bits = Image.open(io.BytesIO(data))   # Pillow's 8 bits: the same shape, as shown
    shown = np.asarray(ImageOps.exif_transpose(eight_bits).convert("RGB"))
    read = native_pixels(data)
    assert read.shape == shown.shape
    assert (read == orient(rounded(NOISE), orientation)).all()
    assert np.abs(read.astype(int) - shown).max() <= 1


@pytest.mark.parametrize("where", ["after the image data", "XMP"])
def test_a_48_bit_png_is_turned_as_its_8_bit_reading_turns_it(where):
    if where == "XMP":
        xmp = b'<x:xmpmeta><rdf:Description tiff:Orientation="6"/></x:xmpmeta>'
        data = png16(NOISE, (b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0" + xmp))
    else:
        exif = Image.Exif()
        exif[0x0112] = 6
        plain = png16(NOISE)   # the chunk before IEND, as some writers put it
        data = plain[:-12] + chunk(b"eXIf", exif.tobytes().removeprefix(b"Exif\0\0")) \
            + plain[-12:]

    shown = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    assert shown.shape == (64, 48, 3)
    assert (native_pixels(data) == orient(rounded(NOISE), 6)).all()


def test_a_48_bit_png_is_not_decoded_a_second_time_at_8_bits(monkeypatch):
    decodes = []
    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load",
                        lambda self: decodes.append(self) or Image.Image.load(self))
    assert (native_pixels(png16(NOISE)) == rounded(NOISE)).all()
    assert not decodes   # the EXIF a camera's Adobe RGB is named in, read without one


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_a_48_bit_master_in_a_profile_of_tables_reads_as_its_8_bit_twin(fmt):
    work = smooth_work(60, 80)
    assert deep.deep_conversion(RGB_TABLE_SWAPPED) is None   # no matrix and curves

    read = native_pixels(master(fmt, work.astype(np.uint16) * 257, RGB_TABLE_SWAPPED))
    twin = io.BytesIO()
    Image.fromarray(work).save(twin, fmt, icc_profile=RGB_TABLE_SWAPPED)
    assert (read == native_pixels(twin.getvalue())).all()
    assert mean_gap(read, work[..., [1, 0, 2]]) < 3   # the table applied: red and green swap


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_a_cut_48_bit_master_is_refused_by_name_and_quietly(fmt, tmp_path, capfd):
    path = tmp_path / f"cut.{fmt.lower()}"
    data = master(fmt, NOISE)
    path.write_bytes(data[:len(data) * 2 // 3])

    with pytest.raises(ImageError, match=f"cut.{fmt.lower()}: truncated or corrupt"):
        native_pixels(path)
    err = capfd.readouterr().err
    assert "libpng" not in err and err.count("TIFF") <= 1   # only Pillow's libtiff says so


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning")   # Pillow, reading on
def test_a_48_bit_tiff_in_zstandard_with_a_broken_directory_is_refused_by_name():
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, NOISE, photometric="rgb", compression="zstd")
    data = bytearray(buffer.getvalue())
    data[9] = 7   # 1807 tags in the directory: Pillow reads on, imagecodecs' libtiff cannot
    assert Image.open(io.BytesIO(bytes(data))).info["compression"] == "zstd"

    with pytest.raises(ImageError, match="<.* bytes>: "):
        native_pixels(bytes(data))


def test_an_unsigned_32_bit_grey_tiff_is_read_unsigned():
    samples = np.linspace(0, 2**32 - 1, 8 * 64).reshape(8, 64).astype(np.uint32)
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, samples)   # a scientific camera's whole range
    assert np.asarray(Image.open(io.BytesIO(buffer.getvalue())))[-1, -1] < 0   # Pillow's

    read = native_pixels(buffer.getvalue())[..., 0]
    assert (np.diff(read.astype(int).ravel()) >= 0).all()   # darkest to lightest, no wrap
    assert read[0, 0] == 0 and read[-1, -1] == 255
