"""MLproject entry points train_composition, train_texture, train_effnet.

Their parameters are those of mediumnet/entry_points.py; this runs them.
"""

from mediumnet.cli import run_entry_point

if __name__ == "__main__":
    run_entry_point()
