"""The ``mediumnet`` command line: parse, call the library, print. No logic lives here."""

from __future__ import annotations

import functools
import re
import sys
import time
from collections.abc import Callable
from typing import Any

import click

from mediumnet.errors import MediumnetError
from mediumnet.version import __version__

_SIZE = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")


def _fail(message: str) -> None:
    click.echo(f"mediumnet: error: {message}", err=True)
    sys.exit(1)


def _errors_as_one_line(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a :class:`MediumnetError` into one line on stderr and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except MediumnetError as exc:
            _fail(str(exc))
        except KeyboardInterrupt:
            _fail("interrupted; what was already written is kept, run the command again "
                  "to finish")

    return wrapper


def _config_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--preset`` and ``--set`` to a command."""
    func = click.option(
        "--set", "overrides", multiple=True, metavar="SECTION.FIELD=VALUE",
        help="Override one setting, e.g. --set data.composition_size=256 (repeatable).",
    )(func)
    return click.option(
        "--preset", default="seed", show_default=True,
        help="Named settings: seed (the research), demo (minutes on a CPU), tiny (seconds, "
             "for tests) or full.",
    )(func)


def _parse_size(text: str) -> tuple[int, int]:
    match = _SIZE.match(text)
    if not match:
        raise MediumnetError(f"--size {text!r}: write WIDTHxHEIGHT, e.g. --size 1600x1200")
    return int(match.group(1)), int(match.group(2))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mediumnet")
@click.option("--verbose", is_flag=True, envvar="MEDIUMNET_VERBOSE",
              help="Show TensorFlow's native start-up lines (or MEDIUMNET_VERBOSE=1).")
def cli(verbose: bool) -> None:
    """Tell the medium of a digitised artwork from its image.

    painting, engraving, drawing, gouache_watercolor, photography. Every step is tracked in
    MLflow: with no MLFLOW_TRACKING_URI set, runs go to ./mlflow.db and ./mlruns.
    """
    from mediumnet.console import quiet

    quiet(verbose)


@cli.command("config")
@_config_options
@_errors_as_one_line
def config_command(preset: str, overrides: tuple[str, ...]) -> None:
    """Print the resolved settings of a preset (with --set overrides) as YAML."""
    from mediumnet.config import load_config

    click.echo(load_config(preset, overrides).to_yaml(), nl=False)


@cli.command("synth")
@click.argument("dataset_dir", type=click.Path(file_okay=False))
@click.option("--per-class", type=int, default=None,
              help="Images per medium (default: the preset's, 200 for seed).")
@click.option("--size", default=None, metavar="WxH",
              help="Image size in pixels (default: the preset's, 1600x1200 for seed).")
@click.option("--seed", type=int, default=None, help="Seed: the same seed gives the same "
              "images, byte for byte (default: 0).")
@click.option("--workers", type=int, default=None,
              help="Processes drawing images (default: one per CPU core).")
@click.option("--mediums", default=None, metavar="M,M,…",
              help="Only these mediums, e.g. painting,drawing,photography (default: all five).")
@_config_options
@_errors_as_one_line
def synth_command(dataset_dir: str, per_class: int | None, size: str | None, seed: int | None,
                  workers: int | None, mediums: str | None, preset: str,
                  overrides: tuple[str, ...]) -> None:
    """Generate a synthetic art set in DATASET_DIR (works offline).

    Each medium is drawn from its real cues at two scales (composition when shrunk, texture
    at native resolution), and a share of works makes the two scales disagree on purpose.
    The images and manifest.parquet follow the same layout as every harvested source.
    """
    from mediumnet.config import load_config

    extra = list(overrides)
    if per_class is not None:
        extra.append(f"synth.per_class={per_class}")
    if size is not None:
        width, height = _parse_size(size)
        extra += [f"synth.width={width}", f"synth.height={height}"]
    if seed is not None:
        extra.append(f"synth.seed={seed}")
    if workers is not None:
        extra.append(f"synth.workers={workers}")
    if mediums is not None:
        extra.append(f"synth.mediums={mediums}")
    config = load_config(preset, extra)

    from mediumnet.prepare import run_synth

    started = time.perf_counter()
    result = run_synth(dataset_dir, config)
    seconds = time.perf_counter() - started
    click.echo(result.summary)
    click.echo(f"{result.n_images} images written to {result.dataset_dir} in {seconds:.1f} s "
               f"(manifest: {result.manifest_path}, digest {result.digest})")
    click.echo(result.run_location)


@cli.command("split")
@click.argument("dataset_dir", type=click.Path(file_okay=False))
@click.option("--val", type=float, default=None, help="Share of works for validation "
              "(default: the preset's data.val_fraction, 0.15).")
@click.option("--test", type=float, default=None, help="Share of works for test "
              "(default: the preset's data.test_fraction, 0.15).")
@click.option("--seed", type=int, default=None, help="Seed of the split (default 0).")
@click.option("--min-groups", type=int, default=None,
              help="Artist groups each medium needs (default: data.min_groups, 3: one each "
                   "for train, val and test).")
@click.option("--reshuffle", is_flag=True,
              help="Assign every work anew (default: works keep the split they have and "
                   "only new works are assigned).")
@_config_options
@_errors_as_one_line
def split_command(dataset_dir: str, val: float | None, test: float | None, seed: int | None,
                  min_groups: int | None, reshuffle: bool, preset: str,
                  overrides: tuple[str, ...]) -> None:
    """Split DATASET_DIR into train/val/test, grouped by artist and stratified by medium.

    No artist has works in two splits; works of unknown artists are groups of their own.
    Every medium gets works in val and test. Run again after a harvest added works: works
    keep their split and only the new ones are assigned. The split is written into the
    manifest's split column.
    """
    from mediumnet.config import load_config
    from mediumnet.prepare import run_split

    extra = list(overrides)
    for key, value in (("val_fraction", val), ("test_fraction", test), ("split_seed", seed),
                       ("min_groups", min_groups)):
        if value is not None:
            extra.append(f"data.{key}={value}")
    summary, location = run_split(dataset_dir, load_config(preset, extra), reshuffle=reshuffle)
    click.echo(summary.table.to_string())
    click.echo(f"split written to {dataset_dir}/manifest.parquet: {summary.newly_assigned} "
               f"works newly assigned, {summary.moved} moved"
               f"{'' if reshuffle else ' (existing splits kept; --reshuffle redoes them)'}")
    for line in summary.warnings:
        click.echo(f"warning: {line}", err=True)
    click.echo(location)


@cli.command("explore")
@click.argument("dataset_dir", type=click.Path(file_okay=False))
@click.option("--sample", type=click.IntRange(min=1), default=None,
              help="Measure a random sample of N works, stratified by medium (default: all).")
@_config_options
@_errors_as_one_line
def explore_command(dataset_dir: str, sample: int | None, preset: str,
                    overrides: tuple[str, ...]) -> None:
    """Measure what distinguishes the mediums: features, per-medium summary, plots, report.

    Writes DATASET_DIR/features.parquet and DATASET_DIR/explore/ (summary.csv, summary.md,
    plots/, report.md), and logs them to an MLflow run.
    """
    from mediumnet.config import load_config
    from mediumnet.explore import markdown_table, run_explore

    result = run_explore(dataset_dir, load_config(preset, overrides), sample=sample)
    click.echo(markdown_table(result.summary), nl=False)
    click.echo(f"{len(result.features)} images measured ({result.reused} reused) in "
               f"{result.seconds:.1f} s; {len(result.failed)} unreadable")
    for work_id, message in result.failed.items():
        click.echo(f"  unreadable: {work_id}: {message}")
    click.echo(f"report: {result.report}")
    click.echo(result.run_location)


@cli.command("train")
@click.argument("branch", type=click.Choice(["composition", "texture", "effnet"]))
@click.argument("dataset_dir", type=click.Path(file_okay=False))
@click.option("--no-register", is_flag=True, help="Log the model but do not register it.")
@click.option("--quiet", is_flag=True, help="No per-batch progress bar.")
@_config_options
@_errors_as_one_line
def train_command(branch: str, dataset_dir: str, no_register: bool, quiet: bool, preset: str,
                  overrides: tuple[str, ...]) -> None:
    """Train one branch on a split DATASET_DIR, track it in MLflow and register the model.

    BRANCH is composition (the whole work, shrunk), texture (native tiles) or effnet
    (EfficientNet transfer learning in three stages). A killed training started again with the
    same settings resumes from its last finished epoch.
    """
    from mediumnet.config import load_config
    from mediumnet.train import train_branch

    result = train_branch(dataset_dir, branch, load_config(preset, overrides),
                          register=not no_register, progress=not quiet)
    if result.resumed_from_epoch:
        click.echo(f"resumed after epoch {result.resumed_from_epoch}")
    click.echo(f"{branch}: validation macro-F1 {result.val_macro_f1:.3f}, "
               f"{result.params:,} parameters, {result.seconds:.0f} s")
    if result.collapsed:
        click.echo(f"warning: the model collapsed ({result.collapse_reason}); it is registered "
                   "as not promotable")
    if result.version:
        click.echo(f"registered as version {result.version} of mediumnet-{branch} "
                   f"(model {result.model_uri})")
    click.echo(result.run_location)


@cli.command("stack")
@click.argument("dataset_dir", type=click.Path(file_okay=False))
@click.option("--composition", metavar="URI", default=None,
              help="Composition model (default: the champion/newest trained on DATASET_DIR).")
@click.option("--texture", metavar="URI", default=None,
              help="Texture model (default: the champion/newest trained on DATASET_DIR).")
@click.option("--effnet", metavar="URI", default=None,
              help="EfficientNet model (default: used if one was trained on DATASET_DIR; "
                   "'none' leaves it out).")
@click.option("--features/--no-features", default=None,
              help="Add the features branch (visual features and texture descriptors) "
                   "(default: on).")
@click.option("--no-register", is_flag=True, help="Log the ensemble but do not register it.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@_config_options
@_errors_as_one_line
def stack_command(dataset_dir: str, composition: str | None, texture: str | None,
                  effnet: str | None, features: bool | None, no_register: bool, quiet: bool,
                  preset: str, overrides: tuple[str, ...]) -> None:
    """Fit the stacking ensemble over the branch models of a split DATASET_DIR.

    Fits the features branch on the training split, then compares each branch alone (the
    features branch is the features-only model), the blend (mean of branch probabilities)
    and the stack: a selection score on val (out-of-fold for the stack) and test scores for
    reporting; lists the works whose label the models doubt; logs and registers the better
    of the stack and the features-only ensemble on val as mediumnet-ensemble; moves the alias
    champion to it if its selection score is at least the champion's on the same
    validation works. The test split never chooses.
    """
    from mediumnet.config import load_config
    from mediumnet.stacking import markdown_table, stack

    result = stack(dataset_dir, load_config(preset, overrides), composition=composition,
                   texture=texture, effnet=effnet, use_features=features,
                   register=not no_register, progress=not quiet)
    if result.failed:
        click.echo(f"{len(result.failed)} unreadable images left out")
    click.echo(markdown_table(result.table), nl=False)
    click.echo(f"label audit: {len(result.label_issues)} works to re-check in "
               f"{result.out_dir / 'label_issues.csv'} (gallery label_issues.png)")
    if result.version:
        state = "now champion" if result.promoted else "not promoted"
        what = ("the features-only ensemble (it beat the stack on val)"
                if result.kind == "features" else "the stack")
        click.echo(f"registered {what} as version {result.version} of mediumnet-ensemble, "
                   f"{state}: {result.promotion_reason}")
    click.echo(result.run_location)


@cli.command("score")
@click.argument("source", metavar="INPUT", type=click.Path())
@click.argument("output", type=click.Path(dir_okay=False))
@click.option("--model", "model_uri", metavar="URI", default=None,
              help="Model to use (default: models:/mediumnet-ensemble@champion).")
@click.option("--engine", type=click.Choice(["local", "spark"]), default="local",
              show_default=True, help="In this process, or on Spark (mlflow spark_udf).")
@click.option("--master", metavar="URL", default=None,
              help="Spark master (default: local[*]); only with --engine spark.")
@click.option("--batch", type=click.IntRange(min=1), default=64, show_default=True,
              help="Rows per model call (Spark: rows per Arrow batch).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@_errors_as_one_line
def score_command(source: str, output: str, model_uri: str | None, engine: str,
                  master: str | None, batch: int, quiet: bool) -> None:
    """Score a folder or table of images into one Parquet table.

    INPUT is a folder of images, or a CSV / Parquet table with a path, url or image column.
    OUTPUT gets the input columns, then label, confidence, p_<medium> and error, one row
    per input row: a bad row gets an error, the others are answered.
    """
    from mediumnet.score import score

    if master and engine != "spark":
        raise MediumnetError("--master is for --engine spark: add --engine spark, or leave "
                             "--master out")
    result = score(source, output, model_uri=model_uri, engine=engine, master=master,
                   batch=batch, progress=not quiet)
    click.echo(f"{result.rows} rows scored ({result.failed} with an error) in "
               f"{result.seconds:.1f} s on {engine}: {result.output}")


@cli.group("weights")
def weights_group() -> None:
    """Pretrained weights for machines without internet."""


@weights_group.command("fetch")
@click.argument("variants", nargs=-1, metavar="[VARIANT]...")
@click.option("--dir", "folder", type=click.Path(file_okay=False), default="weights",
              show_default=True, help="Folder to write the weights files into.")
@_errors_as_one_line
def weights_fetch_command(variants: tuple[str, ...], folder: str) -> None:
    """Download EfficientNet's ImageNet weights (VARIANT: B0-B7; default B6, the seed's).

    Needs the internet. Copy the folder to the training machine and give
    --set effnet.weights=FOLDER/FILE (or texture.backbone=effnet with it).
    """
    from mediumnet.models.effnet import fetch_imagenet_weights, weights_sha256

    for path in fetch_imagenet_weights([v.upper() for v in variants] or ["B6"], folder):
        click.echo(f"{path}  sha256 {weights_sha256(str(path))}")


@cli.command("evaluate")
@click.argument("model_uri")
@click.argument("dataset_dir", type=click.Path(file_okay=False))
@click.option("--split", type=click.Choice(["train", "val", "test"]), default="test",
              show_default=True, help="The split to evaluate on.")
@_config_options
@_errors_as_one_line
def evaluate_command(model_uri: str, dataset_dir: str, split: str, preset: str,
                     overrides: tuple[str, ...]) -> None:
    """Evaluate MODEL_URI (any mediumnet model) on a split of DATASET_DIR.

    Accuracy, balanced accuracy, macro-F1, per-class scores, confusion matrix, the most
    confused pairs, calibration and a gallery of the most confident mistakes, written to
    DATASET_DIR/evaluation/ and logged to an MLflow run.
    """
    from pathlib import Path

    from mediumnet.config import load_config
    from mediumnet.evaluate import evaluate_model

    report = evaluate_model(model_uri, dataset_dir, split=split,
                            config=load_config(preset, overrides))
    m = {k.removeprefix(f"{split}_"): v for k, v in report.metrics.items()}
    click.echo(f"{model_uri} on {split} ({int(m['works'])} works): accuracy "
               f"{m['accuracy']:.3f}, balanced accuracy {m['balanced_accuracy']:.3f}, "
               f"macro-F1 {m['macro_f1']:.3f}, calibration error "
               f"{m['expected_calibration_error']:.3f}")
    click.echo(f"scores cover the mediums the model knows: "
               f"{', '.join(report.per_class['medium'])}")
    if not report.confused_pairs.empty:
        top = report.confused_pairs.iloc[0]
        click.echo(f"most confused: {top['pair']} ({top['errors']} errors)")
    if report.failed:
        click.echo(f"{len(report.failed)} unreadable images left out")
    click.echo(f"report: {Path(report.files[-1])}")


@cli.command("predict")
@click.argument("images", nargs=-1, required=True, type=click.Path())
@click.option("--model", "model_uri", metavar="URI", default=None,
              help="Model to use (default: models:/mediumnet-ensemble@champion).")
@click.option("--json", "as_json", is_flag=True, help="JSON records instead of a table.")
@_errors_as_one_line
def predict_command(images: tuple[str, ...], model_uri: str | None, as_json: bool) -> None:
    """Tell the medium of each IMAGE (files) with the champion ensemble or --model.

    Exits with status 1 when an image could not be classified (its error column says why).
    """
    import mediumnet

    frame = mediumnet.classify(list(images), model=model_uri)
    if as_json:
        click.echo(frame.reset_index().to_json(orient="records", indent=1))
    else:
        shown = frame.copy()
        for column in shown.columns:
            if column.startswith("p_") or column == "confidence":
                shown[column] = shown[column].map(lambda v: "" if v != v else f"{v:.3f}")
        shown["error"] = shown["error"].fillna("")
        shown["label"] = shown["label"].fillna("")
        click.echo(shown.to_string())
    failed = int(frame["error"].notna().sum())
    if failed:
        _fail(f"{failed} of {len(frame)} images could not be classified (see the error "
              "column)")


def _harvest_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options every harvest source shares."""
    func = click.option("--limit", type=click.IntRange(min=1), default=None,
                        help="Stop once this many works are kept (default: all).")(func)
    func = click.option("--rate", type=float, default=None,
                        help="API requests per second (default: the source's polite rate).")(func)
    func = click.option("--workers", type=click.IntRange(min=1), default=None,
                        help="Parallel image downloads (default 4).")(func)
    func = click.option("--offline", is_flag=True,
                        help="No network: judge the records again from the raw log (after the "
                             "mapping tables or settings changed).")(func)
    return func


