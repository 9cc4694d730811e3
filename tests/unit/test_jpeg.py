"""A JPEG damaged in its data: read quietly as libjpeg fills it in, refused by a harvest."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from mediumnet.config import HarvestConfig
from mediumnet.data.images import phash
from mediumnet.data.jpeg import jpeg_pixels, libjpeg_complaint, lost_pixels, quiet_jpeg_pixels
from mediumnet.data.views import (
    ImageError,
    composition_view,
    letterbox_pixels,
    native_pixels,
    open_image,
    open_reduced,
    texture_tiles,
    tiles_from_pixels,
    to_rgb,
)
from mediumnet.harvest.engine import harvest
from mediumnet.harvest.folder import FolderSource
from mediumnet.harvest.verify import BadImageError, verify_image
from tests.iccprofiles import ADOBE_RGB, CMYK_HALF_BLACK

SMOOTH = np.clip(np.add.outer(np.arange(240), np.arange(320))[..., None] * [0.4, 0.3, 0.2]
                 + np.random.default_rng(0).normal(0, 12, (240, 320, 3)), 0, 255).astype(np.uint8)
"""Gradients under noise: entropy data long enough to damage in its middle."""


def jpeg(pixels: np.ndarray | Image.Image = SMOOTH, **options) -> bytes:
    """Encode ``pixels`` (RGB or grey, or an image of any mode) as a JPEG of quality 90.

    With ``save_all`` and ``append_images``, a multi-picture JPEG (MPO) of them all.
    """
    out = io.BytesIO()
    image = pixels if isinstance(pixels, Image.Image) else Image.fromarray(pixels)
    image.save(out, "MPO" if options.get("save_all") else "JPEG", quality=90, **options)
    return out.getvalue()


def damaged(data: bytes) -> bytes:
    """``data`` with 200 bytes lost a third into its entropy-coded data, as a bad transfer loses."""
    start = data.index(b"\xff\xda") + (len(data) - data.index(b"\xff\xda")) // 3
    return data[:start] + data[start + 200:]


def pillows(data: bytes) -> np.ndarray:
    """What Pillow reads from ``data``, upright RGB."""
    return np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))


@pytest.mark.parametrize("data", [jpeg(), jpeg(SMOOTH[..., 0]), jpeg(progressive=True),
                                  jpeg(subsampling=0)], ids=["rgb", "grey", "progressive",
                                                             "4:4:4"])
def test_a_jpeg_reads_as_pillow_reads_it(data):
    assert np.array_equal(native_pixels(data), pillows(data))


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_a_turned_jpegs_pixels_and_tiles_are_upright(orientation):
    exif = Image.Image().getexif()
    exif[0x0112] = orientation
    data = jpeg(exif=exif)
    pixels = native_pixels(data)
    assert np.array_equal(pixels, pillows(data)) and pixels.flags.c_contiguous
    tiles = texture_tiles(data, 96, 3, mode="random", rng=np.random.default_rng(0))
    assert tiles.shape == (3, 96, 96, 3) and tiles.flags.c_contiguous


def test_damaged_data_is_read_as_libjpeg_fills_it_in_and_said_in_one_line(capfd, caplog,
                                                                          tmp_path):
    broken = tmp_path / "hit.jpg"
    broken.write_bytes(damaged(jpeg()))
    with caplog.at_level("WARNING", logger="mediumnet"):
        pixels = native_pixels(broken)
    assert np.array_equal(pixels, pillows(broken.read_bytes()))   # blocks filled in, as Pillow
    assert not np.array_equal(pixels, pillows(jpeg()))
    assert [r.getMessage() for r in caplog.records] == [
        f"{broken}: damaged JPEG data, blocks lost (libjpeg: Corrupt JPEG data: premature end of "
        "data segment); read as libjpeg fills them in"]
    assert capfd.readouterr().err == ""   # OpenCV printed "Corrupt JPEG data: ..." alone before


def test_what_libjpeg_turbo_cannot_decode_is_left_to_pillow():
    assert jpeg_pixels(b"\xff\xd8\xff\xe0 not a JPEG") is None


def test_libjpeg_says_which_damage_loses_pixels():
    whole = jpeg()
    assert libjpeg_complaint(whole) is None
    for broken in (damaged(whole), damaged(jpeg(Image.fromarray(SMOOTH).convert("CMYK"))),
                   whole[:-2] + bytes(range(1, 41)) + whole[-2:]):   # left when blocks are done
        said = libjpeg_complaint(broken)
        assert said.startswith("Corrupt JPEG data: ") and lost_pixels(broken, said), said
    assert not lost_pixels(whole, "Corrupt JPEG data: bad ICC marker")   # pixels as encoded


def test_stray_bytes_among_the_headers_cost_no_pixel_and_are_kept(caplog):
    whole = jpeg()
    scan = whole.index(b"\xff\xda")
    stray = whole[:scan] + bytes(range(1, 90)) + whole[scan:]
    said = libjpeg_complaint(stray)
    assert said == "Corrupt JPEG data: 89 extraneous bytes before marker 0xda"
    assert not lost_pixels(stray, said)
    assert verify_image(stray).ext == ".jpg"   # no block lost: kept
    with caplog.at_level("WARNING", logger="mediumnet"):
        assert np.array_equal(native_pixels(stray), pillows(whole))   # no ValueError escapes
    assert caplog.records == []


def test_damage_past_stray_bytes_among_the_headers_is_seen_and_named(caplog):
    hit = damaged(jpeg())
    scan = hit.index(b"\xff\xda")
    stray = hit[:scan] + bytes(range(1, 90)) + hit[scan:]   # libjpeg names these first
    said = libjpeg_complaint(stray)
    assert said == "Corrupt JPEG data: premature end of data segment" and lost_pixels(stray, said)
    assert lost_pixels(stray, "Corrupt JPEG data: 89 extraneous bytes before marker 0xda")
    with pytest.raises(BadImageError, match="blocks lost .libjpeg: Corrupt JPEG data: premature"):
        verify_image(stray)
    with caplog.at_level("WARNING", logger="mediumnet"):
        assert np.array_equal(native_pixels(stray), pillows(stray))   # filled in, as Pillow
    assert "(libjpeg: Corrupt JPEG data: premature end of data segment)" in caplog.text


@pytest.mark.parametrize("grey", [False, True], ids=["rgb", "grey"])
@pytest.mark.parametrize("orientation", [1, 6])
def test_verification_hashes_pillows_draft_from_one_decode_that_checks_it_too(orientation, grey):
    exif = Image.Image().getexif()
    exif[0x0112] = orientation
    large = Image.fromarray(SMOOTH).resize((1280, 960)).convert("L" if grey else "RGB")
    data = jpeg(large, exif=exif)
    with Image.open(io.BytesIO(data)) as drafted:
        drafted.draft("RGB", (256, 256))   # as verification decodes: here at half the size
        size = drafted.size
        seen = ImageOps.exif_transpose(drafted).convert("RGB")
    assert size == (640, 480)
    pixels = quiet_jpeg_pixels(data, size)
    with Image.open(io.BytesIO(data)) as again:
        again.draft("RGB", (256, 256))
        assert np.array_equal(pixels, np.asarray(again.convert("RGB")))   # as stored
    assert verify_image(data).phash == phash(np.asarray(seen))
    assert quiet_jpeg_pixels(damaged(data), size) is None    # libjpeg spoke: the long way
    assert quiet_jpeg_pixels(data, (641, 480)) is None       # no scale gives that size


def cmyk_jpeg(kind: str, orientation: int) -> bytes:
    """A 1280x960 CMYK JPEG: Pillow's (with a CMYK profile), or YCCK as TurboJPEG writes it."""
    inks = Image.fromarray(SMOOTH).resize((1280, 960)).convert("CMYK")
    if kind == "pillow":
        exif = Image.Image().getexif()
        exif[0x0112] = orientation
        return jpeg(inks, exif=exif, icc_profile=CMYK_HALF_BLACK)
    import simplejpeg

    return simplejpeg.encode_jpeg(np.asarray(inks), 90, colorspace="CMYK",
                                  colorsubsampling=kind.removeprefix("ycck "))


