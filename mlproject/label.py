"""MLproject entry point label: the parameters of mediumnet/entry_points.py, run."""

from mediumnet.cli import run_entry_point

if __name__ == "__main__":
    run_entry_point()
