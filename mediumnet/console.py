"""A quiet command line: TensorFlow's native log lines and Pillow's remarks only when asked for.

TensorFlow's C++ libraries print start-up notices (oneDNN, CUDA drivers, CPU instructions) on
standard error while they load, before ``TF_CPP_MIN_LOG_LEVEL`` is even read. :func:`quiet`
sets that level and silences the process's standard error for the duration of the first
``import tensorflow`` only, through an import hook, so nothing is imported before a command
needs it and Python's own errors still show. It also hides the warnings Pillow issues while it
reads a damaged file ("Truncated File Read", "Corrupt EXIF data", "Tag data larger than file"):
they name no file, and the command's own line names the file it refuses.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
import threading
import warnings

VERBOSE_ENV = "MEDIUMNET_VERBOSE"
"""Set to 1 to see TensorFlow's native start-up lines (as ``mediumnet --verbose`` does)."""
PILLOW_MODULES = r"PIL\."
"""Where the warnings :func:`quiet` hides are issued (``PIL.TiffImagePlugin``, ...)."""


def verbose_requested() -> bool:
    """Whether :data:`VERBOSE_ENV` asks for TensorFlow's native log lines."""
    return os.environ.get(VERBOSE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


class _SilentLoader(importlib.abc.Loader):
    """Run another loader with file descriptor 2 pointed at /dev/null."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            self._loader.exec_module(module)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)


class _QuietTensorflowFinder(importlib.abc.MetaPathFinder):
    """Wrap the loader of the top-level ``tensorflow`` package in :class:`_SilentLoader`."""

    _busy = threading.local()

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow" or getattr(self._busy, "on", False):
            return None
        self._busy.on = True
        try:
            spec = importlib.machinery.PathFinder.find_spec(name, path)
        finally:
            self._busy.on = False
        if spec is not None and spec.loader is not None:
            spec.loader = _SilentLoader(spec.loader)
        return spec


def quiet(verbose: bool = False) -> None:
    """Hide TensorFlow's native start-up lines and Pillow's warnings unless ``verbose``.

    Call it before TensorFlow is imported (TensorFlow loaded already keeps its lines); it does
    nothing when ``verbose`` is true, or when :data:`VERBOSE_ENV` is set.
    """
    if verbose or verbose_requested():
        return
    warnings.filterwarnings("ignore", category=UserWarning, module=PILLOW_MODULES)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules or any(isinstance(f, _QuietTensorflowFinder)
                                          for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietTensorflowFinder())
