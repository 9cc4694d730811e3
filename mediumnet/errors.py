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


BROKEN_FILE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, RuntimeError)
"""What Pillow and its plugins raise for an image file they cannot read: OSError (truncated),
SyntaxError and ValueError (a malformed header or segment), EOFError (pillow-heif's HEIC, cut
short) and RuntimeError (Pillow's AVIF and pi-heif's decoders). Caught where a file is decoded,
and said as one line naming the file."""
