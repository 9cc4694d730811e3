"""Training speed: images per second of one training step of each branch at preset sizes.

    .venv/bin/python bench/train_step.py [--preset seed] [--steps 3] [--mixed-precision]
                                         [--xla] [--branches composition,texture,effnet]

A branch trained in stages is measured in its last one, where the most layers train. On a GPU,
compare runs with and without --mixed-precision and --xla.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mediumnet.config import load_config  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="seed")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--mixed-precision", action="store_true")
    parser.add_argument("--xla", action="store_true")
    parser.add_argument("--branches", default="",
                        help="comma-separated Keras branches (default: all of the registry)")
    args = parser.parse_args()

    import keras
    import tensorflow as tf

    from mediumnet.branches import get_branch, keras_branches
    from mediumnet.train.distribute import configure_precision

    config = load_config(args.preset, ["effnet.weights=none"])
    policy = configure_precision("on" if args.mixed_precision else "off")
    devices = [d.device_type for d in tf.config.list_physical_devices()]
    print(f"preset {args.preset}; devices {devices}; policy {policy}; XLA {args.xla}")
    names = args.branches.split(",") if args.branches else [b.name for b in keras_branches()]
    for branch in names:
        spec = get_branch(branch)
        model = spec.build(config)
        spec.enter_stage(model, len(spec.stages(config)))  # the last stage: the most trained
        size = spec.preprocessor(config).example().shape[1]
        batch = spec.batch_size(config)
        model.compile(keras.optimizers.Adam(1e-3), "categorical_crossentropy",
                      jit_compile=args.xla)
        rng = np.random.default_rng(0)
        x = rng.integers(0, 255, (batch, size, size, 3)).astype("uint8")
        y = np.eye(5, dtype="float32")[rng.integers(0, 5, batch)]
        model.train_on_batch(x, y)  # warm-up: tracing and compilation
        start = time.perf_counter()
        for _ in range(args.steps):
            model.train_on_batch(x, y)
        seconds = (time.perf_counter() - start) / args.steps
        print(f"{branch:11s} {size}px batch {batch:3d}: {seconds:6.2f} s/step, "
              f"{batch / seconds:7.1f} images/s, {model.count_params():,} parameters")


if __name__ == "__main__":
    main()