def _run_harvest(source: Any, dataset_dir: str, preset: str, overrides: tuple[str, ...],
                 limit: int | None, rate: float | None, workers: int | None,
                 offline: bool, link: bool = False) -> None:
    from mediumnet.config import load_config
    from mediumnet.harvest.engine import run_harvest

    extra = list(overrides)
    if rate is not None:
        extra.append(f"harvest.api_rate={rate}")
    if workers is not None:
        extra.append(f"harvest.workers={workers}")
    config = load_config(preset, extra)
    result = run_harvest(source, dataset_dir, config, limit=limit, link=link, offline=offline)
    click.echo(result.text())
    click.echo(f"manifest: {result.dataset_dir / 'manifest.parquet'} ({result.manifest_rows} "
               f"rows, digest {result.digest}); summary: "
               f"{result.dataset_dir / f'harvest_summary_{result.source}.json'}")
    click.echo(result.run_location)


@cli.group("harvest")
def harvest_group() -> None:
    """Build a labelled image set from a collection API or a local folder.

    Every source writes the same dataset layout as `mediumnet synth`. A harvest that stops
    (Ctrl-C, a crash, a kill) resumes where it stopped when run again.
    """


@harvest_group.command("artsy")
@click.argument("dataset_dir", type=click.Path(file_okay=False))
@click.option("--api-url", default=None, help="API root (default https://api.artsy.net/api).")
@click.option("--client-id", envvar="ARTSY_CLIENT_ID", default=None,
              help="Artsy client id (or ARTSY_CLIENT_ID).")
