"""A PNG that names its colours by chunks (cICP, gAMA, cHRM): read as the sRGB work it shows."""

import io
import logging
import struct

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from mediumnet.data.decode import decode
from mediumnet.data.png import png_cicp
from mediumnet.data.views import composition_view, native_pixels, texture_tiles
from tests.iccprofiles import (
    ADOBE_RGB,
    DISPLAY_P3,
    PROPHOTO_RGB,
    convert,
    grey_ramp,
    mean_gap,
    ramp_through_gamma,
    smooth_work,
    srgb_levels,
)

WORK = smooth_work(160, 240)
SRGB_CHRM = (31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000)
ADOBE_CHRM = (31270, 32900, 64000, 33000, 21000, 71000, 15000, 6000)   # Adobe RGB (1998)


def gama(file_gamma: float) -> tuple[bytes, bytes]:
    return b"gAMA", struct.pack(">I", round(file_gamma * 100000))


def chrm(values) -> tuple[bytes, bytes]:
    return b"cHRM", struct.pack(">8I", *values)


def cicp(primaries: int, transfer: int, matrix: int = 0) -> tuple[bytes, bytes]:
    return b"cICP", bytes([primaries, transfer, matrix, 1])


def png(pixels, *chunks, **kw) -> bytes:
    info = PngImagePlugin.PngInfo()
    for kind, data in chunks:
        info.add(kind, data)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG", pnginfo=info, **kw)
    return buf.getvalue()


def srgb_to_linear(pixels: np.ndarray) -> np.ndarray:
    v = pixels / 255.0
    linear = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    return (linear * 255).round().astype(np.uint8)


def test_a_linear_png_is_read_as_the_srgb_work_it_shows():
    linear = png(srgb_to_linear(WORK), gama(1.0))
    assert Image.open(io.BytesIO(linear)).info["gamma"] == 1.0
    as_srgb = np.asarray(Image.open(io.BytesIO(linear)).convert("RGB"))
    assert mean_gap(as_srgb, WORK) > 20   # what a reader that ignores gAMA sees: dark, hard

    assert mean_gap(native_pixels(linear), WORK) < 2.5   # 8-bit linear: coarse shadows
    assert mean_gap(decode(linear).pixels, WORK) < 2.5   # the served model's decode
    assert mean_gap(composition_view(linear, 96), composition_view(png(WORK), 96)) < 2.5
    assert mean_gap(texture_tiles(linear, 64, 4), texture_tiles(png(WORK), 64, 4)) < 2.5
    mid_grey = png(np.full((4, 4, 3), 128, np.uint8), gama(1.0))
    assert abs(int(native_pixels(mid_grey)[0, 0, 0]) - 188) <= 1   # linear 0.5 is sRGB 188


def test_a_16_bit_linear_grey_png_keeps_its_shadow_steps():
    linear = np.linspace(0, 0.02, 256)   # the darkest 2 % of the light: six 8-bit levels
    scan = png((linear * 65535).round().astype(np.uint16)[None].repeat(8, 0), gama(1.0))
    assert Image.open(io.BytesIO(scan)).mode == "I;16"

    shadows = native_pixels(scan)[4, :, 0]
    assert np.abs(shadows - srgb_levels(linear)).max() <= 1
    assert np.abs(decode(scan).pixels[4, :, 0] - srgb_levels(linear)).max() <= 1


@pytest.mark.parametrize("chunks,srgb_profile,differs", [
    ((gama(1 / 2.2),), False, (gama(1 / 1.8),)),
    ((gama(1 / 2.2), chrm(SRGB_CHRM)), False, (gama(1 / 2.2), chrm(ADOBE_CHRM))),
    ((chrm(SRGB_CHRM),), False, (chrm(ADOBE_CHRM),)),
    (((b"sRGB", b"\x00"), gama(1.0)), False, (gama(1.0),)),   # an sRGB chunk comes first
    ((gama(1.0), chrm(ADOBE_CHRM)), True, (gama(1.0), chrm(ADOBE_CHRM))),   # so does a profile
], ids=["gama-2.2", "gama-and-srgb-chrm", "srgb-chrm", "srgb-chunk-first", "icc-profile-first"])
def test_a_png_whose_chunks_mean_srgb_is_read_as_it_is(chunks, srgb_profile, differs):
    from PIL import ImageCms

    kw = {"icc_profile": ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
          } if srgb_profile else {}
    assert np.array_equal(native_pixels(png(WORK, *chunks, **kw)), WORK)
    # the same file naming another gamma or other primaries, or without what came first
    assert mean_gap(native_pixels(png(WORK, *differs)), WORK) > 2


