"""A broken compressed TIFF: libtiff's words in mediumnet's one line, nothing on stderr."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import tifffile

from mediumnet.config import HarvestConfig
from mediumnet.data.views import ImageError, native_pixels, thumbnail
from mediumnet.harvest.engine import harvest
from mediumnet.harvest.folder import FolderSource
from mediumnet.harvest.verify import BadImageError, verify_image

RGB = (np.random.default_rng(0).random((160, 200, 3)) * 255).astype(np.uint8)
"""Noise: every strip of it compresses to about its own size, so a cut falls mid-image."""


def _tiff(path: Path, compression: str) -> bytes:
    """Write ``RGB`` as a TIFF of 16-row strips, its directory first (as tifffile writes)."""
    tifffile.imwrite(path, RGB, compression=compression, photometric="rgb", rowsperstrip=16)
    return path.read_bytes()


@pytest.fixture
def broken(tmp_path: Path) -> dict[str, Path]:
    """A Deflate TIFF cut at two thirds, and one whose strips are scrambled past a third."""
    cut = tmp_path / "cut.tif"
    data = _tiff(cut, "zlib")
    cut.write_bytes(data[:len(data) * 2 // 3])
    scrambled = tmp_path / "scrambled.tif"
    data = bytearray(_tiff(scrambled, "zlib"))
    start = len(data) // 3
    data[start:start + 2000] = bytes((b * 7 + 13) % 256 for b in data[start:start + 2000])
    scrambled.write_bytes(bytes(data))
    return {"cut": cut, "scrambled": scrambled}


def test_a_broken_tiff_is_said_in_libtiffs_words_in_one_line(broken, capfd):
    with pytest.raises(ImageError, match=r"cut.tif: truncated or corrupt image data \(libtiff: "
                                         r".*Read error on strip \d+; got \d+ bytes, expected"):
        native_pixels(broken["cut"])
    with pytest.raises(ImageError, match=r"scrambled.tif: .*\(libtiff: ZIPDecode: Decoding "
                                         r"error at scanline \d+"):
        native_pixels(broken["scrambled"])
    assert thumbnail(broken["cut"], 64) is None   # a page's placeholder, quietly
    assert capfd.readouterr().err == ""           # Pillow's libtiff printed each twice before


def test_the_harvest_tells_a_cut_tiff_from_a_corrupt_one(broken, capfd):
    with pytest.raises(BadImageError) as cut:
        verify_image(broken["cut"].read_bytes())
    assert cut.value.reason == "truncated"         # "corrupt (decoder error -2)" before
    assert "got" in str(cut.value) and "bytes, expected" in str(cut.value)
    with pytest.raises(BadImageError) as scrambled:
        verify_image(broken["scrambled"].read_bytes())
    assert scrambled.value.reason == "corrupt"
    assert "ZIPDecode" in str(scrambled.value)
    assert capfd.readouterr().err == ""


def test_each_thread_is_told_its_own_files_fault(broken, tmp_path):
    whole = tmp_path / "whole.tif"
    _tiff(whole, "lzw")
    files = [broken["cut"], whole, broken["scrambled"]] * 8

    def outcome(path: Path) -> str:
        try:
            native_pixels(path)
        except ImageError as exc:
            return str(exc)
        return "read"

    with ThreadPoolExecutor(4) as pool:
        said = list(pool.map(outcome, files))
    for path, text in zip(files, said, strict=True):
        expected = {"cut.tif": "Read error on strip", "whole.tif": "read",
                    "scrambled.tif": "ZIPDecode"}[path.name]
        assert expected in text, (path.name, text)


def test_a_folder_harvest_counts_them_and_prints_nothing_of_libtiff(broken, tmp_path, capfd):
    source = tmp_path / "src" / "painting"
    source.mkdir(parents=True)
    for name, path in broken.items():
        (source / f"{name}.tif").write_bytes(path.read_bytes())
    _tiff(source / "whole.tif", "lzw")
    result = harvest(FolderSource(tmp_path / "src"), tmp_path / "ds", HarvestConfig(),
                     progress=False)
    assert result.kept == 1
    assert result.failed_by_reason == {"truncated": 1, "corrupt": 1}
    assert "libtiff: ZIPDecode" in result.text()
    assert "ZIPDecode" not in capfd.readouterr().err