@click.option("--client-secret", envvar="ARTSY_CLIENT_SECRET", default=None,
              help="Artsy client secret (or ARTSY_CLIENT_SECRET); never logged.")
@click.option("--image-version", default=None,
              help="Image version to fetch (default: the best of normalized, larger, large, "
                   "medium).")
@click.option("--genes/--no-genes", default=False, help="Fetch each work's genes too.")
@click.option("--artists/--no-artists", default=True, show_default=True,
              help="Fetch each work's artist (needed for grouped splits).")
@_harvest_options
@_config_options
@_errors_as_one_line
def harvest_artsy(dataset_dir: str, api_url: str | None, client_id: str | None,
                  client_secret: str | None, image_version: str | None, genes: bool,
                  artists: bool, limit: int | None, rate: float | None, workers: int | None,
                  offline: bool, preset: str, overrides: tuple[str, ...]) -> None:
    """Harvest Artsy (needs credentials; Artsy retired its public API in 2025)."""
    from mediumnet.harvest.artsy import ArtsySource

    source = ArtsySource(api_url, client_id, client_secret, image_version, genes, artists)
    _run_harvest(source, dataset_dir, preset, overrides, limit, rate, workers, offline)


@harvest_group.command("met")
@click.argument("dataset_dir", type=click.Path(file_okay=False))
@click.option("--api-url", default=None, help="API root (default: the Met's public API).")
@click.option("--department-ids", default="", metavar="ID,ID,…",
              help="Only these departments, e.g. 9,11,19 (Drawings and Prints, European "
                   "Paintings, Photographs).")
