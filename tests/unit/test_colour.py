"""A master's embedded colour profile: every view a branch sees is the sRGB work it shows."""

import io
import logging

import numpy as np
import pytest
from PIL import Image, ImageCms

from mediumnet.data.colour import needs_srgb_conversion
from mediumnet.data.decode import decode
from mediumnet.data.views import composition_view, native_pixels, texture_tiles, thumbnail
from tests.iccprofiles import (
    ADOBE_RGB,
    CMYK_HALF_BLACK,
    GREY_GAMMA_18,
    GREY_LINEAR,
    PROPHOTO_RGB,
    convert,
    grey_ramp,
    jp2_with_profile,
    mean_gap,
    ramp_through_gamma,
    smooth_work,
    srgb_levels,
)

WORK = smooth_work(240, 320)


def encode(pixels, fmt, mode=None, **kw):
    buf = io.BytesIO()
    image = Image.fromarray(pixels, mode) if mode else Image.fromarray(pixels)
    image.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("profile", [ADOBE_RGB, PROPHOTO_RGB], ids=["adobe-rgb", "prophoto"])
@pytest.mark.parametrize("fmt,kw,tolerance", [("TIFF", {}, 1.0), ("PNG", {}, 1.0),
                                               ("WEBP", {"lossless": True}, 1.0),
                                               ("JPEG", {"quality": 95}, 2.0)])
def test_a_wide_gamut_master_is_read_as_the_srgb_work_it_shows(profile, fmt, kw, tolerance):
    master = encode(convert(WORK, profile), fmt, icc_profile=profile, **kw)
    read_as_srgb = np.asarray(Image.open(io.BytesIO(master)).convert("RGB"))
    assert mean_gap(read_as_srgb, WORK) > 5  # what a reader that ignores the profile sees

    assert mean_gap(native_pixels(master), WORK) < tolerance
    assert mean_gap(decode(master).pixels, WORK) < tolerance   # the served model's decode
    expected_view = composition_view(encode(WORK, "PNG"), 96)
    assert mean_gap(composition_view(master, 96), expected_view) < tolerance
    tiles = texture_tiles(master, 64, 4)   # a JPEG's bands come from the converted pixels too
    expected_tiles = texture_tiles(encode(WORK, "PNG"), 64, 4)
    assert mean_gap(tiles, expected_tiles) < tolerance
    red = native_pixels(master)[30, 40]
    assert abs(int(red[0]) - 230) <= 3 and red[1] < 30


def test_a_jpeg_2000_master_is_read_through_the_profile_in_its_colour_box(tmp_path):
    master = jp2_with_profile(encode(convert(WORK, PROPHOTO_RGB), "JPEG2000"), PROPHOTO_RGB)
    path = tmp_path / "master.jp2"
    path.write_bytes(master)
    assert "icc_profile" not in Image.open(path).info   # Pillow does not read it

    assert mean_gap(native_pixels(master), WORK) < 1.0
    assert mean_gap(native_pixels(path), WORK) < 1.0
    assert mean_gap(decode(Image.open(path)).pixels, WORK) < 1.0
    big = np.repeat(np.repeat(convert(WORK, PROPHOTO_RGB), 4, axis=0), 4, axis=1)
    (tmp_path / "big.jp2").write_bytes(jp2_with_profile(encode(big, "JPEG2000"), PROPHOTO_RGB))
    Image.fromarray(WORK).save(tmp_path / "work.png")   # a thumbnail from a wavelet level
    assert mean_gap(thumbnail(tmp_path / "big.jp2", 64), thumbnail(tmp_path / "work.png", 64)) < 4


@pytest.mark.parametrize("method", [1, 2], ids=["enumerated-srgb", "restricted-icc"])
def test_a_jpeg_2000_in_srgb_or_with_an_srgb_profile_is_read_as_it_is(method):
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    plain = encode(WORK, "JPEG2000")
    tagged = plain if method == 1 else jp2_with_profile(plain, srgb)

    assert np.array_equal(native_pixels(tagged), np.asarray(Image.open(io.BytesIO(plain))))


@pytest.mark.parametrize("fmt", ["JPEG2000", "TIFF"])
def test_a_profiled_master_and_its_srgb_access_copy_are_one_work_to_the_harvest(fmt):
    from mediumnet.data.images import phash_distance
    from mediumnet.harvest.verify import verify_image
    from mediumnet.settings import HarvestConfig

    master = encode(convert(WORK, PROPHOTO_RGB), fmt, icc_profile=PROPHOTO_RGB)
    if fmt == "JPEG2000":
        master = jp2_with_profile(master, PROPHOTO_RGB)
    access_copy = encode(WORK, "JPEG", quality=90)

    distance = phash_distance(verify_image(master).phash, verify_image(access_copy).phash)
    assert distance <= HarvestConfig().phash_distance   # merged as near-duplicates


