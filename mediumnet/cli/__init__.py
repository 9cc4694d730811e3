"""The ``mediumnet`` command line: parse, call the library, print. No logic lives here.

:mod:`~mediumnet.cli.app` holds the group, its shared options and the MLproject runner;
:mod:`~mediumnet.cli.data_commands` and :mod:`~mediumnet.cli.model_commands` the commands.
"""

from mediumnet.cli import data_commands, model_commands  # noqa: F401 - they add the commands
from mediumnet.cli.app import cli, main, run_entry_point

__all__ = ["cli", "main", "run_entry_point"]
