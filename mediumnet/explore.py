"""The visual feature study: what distinguishes the five mediums, as numbers and plots.

The research observed that drawings have few objects and much empty paper, paintings many
colours leaning to the dark, engravings crisp lines everywhere, photographs often no colour,
and gouache and watercolour look like coloured drawings. :func:`image_features` turns these
observations into measurements of one image — from a reduced-size decode for the whole-image
statistics and a few native-resolution grid tiles for line and texture statistics — so that
the stacking ensemble can use them at serving time; :func:`explore` measures a whole data set,
summarises per medium, plots, writes a one-page report and logs it all to MLflow.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mediumnet.errors import DatasetError
from mediumnet.labels import MEDIUMS

if TYPE_CHECKING:
    import pandas as pd

FEATURES_VERSION = 1
"""Bumped whenever a feature's definition changes; stored with every row of features.parquet."""

FEATURES_NAME = "features.parquet"
THUMB_EDGE = 256
"""Long edge of the reduced decode the whole-image statistics use."""
TEXTURE_TILE = 256
TEXTURE_TILES = 4
GREY_SPREAD = 8.0
"""Mean channel spread (max - min over R, G, B) below which an image counts as colourless."""
EMPTY_DISTANCE = 18
"""A pixel within this distance (max over channels) of the border's colour is empty paper."""

FEATURE_NAMES: tuple[str, ...] = (
    "width", "height", "megapixels", "aspect_ratio", "file_bytes", "jpeg_quality",
    "grayscale", "channel_spread", "colourfulness", "saturation_mean", "saturation_std",
    "value_mean", "value_std", "dominant_colours", "dark_share",
    "empty_share", "content_x0", "content_y0", "content_x1", "content_y1", "content_area",
    "edge_density", "sharpness", "line_crispness", "high_freq_energy",
)
"""Every feature :func:`image_features` returns, in a fixed order."""

NUMERIC_FOR_MODELS: tuple[str, ...] = (
    "aspect_ratio", "grayscale", "channel_spread", "colourfulness", "saturation_mean",
    "saturation_std", "value_mean", "value_std", "dominant_colours", "dark_share",
    "empty_share", "content_area", "edge_density", "sharpness", "line_crispness",
    "high_freq_energy",
)
"""The features that describe the work rather than its file (for models: no size, no bytes)."""


def file_bytes(source: object) -> float:
    """Return the size of an image's file in bytes (a path or the bytes); NaN for a PIL image."""
    if isinstance(source, bytes | bytearray):
        return float(len(source))
    if isinstance(source, str | os.PathLike):
        return float(Path(source).stat().st_size)
    return float("nan")


def jpeg_quality(im) -> float:
    """Estimate the JPEG quality (1-100) from the luminance quantisation table; NaN if none."""
    tables = getattr(im, "quantization", None) or {}
    if 0 not in tables:
        return float("nan")
    # The IJG base luminance table; a file's table is this scaled by its quality.
    base = (16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40,
            57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35,
            55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112,
            100, 103, 99)
    table = np.asarray(sorted(tables[0]), dtype=np.float64)
    scale = float(np.mean(table / np.asarray(sorted(base), dtype=np.float64))) * 100
    quality = (200 - scale) / 2 if scale <= 100 else 5000 / scale
    return float(np.clip(round(quality), 1, 100))


def _colour_stats(rgb: np.ndarray) -> dict[str, float]:
    import cv2

    pixels = rgb.astype(np.float32)
    spread = float((pixels.max(axis=2) - pixels.min(axis=2)).mean())
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    rg, yb = r - g, 0.5 * (r + g) - b
    colourfulness = math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean())
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV).astype(np.float32)
    sat, val = hsv[..., 1] / 255.0, hsv[..., 2] / 255.0
    quantised = (rgb[..., 0] // 64) * 16 + (rgb[..., 1] // 64) * 4 + rgb[..., 2] // 64
    shares = np.bincount(quantised.ravel(), minlength=64) / quantised.size
    return {"grayscale": float(spread < GREY_SPREAD), "channel_spread": spread,
            "colourfulness": float(colourfulness), "saturation_mean": float(sat.mean()),
            "saturation_std": float(sat.std()), "value_mean": float(val.mean()),
            "value_std": float(val.std()), "dominant_colours": float((shares > 0.03).sum()),
            "dark_share": float((val < 0.25).mean())}


def _emptiness(rgb: np.ndarray) -> dict[str, float]:
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]]).astype(np.int16)
    paper = np.median(border, axis=0)
    content = np.abs(rgb.astype(np.int16) - paper).max(axis=2) > EMPTY_DISTANCE
    h, w = content.shape
    rows, cols = np.nonzero(content.any(axis=1))[0], np.nonzero(content.any(axis=0))[0]
    if len(rows) == 0:
        box = (0.5, 0.5, 0.5, 0.5)
    else:
        box = (cols[0] / w, rows[0] / h, (cols[-1] + 1) / w, (rows[-1] + 1) / h)
    return {"empty_share": float(1 - content.mean()), "content_x0": float(box[0]),
            "content_y0": float(box[1]), "content_x1": float(box[2]),
            "content_y1": float(box[3]), "content_area": float((box[2] - box[0])
                                                               * (box[3] - box[1]))}


