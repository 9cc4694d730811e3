"""The ``mediumnet`` command line: parse, call the library, print. No logic lives here.

:mod:`~mediumnet.cli.app` holds the group, its shared options and the MLproject runner;
:mod:`~mediumnet.cli.data_commands`, :mod:`~mediumnet.cli.model_commands`,
:mod:`~mediumnet.cli.weights_commands` and :mod:`~mediumnet.cli.collection_commands` the
commands.
"""

from mediumnet.cli import (  # noqa: F401 - they add the commands
    collection_commands,
    data_commands,
    model_commands,
    weights_commands,
)
from mediumnet.cli.app import cli, main, run_entry_point

__all__ = ["cli", "main", "run_entry_point"]
