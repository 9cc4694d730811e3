"""A JPEG 2000 master of more than 8 bits a sample: its white read as white, from all its bits.

Pillow rounds such samples to 8 bits without clamping: the top 1/512 of the range wraps to 0,
so a 16-bit master's white paper was read as black, and an opaque alpha as transparent.
"""

import io
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
from PIL import Image

from mediumnet.data import deep
from mediumnet.data.decode import decode
from mediumnet.data.jpeg2000 import Component, jpeg2000_layout
from mediumnet.data.views import ImageError, native_pixels, open_reduced, thumbnail
from mediumnet.harvest.verify import verify_image
from tests.iccprofiles import (
    ADOBE_RGB,
    adobe_rgb_16,
    jp2_with_profile,
    mean_gap,
    rounded,
    smooth_work,
)

RNG = np.random.default_rng(11)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "jpeg2000"


def jpeg2000(pixels: np.ndarray, bits: int = 16, codec: str = "jp2") -> bytes:
    """A lossless JPEG 2000 of ``bits`` a sample, as an archive keeps a master."""
    return imagecodecs.jpeg2k_encode(pixels, level=0, codecformat=codec, bitspersample=bits)


def paper(bits: int, height: int = 48, width: int = 64) -> np.ndarray:
    """Samples of every value up to the top, the top third white: a print on paper."""
    top = (1 << bits) - 1
    pixels = (RNG.random((height, width, 3)) * (top + 1)).astype(np.uint16)
    pixels[: height // 3] = top
    pixels[height // 3, :, :] = top - np.arange(width, dtype=np.uint16)[:, None] % 8
    return pixels


@pytest.mark.parametrize("codec", ["jp2", "j2k"])
@pytest.mark.parametrize("bits", [16, 12, 10, 9])
def test_a_deep_jpeg2000_is_read_from_all_its_bits_its_white_white(bits, codec):
    pixels = paper(bits)
    data = jpeg2000(pixels, bits, codec)
    assert Image.open(io.BytesIO(data)).convert("RGB").getpixel((0, 0)) == (0, 0, 0)  # Pillow

    read = native_pixels(data)
    assert (read == rounded(pixels, bits)).all()   # each sample rounded once, from its bits
    assert (read[:16] == 255).all()


def test_a_deep_jpeg2000_with_alpha_is_composited_on_white_at_all_its_bits():
    pixels = paper(16)
    alpha = np.full(pixels.shape[:2], 65535, np.uint16)
    alpha[:, :8] = 0
    alpha[:, 8:16] = 32768
    data = jpeg2000(np.dstack([pixels, alpha]))
    assert Image.open(io.BytesIO(data)).mode == "RGBA"

    read = native_pixels(data)
    assert (read[:, 16:] == rounded(pixels, 16)[:, 16:]).all()   # opaque: as stored
    assert (read[:, :8] == 255).all()   # transparent: the white beneath
    half = (pixels[:, 8:16] * 32768.0 + 65535 * 32767) / 65535 * 255 / 65535
    assert np.abs(read[:, 8:16] - half).max() <= 0.5 + 1e-6


def test_a_deep_jpeg2000_master_in_adobe_rgb_is_read_as_the_srgb_work_it_shows(tmp_path):
    work = smooth_work(120, 160)
    data = jp2_with_profile(jpeg2000(adobe_rgb_16(work)), ADOBE_RGB)

    assert mean_gap(native_pixels(data), work) < 0.1   # the profile before 8 bits
    path = tmp_path / "master.jp2"
    path.write_bytes(data)
    assert mean_gap(decode(Image.open(path)).pixels, work) < 0.1   # the served model's
    assert mean_gap(thumbnail(path, 160), work) < 0.1


def test_a_deep_jpeg2000_thumbnail_takes_a_coarse_level_only_where_nothing_wrapped(tmp_path):
    pixels = np.clip(smooth_work(96, 128), 64, 192).astype(np.uint16) * 257   # no 0 on any level
    (tmp_path / "painted.jp2").write_bytes(jpeg2000(pixels))
    Image.fromarray(rounded(pixels, 16)).save(tmp_path / "painted.png")
    pixels[:32] = 65535   # the paper: Pillow's coarse level reads it as 0
    (tmp_path / "paper.jp2").write_bytes(jpeg2000(pixels))
    Image.fromarray(rounded(pixels, 16)).save(tmp_path / "paper.png")

    assert open_reduced(tmp_path / "painted.jp2", 32).size == (32, 24)   # Pillow's level 2
    painted = thumbnail(tmp_path / "painted.jp2", 32)
    assert mean_gap(painted, thumbnail(tmp_path / "painted.png", 32)) < 4   # wavelet, not resize
    assert open_reduced(tmp_path / "paper.jp2", 32).size == (128, 96)   # whole, then shrunk
    small = thumbnail(tmp_path / "paper.jp2", 32)
    assert (small[:7] == 255).all()   # the paper stays white
    assert (small == thumbnail(tmp_path / "paper.png", 32)).all()


@pytest.mark.parametrize("bits", [8, 16])
def test_a_jpeg2000_whose_header_claims_another_size_gets_no_thumbnail_and_is_named(bits):
    import struct

    data = bytearray(jpeg2000(rounded(paper(16), 16), 8) if bits == 8 else jpeg2000(paper(16)))
    at = data.index(b"ihdr") + 4
    data[at:at + 4] = struct.pack(">I", 37 * 65536 + 48)   # a byte of its height flipped

    assert thumbnail(bytes(data), 32) is None   # the page shows its placeholder
    with pytest.raises(ImageError, match="truncated or corrupt"):
        native_pixels(bytes(data))


def test_a_jpeg2000_with_a_malformed_size_segment_is_refused_by_name():
    from mediumnet.harvest.verify import BadImageError

    data = bytearray(jpeg2000(paper(16)))
    at = data.index(b"\xff\x51") + 2
    data[at:at + 2] = b"\x00\x10"   # SIZ's length: shorter than its fixed fields

    with pytest.raises(ImageError, match="truncated or corrupt"):
        native_pixels(bytes(data))   # Pillow raised ValueError as it opened it
    assert thumbnail(bytes(data), 32) is None
    with pytest.raises(BadImageError, match="does not decode"):
        verify_image(bytes(data))


def test_a_deep_jpeg2000_is_hashed_at_harvest_as_its_8_bit_twin():
    pixels = paper(16, 96, 128)
    twin = io.BytesIO()
    Image.fromarray(rounded(pixels, 16)).save(twin, "PNG")

    verified = verify_image(jpeg2000(pixels))
    assert (verified.ext, verified.width, verified.height) == (".jp2", 128, 96)
    assert verified.phash == verify_image(twin.getvalue()).phash


@pytest.mark.parametrize("kind", ["12 bits", "signed"])   # by a table, by arithmetic
def test_a_large_deep_jpeg2000_is_widened_in_parts_as_it_is_whole(kind, monkeypatch):
    data = jpeg2000(paper(12), 12) if kind == "12 bits" else jpeg2000(
        (paper(16).astype(np.int32) - 32768).astype(np.int16))
    whole = native_pixels(data)
    monkeypatch.setattr(deep, "CHUNK_PIXELS", 1000)
    assert (native_pixels(data) == whole).all()


def test_a_cut_deep_jpeg2000_is_refused_by_name_and_quietly(tmp_path, capfd):
    path = tmp_path / "cut.jp2"
    data = jpeg2000(paper(16))
    path.write_bytes(data[:len(data) * 2 // 3])

    with pytest.raises(ImageError, match="cut.jp2: truncated or corrupt"):
        native_pixels(path)
    with pytest.raises(Exception, match="broken data stream|truncat"):
        verify_image(path.read_bytes())
    assert "OpenJPEG" not in capfd.readouterr().err   # OpenCV never tried


def test_a_jpeg2000_of_8_bits_is_left_to_pillow():
    data = jpeg2000(rounded(paper(16), 16), 8)

    assert not deep.is_deep_rgb(Image.open(io.BytesIO(data)))


def test_a_deep_jpeg2000_of_grey_and_alpha_is_read_from_all_its_bits():
    grey = paper(16)[..., 0]
    grey[-8:] = 2000   # a dark passage, opaque
    alpha = np.full(grey.shape, 65535, np.uint16)
    alpha[:, :8] = 0
    data = jpeg2000(np.dstack([grey, alpha]))
    assert Image.open(io.BytesIO(data)).mode == "LA"
    assert Image.open(io.BytesIO(data)).convert("RGBA").getpixel((20, 40))[3] == 0   # Pillow's

    read = native_pixels(data)
    assert (read[:, 8:] == rounded(grey, 16)[:, 8:, None]).all()   # opaque: as stored
    assert (read[:, :8] == 255).all()   # transparent: the white beneath
    assert (read[-8:, 8:] == 8).all()   # Pillow: white, its alpha wrapped round


def test_a_deep_jpeg2000_of_grey_and_alpha_takes_its_grey_profile_before_8_bits():
    from mediumnet.data.icc import grey_profile

    grey = np.linspace(0, 65535, 48 * 64).reshape(48, 64).astype(np.uint16)   # linear light
    opaque = np.full(grey.shape, 65535, np.uint16)
    data = jp2_with_profile(jpeg2000(np.dstack([grey, opaque])), grey_profile("linear", 1.0))

    light = grey / 65535.0
    srgb = np.where(light <= 0.0031308, 12.92 * light, 1.055 * light ** (1 / 2.4) - 0.055)
    read = native_pixels(data)
    assert np.abs(read.astype(int) - np.round(srgb * 255)[..., None]).max() <= 1
    assert len(np.unique(read[:2])) > 40   # the deep shadows' steps, kept


def test_a_deep_jpeg2000_in_cmyk_is_read_from_all_its_inks():
    inks = np.zeros((48, 64, 4), np.uint16)   # bare paper
    inks[16:32] = 65535   # every ink at its full: black
    inks[32:, :, 1] = 32768   # half magenta
    data = imagecodecs.jpeg2k_encode(inks, level=0, codecformat="jp2",
                                     colorspace=imagecodecs.JPEG2K.CLRSPC.CMYK)
    assert Image.open(io.BytesIO(data)).convert("RGB").getpixel((0, 20)) == (255, 255, 255)

    read = native_pixels(data)
    assert (read[:16] == 255).all() and (read[16:32] == 0).all()
    assert (read[32:] == [255, 127, 255]).all()   # 8-bit CMYK's reading, of rounded inks


@pytest.mark.parametrize("bits", [8, 16])
def test_a_jpeg2000_of_inks_with_a_cmyk_profile_is_read_as_its_cmyk_tiff_twin(bits):
    from tests.iccprofiles import CMYK_HALF_BLACK

    inks = (RNG.random((48, 64, 4)) * 256).astype(np.uint8)
    inks[:16] = 0   # bare paper
    inks[16:24] = 255   # every ink at its full
    master = inks.astype(np.uint16) * 257 if bits == 16 else inks
    data = jp2_with_profile(imagecodecs.jpeg2k_encode(master, level=0, codecformat="jp2"),
                            CMYK_HALF_BLACK)   # as a prepress encoder embeds the profile
    assert Image.open(io.BytesIO(data)).mode == "RGBA"   # Pillow: the black ink as alpha
    twin = io.BytesIO()
    Image.frombytes("CMYK", (64, 48), inks.tobytes()).save(twin, "TIFF",
                                                           icc_profile=CMYK_HALF_BLACK)

    read = native_pixels(data)
    assert (read == native_pixels(twin.getvalue())).all()
    assert read[20].mean() < 160   # full ink under the profile, not paper white


def sycc(rgb: np.ndarray) -> np.ndarray:
    """16-bit RGB as sYCC's full-range luma and chroma (IEC 61966-2-1 Amd. 1)."""
    r, g, b = (rgb[..., c].astype(np.float64) for c in range(3))
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = (b - y) / 1.772 + 32768
    cr = (r - y) / 1.402 + 32768
    return np.clip(np.round(np.dstack([y, cb, cr])), 0, 65535).astype(np.uint16)


def test_a_deep_jpeg2000_in_sycc_is_read_as_the_colours_it_encodes(tmp_path):
    work = np.clip(smooth_work(96, 128), 0, 255).astype(np.uint16) * 257
    work[:24] = 65535   # the paper
    data = imagecodecs.jpeg2k_encode(sycc(work), level=0, codecformat="jp2",
                                     colorspace=imagecodecs.JPEG2K.CLRSPC.SYCC)
    assert Image.open(io.BytesIO(data)).convert("RGB").getpixel((0, 0)) != (255, 255, 255)

    read = native_pixels(data)
    assert (read[:24] == 255).all()
    assert np.abs(read.astype(int) - rounded(work, 16)).max() <= 1   # luma/chroma rounding
    path = tmp_path / "sycc.jp2"
    path.write_bytes(data)
    assert (thumbnail(path, 32)[:5] == 255).all()


def test_a_deep_sycc_jpeg2000_of_subsampled_chroma_is_read_from_all_its_bits():
    # OpenJPEG's opj_compress: luma 60000 under 8 rows of 65535 (paper), chroma at half
    # resolution (4:2:0), Cb neutral, Cr 40000 in the left half (tests/fixtures/README.md)
    path = FIXTURES / "sycc_420_16_bits.jp2"
    layout = jpeg2000_layout(io.BytesIO(path.read_bytes()))
    assert [c.subsampling for c in layout.components] == [(1, 1), (2, 2), (2, 2)]
    assert Image.open(path).convert("RGB").getpixel((40, 0)) == (0, 0, 0)   # Pillow's paper

    read = native_pixels(path)
    green = 0.714 * (40000 - 32768)   # what Cr takes from green (and adds to red: past white)
    assert (read[:8, 24:] == 255).all()   # the paper, neutral
    assert (read[:8, :24] == [255, round((65535 - green) / 257), 255]).all()
    assert (read[8:, 24:] == round(60000 / 257)).all()
    assert (read[8:, :24] == [255, round((60000 - green) / 257), round(60000 / 257)]).all()


def test_a_deep_sycc_jpeg2000_thumbnail_is_whole_where_pillow_s_wrap_shows_no_0(tmp_path):
    ycc = np.zeros((64, 64, 3), np.uint16)
    ycc[..., 0], ycc[..., 1], ycc[..., 2] = 65000, 65535, 32768   # chroma at its top
    path = tmp_path / "violet.jp2"
    path.write_bytes(imagecodecs.jpeg2k_encode(ycc, level=0, codecformat="jp2",
                                               colorspace=imagecodecs.JPEG2K.CLRSPC.SYCC))
    im = Image.open(path)
    im.reduce = 2
    assert np.asarray(im.convert("RGB")).all()   # Pillow's coarse level: no 0, and wrong

    whole = native_pixels(path)
    assert open_reduced(path, 16).size == (64, 64)
    assert (thumbnail(path, 16) == whole[0, 0]).all()
    assert whole[0, 0, 2] == 255   # blue at its top, not the yellow Pillow's wrap makes


def test_a_deep_jpeg2000_of_signed_samples_is_read_offset_by_half_their_range():
    pixels = paper(16)
    signed = (pixels.astype(np.int32) - 32768).astype(np.int16)
    data = jpeg2000(signed)
    assert Image.open(io.BytesIO(data)).convert("RGB").getpixel((0, 0)) == (0, 0, 0)

    assert (native_pixels(data) == rounded(pixels, 16)).all()


def test_a_jpeg2000_of_more_than_16_bits_is_read_from_all_its_bits():
    pixels = paper(16).astype(np.uint32) * 16 + 15   # 20 bits, the top 2**20 - 1
    data = jpeg2000(pixels, 20)

    read = native_pixels(data)
    assert (read[:16] == 255).all()
    assert np.abs(read.astype(int) - rounded(pixels, 20)).max() <= 1   # through 16 bits


def test_a_jpeg2000_layout_is_read_from_its_headers_and_nothing_broken_raises():
    data = jpeg2000(paper(12), 12)
    layout = jpeg2000_layout(io.BytesIO(data))
    assert layout.components == (Component(12, False, (1, 1)),) * 3
    assert (layout.colour_method, layout.colour_space) == (1, 16)   # sRGB, enumerated
    assert data[layout.codestream_end - 2:layout.codestream_end] == b"\xff\xd9"
    raw = jpeg2000(paper(12), 12, "j2k")
    assert jpeg2000_layout(io.BytesIO(raw)).colour_method is None
    profiled = jpeg2000_layout(io.BytesIO(jp2_with_profile(data, ADOBE_RGB)))
    assert (profiled.colour_method, profiled.colour_space) == (2, None)

    size_at = data.index(b"\xff\x4f\xff\x51")
    for broken in (b"", data[:40], data[:size_at + 20], raw[:30],
                   data[:size_at + 40] + b"\x00\x00",            # no components
                   data[:size_at + 42] + b"\x0b",                # a component cut short
                   data.replace(b"jp2h", b"xxxx"), data.replace(b"colr", b"xxxx")):
        assert jpeg2000_layout(io.BytesIO(broken)) is None, broken[-16:]


def test_deep_jpeg2000s_decode_in_threads_quietly(capfd):
    from mediumnet.data.views import map_images

    masters = [jpeg2000(paper(16, 24, 32), 16, "j2k") for _ in range(12)]   # no colour box

    read = [pixels for pixels, _ in map_images(native_pixels, masters, workers=4)]
    assert all(pixels is not None and (pixels[:8] == 255).all() for pixels in read)
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("kind", ["colour space 21", "mixed depths"])
def test_a_deep_jpeg2000_left_to_pillow_is_named_once_in_a_warning(kind, caplog, monkeypatch):
    import logging

    monkeypatch.setattr(deep, "_WARNED_KINDS", set())
    pixels, bits = paper(16), 16
    data = bytearray(jpeg2000(pixels))
    if kind == "colour space 21":   # ROMM-RGB, enumerated: no profile to take it to sRGB by
        data[data.index(b"colr") + 10] = 21   # EnumCS: the last of its four bytes
    else:   # the SIZ segment says blue has 12 bits
        data[data.index(b"\xff\x4f\xff\x51") + 42 + 6] = 11
    data = bytes(data)
    plain = jpeg2000(rounded(pixels, 16), 8)   # 8 bits: Pillow reads it right, no warning

    with caplog.at_level(logging.WARNING, logger="mediumnet"):
        for source in (data, data, plain):
            native_pixels(source)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1
    assert f"a JPEG 2000 of {kind} at {bits} bits a sample is read by Pillow" in messages[0]
    assert "white read as black" in messages[0]