@_harvest_options
@_config_options
@_errors_as_one_line
def harvest_met(dataset_dir: str, api_url: str | None, department_ids: str, limit: int | None,
                rate: float | None, workers: int | None, offline: bool, preset: str,
                overrides: tuple[str, ...]) -> None:
    """Harvest public-domain works of the Metropolitan Museum of Art (no key)."""
    from mediumnet.harvest.met import MetSource

    try:
        ids = [int(part) for part in department_ids.replace("|", ",").split(",")
               if part.strip()]
    except ValueError:
        raise MediumnetError(f"--department-ids {department_ids!r}: give numbers separated "
                             "by commas, e.g. 9,11,19") from None
    _run_harvest(MetSource(api_url, ids), dataset_dir, preset, overrides, limit, rate, workers,
                 offline)


@harvest_group.command("artic")
@click.argument("dataset_dir", type=click.Path(file_okay=False))
@click.option("--api-url", default=None, help="API root (default https://api.artic.edu/api/v1).")
@click.option("--image-width", type=click.IntRange(min=64), default=1686, show_default=True,
              help="Image width asked of the IIIF server.")
@_harvest_options
@_config_options
@_errors_as_one_line
def harvest_artic(dataset_dir: str, api_url: str | None, image_width: int, limit: int | None,
                  rate: float | None, workers: int | None, offline: bool, preset: str,
                  overrides: tuple[str, ...]) -> None:
    """Harvest public-domain works of the Art Institute of Chicago (no key)."""
    from mediumnet.harvest.artic import ArticSource

    _run_harvest(ArticSource(api_url, image_width), dataset_dir, preset, overrides, limit, rate,
                 workers, offline)


