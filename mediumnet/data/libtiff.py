"""Pillow's libtiff: what it says of a broken TIFF goes into mediumnet's one line, not stderr.

Pillow decodes a compressed TIFF (LZW, Deflate, JPEG, ...) with libtiff, whose default
handlers print each warning and error on standard error: "tempfile.tif: Using code not yet in
table." beside mediumnet's own line about the file, between a harvest's progress bars, while
that line says only what Pillow says, "decoder error -2". :func:`listen_to_libtiff` installs
handlers in the libtiff Pillow's ``_imaging`` module is linked with (once a process): every
message goes to the ``mediumnet`` logger at DEBUG level, and the last error is kept for the
thread that decoded, so :func:`why_failed` can name what libtiff found ("ZIPDecode:
Decoding error at scanline 54, incorrect data check"). Where Pillow's libtiff cannot be
reached (a build that links it statically, as on Windows), nothing changes.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import threading

log = logging.getLogger("mediumnet")

_HANDLER = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p)
"""libtiff's ``TIFFErrorHandler``: module, printf format, ``va_list`` (a pointer as passed)."""
_said = threading.local()
_handlers: list = []
"""The handlers installed, kept alive here: libtiff calls them for the process's lifetime."""
_reached: list[bool] = []
"""Whether the handlers could be installed, once tried."""
_lock = threading.Lock()


@functools.cache
def _vsnprintf():
    """Return the C library's ``vsnprintf``, or None where it cannot be reached."""
    try:
        vsnprintf = ctypes.CDLL(None).vsnprintf
    except (AttributeError, OSError, TypeError):
        return None
    vsnprintf.argtypes = (ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_void_p)
    return vsnprintf


def _formatted(fmt: bytes, args: int | None) -> str:
    """Return the message of a printf format and its ``va_list`` (else the format itself)."""
    vsnprintf = _vsnprintf()
    if vsnprintf is None:
        return fmt.decode("utf-8", "replace")
    buffer = ctypes.create_string_buffer(1024)
    vsnprintf(buffer, len(buffer), fmt, args)
    return buffer.value.decode("utf-8", "replace")


def _handler(kind: str) -> object:
    """Return a libtiff handler that logs its ``kind`` of message and keeps the last error."""
    def said(module: bytes | None, fmt: bytes | None, args: int | None) -> None:
        text = _formatted(fmt or b"", args)
        if module and module != b"tempfile.tif":   # the name Pillow gives every file it decodes
            text = f"{module.decode('utf-8', 'replace')}: {text}"
        log.debug("libtiff %s: %s", kind, text)
        if kind == "error":
            _said.error = text
    return _HANDLER(said)


def listen_to_libtiff() -> bool:
    """Route Pillow's libtiff messages to the log; forget this thread's last error.

    Installs the handlers on the first call (later calls only forget); call it before each
    image is decoded.

    Returns
    -------
    bool
        Whether Pillow's libtiff listens to mediumnet (False where it cannot be reached).
    """
    _said.error = None
    with _lock:
        if not _reached:
            _reached.append(_install())
    return _reached[0]


def _install() -> bool:
    """Install the handlers in the libtiff ``PIL._imaging`` links to; False where it cannot."""
    try:
        from PIL import _imaging

        # dlsym on the extension's handle searches the libraries it was linked with.
        linked = ctypes.CDLL(_imaging.__file__)
        set_warning, set_error = linked.TIFFSetWarningHandler, linked.TIFFSetErrorHandler
    except (ImportError, OSError, AttributeError):
        return False
    handlers = _handler("warning"), _handler("error")
    for setter, handler in zip((set_warning, set_error), handlers, strict=True):
        setter.argtypes, setter.restype = (_HANDLER,), ctypes.c_void_p
        setter(handler)
    _handlers.extend(handlers)
    return True


def why_failed(exc: BaseException) -> str:
    """Say why a decode failed: libtiff's last error in this thread, or else ``exc`` itself.

    Pillow says "decoder error -2" for every TIFF its libtiff could not decode; libtiff has
    said why (since this thread's last :func:`listen_to_libtiff`).
    """
    error = getattr(_said, "error", None)
    return f"libtiff: {error}" if error else str(exc)
