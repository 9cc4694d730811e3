"""MLproject entry point `explore`: the same code as `mediumnet explore` (sample 0 = all)."""

import argparse

from mediumnet.cli import cli

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset_dir")
    parser.add_argument("--sample", type=float, default=0)
    args = parser.parse_args()
    argv = ["explore", args.dataset_dir]
    if args.sample > 0:
        argv += ["--sample", str(int(args.sample))]
    cli.main(args=argv, prog_name="mlproject/explore.py")