def test_a_jpeg_2000_header_out_of_shape_gives_no_profile_and_no_error():
    from mediumnet.data.jpeg2000 import JP2_SIGNATURE, jp2_icc_profile

    good = jp2_with_profile(encode(WORK[:8, :8].copy(), "JPEG2000"), ADOBE_RGB)
    assert jp2_icc_profile(io.BytesIO(good)) == ADOBE_RGB
    header_at = good.index(b"jp2h") - 4
    for broken in (good[:header_at + 20],                              # cut inside the header
                   good[:header_at] + b"\x00\x00\x00\x01jp2h\x00",      # a long length cut short
                   good[:header_at] + b"\x00\x00\x00\x04jp2h",          # a length under its own
                   good[:header_at + 8] + b"\x00\x00\x00\x09colr\x02",  # a colour box cut short
                   JP2_SIGNATURE + bytes(7), b"\xff\x4f\xff\x51"):       # a raw codestream
        assert jp2_icc_profile(io.BytesIO(broken)) is None, broken[-24:]


def test_a_master_in_a_pil_image_and_a_gallery_thumbnail_are_converted_too(tmp_path):
    path = tmp_path / "master.tif"
    Image.fromarray(convert(WORK, ADOBE_RGB)).save(path, icc_profile=ADOBE_RGB)

    assert mean_gap(decode(Image.open(path)).pixels, WORK) < 0.5
    expected = thumbnail(tmp_path / "master.tif", 64)
    Image.fromarray(WORK).save(tmp_path / "work.png")
    assert mean_gap(expected, thumbnail(tmp_path / "work.png", 64)) < 0.5


