import base64
import io

import numpy as np
import pytest
from PIL import Image

from mediumnet.data.views import (
    MAX_PIXELS,
    ImageError,
    composition_view,
    grid_positions,
    texture_tiles,
)

BASE = np.random.default_rng(0).integers(0, 255, (300, 500, 3), dtype=np.uint8)


def encode(im, fmt, **kw):
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


RGB = Image.fromarray(BASE)
ODD_MODES = {
    "grey jpeg": encode(RGB.convert("L"), "JPEG"),
    "cmyk jpeg": encode(RGB.convert("CMYK"), "JPEG"),
    "16-bit png": encode(Image.fromarray(BASE[..., 0].astype(np.uint16) * 257), "PNG"),
    "palette png": encode(RGB.convert("P"), "PNG"),
    "rgba png": encode(RGB.convert("RGBA"), "PNG"),
    "grey+alpha png": encode(RGB.convert("LA"), "PNG"),
    "tiff": encode(RGB, "TIFF"),
    "1-bit png": encode(RGB.convert("1"), "PNG"),
}


@pytest.mark.parametrize("name", ODD_MODES)
def test_every_odd_mode_gives_uint8_rgb(name):
    data = ODD_MODES[name]
    view = composition_view(data, 96)
    assert view.shape == (96, 96, 3) and view.dtype == np.uint8
    tiles = texture_tiles(data, 64, 3)
    assert tiles.shape == (3, 64, 64, 3) and tiles.dtype == np.uint8


def test_paths_bytes_and_pil_images_agree(tmp_path):
    path = tmp_path / "a.png"
    RGB.save(path)
    by_path = composition_view(path, 64)
    assert np.array_equal(by_path, composition_view(path.read_bytes(), 64))
    assert np.array_equal(by_path, composition_view(Image.open(path), 64))


def test_alpha_is_composited_on_white():
    clear = Image.new("RGBA", (100, 50), (10, 200, 30, 0))
    view = composition_view(encode(clear, "PNG"), 50)
    assert (view[20:30, 10:40] == 255).all()


def test_letterbox_keeps_the_aspect_ratio_and_finds_a_known_rectangle():
    canvas = np.full((400, 1000, 3), 255, np.uint8)
    canvas[100:300, 200:400] = (200, 0, 0)  # a 200x200 red square
    view = composition_view(encode(Image.fromarray(canvas), "PNG"), 100)
    # 1000x400 → 100x40, letterboxed with 30 rows of grey above and below
    assert (view[:29] == 127).all() and (view[-29:] == 127).all()
    red = (view[..., 0] > 150) & (view[..., 1] < 60)
    ys, xs = np.nonzero(red)
    assert abs((ys.max() - ys.min() + 1) - (xs.max() - xs.min() + 1)) <= 1  # still square
    assert abs(xs.min() - 20) <= 1 and abs(ys.min() - 40) <= 1


def test_exif_orientation_is_applied():
    tall = Image.fromarray(np.zeros((200, 100, 3), np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90°: displayed as 200 wide, 100 high
    data = encode(tall, "JPEG", exif=exif.tobytes())
    view = composition_view(data, 100)
    assert (view[:20] == 127).all()          # letterbox above: the image is landscape
    assert texture_tiles(data, 100, 1, mode="center").shape == (1, 100, 100, 3)


def test_a_gallerys_thumbnails_show_a_scan_as_the_branches_see_it(tmp_path):
    """Before, a 16-bit scan's thumbnail was a white square on the audit's page and stopped
    explore's and evaluate's galleries with a ValueError; an EXIF-rotated one lay on its side."""
    from mediumnet.collection.page import thumbnail as page_thumbnail
    from mediumnet.data.views import thumbnail

    y, x = np.mgrid[0:240, 0:320]
    scan = Image.fromarray(((np.sin(x / 9) * np.cos(y / 7) + 1) / 2 * 50_000 + 5_000)
                           .astype(np.uint16))
    scan.save(tmp_path / "scan16.tif")
    small = thumbnail(tmp_path / "scan16.tif", 64)
    assert small.shape == (48, 64, 3) and small.std() > 20          # a picture, not white
    uri = page_thumbnail(tmp_path / "scan16.tif")
    shown = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",")[1]))))
    assert shown.shape == (96, 128, 3) and shown.std() > 20

    exif = Image.Exif()
    exif[0x0112] = 6                                                   # shown turned upright
    (tmp_path / "turned.jpg").write_bytes(encode(Image.fromarray(np.zeros((200, 100, 3),
                                                                           np.uint8)),
                                                 "JPEG", exif=exif.tobytes()))
    assert thumbnail(tmp_path / "turned.jpg", 64).shape == (32, 64, 3)
    (tmp_path / "notes.jpg").write_text("not an image")
    assert thumbnail(tmp_path / "notes.jpg", 64) is None and page_thumbnail(
        tmp_path / "notes.jpg") == ""