def test_adobe_rgb_named_by_gama_and_chrm_is_read_as_its_icc_profile_reads():
    adobe = convert(WORK, ADOBE_RGB)
    by_chunks = png(adobe, gama(256 / 563), chrm(ADOBE_CHRM))
    by_profile = png(adobe, icc_profile=ADOBE_RGB)
    assert mean_gap(np.asarray(Image.open(io.BytesIO(by_chunks)).convert("RGB")), WORK) > 2

    pixels = native_pixels(by_chunks)
    assert np.abs(pixels.astype(int) - native_pixels(by_profile)).max() <= 1
    assert mean_gap(pixels, WORK) < 1.0
    red = pixels[10, 10]
    assert abs(int(red[0]) - 230) <= 2 and red[1] < 30


@pytest.mark.parametrize("bits", [8, 16])
def test_a_grey_png_is_read_through_its_gamma(bits):
    scan = png(grey_ramp(bits), gama(1 / 1.8),
               chrm(ADOBE_CHRM))   # a grey image's cHRM changes nothing
    assert Image.open(io.BytesIO(scan)).mode == ("L" if bits == 8 else "I;16")

    pixels = native_pixels(scan)
    assert np.abs(pixels[4, :, 1].astype(float) - ramp_through_gamma(1.8)).max() <= 2
    assert pixels[4, 128, 0] > 128 + 15   # read as sRGB, mid grey would stay 128


def test_a_cicp_chunk_names_the_space_before_an_embedded_profile():
    p3 = convert(WORK, DISPLAY_P3)
    by_codes = png(p3, cicp(12, 13))
    assert mean_gap(np.asarray(Image.open(io.BytesIO(by_codes))), WORK) > 1.5
    assert mean_gap(native_pixels(by_codes), WORK) < 1.0
    # cICP comes first in PNG's order: a profile beside it is not the one the pixels are in.
    assert mean_gap(native_pixels(png(p3, cicp(12, 13), icc_profile=PROPHOTO_RGB)), WORK) < 1.0
    assert np.array_equal(native_pixels(png(WORK, cicp(1, 13), icc_profile=ADOBE_RGB)), WORK)
    assert png_cicp(io.BytesIO(by_codes)) == (12, 13)


def test_png_chunks_that_name_no_colour_space_are_named_once_and_left_out(caplog, monkeypatch):
    from mediumnet.data import colour

    monkeypatch.setattr(colour, "_WARNED", set())   # whatever other tests warned about
    no_gamma = png(WORK, gama(0))
    flat_primaries = png(np.full((4, 4, 3), 128, np.uint8), gama(1.0),
                         chrm((31270, 32900, 20000, 20000, 30000, 30000, 40000, 40000)))
    hdr = png(WORK, cicp(9, 18))
    with caplog.at_level(logging.WARNING, logger="mediumnet"):
        assert np.array_equal(native_pixels(no_gamma), WORK)
        assert np.array_equal(native_pixels(no_gamma), WORK)   # named once
        assert abs(int(native_pixels(flat_primaries)[0, 0, 0]) - 188) <= 1   # gAMA still read
        assert np.array_equal(native_pixels(hdr), WORK)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3, messages
    assert messages[0] == (f"<{len(no_gamma)} bytes>: its gAMA chunk (0) is outside 0.01 to 10, "
                           "so it is left out (so it is in any other image with this chunk)")
    assert "cHRM's primaries lie on one line" in messages[1]
    assert messages[2].startswith(f"<{len(hdr)} bytes>: ") and "transfer 18 (HDR" in messages[2]


def test_a_png_header_out_of_shape_gives_no_colour_codes():
    good = png(WORK[:4, :4].copy(), cicp(12, 13))
    at = good.index(b"cICP") - 4
    for broken in (good[:at + 10],                                   # cut inside the chunk
                   good[:at] + struct.pack(">I", 5) + good[at + 4:],   # a length not of cICP
                   png(WORK[:4, :4].copy(), cicp(12, 13, matrix=1)),   # a matrix for RGB pixels
                   png(WORK[:4, :4].copy()), b"GIF89a" + bytes(20)):
        assert png_cicp(io.BytesIO(broken)) is None, broken[-16:]


def test_a_linear_png_master_and_its_srgb_access_copy_are_one_work_to_the_harvest():
    from mediumnet.data.images import phash_distance
    from mediumnet.harvest.verify import verify_image
    from mediumnet.settings import HarvestConfig

    master = png(srgb_to_linear(WORK), gama(1.0))
    access_copy = png(WORK)
    distance = phash_distance(verify_image(master).phash, verify_image(access_copy).phash)
    assert distance <= HarvestConfig().phash_distance
