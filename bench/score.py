"""Batch scoring speed: `mediumnet score` locally and on Spark local[2], the same images.

    .venv/bin/python bench/score.py [--preset demo] [--images 200] [--size 1600x1200]
                                    [--batch 32]

Builds the ensemble of a preset (untrained branch models and features branch: speed does
not depend on the weights; as bench/serve.py does), writes ``--images`` generated JPEGs to a
folder, and scores the folder with ``--engine local`` and then ``--engine spark --master
local[2]``, each through ``mediumnet.serving.score.score`` (reading, decoding, every branch, writing
the Parquet table). Prints images per second of each and their ratio, measured in one run,
and checks that both tables agree.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.serve import build, jpeg  # noqa: E402
from mediumnet.config import load_config  # noqa: E402
from mediumnet.console import quiet  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--size", default="1600x1200")
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    quiet()
    import pandas as pd

    from mediumnet.ensemble.classifier import PROBABILITY_COLUMNS
    from mediumnet.serving.score import score

    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = build(root, load_config(args.preset), optional=False)
        folder = root / "scans"
        folder.mkdir()
        for i in range(args.images):
            (folder / f"{i:05d}.jpg").write_bytes(jpeg(width, height, seed=i))
        results = {}
        for engine, master in (("local", None), ("spark", "local[2]")):
            started = time.perf_counter()
            result = score(folder, root / f"{engine}.parquet", model_uri=str(model),
                           engine=engine, master=master, batch=args.batch, progress=False)
            results[engine] = (result, time.perf_counter() - started)
        local = pd.read_parquet(root / "local.parquet")
        spark = pd.read_parquet(root / "spark.parquet")
        same = bool((local["label"] == spark["label"]).all() and np.allclose(
            local[list(PROBABILITY_COLUMNS)], spark[list(PROBABILITY_COLUMNS)], atol=1e-6))
    print(f"{args.images} JPEGs of {width}x{height}, preset {args.preset}, batch {args.batch}")
    for engine, (result, seconds) in results.items():
        print(f"{engine:>5}: {args.images / seconds:6.1f} images/s ({seconds:.1f} s in all: "
              f"start-up, model loading, {result.rows} rows scored and written)")
    ratio = results["spark"][1] / results["local"][1]
    print(f"spark local[2] / local time: {ratio:.2f}; identical answers: {same}")


if __name__ == "__main__":
    main()