def test_a_jpeg_2000_master_is_shrunk_from_its_levels_for_a_thumbnail_and_whole_for_a_model(
        tmp_path):
    from mediumnet.data.views import letterbox_pixels, open_reduced, thumbnail, to_rgb

    master = Image.fromarray(np.repeat(np.repeat(BASE, 4, axis=0), 4, axis=1))  # 2000x1200
    master.save(tmp_path / "master.jp2")
    assert open_reduced(tmp_path / "master.jp2", 128).size == (250, 150)  # 1/8, still >= 128
    assert thumbnail(tmp_path / "master.jp2", 128).shape == (77, 128, 3)
    whole = np.asarray(to_rgb(Image.open(tmp_path / "master.jp2")))
    assert np.array_equal(composition_view(tmp_path / "master.jp2", 96),
                          letterbox_pixels(whole, 96))   # a model's view: the full decode


def test_grid_tiles_are_deterministic_and_inside_the_image():
    data = encode(RGB, "JPEG", quality=90)
    a, b = texture_tiles(data, 64, 8), texture_tiles(data, 64, 8)
    assert np.array_equal(a, b)
    for y, x in grid_positions(300, 500, 64, 8):
        assert 0 <= y <= 300 - 64 and 0 <= x <= 500 - 64
    assert len(set(grid_positions(300, 500, 64, 8))) == 8


def test_random_tiles_differ_between_calls_and_follow_the_rng():
    data = encode(RGB, "PNG")
    a, b = texture_tiles(data, 64, 4, mode="random"), texture_tiles(data, 64, 4, mode="random")
    assert not np.array_equal(a, b)
    rng1, rng2 = np.random.default_rng(5), np.random.default_rng(5)
    assert np.array_equal(texture_tiles(data, 64, 4, mode="random", rng=rng1),
                          texture_tiles(data, 64, 4, mode="random", rng=rng2))


def test_center_tile_is_the_research_crop():
    canvas = np.zeros((300, 500, 3), np.uint8)
    canvas[150, 250] = 255
    tile = texture_tiles(encode(Image.fromarray(canvas), "PNG"), 100, 1, mode="center")[0]
    assert tile[50, 50].tolist() == [255, 255, 255]


def test_small_images_are_padded_and_say_so():
    small = encode(Image.fromarray(BASE[:40, :50]), "PNG")
    tiles, flags = texture_tiles(small, 64, 2, with_flags=True)
    assert tiles.shape == (2, 64, 64, 3) and flags.padded
    _, flags = texture_tiles(encode(RGB, "PNG"), 64, 2, with_flags=True)
    assert not flags.padded


def test_blank_margin_tiles_are_rejected_when_asked():
    canvas = np.full((400, 400, 3), 240, np.uint8)
    canvas[:, :100] = np.random.default_rng(1).integers(0, 255, (400, 100, 3), dtype=np.uint8)
    data = encode(Image.fromarray(canvas), "PNG")
    tiles, flags = texture_tiles(data, 64, 6, mode="random", blank_std=5.0, with_flags=True,
                                 rng=np.random.default_rng(0))
    assert flags.rejected_blank > 0
    assert all(t.std() >= 5.0 for t in tiles)


@pytest.mark.parametrize(("data", "message"), [
    (b"", "an empty file"),
    (b"<!DOCTYPE html><html></html>", "not an image"),
    (encode(RGB, "JPEG")[:3000], "truncated or corrupt"),
    (encode(RGB, "PNG")[:2000], "truncated or corrupt"),
    (encode(RGB, "PNG")[:12], "a PNG file that does not open: damaged, cut short"),  # its header
    (encode(RGB, "TIFF")[:60], "a TIFF file that does not open: damaged, cut short"),
    (encode(RGB, "JPEG")[:4], "a JPEG file that does not open"),
])
@pytest.mark.filterwarnings("ignore:Truncated File Read")   # Pillow's, as it gives up
def test_bad_bytes_raise_an_error_naming_the_source(data, message):
    for func in (lambda: composition_view(data, 64), lambda: texture_tiles(data, 32, 2)):
        with pytest.raises(ImageError, match=message):
            func()


def test_bad_file_is_named(tmp_path):
    path = tmp_path / "scan_0042.jpg"
    path.write_bytes(b"GIF89a broken")
    with pytest.raises(ImageError, match="scan_0042.jpg"):
        composition_view(path, 64)
    with pytest.raises(ImageError, match="no such image file"):
        composition_view(tmp_path / "missing.jpg", 64)


def test_decompression_bomb_is_refused_from_its_header():
    # A PNG header claiming 100,000 x 100,000 pixels, with almost no data behind it.
    import struct
    import zlib

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")
    assert MAX_PIXELS < 100_000 * 100_000
    with pytest.raises(ImageError, match="decompression bomb"):
        composition_view(bomb, 64)


def test_zero_area_image_is_refused():
    with pytest.raises(ImageError, match="zero area"):
        composition_view(Image.new("RGB", (0, 10)), 64)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pillows_transpose(orientation):
    from PIL import ImageOps

    from mediumnet.data.views import native_pixels

    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(Image.fromarray(BASE[:40, :60]), "JPEG", quality=100, exif=exif.tobytes())
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    got = native_pixels(data)
    assert got.shape == expected.shape
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 2
