"""One writer at a time in a data set: the lock that harvest, split, label and synth hold.

Two steps writing one data set at once lose work silently: each rebuilds the manifest from what
it read when it began, so the last to finish drops the other's rows (two harvests of 1,000
records each into one folder left a manifest of 1,000), and a harvest starting up removes the
temporary files another is still writing. So each step that writes the manifest or its images
holds the folder's lock (``.mediumnet-writer.lock``, an operating-system lock through the
``filelock`` package: released when the process ends, however it ends), and a second one is
refused in one line that names the first (``.mediumnet-writer.json``: its step, process and
start). Steps that only read (train, audit, evaluate) need no lock: the manifest is replaced
atomically, so they read it whole, before or after.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

from mediumnet.errors import DatasetError

LOCK_NAME = ".mediumnet-writer.lock"
"""The lock file in a data set's folder (empty; it stays, the lock on it goes)."""
HOLDER_NAME = ".mediumnet-writer.json"
"""Who holds the lock: ``step``, ``pid``, ``since`` (removed on release)."""
F = TypeVar("F", bound=Callable[..., Any])


def holder_text(root: Path) -> str:
    """Say which step holds the lock of ``root``, as its holder wrote it."""
    try:
        holder = json.loads((root / HOLDER_NAME).read_text())
        return (f"mediumnet {holder['step']} (process {holder['pid']}, since "
                f"{holder['since']})")
    except (OSError, ValueError, KeyError, TypeError):  # taken a moment ago, not yet written
        return "another mediumnet step"


@contextlib.contextmanager
def writing(dataset_dir: str | os.PathLike[str], step: str, *, create: bool = False
            ) -> Iterator[None]:
    """Hold the writer lock of ``dataset_dir`` while ``step`` writes it.

    The same process may take the lock again (one step calling another).

    Parameters
    ----------
    dataset_dir : path-like
        The data set's folder.
    step : str
        The step that writes (``harvest``, ``split``, ``label``, ``synth``), named to a second
        writer.
    create : bool
        Create the folder first (a step that builds a data set). Otherwise a folder that does
        not exist is not locked: the step says what is missing (``split`` of a folder never
        harvested).

    Raises
    ------
    DatasetError
        If another process holds the lock (nothing is written), or the folder cannot be
        created or written to.
    """
    from filelock import FileLock, Timeout

    from mediumnet.data.manifest import ensure_dataset_dir

    root = ensure_dataset_dir(dataset_dir) if create else Path(dataset_dir)
    if not root.is_dir():
        yield
        return
    lock = FileLock(root / LOCK_NAME, timeout=0, is_singleton=True)
    try:
        lock.acquire()
    except Timeout:
        raise DatasetError(f"{root} is being written by {holder_text(root)}: wait for it to "
                           f"finish (or stop it), then run {step} again; one step at a time "
                           "writes a data set") from None
    except OSError as exc:
        reason = (exc.strerror or exc.__class__.__name__).lower()
        raise DatasetError(f"cannot write to dataset folder {root} ({reason}): choose a "
                           "folder you can write to") from None
    outermost = lock.lock_counter == 1
    try:
        if outermost:
            (root / HOLDER_NAME).write_text(json.dumps({
                "step": step, "pid": os.getpid(),
                "since": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())}))
        yield
    finally:
        if outermost:
            (root / HOLDER_NAME).unlink(missing_ok=True)
        lock.release()


def writes_dataset(step: str, *, create: bool = False) -> Callable[[F], F]:
    """Make a function that takes ``dataset_dir`` hold its writer lock (:func:`writing`)."""

    def decorate(func: F) -> F:
        signature = inspect.signature(func)

        @functools.wraps(func)
        def locked(*args: Any, **kwargs: Any) -> Any:
            dataset_dir = signature.bind(*args, **kwargs).arguments["dataset_dir"]
            with writing(dataset_dir, step, create=create):
                return func(*args, **kwargs)

        return cast(F, locked)

    return decorate