@pytest.mark.parametrize("kind, orientation", [("pillow", 1), ("pillow", 6), ("ycck 444", 1),
                                               ("ycck 420", 1)])
def test_a_cmyk_jpeg_is_decoded_once_by_libjpeg_and_reads_as_pillow_reads_it(kind, orientation):
    data = cmyk_jpeg(kind, orientation)
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode == "CMYK"
        pillows_inks = np.asarray(im)
        whole = np.asarray(to_rgb(im))
    assert np.array_equal(255 - jpeg_pixels(data, space="CMYK"), pillows_inks)   # inverted
    assert np.array_equal(native_pixels(data), whole)
    pillows_view = np.asarray(to_rgb(open_reduced(data, 320, wavelet_levels=False)))
    assert np.array_equal(composition_view(data, 320), letterbox_pixels(pillows_view, 320))
    with Image.open(io.BytesIO(data)) as drafted:
        drafted.draft("RGB", (256, 256))
        size, seen = drafted.size, np.asarray(to_rgb(drafted))
    assert quiet_jpeg_pixels(data, size, "CMYK").shape == (*size[::-1], 4)   # one decode
    assert verify_image(data).phash == phash(seen)
    assert quiet_jpeg_pixels(damaged(data), size, "CMYK") is None   # libjpeg spoke


