"""Gradient boosting's fit: scikit-learn's own against mediumnet's, binned in one pass.

    .venv/bin/python bench/boosting.py [--works 700] [--features 96] [--repeats 3]

Unbalanced mediums and balanced class weights, as the learner choice fits it (every fit
weighted), on a collection's size; prints both times, their ratio, and the largest gap
between the two models' probabilities (0: the same trees).
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mediumnet.ensemble.boosting import BinnedBoosting  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--works", type=int, default=700)
    parser.add_argument("--features", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    y = rng.choice(3, args.works, p=[0.5, 0.35, 0.15])
    x = rng.normal(size=(args.works, args.features)) + y[:, None] * 0.3
    settings = {"class_weight": "balanced", "max_iter": 150, "max_leaf_nodes": 7,
                "min_samples_leaf": 3, "random_state": 0}
    seconds, probs = {}, {}
    for name, kind in (("scikit-learn", HistGradientBoostingClassifier),
                       ("mediumnet", BinnedBoosting)):
        started = time.perf_counter()
        for _ in range(args.repeats):
            model = kind(**settings).fit(x, y)
        seconds[name] = (time.perf_counter() - started) / args.repeats
        probs[name] = model.predict_proba(x)
    print(f"{args.works} works x {args.features} features, balanced class weights: "
          f"scikit-learn {seconds['scikit-learn']:.2f} s a fit, mediumnet "
          f"{seconds['mediumnet']:.2f} s ({seconds['scikit-learn'] / seconds['mediumnet']:.1f}x); "
          f"largest probability gap {np.abs(probs['scikit-learn'] - probs['mediumnet']).max():.1e}")


if __name__ == "__main__":
    main()
