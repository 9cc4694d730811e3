import cv2
import numpy as np
import pytest

from mediumnet.data.images import (
    cut_short,
    image_format,
    phash,
    phash_distance,
    store_image_bytes,
    unopened,
)


def test_store_is_content_addressed_and_idempotent(tmp_path):
    rel, sha = store_image_bytes(tmp_path, b"abc", ".JPG")
    assert rel == f"images/{sha[:2]}/{sha}.jpg"
    again, _ = store_image_bytes(tmp_path, b"abc", ".jpg")
    assert again == rel
    assert (tmp_path / rel).read_bytes() == b"abc"
    assert len(list((tmp_path / "images").rglob("*"))) == 2  # one folder, one file


def test_phash_finds_near_duplicates_and_separates_different_images():
    rng = np.random.default_rng(0)
    base = cv2.resize(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8), (640, 480),
                      interpolation=cv2.INTER_CUBIC)
    ok, buf = cv2.imencode(".jpg", cv2.resize(base, (320, 240)), [cv2.IMWRITE_JPEG_QUALITY, 60])
    recompressed = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    other = cv2.resize(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8), (640, 480),
                       interpolation=cv2.INTER_CUBIC)
    assert phash_distance(phash(base), phash(recompressed)) <= 4
    assert phash_distance(phash(base), phash(other)) >= 16
    assert len(phash(base)) == 16


def test_a_windows_exports_image_paths_are_found_and_scored_from_their_folder(tmp_path):
    from mediumnet.data.images import table_image_path
    from mediumnet.serving.score import read_input

    (tmp_path / "scans" / "1921").mkdir(parents=True)
    (tmp_path / "scans" / "1921" / "3.tif").write_bytes(b"II*\0")
    (tmp_path / "odd\\name.tif").write_bytes(b"II*\0")   # a Linux name with a backslash
    assert table_image_path(tmp_path, "scans\\1921\\3.tif") == tmp_path / "scans/1921/3.tif"
    assert table_image_path(tmp_path, "odd\\name.tif") == tmp_path / "odd\\name.tif"
    assert table_image_path(tmp_path, "gone\\4.tif") == tmp_path / "gone\\4.tif"  # as written

    (tmp_path / "batch.csv").write_text("path\nscans\\1921\\3.tif\n")
    rows, folders = read_input(tmp_path / "batch.csv")
    assert list(rows["path"]) == [str(tmp_path / "scans" / "1921" / "3.tif")]
    assert folders == [tmp_path / "scans" / "1921"]    # the folder the guard opens
    # The same list saved by a spreadsheet in a semicolon locale, with its byte-order mark.
    (tmp_path / "excel.csv").write_bytes("path;title\r\nscans\\1921\\3.tif;Étude, 3\r\n"
                                         .encode("utf-8-sig"))
    rows, _ = read_input(tmp_path / "excel.csv")
    assert rows.to_dict("records") == [{"path": str(tmp_path / "scans" / "1921" / "3.tif"),
                                        "title": "Étude, 3"}]


@pytest.mark.parametrize(("head", "kind"), [
    (b"\0\0\0\x18ftypheic\0\0\0\0", "HEIF"),
    (b"\0\0\0\x1cftypavif\0\0\0\0", "AVIF"),
    (b"\0\0\0\x18ftypisom\0\0\0\0", None),     # an MP4 video: not an image that did not open
    (b"RIFF\x10\0\0\0WEBPVP8 ", "WebP"),
    (b"RIFF\x10\0\0\0WAVEfmt ", None),
    (b"\0\0\0\x0cjP  \r\n\x87\n\0\0", "JPEG 2000"),
    (b"MM\0*\0\0\0\x08", "TIFF"),
    (b"<!DOCTYPE html>", None),
])
def test_a_files_first_bytes_say_its_format(head, kind):
    assert image_format(head) == kind
    said = unopened(head)
    assert said.startswith(f"a {kind} file that does not open") if kind else \
        said == "not an image (or a format Pillow cannot read)"


def test_an_empty_or_zeroed_file_is_said_to_be_one(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "zeroed.jpg").write_bytes(bytes(4096))   # space taken, never written
    assert unopened(tmp_path / "empty.jpg") == (
        "an empty file (0 bytes: a copy or a download that never finished?)")
    assert unopened(bytes(4096)).startswith("not an image: it begins with zero bytes")
    assert unopened(tmp_path / "zeroed.jpg") == unopened(bytes(4096))


def _encoded(fmt: str, **options) -> bytes:
    """test_jpeg's gradients under noise (240x320) in ``fmt``."""
    import io

    from PIL import Image

    from tests.unit.test_jpeg import SMOOTH

    out = io.BytesIO()
    Image.fromarray(SMOOTH).save(out, fmt, **options)
    return out.getvalue()


@pytest.mark.parametrize(("fmt", "options"), [
    ("JPEG", {}), ("PNG", {}), ("GIF", {}), ("WEBP", {"quality": 90}),
    ("JPEG2000", {"irreversible": True}), ("JPEG2000", {"irreversible": True, "no_jp2": True})])
def test_a_file_cut_short_is_told_from_one_damaged_in_its_middle(fmt, options):
    whole = _encoded(fmt, **options)
    middle = len(whole) // 2
    assert cut_short(whole) is False
    assert cut_short(whole[:middle]) is True
    changed = whole[:middle] + bytes(255 - b for b in whole[middle:middle + 300]) + \
        whole[middle + 300:]
    assert cut_short(changed) is False


def test_a_tiff_is_cut_when_its_directory_lies_past_its_end_and_unknown_otherwise():
    packed = _encoded("TIFF", compression="tiff_deflate")   # its directory after the pixels
    assert cut_short(packed) is None and cut_short(packed[:len(packed) // 2]) is True
    plain = _encoded("TIFF")   # its directory first: the file's end does not say
    assert cut_short(plain) is None and cut_short(plain[:len(plain) // 2]) is None
    assert cut_short(b"GIF89a") is True and cut_short(b"not an image") is None


@pytest.mark.parametrize(("fmt", "options"), [("PNG", {}), ("JPEG2000", {"irreversible": True}),
                                              ("GIF", {})])
def test_the_harvest_counts_a_cut_file_truncated_and_a_damaged_one_corrupt(fmt, options):
    from mediumnet.harvest.verify import BadImageError, verify_image

    whole = _encoded(fmt, **options)
    middle = len(whole) // 2
    with pytest.raises(BadImageError) as cut:
        verify_image(whole[:middle])
    assert cut.value.reason == "truncated"
    with pytest.raises(BadImageError) as lost:   # bytes lost in its middle, its end kept
        verify_image(whole[:middle] + whole[middle + 300:])
    assert lost.value.reason == "corrupt"        # a JPEG 2000's was "truncated" before
