"""The feature study (a tracked step): what distinguishes the mediums, as tables and plots.

:func:`explore` measures every image of a data set with :mod:`mediumnet.study.features` (cached in
``features.parquet``, versioned so that an old table is recomputed, not misread), summarises
per medium, plots, writes a one-page report and logs it all to MLflow. The features
themselves, and their meaning, live in :mod:`mediumnet.study.features`, which the served model
imports; this module is the study and is never imported by the served model.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mediumnet.errors import DatasetError
from mediumnet.labels import MEDIUMS
from mediumnet.study.feature_table import FEATURES_NAME, feature_table
from mediumnet.study.features import (
    BASE_NAMES,
    BASE_NUMERIC,
    DESCRIPTOR_NAMES,
    FEATURE_NAMES,
    FEATURES_VERSION,
    NUMERIC_FOR_MODELS,
    feature_meaning,
    image_features,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FEATURES_NAME", "ExploreResult", "discriminating", "explore", "image_features",
           "markdown_table", "run_explore", "summarise", "write_contact_sheet"]
STUDIED = BASE_NUMERIC + DESCRIPTOR_NAMES
"""The features the study ranks: what describes the work (not its file), spreads included."""
TOP_DESCRIPTORS = 12
"""Texture descriptors shown in the study's plot of the most discriminating ones."""


@dataclass
class ExploreResult:
    """What :func:`explore` measured and wrote."""

    features: pd.DataFrame
    summary: pd.DataFrame
    failed: dict[str, str] = field(default_factory=dict)
    reused: int = 0
    seconds: float = 0.0
    out_dir: Path | None = None
    report: Path | None = None
    plots: list[Path] = field(default_factory=list)
    run_location: str = ""
    ranking: pd.DataFrame | None = None
    """Every model feature ranked by how well it separates the mediums (:func:`discriminating`)."""


def summarise(features: pd.DataFrame, names: Iterable[str] = FEATURE_NAMES) -> pd.DataFrame:
    """Per medium and feature: median and interquartile range (rows: feature, statistic)."""
    import pandas as pd

    names = [n for n in names if n in features]
    grouped = features.groupby("label")[names]
    q1, median, q3 = grouped.quantile(0.25), grouped.median(), grouped.quantile(0.75)
    table = pd.concat({"median": median, "iqr": q3 - q1}, axis=0)
    table = table.reorder_levels([0, 1]).T  # rows: features; columns: (statistic, medium)
    order = [m for m in MEDIUMS if m in median.index]
    return table.reindex(columns=pd.MultiIndex.from_product([["median", "iqr"], order]))


def markdown_table(summary: pd.DataFrame) -> str:
    """Return the per-medium summary as a Markdown table (median and IQR per cell, meaning)."""
    mediums = list(summary["median"].columns)
    lines = ["| feature | " + " | ".join(f"{m} median (IQR)" for m in mediums)
             + " | meaning |", "|---|" + "---|" * (len(mediums) + 1)]
    for feature, row in summary.iterrows():
        cells = [f"{row[('median', m)]:.3g} ({row[('iqr', m)]:.3g})" for m in mediums]
        lines.append(f"| {feature} | " + " | ".join(cells)
                     + f" | {feature_meaning(str(feature))} |")
    return "\n".join(lines) + "\n"


def discriminating(features: pd.DataFrame) -> pd.DataFrame:
    """Rank the work's features by how well each alone separates the mediums.

    The score is the one-way ANOVA F statistic over the mediums present (between-medium
    over within-medium variance; scikit-learn's ``f_classif``): higher separates better.

    Returns
    -------
    pandas.DataFrame
        Index ``feature``; columns ``f_statistic``, ``p_value``, ``kind`` (``descriptor``
        or ``statistic``) and ``meaning``; best first. F is NaN with fewer than two mediums.
    """
    import warnings

    import pandas as pd
    from sklearn.feature_selection import f_classif

    names = [n for n in STUDIED if n in features]
    values = features[names].astype(float)
    values = values.fillna(values.median()).fillna(0.0).to_numpy()
    f_stat = np.full(len(names), np.nan)
    p_value = np.full(len(names), np.nan)
    if features["label"].nunique() >= 2:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # constant features: F undefined (NaN)
            f_stat, p_value = f_classif(values, features["label"].to_numpy())
    ranking = pd.DataFrame({"f_statistic": f_stat, "p_value": p_value,
                            "kind": ["descriptor" if n in DESCRIPTOR_NAMES else "statistic"
                                     for n in names],
                            "meaning": [feature_meaning(n) for n in names]},
                           index=pd.Index(names, name="feature"))
    return ranking.sort_values("f_statistic", ascending=False, na_position="last")


