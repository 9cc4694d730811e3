"""A phone's HEIC photographs and AVIF files: read upright, in sRGB, whatever space they name."""

import io
import logging
import struct

import numpy as np
import pillow_heif
import pytest
from PIL import Image

from mediumnet.data.colour import profile_conversion
from mediumnet.data.decode import decode
from mediumnet.data.heif import cicp_colour
from mediumnet.data.icc import (
    CICP_PRIMARIES,
    SRGB_CURVE,
    cicp_profile,
    d50_primaries,
    parametric_curve_tag,
    rgb_profile,
)
from mediumnet.data.images import images_in
from mediumnet.data.views import composition_view, native_pixels
from tests.iccprofiles import DISPLAY_P3, convert, mean_gap, smooth_work

WORK = smooth_work(160, 240)   # wider than tall, so a quarter turn shows


def heic(pixels, **kw):
    buf = io.BytesIO()
    pillow_heif.from_pillow(Image.fromarray(pixels)).save(buf, quality=95, chroma=444, **kw)
    return buf.getvalue()


def avif(pixels, **kw):
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "AVIF", quality=95, subsampling="4:4:4", **kw)
    return buf.getvalue()


def with_codes(data: bytes, primaries: int, transfer: int) -> bytes:
    """Return a HEIF/AVIF file whose nclx colour box names other H.273 code points."""
    at = data.index(b"colrnclx") + 8
    assert struct.unpack_from(">HH", data, at) == (1, 13)   # as both encoders write sRGB
    return data[:at] + struct.pack(">HH", primaries, transfer) + data[at + 4:]