def test_an_upright_turned_master_is_converted_and_turned(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6   # stored on its side: turn 90 degrees clockwise to view
    master = encode(np.ascontiguousarray(np.rot90(convert(WORK, ADOBE_RGB), 1)), "JPEG",
                    quality=95, icc_profile=ADOBE_RGB, exif=exif)

    assert mean_gap(native_pixels(master), WORK) < 1.5


def test_an_srgb_tagged_jpeg_gives_the_untagged_pixels_by_the_fast_decoders():
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    tagged = encode(WORK, "JPEG", quality=90, icc_profile=srgb)
    untagged = encode(WORK, "JPEG", quality=90)

    assert not needs_srgb_conversion(Image.open(io.BytesIO(tagged)))
    assert np.array_equal(native_pixels(tagged), native_pixels(untagged))
    assert np.array_equal(texture_tiles(tagged, 64, 4), texture_tiles(untagged, 64, 4))
    assert needs_srgb_conversion(Image.open(io.BytesIO(
        encode(WORK, "JPEG", icc_profile=ADOBE_RGB))))


@pytest.mark.parametrize("fmt,bits", [("PNG", 8), ("PNG", 16), ("TIFF", 16)])
def test_a_grey_scan_is_read_through_its_grey_profile(fmt, bits):
    scan = encode(grey_ramp(bits), fmt, icc_profile=GREY_GAMMA_18)
    assert Image.open(io.BytesIO(scan)).mode == ("L" if bits == 8 else "I;16")

    pixels = native_pixels(scan)
    assert np.abs(pixels[4, :, 1].astype(float) - ramp_through_gamma(1.8)).max() <= 2
    assert (pixels[..., 0] == pixels[..., 2]).all()
    assert pixels[4, 128, 0] > 128 + 15   # read as sRGB, mid grey would stay 128


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_a_linear_grey_scan_keeps_its_deepest_shadows(fmt):
    # LittleCMS's optimised 8-bit grey transform read level 2 of such a scan as 12, not 22
    pixels = native_pixels(encode(grey_ramp(8), fmt, icc_profile=GREY_LINEAR))

    assert np.abs(pixels[4, :, 1].astype(float) - ramp_through_gamma(1.0)).max() <= 1
    assert (pixels[..., 0] == pixels[..., 2]).all()


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_a_16_bit_linear_scan_keeps_the_shadow_steps_8_bits_lose(fmt):
    linear = np.linspace(0, 0.02, 256)   # the darkest 2 % of the light: six 8-bit levels
    scan = encode((linear * 65535).round().astype(np.uint16)[None].repeat(8, 0), fmt,
                  icc_profile=GREY_LINEAR)
    assert Image.open(io.BytesIO(scan)).mode == "I;16"

    shadows = native_pixels(scan)[4, :, 0]
    assert np.abs(shadows - srgb_levels(linear)).max() <= 1
    assert len(np.unique(shadows)) >= 30   # sRGB spends 37 levels on them
    srgb_twin = encode(srgb_levels(linear).round().astype(np.uint8)[None].repeat(8, 0), fmt)
    assert mean_gap(composition_view(scan, 64), composition_view(srgb_twin, 64)) < 0.5


@pytest.mark.parametrize("fmt", ["TIFF", "JPEG"])
def test_a_cmyk_scan_is_read_through_its_profile(fmt):
    inks = np.zeros((16, 16, 4), np.uint8)
    inks[:8, :, 3] = 255          # full black: this profile prints it mid grey
    inks[8:, :, 1:3] = 255        # magenta and yellow: red
    scan = encode(inks, fmt, mode="CMYK", icc_profile=CMYK_HALF_BLACK,
                  **({"quality": 100} if fmt == "JPEG" else {}))

    pixels = native_pixels(scan)
    assert np.abs(pixels[4, 4].astype(int) - 128).max() <= 3   # ignoring the profile: black
    assert pixels[12, 4, 0] > 240 and pixels[12, 4, 1:].max() < 15


def test_a_cmyk_scan_lies_close_to_its_profiles_exact_colours():
    inks = (np.random.default_rng(3).random((120, 160, 4)) * 256).astype(np.uint8)
    exact = ImageCms.buildTransform(
        ImageCms.ImageCmsProfile(io.BytesIO(CMYK_HALF_BLACK)), ImageCms.createProfile("sRGB"),
        "CMYK", "RGB", flags=ImageCms.Flags.NOOPTIMIZE)   # every pixel through the profile
    expected = np.asarray(ImageCms.applyTransform(Image.fromarray(inks, "CMYK"), exact))

    read = native_pixels(encode(inks, "TIFF", "CMYK", icc_profile=CMYK_HALF_BLACK))
    assert mean_gap(read, expected) < 0.06   # LittleCMS's default table of 17 points: 0.12


def test_a_profile_that_cannot_be_used_is_named_once_and_the_pixels_taken_as_srgb(caplog):
    broken = b"not a colour profile" * 8
    first = encode(WORK, "PNG", icc_profile=broken)
    second = encode(WORK[::-1].copy(), "PNG", icc_profile=broken)
    grey_with_rgb_profile = encode(WORK[..., 0].copy(), "PNG", icc_profile=ADOBE_RGB)

    with caplog.at_level(logging.WARNING, logger="mediumnet"):
        assert np.array_equal(native_pixels(first), WORK)
        assert np.array_equal(native_pixels(second), WORK[::-1])
        grey = native_pixels(grey_with_rgb_profile)
    assert np.array_equal(grey[..., 1], WORK[..., 0])
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert "its colour profile cannot be read" in messages[0]
    assert messages[0].startswith(f"<{len(first)} bytes>")
    assert "is for RGB pixels, not L" in messages[1] and "Adobe RGB" in messages[1]
    assert all("pixels read as sRGB" in m for m in messages)


def camera_exif(colour_space, interop=None, orientation=None):
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    exif.get_ifd(0x8769)[0xA001] = colour_space
    if interop:
        exif.get_ifd(0x8769)[0xA005] = {1: interop}
    return exif


def test_a_cameras_adobe_rgb_jpeg_named_only_in_exif_is_read_as_adobe_rgb():
    adobe = convert(WORK, ADOBE_RGB)
    camera = encode(adobe, "JPEG", quality=95, exif=camera_exif(0xFFFF, "R03"))
    turned = encode(np.ascontiguousarray(np.rot90(adobe, 1)), "JPEG", quality=95,
                    exif=camera_exif(0xFFFF, "R03", orientation=6))

    assert "icc_profile" not in Image.open(io.BytesIO(camera)).info
    assert mean_gap(native_pixels(camera), WORK) < 2.0
    assert mean_gap(native_pixels(turned), WORK) < 2.0
    assert mean_gap(composition_view(camera, 96), composition_view(encode(WORK, "PNG"), 96)) < 2
    assert mean_gap(texture_tiles(camera, 64, 4), texture_tiles(encode(WORK, "PNG"), 64, 4)) < 2


@pytest.mark.parametrize("colour_space,interop", [(1, "R98"), (0xFFFF, None), (0xFFFF, "THM")],
                         ids=["srgb", "uncalibrated", "thumbnail-index"])
def test_exif_that_does_not_name_adobe_rgb_leaves_the_pixels_as_they_are(colour_space, interop):
    plain = encode(WORK, "JPEG", quality=95)
    tagged = encode(WORK, "JPEG", quality=95, exif=camera_exif(colour_space, interop))

    assert np.array_equal(native_pixels(tagged), native_pixels(plain))


def test_a_pillow_without_littlecms_reads_the_pixels_as_srgb_and_says_why(monkeypatch, caplog):
    import sys

    import PIL

    from mediumnet.data import colour

    prophoto = convert(WORK, PROPHOTO_RGB)
    master = encode(prophoto, "PNG", icc_profile=PROPHOTO_RGB)
    monkeypatch.setitem(sys.modules, "PIL.ImageCms", None)
    monkeypatch.delattr(PIL, "ImageCms")
    colour.profile_conversion.cache_clear()
    monkeypatch.setattr(colour, "_WARNED", set())
    try:
        with caplog.at_level(logging.WARNING, logger="mediumnet"):
            pixels = native_pixels(master)
    finally:
        colour.profile_conversion.cache_clear()
    assert np.array_equal(pixels, prophoto)
    assert any("has no LittleCMS" in r.getMessage() and "pip install --force-reinstall pillow"
               in r.getMessage() for r in caplog.records)