def test_a_cmyk_jpeg_turbojpeg_cannot_read_is_read_by_pillow():
    inks = Image.fromarray(SMOOTH).resize((1280, 960)).convert("CMYK")
    data = jpeg(inks, subsampling=2)   # subsampled inks: TurboJPEG cannot name the layout
    assert jpeg_pixels(data, space="CMYK") is None
    assert quiet_jpeg_pixels(data, (320, 240), "CMYK") is None
    assert np.array_equal(native_pixels(data), np.asarray(to_rgb(open_image(data))))
    pillows_view = np.asarray(to_rgb(open_reduced(data, 320, wavelet_levels=False)))
    assert np.array_equal(composition_view(data, 320), letterbox_pixels(pillows_view, 320))


@pytest.mark.parametrize("orientation", [1, 8])
@pytest.mark.parametrize("space", ["sRGB", "Adobe RGB", "CMYK", "MPO"])
def test_every_view_names_a_damaged_jpeg_of_any_space_and_reads_what_pillow_reads(caplog,
                                                                                 space,
                                                                                 orientation):
    exif = Image.Image().getexif()
    exif[0x0112] = orientation
    work = Image.fromarray(SMOOTH).resize((1280, 960))   # the view decodes a quarter of it
    whole = jpeg(work.convert("CMYK") if space == "CMYK" else work, exif=exif,
                 **({"icc_profile": ADOBE_RGB} if space == "Adobe RGB" else {}),
                 **({"save_all": True, "append_images": [work.resize((320, 240))]}
                    if space == "MPO" else {}))   # a phone's photograph and its gain map
    assert Image.open(io.BytesIO(whole)).format == ("MPO" if space == "MPO" else "JPEG")
    said = "damaged JPEG data, blocks lost (libjpeg: Corrupt JPEG data: premature end"
    for data in (whole, damaged(whole)):
        pillows_view = np.asarray(to_rgb(open_reduced(data, 320, wavelet_levels=False)))
        caplog.clear()
        with caplog.at_level("WARNING", logger="mediumnet"):
            assert np.array_equal(composition_view(data, 320), letterbox_pixels(pillows_view, 320))
            assert np.array_equal(native_pixels(data), np.asarray(to_rgb(open_image(data))))
        assert caplog.text.count(said) == 2 * (data is not whole)   # once a view; none if whole


