"""Input pipeline speed: views against the naive way, and a cached epoch against the first.

Generates 3000x2000 and 6000x4000 JPEGs (quality 90), then measures in this one run:

1. composition view against the naive way (PIL open, full decode, LANCZOS resize to 320);
2. texture tiles (``grid``, 8 tiles of 320) against the naive way (full decode, then crop);
   both single-threaded and with the pipeline's own parallelism (one thread per core); and
   every pixel decoded (random tiles, the features) against Pillow's and OpenCV's decode;
   the composition view of a multi-picture JPEG (the same picture with a gain map, as a phone
   saves it) against the whole decode and shrinking it was before 2026-12-05, and the plain
   JPEG's;
3. a cached epoch of ``make_dataset`` against the first, uncached epoch.

    .venv/bin/python bench/pipeline.py [--small 8] [--large 3]
"""

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mediumnet.config import load_config  # noqa: E402
from mediumnet.data.images import store_image_bytes  # noqa: E402
from mediumnet.data.manifest import manifest_frame, write_manifest  # noqa: E402
from mediumnet.data.views import (  # noqa: E402
    composition_view,
    letterbox_pixels,
    native_pixels,
    texture_tiles,
)
from mediumnet.labels import MEDIUMS  # noqa: E402


def make_jpeg(width: int, height: int, seed: int) -> bytes:
    """A textured, photograph-like JPEG: smooth masses plus fine grain."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 255, (height // 100, width // 100, 3), dtype=np.uint8)
    img = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC).astype(np.int16)
    img += rng.integers(-12, 12, (height, width, 1), dtype=np.int16)
    ok, buf = cv2.imencode(".jpg", np.clip(img, 0, 255).astype(np.uint8),
                           [cv2.IMWRITE_JPEG_QUALITY, 90])
    return buf.tobytes()


def with_gain_map(path: Path) -> Path:
    """A multi-picture copy of the JPEG at ``path``: its picture and a quarter-size gain map."""
    out = path.with_suffix(".mpo.jpg")
    with Image.open(path) as im:
        im.save(out, "MPO", quality=90, save_all=True,
                append_images=[im.convert("L").resize((im.width // 4, im.height // 4))])
    return out


def naive_composition(path: Path, size: int = 320) -> np.ndarray:
    im = Image.open(path).convert("RGB")
    scale = size / max(im.size)
    im = im.resize((round(im.width * scale), round(im.height * scale)), Image.LANCZOS)
    out = np.full((size, size, 3), 127, np.uint8)
    out[:im.height, :im.width] = np.asarray(im)
    return out


def naive_tiles(path: Path, tile: int = 320, n: int = 8) -> np.ndarray:
    pixels = np.asarray(Image.open(path).convert("RGB"))
    h, w = pixels.shape[:2]
    rows, cols = 2, n // 2
    return np.stack([pixels[int((r + .5) * h / rows - tile / 2):][:tile,
                            int((c + .5) * w / cols - tile / 2):][:, :tile]
                     for r in range(rows) for c in range(cols)])


def naive_pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def opencv_pixels(path: Path) -> np.ndarray:
    bgr = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def rate(func, paths, threads: int, repeat: int = 2) -> float:
    """Images per second of ``func`` over ``paths`` (best of ``repeat``)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        if threads == 1:
            for p in paths:
                func(p)
        else:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(func, paths))
        best = min(best, time.perf_counter() - start)
    return len(paths) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=8, help="3000x2000 images")
    parser.add_argument("--large", type=int, default=3, help="6000x4000 images")
    parser.add_argument("--epoch-works", type=int, default=40,
                        help="3000x2000 works in the data set of the epoch measurement")
    args = parser.parse_args()
    cores = os.cpu_count() or 1

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ds"
        root.mkdir()
        sets = {"3000x2000": [], "6000x4000": []}
        rows = []
        for name, (w, h), count in (("3000x2000", (3000, 2000), args.small),
                                    ("6000x4000", (6000, 4000), args.large)):
            for _ in range(count):
                data = make_jpeg(w, h, seed=len(rows))
                rel, sha = store_image_bytes(root, data, ".jpg")
                sets[name].append(root / rel)
                rows.append({"id": f"bench:{len(rows)}", "source": "bench",
                             "label": MEDIUMS[len(rows) % len(MEDIUMS)], "image_path": rel,
                             "sha256": sha, "width": w, "height": h, "bytes": len(data),
                             "split": "train", "artist": f"a{len(rows)}"})
        write_manifest(root, manifest_frame(rows))
        print(f"{cores} CPU cores; JPEG quality 90")

        for name, paths in sets.items():
            if not paths:
                continue
            mp = int(name.split("x")[0]) * int(name.split("x")[1]) / 1e6
            for label, ours, naive in (
                    ("composition 320", lambda p: composition_view(p, 320), naive_composition),
                    ("texture grid 8x320", lambda p: texture_tiles(p, 320, 8), naive_tiles)):
                n1, o1 = rate(naive, paths, 1), rate(ours, paths, 1)
                on = rate(ours, paths, cores)
                print(f"{name} {label:19s} naive {n1:6.2f} img/s ({n1 * mp:6.1f} MP/s) | "
                      f"mediumnet {o1:6.2f} img/s ({o1 * mp:6.1f} MP/s) = {o1 / n1:4.1f}x | "
                      f"with {cores} threads {on:6.2f} img/s = {on / n1:4.1f}x")
            # every pixel (random tiles, the features): Pillow, OpenCV (mediumnet's decoder
            # until 2026-12-05) and mediumnet's (libjpeg-turbo through simplejpeg)
            pil, cv, ours = (rate(naive_pixels, paths, 1), rate(opencv_pixels, paths, 1),
                             rate(native_pixels, paths, 1))
            print(f"{name} {'full decode, RGB':19s} Pillow {pil:6.2f} img/s | OpenCV {cv:6.2f} "
                  f"img/s | mediumnet {ours:6.2f} img/s ({ours * mp:6.1f} MP/s) = "
                  f"{ours / pil:4.1f}x Pillow, {ours / cv:4.1f}x OpenCV")
            mpos = [with_gain_map(p) for p in paths]
            whole, mpo, plain = (rate(lambda p: letterbox_pixels(native_pixels(p), 320), mpos, 1),
                                 rate(lambda p: composition_view(p, 320), mpos, 1),
                                 rate(lambda p: composition_view(p, 320), paths, 1))
            print(f"{name} {'composition, MPO':19s} before (whole) {whole:6.2f} img/s | "
                  f"mediumnet {mpo:6.2f} img/s = {mpo / whole:4.1f}x | the plain JPEG's "
                  f"{plain:6.2f} img/s")

        import tensorflow as tf

        from mediumnet.branches import keras_branches

        tf.constant(0)   # TensorFlow's start-up (seconds) is no epoch's: paid before timing

        epoch_root = Path(tmp) / "epoch"
        epoch_root.mkdir()
        epoch_rows = []
        for i in range(args.epoch_works):
            data = make_jpeg(3000, 2000, seed=1000 + i)
            rel, sha = store_image_bytes(epoch_root, data, ".jpg")
            epoch_rows.append({"id": f"epoch:{i}", "source": "bench",
                               "label": MEDIUMS[i % len(MEDIUMS)], "image_path": rel,
                               "sha256": sha, "width": 3000, "height": 2000,
                               "bytes": len(data), "split": "train", "artist": f"a{i}"})
        write_manifest(epoch_root, manifest_frame(epoch_rows))
        config = load_config("seed", ["composition.batch_size=8", "texture.batch_size=32",
                                      "data.tiles_per_image_train=4"])
        views = {}
        for branch in keras_branches():  # one branch per view the cache holds
            views.setdefault(branch.preprocessor(config).view, branch)
        for view, branch in views.items():
            start = time.perf_counter()
            dataset = branch.dataset(epoch_root, "train", config)
            for _ in dataset:
                pass
            first = time.perf_counter() - start
            start = time.perf_counter()
            for _ in dataset:  # the second epoch
                pass
            second = time.perf_counter() - start
            start = time.perf_counter()
            for _ in branch.dataset(epoch_root, "train", config):  # a second run
                pass
            rerun = time.perf_counter() - start
            print(f"{view:11s} {len(epoch_rows)} works of 3000x2000: first epoch (decode + "
                  f"cache) {first:5.2f} s | second epoch {second:5.3f} s = "
                  f"{first / second:5.1f}x faster | second run, pipeline set-up included "
                  f"{rerun:5.3f} s = {first / rerun:5.1f}x faster")


if __name__ == "__main__":
    main()
