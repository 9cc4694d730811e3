"""Feature-study speed: milliseconds per 3000x2000 JPEG (quality 90) on one core, and the
feature study's throughput on every core.

    .venv/bin/python bench/explore_speed.py [--images 60]

The one-core figure is the whole feature vector of one image (decode, statistics, texture
descriptors), measured in one thread with OpenCV held to one thread; the split of that time
between the decode and the measurements is printed too.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.pipeline import make_jpeg  # noqa: E402
from mediumnet.data.images import store_image_bytes  # noqa: E402
from mediumnet.data.manifest import manifest_frame, write_manifest  # noqa: E402
from mediumnet.labels import MEDIUMS  # noqa: E402
from mediumnet.study.explore import explore, image_features  # noqa: E402
from mediumnet.study.features import FEATURE_NAMES  # noqa: E402


def one_core(root: Path, rows: list[dict]) -> None:
    """Print milliseconds per image for the whole vector and for its parts, in one thread."""
    import cv2

    from mediumnet.data.views import native_pixels
    from mediumnet.study.features import features_from_pixels

    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        paths = [root / r["image_path"] for r in rows]
        start = time.perf_counter()
        for path in paths:
            image_features(path)
        whole = (time.perf_counter() - start) / len(paths)
        start = time.perf_counter()
        pixels = [native_pixels(path) for path in paths[:5]]
        decode = (time.perf_counter() - start) / 5
        start = time.perf_counter()
        for p in pixels:
            features_from_pixels(p)
        measure = (time.perf_counter() - start) / 5
    finally:
        cv2.setNumThreads(threads)
    print(f"one core: {1000 * whole:.0f} ms per 3000x2000 image for all "
          f"{len(FEATURE_NAMES)} values (decode {1000 * decode:.0f} ms, measurements "
          f"{1000 * measure:.0f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rows = []
        for i in range(args.images):
            data = make_jpeg(3000, 2000, seed=i)
            rel, sha = store_image_bytes(root, data, ".jpg")
            rows.append({"id": f"bench:{i}", "source": "bench", "label": MEDIUMS[i % 5],
                         "image_path": rel, "sha256": sha, "width": 3000, "height": 2000,
                         "bytes": len(data), "artist": f"a{i}"})
        write_manifest(root, manifest_frame(rows))
        image_features(root / rows[0]["image_path"])  # warm-up: imports and decoder set-up
        one_core(root, rows[:20])
        start = time.perf_counter()
        result = explore(root, progress=False)
        seconds = time.perf_counter() - start
        again = time.perf_counter()
        explore(root, progress=False)
        rerun = time.perf_counter() - again
    n = len(result.features)
    measuring = seconds - rerun  # the second run redoes everything but the measurements
    print(f"{n} images of 3000x2000: {seconds:.1f} s in all; a second run, measurements "
          f"reused, {rerun:.1f} s (summary, plots, report)")
    print(f"measuring: {n / measuring:.1f} images/s = {1000 * measuring / n:.0f} s per "
          "thousand images")


if __name__ == "__main__":
    main()