@harvest_group.command("folder")
@click.argument("dataset_dir", type=click.Path(file_okay=False))
@click.option("--from", "src", required=True, type=click.Path(),
              help="SRC/<medium>/*.jpg|png|tif, or a CSV with columns path,label[,artist].")
@click.option("--link", is_flag=True, help="Hard-link images into the store instead of copying.")
@_harvest_options
@_config_options
@_errors_as_one_line
def harvest_folder(dataset_dir: str, src: str, link: bool, limit: int | None,
                   rate: float | None, workers: int | None, offline: bool, preset: str,
                   overrides: tuple[str, ...]) -> None:
    """Harvest your own images from a folder tree or a CSV."""
    from mediumnet.harvest.folder import FolderSource

    _run_harvest(FolderSource(src, link), dataset_dir, preset, overrides, limit, rate, workers,
                 offline, link=link)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``mediumnet`` console script."""
    cli.main(args=argv, prog_name="mediumnet")


def run_entry_point(argv: list[str] | None = None) -> None:
    """Run an MLproject entry point: ``mlproject/<shim>.py NAME --param value …``.

    The parameters are those of :data:`mediumnet.entry_points.ENTRY_POINTS`; a step becomes
    the ``mediumnet`` command line it stands for, ``main`` runs the whole workflow.
    """
    import argparse

    from mediumnet.entry_points import ENTRY_POINTS, to_cli_args

    argv = sys.argv[1:] if argv is None else argv
    name = argv[0] if argv else ""
    if name not in ENTRY_POINTS:
        _fail(f"unknown entry point {name!r}: choose one of {', '.join(ENTRY_POINTS)}")
    parser = argparse.ArgumentParser(prog=f"mlproject {name}")
    for param in ENTRY_POINTS[name].params:
        parser.add_argument(f"--{param.name}", default=str(param.default))
    values = vars(parser.parse_args(argv[1:]))
    if name != "main":
        cli.main(args=to_cli_args(name, values), prog_name=f"mlproject {name}")
        return
    from mediumnet.console import quiet
    from mediumnet.workflow import run_workflow, summary_text

    quiet()
    try:
        result = run_workflow(values["source"], values["dataset_dir"], values["preset"],
                              values["with_effnet"], src=values["src"],
                              limit=int(float(values["limit"] or 0)), overrides=values["set"],
                              echo=lambda line: click.echo(f"mediumnet main {line}"))
        click.echo(summary_text(result, result.dataset_dir))
    except MediumnetError as exc:
        _fail(str(exc))
