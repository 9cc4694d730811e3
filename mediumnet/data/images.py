"""The content-addressed image store and image fingerprints.

Images live at ``DATASET_DIR/images/ab/abcdef….jpg``, named by the SHA-256 of their bytes:
the same file is stored once whatever source it came from, and a stored file is never
rewritten. The perceptual hash (pHash) finds near-duplicates that differ in bytes. A table's
image paths (a harvest's CSV, a batch to score) and a folder's image files are read here too.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mediumnet.data.jpeg2000 import (
    CODESTREAM_END,
    CODESTREAM_START,
    JP2_SIGNATURE,
    jpeg2000_layout,
)
from mediumnet.data.png import PNG_SIGNATURE

IMAGES_DIR = "images"

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".tif", ".tiff", ".webp",
                            ".jp2", ".j2k", ".jpf", ".jpx", ".heic", ".heif", ".hif", ".avif",
                            ".bmp", ".gif"})
"""The image files taken from a folder (``harvest folder``, ``score``): JPEG, PNG, TIFF, WebP,
JPEG 2000 (many archives' masters), HEIC (a phone's photographs), AVIF, BMP and GIF, each
decoded by Pillow (HEIC through pi-heif; a GIF's first frame)."""

SYSTEM_FILES = frozenset({"thumbs.db", "desktop.ini", "ehthumbs.db"})
"""Files an operating system leaves in a folder of images (beside the hidden ``.*`` ones)."""


@dataclass
class FolderImages:
    """The image files of a folder tree, and what else it holds that is not read."""

    files: list[Path] = field(default_factory=list)
    """The image files, sorted, hidden ones left out."""
    other_types: Counter[str] = field(default_factory=Counter)
    """Files of types not read, by suffix (``"(none)"`` for a name without one)."""
    hidden_images: int = 0
    """Hidden files with an image's suffix, left out: macOS's ``._scan.tif`` copies of a
    file's resource fork are not images."""

    def not_read(self) -> str:
        """Return one line on the files left out ("" when none is worth saying)."""
        parts = []
        if self.other_types:
            kinds = ", ".join(f"{kind} {n}" for kind, n in
                              sorted(self.other_types.items(), key=lambda kv: (-kv[1], kv[0])))
            total = sum(self.other_types.values())
            parts.append(f"{total} file{'' if total == 1 else 's'} of types mediumnet does not "
                         f"read ({kinds}; an image in another format, such as camera raw or "
                         "PSD, is read once saved as TIFF, JPEG or PNG)")
        if self.hidden_images:
            parts.append(f"{self.hidden_images} hidden file"
                         f"{'' if self.hidden_images == 1 else 's'} named as images (such as "
                         "macOS's ._ copies)")
        return "not read: " + "; ".join(parts) if parts else ""


def images_in(folder: str | os.PathLike[str]) -> list[Path]:
    """Return the image files under ``folder`` (:func:`folder_images`), refusing a folder of none.

    Raises
    ------
    DatasetError
        No image file in the folder; the message says what it holds instead.
    """
    from mediumnet.errors import DatasetError

    listing = folder_images(folder)
    if not listing.files:
        found = listing.not_read().removeprefix("not read: ")
        raise DatasetError(f"{folder}: no image files (JPEG, PNG, TIFF, WebP, JPEG 2000, HEIC, "
                           "AVIF, BMP or GIF) in this folder"
                           + (f"; found {found}" if found else ""))
    return listing.files


def folder_images(folder: str | os.PathLike[str], *,
                  leave_out: str | os.PathLike[str] | None = None) -> FolderImages:
    """List the image files under ``folder`` (:data:`IMAGE_SUFFIXES`), and count the rest.

    A file or folder whose name starts with a dot is hidden and left out, as are the files an
    operating system leaves (:data:`SYSTEM_FILES`); neither is counted among the other types.

    Parameters
    ----------
    folder : path-like
        The top of the tree.
    leave_out : path-like, optional
        A folder whose files are neither listed nor counted (a data set that a harvest of
        ``folder`` writes inside it).

    Returns
    -------
    FolderImages
    """
    folder = Path(folder)
    left_out: tuple[str, ...] | None = None   # its parts below folder, when it is below
    if leave_out is not None and folder.resolve() in Path(leave_out).resolve().parents:
        left_out = Path(leave_out).resolve().relative_to(folder.resolve()).parts
    found = FolderImages()
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if not path.is_file() or path.name.lower() in SYSTEM_FILES:
            continue
        if left_out is not None and parts[:len(left_out)] == left_out:
            continue
        suffix = path.suffix.lower()
        if any(part.startswith(".") for part in parts):
            found.hidden_images += suffix in IMAGE_SUFFIXES
        elif suffix in IMAGE_SUFFIXES:
            found.files.append(path)
        else:
            found.other_types[suffix or "(none)"] += 1
    return found


def table_image_path(base: str | os.PathLike[str], text: str) -> Path:
    r"""Return where an image path written in a table points: relative to the table's folder.

    A table exported on Windows separates folders with backslashes (``scans\0042.tif``): where
    no file has the name as written, the same path with slashes is taken.

    Parameters
    ----------
    base : path-like
        The folder the table lies in.
    text : str
        The path as the table writes it (an absolute path is taken as it is).
    """
    path = Path(base) / text
    if "\\" in text and not path.exists():
        slashed = Path(base) / text.replace("\\", "/")
        if slashed.exists():
            return slashed
    return path


SIGNATURES = ((0, b"\xff\xd8\xff", "JPEG"), (0, PNG_SIGNATURE, "PNG"),
              (0, b"II*\0", "TIFF"), (0, b"MM\0*", "TIFF"), (0, b"II+\0", "BigTIFF"),
              (0, b"MM\0+", "BigTIFF"), (0, b"GIF8", "GIF"), (8, b"WEBP", "WebP"),
              (0, JP2_SIGNATURE, "JPEG 2000"), (0, CODESTREAM_START, "JPEG 2000"))
"""``(offset, bytes, format)``: how an image file of each format the branches read begins."""
HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1",
                         b"avif", b"avis"})