@pytest.mark.parametrize("write", [heic, avif], ids=["heic", "avif"])
def test_a_photograph_is_read_upright_as_its_jpeg_twin_is(write, tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6   # taken with the phone turned: shown rotated a quarter turn clockwise
    photo = write(WORK, exif=exif.tobytes())
    jpeg = io.BytesIO()
    Image.fromarray(WORK).save(jpeg, "JPEG", quality=95, exif=exif.tobytes())

    upright = native_pixels(jpeg.getvalue())
    assert upright.shape == (240, 160, 3)
    assert native_pixels(photo).shape == upright.shape
    assert mean_gap(native_pixels(photo), upright) < 2.0
    assert mean_gap(decode(photo).pixels, upright) < 2.0     # the served model's decode
    path = tmp_path / f"photo.{write.__name__}"
    path.write_bytes(photo)
    assert images_in(tmp_path) == [path]                     # a folder lists it
    assert composition_view(path, 64).shape == (64, 64, 3)


@pytest.mark.parametrize("fmt", ["HEIC", "AVIF", "JPEG", "PNG", "WEBP", "TIFF"])
def test_a_turned_photograph_is_recorded_at_its_upright_size_in_every_format(fmt):
    from mediumnet.harvest.verify import verify_image

    exif = Image.Exif()
    exif[0x0112] = 6   # shown a quarter turn from the stored 240 x 160
    if fmt == "HEIC":
        photo = heic(WORK, exif=exif.tobytes())   # pillow-heif turns it into the file's irot
    else:
        buf = io.BytesIO()
        Image.fromarray(WORK).save(buf, fmt, exif=exif.tobytes())
        photo = buf.getvalue()

    verified = verify_image(photo)
    assert (verified.width, verified.height) == (160, 240)   # as the manifest records it
    assert native_pixels(photo).shape[:2] == (verified.height, verified.width)


@pytest.mark.parametrize("write", [heic, avif], ids=["heic", "avif"])
def test_a_display_p3_photograph_named_by_its_colour_codes_is_read_in_srgb(write):
    p3 = with_codes(write(convert(WORK, DISPLAY_P3)), 12, 13)
    assert "icc_profile" not in Image.open(io.BytesIO(p3)).info   # no reader converts it
    blind = np.asarray(Image.open(io.BytesIO(p3)).convert("RGB"))
    assert mean_gap(blind, WORK) > 3       # what a reader that ignores the codes sees

    assert mean_gap(native_pixels(p3), WORK) < 2.0
    assert mean_gap(decode(p3).pixels, WORK) < 2.0
    red = native_pixels(p3)[20, 30]
    assert abs(int(red[0]) - 230) <= 4 and red[1] < 35
    srgb = write(WORK)                     # sRGB's own codes: the pixels as they are
    assert np.array_equal(native_pixels(srgb), np.asarray(Image.open(io.BytesIO(srgb))))


def test_a_photograph_with_an_icc_profile_is_read_through_the_profile():
    photo = heic(convert(WORK, DISPLAY_P3), icc_profile=DISPLAY_P3)
    assert Image.open(io.BytesIO(photo)).info["icc_profile"]
    assert mean_gap(native_pixels(photo), WORK) < 2.0


@pytest.mark.parametrize("primaries,transfer,says", [
    (9, 16, "primaries 9, transfer 16 (HDR"), (10, 13, "primaries 10, transfer 13)")],
    ids=["pq-hdr", "cie-xyz"])
def test_colour_codes_of_no_known_space_are_named_once_and_read_as_srgb(primaries, transfer, says,
                                                                         caplog):
    photo = with_codes(heic(WORK), primaries, transfer)
    as_decoded = np.asarray(Image.open(io.BytesIO(photo)).convert("RGB"))
    with caplog.at_level(logging.WARNING, logger="mediumnet"):
        assert np.array_equal(native_pixels(photo), as_decoded)
        native_pixels(photo)
    warnings = [r.getMessage() for r in caplog.records if "H.273" in r.getMessage()]
    assert len(warnings) == 1 and says in warnings[0], warnings
    assert warnings[0].startswith(f"<{len(photo)} bytes>: ")   # the file, as every message


def test_display_p3_from_its_codes_is_apples_profile_and_srgbs_codes_need_none():
    made = d50_primaries(*CICP_PRIMARIES[12][1:])
    apple = ((0.515102, 0.241196, -0.001050), (0.291965, 0.692239, 0.041882),
             (0.157153, 0.066574, 0.784378))
    assert np.allclose(made, apple, atol=5e-4)   # s15Fixed16 and D50 rounding
    assert cicp_profile(1, 13) is None and cicp_profile(2, 2) is None
    srgb_from_chromaticities = rgb_profile("sRGB", *d50_primaries(*CICP_PRIMARIES[1][1:]),
                                           parametric_curve_tag(SRGB_CURVE))
    assert profile_conversion(srgb_from_chromaticities, "RGB").transform is None
    assert profile_conversion(cicp_profile(12, 13), "RGB").transform is not None
    assert profile_conversion(cicp_profile(9, 1), "RGB").transform is not None   # BT.2020


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _nclx(primaries: int, transfer: int) -> bytes:
    return _box(b"colr", b"nclx" + struct.pack(">HHHB", primaries, transfer, 6, 0x80))


def _heif(primary: int, associations: bytes, flags: int = 0, version: int = 0) -> bytes:
    """A HEIF header: item 1 (a thumbnail) in Display P3, item 2 (the image) in BT.2020."""
    ipco = _box(b"ipco", _nclx(12, 13) + _nclx(9, 13))
    ipma = _box(b"ipma", bytes([version, 0, 0, flags]) + associations)
    meta = _box(b"meta", bytes(4) + _box(b"hdlr", bytes(24))
                + _box(b"pitm", bytes(4) + struct.pack(">H", primary))
                + _box(b"iprp", ipco + ipma))
    return _box(b"ftyp", b"heic" + bytes(4) + b"mif1heic") + meta + _box(b"mdat", bytes(16))


def test_the_colour_codes_are_the_primary_images():
    narrow = struct.pack(">I", 2) + struct.pack(">HBB", 1, 1, 0x81) + struct.pack(">HBB", 2, 1, 2)
    assert cicp_colour(io.BytesIO(_heif(2, narrow))) == (9, 13)
    assert cicp_colour(io.BytesIO(_heif(1, narrow))) == (12, 13)
    wide = (struct.pack(">I", 2) + struct.pack(">IBH", 1, 1, 0x8001)
            + struct.pack(">IBH", 2, 1, 2))
    assert cicp_colour(io.BytesIO(_heif(2, wide, flags=1, version=1))) == (9, 13)
    none_for_primary = struct.pack(">I", 1) + struct.pack(">HBB", 1, 1, 1)
    assert cicp_colour(io.BytesIO(_heif(2, none_for_primary))) == (12, 13)   # the tiles'


@pytest.mark.parametrize("data", [
    b"", b"\xff\xd8\xff\xe0" + bytes(60), _heif(2, b"")[:40], _heif(2, b"")[:-30],
    _heif(2, struct.pack(">I", 5) + b"\0\2\7"), _box(b"meta", bytes(4)) + _heif(2, b""),
    _box(b"ftyp", b"heic") + struct.pack(">I4sQ", 1, b"meta", 2**40),
], ids=["empty", "jpeg", "cut-in-ftyp", "cut-in-meta", "short-ipma", "meta-first",
        "meta-too-large"])
def test_a_file_not_laid_out_as_heif_names_no_colour_and_raises_nothing(data):
    assert cicp_colour(io.BytesIO(data)) is None


def broken_heic() -> bytes:
    data = bytearray(heic(WORK))
    at = data.index(b"mdat") + 4
    data[at:at + 16] = bytes(16)   # the coded picture's start wiped: libheif stops at an EOF
    return bytes(data)


def broken_avif() -> bytes:
    data = bytearray(avif(WORK))
    at = data.index(b"pitm") + 8
    data[at:at + 2] = b"\x77\x77"   # the primary item: one the file does not hold
    return bytes(data)


@pytest.mark.parametrize("broken", [broken_heic, broken_avif], ids=["heic", "avif"])
def test_a_broken_heic_or_avif_is_refused_by_name_not_a_crash(broken):
    from mediumnet.data.views import ImageError, thumbnail
    from mediumnet.harvest.verify import BadImageError, verify_image

    data = broken()
    with pytest.raises(ImageError, match=r"<\d+ bytes>: truncated or corrupt"):
        native_pixels(data)   # pi-heif raised EOFError, Pillow's AVIF RuntimeError
    assert thumbnail(data, 32) is None   # a page shows its placeholder
    with pytest.raises(BadImageError) as refused:
        verify_image(data)   # the harvest drops it, with its reason
    assert refused.value.reason == "corrupt"
