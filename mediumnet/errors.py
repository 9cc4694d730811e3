"""The one family of errors mediumnet raises for problems a user can fix.

Every message is one line that names what is wrong and what to do about it; the command line
prints it as ``mediumnet: error: <message>`` and exits with status 1.
"""


class MediumnetError(Exception):
    """A problem the user can fix: bad input, a missing file, a wrong setting."""


class ConfigError(MediumnetError):
    """An unknown preset, a malformed ``--set`` override or an invalid setting."""


class DatasetError(MediumnetError):
    """A dataset folder that cannot be read or written, or a manifest that is not valid."""


class LabelError(MediumnetError):
    """An unknown source or medium name."""
