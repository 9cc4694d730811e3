"""The version of mediumnet (read by setup.cfg and tagged on every run)."""

__version__ = "0.1.0"