def _descriptor_plot(features: pd.DataFrame, ranking: pd.DataFrame, mediums: list[str],
                     colours: dict, plt) -> object | None:
    """Box plots of the most discriminating texture descriptors, one panel each."""
    top = [n for n in ranking[ranking["kind"] == "descriptor"].dropna().index][:TOP_DESCRIPTORS]
    if not top:
        return None
    cols = 4
    rows = (len(top) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 3.2, rows * 2.6), squeeze=False)
    for ax, name in zip(axes.ravel(), top, strict=False):
        values = [features.loc[features["label"] == m, name].dropna().to_numpy()
                  for m in mediums]
        boxes = ax.boxplot([v if len(v) else [np.nan] for v in values], patch_artist=True,
                           tick_labels=[m[:5] for m in mediums], showfliers=False)
        for box, medium in zip(boxes["boxes"], mediums, strict=True):
            box.set_facecolor(colours[medium])
        ax.set_title(f"{name}\nF = {ranking.at[name, 'f_statistic']:.0f}", fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in axes.ravel()[len(top):]:
        ax.axis("off")
    fig.suptitle("the most discriminating texture descriptors (ANOVA F over mediums)",
                 fontsize=9)
    return fig


def _plots(features: pd.DataFrame, manifest: pd.DataFrame, root: Path, out: Path,
           ranking: pd.DataFrame) -> list[Path]:
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    from mediumnet.figures import pyplot, save_figure

    plt = pyplot()

    plots_dir = out / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)
    mediums = [m for m in MEDIUMS if m in set(features["label"])]
    colours = dict(zip(MEDIUMS, plt.get_cmap("tab10").colors, strict=False))
    written = []

    def save(fig, name):
        written.append(save_figure(fig, plots_dir / name))

    fig, ax = plt.subplots(figsize=(6, 3))
    counts = manifest["label"].value_counts().reindex(MEDIUMS, fill_value=0)
    ax.bar([m.replace("_", "\n") for m in MEDIUMS], counts.values,
           color=[colours[m] for m in MEDIUMS])
    ax.set_ylabel("works")
    ax.set_title("class balance")
    save(fig, "class_balance.png")

    fig, ax = plt.subplots(figsize=(5, 4))
    for m in mediums:
        part = features[features["label"] == m]
        ax.scatter(part["width"], part["height"], s=10, alpha=0.6, label=m, color=colours[m])
    ax.set_xlabel("width (px)")
    ax.set_ylabel("height (px)")
    ax.legend(fontsize=7)
    ax.set_title("image sizes")
    save(fig, "image_sizes.png")

    for name in BASE_NAMES:
        values = [features.loc[features["label"] == m, name].dropna().to_numpy()
                  for m in mediums]
        if not any(len(v) for v in values):
            continue
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.boxplot([v if len(v) else [np.nan] for v in values],
                   tick_labels=[m.replace("_", "\n") for m in mediums], showfliers=False)
        ax.set_title(name)
        save(fig, f"feature_{name}.png")

    fig = _descriptor_plot(features, ranking, mediums, colours, plt)
    if fig is not None:
        save(fig, "descriptors_top.png")

    numeric = features[list(NUMERIC_FOR_MODELS)].fillna(0.0).to_numpy()
    if len(features) >= 3:
        embedded = PCA(n_components=2).fit_transform(StandardScaler().fit_transform(numeric))
        fig, ax = plt.subplots(figsize=(5, 4))
        for m in mediums:
            mask = (features["label"] == m).to_numpy()
            ax.scatter(embedded[mask, 0], embedded[mask, 1], s=10, alpha=0.7, label=m,
                       color=colours[m])
        ax.set_title("features, first two principal components")
        ax.legend(fontsize=7)
        save(fig, "pca.png")

    sheet = plots_dir / "samples.png"
    write_contact_sheet(root, manifest[manifest["id"].isin(features["id"])], sheet)
    written.append(sheet)
    return written


def write_contact_sheet(dataset_dir: str | os.PathLike[str], frame: pd.DataFrame,
                        path: str | os.PathLike[str], per_class: int = 6,
                        thumb: int = 160, caption: str | None = None) -> Path:
    """Save a PNG grid of thumbnails, one row per medium, for a person to look at.

    Parameters
    ----------
    dataset_dir : path-like
        The dataset folder the ``image_path`` column is relative to.
    frame : pandas.DataFrame
        Manifest rows (the first ``per_class`` of each medium are shown).
    path : path-like
        Where to write the PNG.
    per_class, thumb : int
        Thumbnails per row and their size in pixels.
    caption : str, optional
        A column whose value titles each thumbnail.
    """
    from mediumnet.data.views import thumbnail
    from mediumnet.figures import pyplot, save_figure

    plt = pyplot()

    mediums = [m for m in MEDIUMS if m in set(frame["label"])] or list(MEDIUMS)
    fig, axes = plt.subplots(len(mediums), per_class, squeeze=False,
                             figsize=(per_class * 1.6, len(mediums) * 1.5))
    for r, medium in enumerate(mediums):
        rows = frame[frame["label"] == medium].head(per_class)
        for c in range(per_class):
            ax = axes[r, c]
            ax.axis("off")
            if c < len(rows):
                pixels = thumbnail(Path(dataset_dir) / rows.iloc[c]["image_path"], thumb)
                if pixels is None:
                    ax.text(0.5, 0.5, "unreadable", ha="center", fontsize=6)
                else:
                    ax.imshow(pixels)
                if caption:
                    ax.set_title(str(rows.iloc[c][caption])[:24], fontsize=6)
            if c == 0:
                ax.text(-0.1, 0.5, medium.replace("_", "\n"), transform=ax.transAxes,
                        ha="right", va="center", fontsize=7)
    return save_figure(fig, path, dpi=110)


