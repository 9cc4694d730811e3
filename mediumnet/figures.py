"""Figures written as PNG files: matplotlib on its file-only backend, laid out, saved, closed.

Every chart and gallery mediumnet draws (class balance, learning curves, confusion matrices,
reliability diagrams, the feature study's plots, thumbnail grids) goes to a file that is logged
to MLflow or linked from a report, from the command line, a served model's process or a worker
thread: never to a window. :func:`pyplot` gives matplotlib's pyplot on the Agg backend, which
needs no display; :func:`save_figure` writes a figure and frees it, also when saving fails, so
a long run that draws hundreds of figures does not keep them all.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import ModuleType

    from matplotlib.figure import Figure


def pyplot() -> ModuleType:
    """Return ``matplotlib.pyplot`` drawing with the Agg backend (files only, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Figure, path: str | os.PathLike[str], *, dpi: int = 100) -> Path:
    """Lay ``fig`` out, save it to ``path`` (PNG) and close it; return ``path``.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        A figure made with :func:`pyplot`.
    path : path-like
        The file to write; its suffix names the format (``.png`` throughout mediumnet).
    dpi : int
        Dots per inch.
    """
    try:
        fig.tight_layout()
        fig.savefig(path, dpi=dpi)
    finally:
        pyplot().close(fig)
    return Path(path)
