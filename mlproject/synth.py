"""MLproject entry point `synth`: the same code as `mediumnet synth`, inside the MLflow run."""

import sys

from mediumnet.cli import cli

if __name__ == "__main__":
    cli.main(args=["synth", *sys.argv[1:]], prog_name="mlproject/synth.py")