def _texture_stats(tiles: np.ndarray) -> dict[str, float]:
    import cv2

    edges, sharp, crisp, high = [], [], [], []
    for tile in tiles:
        grey = cv2.cvtColor(tile, cv2.COLOR_RGB2GRAY)
        # Smoothed first, as Canny intends: film grain and canvas weave are not lines.
        found = cv2.Canny(cv2.GaussianBlur(grey, (0, 0), 1.0), 60, 150) > 0
        edges.append(found.mean())
        sharp.append(cv2.Laplacian(grey, cv2.CV_32F).var())
        # Line crispness: gradient at edge pixels over the local contrast around them. A crisp
        # engraved line reaches its full contrast within a pixel; a soft pencil line does not.
        gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
        magnitude = cv2.magnitude(gx, gy) / 4.0
        kernel = np.ones((5, 5), np.uint8)
        contrast = (cv2.dilate(grey, kernel).astype(np.float32)
                    - cv2.erode(grey, kernel).astype(np.float32))
        if found.any():
            crisp.append(float(np.median(magnitude[found] / (contrast[found] + 1.0))))
        spectrum = np.abs(np.fft.rfft2(grey.astype(np.float32) - grey.mean())) ** 2
        fy = np.fft.fftfreq(grey.shape[0])[:, None]
        fx = np.fft.rfftfreq(grey.shape[1])[None, :]
        radius = np.sqrt(fx ** 2 + fy ** 2)
        total = spectrum.sum()
        high.append(float(spectrum[radius > 0.25].sum() / total) if total > 0 else 0.0)
    return {"edge_density": float(np.mean(edges)), "sharpness": float(np.mean(sharp)),
            "line_crispness": float(np.mean(crisp)) if crisp else 0.0,
            "high_freq_energy": float(np.mean(high))}


def image_features(source: object) -> dict[str, float]:
    """Measure one image: size, colour, emptiness, and line/texture statistics.

    Parameters
    ----------
    source : path, bytes or PIL image

    Returns
    -------
    dict
        One float per name in :data:`FEATURE_NAMES` (``jpeg_quality`` is NaN for non-JPEGs,
        ``file_bytes`` NaN for a PIL image).

    Raises
    ------
    mediumnet.data.views.ImageError
        If the image cannot be used (named in the message).
    """
    from PIL import Image

    from mediumnet.data.views import _name, open_image, texture_tiles, to_rgb

    im = open_image(source)
    width, height = im.size
    quality = jpeg_quality(im)
    size_bytes = file_bytes(source)
    scale = THUMB_EDGE / max(width, height)
    if scale < 1 and im.format == "JPEG":
        im.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))
    rgb_image = to_rgb(im, _name(source))
    rgb_image.thumbnail((THUMB_EDGE, THUMB_EDGE), Image.Resampling.BOX)
    rgb = np.asarray(rgb_image)
    tile = min(TEXTURE_TILE, width, height)
    tiles = texture_tiles(source, tile, TEXTURE_TILES, mode="grid")
    return _assemble(rgb, tiles, width, height, size_bytes, quality)


def _assemble(thumb: np.ndarray, tiles: np.ndarray, width: int, height: int,
              file_bytes: float, jpeg_quality: float) -> dict[str, float]:
    features = {"width": float(width), "height": float(height),
                "megapixels": width * height / 1e6, "aspect_ratio": width / height,
                "file_bytes": file_bytes, "jpeg_quality": jpeg_quality}
    features.update(_colour_stats(thumb))
    features.update(_emptiness(thumb))
    features.update(_texture_stats(tiles))
    return {name: float(features[name]) for name in FEATURE_NAMES}


