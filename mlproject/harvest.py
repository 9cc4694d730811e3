"""MLproject entry point `harvest`: the same code as `mediumnet harvest SOURCE`."""

import argparse

from mediumnet.cli import cli

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("source")
    parser.add_argument("dataset_dir")
    parser.add_argument("--limit", type=float, default=0)
    parser.add_argument("--api-url", default="")
    parser.add_argument("--src", default="")
    args = parser.parse_args()
    argv = ["harvest", args.source, args.dataset_dir]
    if args.limit > 0:
        argv += ["--limit", str(int(args.limit))]
    if args.api_url and args.source != "folder":
        argv += ["--api-url", args.api_url]
    if args.source == "folder":
        argv += ["--from", args.src]
    cli.main(args=argv, prog_name="mlproject/harvest.py")
