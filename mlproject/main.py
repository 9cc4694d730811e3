"""MLproject entry point main: the whole chain as nested runs (mediumnet.workflow)."""

import argparse
import sys

from mediumnet.errors import MediumnetError
from mediumnet.workflow import run_workflow, summary_text

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", default="synth")
    parser.add_argument("--dataset-dir", default="data/synth")
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--with-effnet", default="auto")
    parser.add_argument("--src", default="")
    parser.add_argument("--limit", type=float, default=0)
    args = parser.parse_args()
    try:
        result = run_workflow(args.source, args.dataset_dir, args.preset, args.with_effnet,
                              src=args.src, limit=int(args.limit),
                              echo=lambda line: print(f"mediumnet main {line}", flush=True))
        print(summary_text(result, result.dataset_dir), flush=True)
    except MediumnetError as exc:
        print(f"mediumnet: error: {exc}", file=sys.stderr)
        sys.exit(1)