"""The major brands of a HEIF or AVIF file's ``ftyp`` box (an MP4 video's are others)."""


def image_format(head: bytes) -> str | None:
    """Return the format a file's first 16 bytes announce ("TIFF", "PNG", ...), or None."""
    if head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS:
        return "HEIF" if head[8:11] != b"avi" else "AVIF"
    return next((kind for at, start, kind in SIGNATURES
                 if head[at:at + len(start)] == start), None)


def cut_short(data: bytes) -> bool | None:
    """Return whether an image file's ``data`` end before the last bytes its format lays out.

    A JPEG and a JPEG 2000 codestream end with their end marker (a JP2 file's codestream where
    its box says, or with the file: a file shorter than its box says that still ends with the
    marker lost bytes in its middle, and is not cut), a PNG with its ``IEND`` chunk, a GIF with
    its trailer, a WebP where its RIFF header says; a TIFF whose first directory lies past its
    end is cut. None where the format does not say (a TIFF's strips, HEIF, BMP) or a JP2
    header too damaged to tell where the codestream ends.
    """
    kind, tail = image_format(data[:16]), data.rstrip(b"\0")
    if kind == "JPEG":
        return not tail.endswith(b"\xff\xd9")
    if kind == "PNG":
        return tail[-8:-4] != b"IEND"
    if kind == "GIF":
        return not tail.endswith(b";")
    if kind == "WebP":
        return int.from_bytes(data[4:8], "little") + 8 > len(data)
    if kind == "TIFF":
        first = int.from_bytes(data[4:8], "little" if data[:2] == b"II" else "big")
        return True if first + 2 > len(data) else None
    if kind != "JPEG 2000":
        return None
    layout = jpeg2000_layout(io.BytesIO(data))
    if layout is None:
        return None
    end = len(data) if layout.codestream_end is None else min(len(data), layout.codestream_end)
    return not data[max(0, end - 4096):end].rstrip(b"\0").endswith(CODESTREAM_END)


def unopened(source: bytes | str | os.PathLike[str]) -> str:
    """Say why an image file (a path or its bytes) that Pillow could not identify did not open.

    A file that begins as an image of a known format does: it is damaged or cut short (in its
    header), or its layout is one Pillow does not read; anything else is not an image.
    """
    head = b""
    if isinstance(source, bytes | bytearray):
        head = bytes(source[:16])
    else:
        with contextlib.suppress(OSError), open(source, "rb") as file:
            head = file.read(16)
    kind = image_format(head)
    if not head:
        return "an empty file (0 bytes: a copy or a download that never finished?)"
    if not head.strip(b"\0"):
        return ("not an image: it begins with zero bytes (a copy or a download that never "
                "finished?)")
    if kind is None:
        return "not an image (or a format Pillow cannot read)"
    return (f"a {kind} file that does not open: damaged, cut short or laid out in a way "
            "Pillow does not read")


def sha256_bytes(data: bytes) -> str:
    """Return the hexadecimal SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def image_relpath(sha256: str, ext: str = ".jpg") -> str:
    """Return the store path of an image, relative to the dataset folder.

    Examples
    --------
    >>> image_relpath("abcdef0123", ".jpg")
    'images/ab/abcdef0123.jpg'
    """
    ext = ext if ext.startswith(".") else f".{ext}"
    return f"{IMAGES_DIR}/{sha256[:2]}/{sha256}{ext.lower()}"


def store_image_bytes(dataset_dir: str | os.PathLike[str], data: bytes,
                      ext: str = ".jpg") -> tuple[str, str]:
    """Write image bytes into the store unless they are already there.

    The file appears atomically (temporary file, then rename): a reader never sees half an
    image, and an interrupted write leaves nothing behind under the final name.

    Returns
    -------
    relpath : str
        Path relative to ``dataset_dir``.
    sha256 : str
        SHA-256 of ``data``.
    """
    digest = sha256_bytes(data)
    relpath = image_relpath(digest, ext)
    target = Path(dataset_dir) / relpath
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return relpath, digest


def phash(rgb: np.ndarray) -> str:
    """Return the 64-bit DCT perceptual hash of an image as 16 hexadecimal characters.

    The image is reduced to 32x32 grey levels; the hash keeps the sign of the 8x8
    lowest-frequency DCT coefficients (without the DC term) against their median, so it
    survives resizing, recompression and small colour changes. Near-duplicates differ in few
    bits (compare with :func:`phash_distance`).

    Parameters
    ----------
    rgb : numpy.ndarray
        ``(H, W, 3)`` or ``(H, W)`` uint8 image.
    """
    import cv2

    grey = rgb if rgb.ndim == 2 else cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    small = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].flatten()[1:]
    bits = low > np.median(low)
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return f"{value:016x}"


def phash_distance(a: str, b: str) -> int:
    """Return the number of differing bits between two :func:`phash` values."""
    return (int(a, 16) ^ int(b, 16)).bit_count()
