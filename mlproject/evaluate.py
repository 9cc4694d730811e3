"""MLproject entry point evaluate: `mediumnet evaluate MODEL_URI DATASET_DIR --split SPLIT`."""

import argparse

from mediumnet.cli import cli

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("model_uri")
    parser.add_argument("dataset_dir")
    parser.add_argument("--split", default="test")
    parser.add_argument("--preset", default="seed")
    args = parser.parse_args()
    cli.main(args=["evaluate", args.model_uri, args.dataset_dir, "--split", args.split,
                   "--preset", args.preset], prog_name="mlproject/evaluate.py")