@pytest.mark.parametrize("space", ["sRGB", "Adobe RGB", "CMYK"])
def test_a_jpeg_cut_short_is_refused_by_every_view_in_one_line_that_says_so(space):
    work = Image.fromarray(SMOOTH)
    data = jpeg(work.convert("CMYK") if space == "CMYK" else work,
                **({"icc_profile": ADOBE_RGB} if space == "Adobe RGB" else {}))
    cut = data[:len(data) // 2]
    said = r"<\d+ bytes>: truncated or corrupt image data \(the JPEG ends before its end-of-image"
    with pytest.raises(ImageError, match=said):
        composition_view(cut, 160)
    with pytest.raises(ImageError, match=said):
        native_pixels(cut)


def test_a_multi_picture_jpeg_cut_in_its_second_picture_reads_as_pillow_reads_it():
    data = jpeg(SMOOTH, save_all=True, append_images=[Image.fromarray(SMOOTH[::2, ::2])])
    cut = data[:data.index(b"\xff\xd8\xff", data.index(b"\xff\xda")) + 200]
    assert np.array_equal(native_pixels(cut), pillows(cut))   # the first picture, whole
    assert composition_view(cut, 160).shape == (160, 160, 3)
    assert verify_image(cut).ext == ".jpg"


def test_a_multi_picture_jpeg_reads_small_as_its_first_picture_saved_alone_would():
    work = Image.fromarray(SMOOTH).resize((1280, 960))   # the view decodes a quarter of it
    alone = jpeg(work)
    with_gain_map = jpeg(work, save_all=True, append_images=[work.resize((320, 240))])
    assert np.array_equal(composition_view(with_gain_map, 320), composition_view(alone, 320))
    assert open_reduced(with_gain_map, 320).size == open_reduced(alone, 320).size == (320, 240)


def test_the_harvest_refuses_a_damaged_jpeg_in_libjpegs_words(capfd):
    with pytest.raises(BadImageError) as refused:
        verify_image(damaged(jpeg()))
    assert refused.value.reason == "corrupt"   # kept, as Pillow read it, before
    assert "damaged JPEG data, blocks lost (libjpeg: Corrupt JPEG data: " in str(refused.value)
    assert verify_image(jpeg()).ext == ".jpg"
    assert capfd.readouterr().err == ""


def test_a_folder_harvest_counts_a_damaged_jpeg_and_names_it(tmp_path: Path):
    source = tmp_path / "src" / "painting"
    source.mkdir(parents=True)
    (source / "whole.jpg").write_bytes(jpeg())
    (source / "hit.jpg").write_bytes(damaged(jpeg(SMOOTH[::-1])))
    result = harvest(FolderSource(tmp_path / "src"), tmp_path / "ds", HarvestConfig(),
                     progress=False)
    assert result.kept == 1 and result.failed_by_reason == {"corrupt": 1}
    assert "hit.jpg: damaged JPEG data, blocks lost (libjpeg: " in result.text()


def test_a_jpeg_libjpeg_gives_up_on_is_refused_in_its_words_by_every_reader():
    whole = jpeg()
    broken = bytearray(whole)
    at = whole.index(b"\xff\xda") + 400
    broken[at:at + 2] = b"\xff\x11"   # a marker that does not exist, mid-stream
    with pytest.raises(BadImageError) as refused:
        verify_image(bytes(broken))
    assert refused.value.reason == "corrupt"   # "truncated (broken data stream ...)" before
    assert "libjpeg: Unsupported marker type 0x11" in str(refused.value)
    with pytest.raises(ImageError, match="truncated or corrupt image data"):
        native_pixels(bytes(broken))   # as Pillow and the composition view refuse it


@pytest.mark.parametrize("mode", ["grid", "center"])
def test_fixed_tiles_are_the_pixels_every_reader_sees(mode):
    data = jpeg(np.tile(SMOOTH, (3, 3, 1)))   # 720x960: tiles in three bands of rows
    tiles = texture_tiles(data, 160, 9, mode=mode)
    # TensorFlow's bands differed in 65 % of the values, by up to 7 levels (its fast inverse
    # DCT), and at their edges (chroma upsampled without the rows outside them)
    assert np.array_equal(tiles, tiles_from_pixels(native_pixels(data), 160, 9, mode=mode)[0])
