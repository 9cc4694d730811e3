"""What the harvest's check for damaged JPEG data costs, and what it finds.

Generates photograph-like JPEGs of quality 90 (as ``bench/pipeline.py`` does) and measures in
this one run, per size: the whole decode-verification of one file (``verify_image``), the one
strict libjpeg-turbo decode inside it that gives both the pixels it hashes and the check
(``quiet_jpeg_pixels``, at the scale Pillow's draft chooses), and the two decodes it replaced
(Pillow's of that draft, then the check alone: ``libjpeg_complaint``, every block
entropy-decoded at 1/8 scale, still what a file libjpeg complains of is judged by); and for a
CMYK copy, the views and the verification against Pillow's decode and the check apart, as they
read such a file before 2026-12-05. Then
damages copies of them as a bad transfer does (bytes lost, bytes changed at random places of
the entropy-coded data) and counts which damage the harvest refuses, which Pillow
alone refused before, and which passes unseen.

    .venv/bin/python bench/jpeg_damage.py [--trials 200]
"""

import argparse
import io
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline import make_jpeg  # noqa: E402

from mediumnet.data.jpeg import blocks_lost, libjpeg_complaint, quiet_jpeg_pixels  # noqa: E402
from mediumnet.data.views import (  # noqa: E402
    composition_view,
    letterbox_pixels,
    native_pixels,
    open_image,
    open_reduced,
    to_rgb,
)
from mediumnet.harvest.verify import BadImageError, verify_image  # noqa: E402


def per_file(func, data: bytes, repeat: int = 5) -> float:
    """Seconds ``func(data)`` takes, best of ``repeat``."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        func(data)
        best = min(best, time.perf_counter() - start)
    return best


def pillow_draft(data: bytes) -> tuple[int, int]:
    """Decode ``data`` as a verification did before (Pillow, at its draft's scale); its size."""
    with Image.open(io.BytesIO(data)) as im:
        im.draft("RGB", (256, 256))
        im.load()
        return im.size


def pillows_way(data: bytes, draft: bool) -> np.ndarray:
    """A CMYK JPEG's composition view (``draft``) or pixels as read before: Pillow, the check."""
    im = open_reduced(data, 320, wavelet_levels=False) if draft else open_image(data)
    pixels = np.asarray(to_rgb(im))
    blocks_lost(data)
    return letterbox_pixels(pixels, 320) if draft else pixels


def cmyk_line(width: int, height: int, data: bytes) -> str:
    """The views' and the verification's times on a CMYK copy of ``data``, against Pillow's way."""
    out = io.BytesIO()
    with Image.open(io.BytesIO(data)) as im:
        im.convert("CMYK").save(out, "JPEG", quality=90)
    cmyk = out.getvalue()
    size, parts = pillow_draft(cmyk), []
    for what, ours, before in (
            ("composition view", lambda d: composition_view(d, 320),
             lambda d: pillows_way(d, True)),
            ("every pixel", native_pixels, lambda d: pillows_way(d, False)),
            ("verification's decode", lambda d: quiet_jpeg_pixels(d, size, "CMYK"),
             lambda d: (pillow_draft(d), libjpeg_complaint(d)))):
        now, then = per_file(ours, cmyk, 3), per_file(before, cmyk, 3)
        parts.append(f"{what} {now * 1e3:5.1f} ms ({then * 1e3:5.1f}: {then / now:.1f}x)")
    return f"{width}x{height} CMYK: " + ", ".join(parts) + \
        " (in brackets: Pillow's decode and the check apart, as before)"


def damage(data: bytes, rng: np.random.Generator, how: str) -> bytes:
    """``data`` with a run of bytes lost, or a few bytes changed, after its scan header."""
    start = data.index(b"\xff\xda") + 20
    at = int(rng.integers(start, len(data) - 300))
    if how == "lost":
        return data[:at] + data[at + int(rng.integers(1, 256)):]
    broken = bytearray(data)
    for spot in rng.integers(start, len(data) - 2, int(rng.integers(1, 5))):
        broken[spot] ^= int(rng.integers(1, 256))
    return bytes(broken)


def outcome(data: bytes) -> str:
    """How the harvest judges ``data``: kept, or refused by Pillow or by the libjpeg check."""
    try:
        verify_image(data)
    except BadImageError as exc:
        return "refused: libjpeg check" if "blocks lost" in str(exc) else "refused: Pillow"
    return "kept"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200, help="damaged copies per kind")
    args = parser.parse_args()
    for width, height in ((480, 320), (3000, 2000), (6000, 4000)):
        data = make_jpeg(width, height, seed=width)
        size = pillow_draft(data)
        whole, one = per_file(verify_image, data), per_file(
            lambda d, size=size: quiet_jpeg_pixels(d, size), data)
        pillow, check = per_file(pillow_draft, data), per_file(libjpeg_complaint, data)
        print(f"{width}x{height} ({len(data) / 1e6:4.1f} MB): verify {whole * 1e3:6.1f} ms a "
              f"file; its one decode, pixels and check, {one * 1e3:5.1f} ms, where Pillow's "
              f"{pillow * 1e3:5.1f} ms and the check's {check * 1e3:5.1f} ms were two "
              f"({(pillow + check) / one:.1f}x)")
        if width > 1000:
            print(cmyk_line(width, height, data))
    rng = np.random.default_rng(0)
    sources = [make_jpeg(640, 480, seed=s) for s in range(8)]
    for how in ("lost", "changed"):
        seen = Counter(outcome(damage(sources[i % len(sources)], rng, how))
                       for i in range(args.trials))
        print(f"{args.trials} copies with bytes {how}: " + ", ".join(
            f"{name} {count / args.trials:.0%}" for name, count in sorted(seen.items())))


if __name__ == "__main__":
    main()
