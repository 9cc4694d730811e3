"""The figures of an evaluation: confusion matrix, reliability diagram, galleries of works.

Each function draws one PNG with matplotlib (Agg, no display needed) and returns its path;
:mod:`mediumnet.study.evaluate` puts them in its reports and the label audit shows its most
doubtful works with :func:`write_gallery`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from mediumnet.labels import MEDIUMS


def plot_confusion(confusion: np.ndarray, path: Path, title: str,
                   mediums: tuple[str, ...] = MEDIUMS) -> Path:
    """Save the confusion matrix as a PNG: counts beside row-normalised shares (recall).

    Parameters
    ----------
    confusion : numpy.ndarray
        Counts, true mediums in rows and predicted ones in columns, in the order of
        ``mediums``.
    path : pathlib.Path
        The PNG to write.
    title : str
        Put before each panel's name.
    mediums : tuple of str
        The rows' and columns' mediums.
    """
    from mediumnet.figures import pyplot, save_figure

    plt = pyplot()

    totals = confusion.sum(axis=1, keepdims=True)
    normalised = np.divide(confusion, totals, out=np.zeros(confusion.shape), where=totals > 0)
    names = [m.replace("_", "\n") for m in mediums]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    for ax, values, fmt, label in ((axes[0], confusion, "d", "counts"),
                                   (axes[1], normalised, ".2f", "row-normalised (recall)")):
        ax.imshow(values, cmap="Blues", vmin=0)
        ax.set_xticks(range(len(mediums)), names, fontsize=7)
        ax.set_yticks(range(len(mediums)), names, fontsize=7)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{title}: {label}", fontsize=9)
        top = values.max() if values.size else 0
        for i in range(len(mediums)):
            for j in range(len(mediums)):
                ax.text(j, i, format(values[i, j], fmt), ha="center", va="center", fontsize=8,
                        color="white" if top and values[i, j] > top / 2 else "black")
    return save_figure(fig, path)


def plot_reliability(bins: pd.DataFrame, ece: float, path: Path) -> Path:
    """Save the reliability diagram as a PNG: accuracy per confidence bin against the diagonal.

    Parameters
    ----------
    bins : pandas.DataFrame
        ``low``, ``high`` and ``accuracy`` per bin, as
        :func:`mediumnet.metrics.expected_calibration_error` gives them.
    ece : float
        The expected calibration error, shown in the title.
    path : pathlib.Path
        The PNG to write.
    """
    from mediumnet.figures import pyplot, save_figure

    plt = pyplot()

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    centres = (bins["low"] + bins["high"]) / 2
    ax.bar(centres, bins["accuracy"].fillna(0), width=1 / len(bins), edgecolor="black",
           alpha=0.7, label="accuracy")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    ax.set_xlabel("confidence of the predicted medium")
    ax.set_ylabel("accuracy")
    ax.set_title(f"Reliability (ECE {ece:.3f})", fontsize=9)
    ax.legend(fontsize=7)
    return save_figure(fig, path)


def write_gallery(dataset_dir: str | os.PathLike[str], image_paths: list[str],
                  captions: list[str], path: str | os.PathLike[str], *, columns: int = 4,
                  thumb: int = 220, title: str = "") -> Path:
    """Save a PNG grid of thumbnails with a caption under each (for a curator to look at).

    Parameters
    ----------
    dataset_dir : path-like
        The folder the image paths are relative to.
    image_paths, captions : list of str
        One per thumbnail.
    path : path-like
        The PNG to write.
    """
    from mediumnet.data.views import thumbnail
    from mediumnet.figures import pyplot, save_figure

    plt = pyplot()

    n = max(1, len(image_paths))
    rows = -(-n // columns)
    fig, axes = plt.subplots(rows, columns, squeeze=False,
                             figsize=(columns * 2.6, rows * 2.9))
    for k, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if k >= len(image_paths):
            if k == 0:
                ax.text(0.5, 0.5, "nothing to show", ha="center", fontsize=9)
            continue
        pixels = thumbnail(Path(dataset_dir) / image_paths[k], thumb)
        if pixels is None:
            ax.text(0.5, 0.5, "unreadable", ha="center", fontsize=7)
        else:
            ax.imshow(pixels)
        ax.set_title(captions[k], fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)
