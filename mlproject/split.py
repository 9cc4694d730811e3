"""MLproject entry point `split`: the same code as `mediumnet split`."""

import sys

from mediumnet.cli import cli

if __name__ == "__main__":
    cli.main(args=["split", *sys.argv[1:]], prog_name="mlproject/split.py")