def _report(result: ExploreResult, manifest: pd.DataFrame, out: Path) -> Path:
    lines = ["# Visual feature study", "",
             f"{len(result.features)} images measured ({result.reused} reused from an earlier "
             f"run) in {result.seconds:.1f} s; feature code version {FEATURES_VERSION}.", ""]
    if result.ranking is not None:
        lines += ["## What separates the mediums best", "",
                  "One-way ANOVA F over the mediums present, each feature alone (higher "
                  "separates better; all of them in `discriminating.csv`).", "",
                  "| feature | F | meaning |", "|---|---|---|"]
        for name, row in result.ranking.head(15).iterrows():
            lines.append(f"| {name} | {row['f_statistic']:.1f} | {row['meaning']} |")
        lines.append("")
    lines += ["## Per medium: median (interquartile range)", "", markdown_table(result.summary)]
    lines += ["## Plots", ""]
    for plot in result.plots:
        lines += [f"### {plot.stem.replace('_', ' ')}", "", f"![{plot.stem}](plots/{plot.name})",
                  ""]
    lines += ["## Images that could not be read", ""]
    if result.failed:
        lines += [f"- `{work_id}`: {message}" for work_id, message in result.failed.items()]
    else:
        lines.append("None.")
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def explore(dataset_dir: str | os.PathLike[str], *, sample: int | None = None, seed: int = 0,
            workers: int | None = None, progress: bool = True) -> ExploreResult:
    """Measure every image of a data set, summarise per medium, plot and report.

    Writes ``features.parquet`` (one row per work, with ``features_version``; rows of the same
    version and image bytes are reused, not measured again) and, under ``explore/``,
    ``summary.csv``, ``summary.md``, ``plots/*.png`` and ``report.md``.

    Parameters
    ----------
    dataset_dir : path-like
        Dataset folder with a manifest.
    sample : int, optional
        Measure a random sample of this many works, stratified by medium.
    seed : int
        Seed of the sample.
    workers : int, optional
        Threads (default: one per CPU core).
    progress : bool
        Show a progress bar on a terminal.

    Raises
    ------
    DatasetError
        If the manifest is missing or empty, or no image could be read.
    """
    from mediumnet.data.manifest import labelled, read_manifest

    started = time.perf_counter()
    root = Path(dataset_dir)
    manifest = labelled(read_manifest(root))  # the study is of the mediums
    if manifest.empty:
        raise DatasetError(f"the manifest of {root} has no labelled works: build the data set "
                           "first with mediumnet synth or mediumnet harvest")
    if sample is not None and sample < len(manifest):
        fraction = sample / len(manifest)
        manifest = (manifest.groupby("label", group_keys=False)
                    .sample(frac=fraction, random_state=seed)
                    .sort_values("id").reset_index(drop=True))
    table = feature_table(root, manifest, workers=workers, progress=progress, desc="explore")
    features, failed = table.features, table.failed
    if features.empty:
        raise DatasetError(f"none of the {len(manifest)} images of {root} could be read: "
                           "see the errors above")

    out = root / "explore"
    out.mkdir(exist_ok=True)
    summary = summarise(features)
    summary.to_csv(out / "summary.csv")
    (out / "summary.md").write_text(markdown_table(summary))
    ranking = discriminating(features)
    ranking.to_csv(out / "discriminating.csv", index_label="feature")
    result = ExploreResult(features=features, summary=summary, failed=failed,
                           reused=table.reused, out_dir=out, ranking=ranking)
    result.plots = _plots(features, manifest, root, out, ranking)
    result.seconds = time.perf_counter() - started
    result.report = _report(result, manifest, out)
    return result


def run_explore(dataset_dir: str | os.PathLike[str], config: Any, *, sample: int | None = None,
                progress: bool = True) -> ExploreResult:
    """Run :func:`explore` as one tracked MLflow run (the ``explore`` step)."""
    import mlflow

    from mediumnet.data.manifest import manifest_digest, read_manifest
    from mediumnet.tracking import run_location, start_run

    digest = manifest_digest(read_manifest(dataset_dir))
    # Not "sample": the MLproject entry point logs its own parameter under that name.
    params = {"sampled_works": sample if sample is not None else "all",
              "features_version": FEATURES_VERSION}
    with start_run("explore", config=config, dataset_dir=dataset_dir, dataset_digest=digest,
                   params=params) as run:
        result = explore(dataset_dir, sample=sample, seed=config.data.split_seed,
                         progress=progress)
        mlflow.log_metrics({"images": len(result.features), "unreadable": len(result.failed),
                            "reused": result.reused, "seconds": result.seconds,
                            "images_per_second": (len(result.features) - result.reused)
                            / max(result.seconds, 1e-9)})
        mlflow.log_artifacts(str(result.out_dir), artifact_path="explore")
        result.run_location = run_location(run)
    return result