def features_from_pixels(pixels: np.ndarray, *, file_bytes: float = float("nan"),
                         jpeg_quality: float = float("nan")) -> dict[str, float]:
    """:func:`image_features` of already decoded pixels (no second decode).

    The served ensemble decodes an image once and cuts every view and these statistics from
    the same pixels. The thumbnail is reduced from the full pixels instead of a DCT-scaled
    decode, so values differ from :func:`image_features` by a hair; a model must be trained
    and served on the same one of the two (the stack is: both go through this function).

    Parameters
    ----------
    pixels : numpy.ndarray
        ``(H, W, 3)`` uint8 RGB, upright.
    file_bytes, jpeg_quality : float
        What only the file knows (NaN when there is no file).
    """
    from PIL import Image

    from mediumnet.data.views import tiles_from_pixels

    height, width = pixels.shape[:2]
    thumb = Image.fromarray(np.ascontiguousarray(pixels))
    thumb.thumbnail((THUMB_EDGE, THUMB_EDGE), Image.Resampling.BOX)
    tile = min(TEXTURE_TILE, width, height)
    tiles = tiles_from_pixels(pixels, tile, TEXTURE_TILES, mode="grid")[0]
    return _assemble(np.asarray(thumb), tiles, width, height, file_bytes, jpeg_quality)


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
    """Return the per-medium summary as a Markdown table (median and IQR per cell)."""
    mediums = list(summary["median"].columns)
    lines = ["| feature | " + " | ".join(f"{m} median (IQR)" for m in mediums) + " |",
             "|---|" + "---|" * len(mediums)]
    for feature, row in summary.iterrows():
        cells = [f"{row[('median', m)]:.3g} ({row[('iqr', m)]:.3g})" for m in mediums]
        lines.append(f"| {feature} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _plots(features: pd.DataFrame, manifest: pd.DataFrame, root: Path, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    plots_dir = out / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)
    mediums = [m for m in MEDIUMS if m in set(features["label"])]
    colours = dict(zip(MEDIUMS, plt.get_cmap("tab10").colors, strict=False))
    written = []

    def save(fig, name):
        path = plots_dir / name
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)

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

    for name in FEATURE_NAMES:
        values = [features.loc[features["label"] == m, name].dropna().to_numpy()
                  for m in mediums]
        if not any(len(v) for v in values):
            continue
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.boxplot([v if len(v) else [np.nan] for v in values],
                   tick_labels=[m.replace("_", "\n") for m in mediums], showfliers=False)
        ax.set_title(name)
        save(fig, f"feature_{name}.png")

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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mediumnet.data.views import thumbnail

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
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def _report(result: ExploreResult, manifest: pd.DataFrame, out: Path) -> Path:
    lines = ["# Visual feature study", "",
             f"{len(result.features)} images measured ({result.reused} reused from an earlier "
             f"run) in {result.seconds:.1f} s; feature code version {FEATURES_VERSION}.", ""]
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
    import pandas as pd
    from tqdm.auto import tqdm

    from mediumnet.data.manifest import read_manifest
    from mediumnet.data.views import map_images

    started = time.perf_counter()
    root = Path(dataset_dir)
    manifest = read_manifest(root)
    if manifest.empty:
        raise DatasetError(f"the manifest of {root} is empty: build the data set first with "
                           "mediumnet synth or mediumnet harvest")
    if sample is not None and sample < len(manifest):
        fraction = sample / len(manifest)
        manifest = (manifest.groupby("label", group_keys=False)
                    .sample(frac=fraction, random_state=seed)
                    .sort_values("id").reset_index(drop=True))
    features_path = root / FEATURES_NAME
    previous = pd.DataFrame()
    if features_path.is_file():
        previous = pd.read_parquet(features_path)
        if "features_version" in previous:
            previous = previous[previous["features_version"] == FEATURES_VERSION]
        else:
            previous = pd.DataFrame()
    known = {} if previous.empty else {
        (r["id"], r["sha256"]): r for r in previous.to_dict("records")}
    todo = [r for r in manifest.to_dict("records") if (r["id"], r["sha256"]) not in known]
    rows, failed = [], {}
    measured = tqdm(map_images(image_features, [root / r["image_path"] for r in todo],
                               workers or os.cpu_count() or 1),
                    total=len(todo), desc="explore", unit="img",
                    disable=None if progress else True, leave=False)
    for record, (values, error) in zip(todo, measured, strict=True):
        if error:
            failed[record["id"]] = error
            continue
        rows.append({"id": record["id"], "sha256": record["sha256"], "label": record["label"],
                     "features_version": FEATURES_VERSION, **values})
    reused = [known[(r["id"], r["sha256"])] for r in manifest.to_dict("records")
              if (r["id"], r["sha256"]) in known]
    for row in reused:
        row["label"] = manifest.set_index("id").at[row["id"], "label"]
    features = pd.DataFrame(reused + rows)
    if features.empty:
        raise DatasetError(f"none of the {len(manifest)} images of {root} could be read: "
                           "see the errors above")
    features = features.sort_values("id").reset_index(drop=True)
    keep = previous[~previous["id"].isin(features["id"])] if not previous.empty else None
    stored = pd.concat([keep, features]) if keep is not None and len(keep) else features
    tmp = features_path.with_suffix(".parquet.part")
    stored.sort_values("id").reset_index(drop=True).to_parquet(tmp, index=False)
    tmp.replace(features_path)

    out = root / "explore"
    out.mkdir(exist_ok=True)
    summary = summarise(features)
    summary.to_csv(out / "summary.csv")
    (out / "summary.md").write_text(markdown_table(summary))
    result = ExploreResult(features=features, summary=summary, failed=failed,
                           reused=len(reused), out_dir=out)
    result.plots = _plots(features, manifest, root, out)
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
