"""The data commands: config, synth, split, explore, and harvest from every source."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import click

from mediumnet.cli.app import cli, config_options, errors_as_one_line, parse_size
from mediumnet.errors import MediumnetError


@cli.command("config")
@config_options
@errors_as_one_line
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
@config_options
@errors_as_one_line
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
        width, height = parse_size(size)
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
@config_options
@errors_as_one_line
def split_command(dataset_dir: str, val: float | None, test: float | None, seed: int | None,
                  min_groups: int | None, reshuffle: bool, preset: str,
                  overrides: tuple[str, ...]) -> None:
    """Split DATASET_DIR into train/val/test, grouped by artist and stratified by medium.

    No artist has works in two splits; works of unknown artists are groups of their own.
    Every medium gets works in val and test; an artist who alone would be most of a medium's
    val or test works trains, and is named. Run again after a harvest added works: works
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
    for line in (summary.kept_text(), summary.answers_text()):
        if line:
            click.echo(line)
    for line in summary.warnings:
        click.echo(f"warning: {line}", err=True)
    click.echo(location)


@cli.command("explore")
@click.argument("dataset_dir", type=click.Path(file_okay=False))
@click.option("--sample", type=click.IntRange(min=1), default=None,
              help="Measure a random sample of N works, stratified by medium (default: all).")
@config_options
@errors_as_one_line
def explore_command(dataset_dir: str, sample: int | None, preset: str,
                    overrides: tuple[str, ...]) -> None:
    """Measure what distinguishes the mediums: features, per-medium summary, plots, report.

    Writes DATASET_DIR/features.parquet and DATASET_DIR/explore/ (summary.csv, summary.md,
    plots/, report.md), and logs them to an MLflow run.
    """
    from mediumnet.config import load_config
    from mediumnet.study.explore import markdown_table, run_explore

    result = run_explore(dataset_dir, load_config(preset, overrides), sample=sample)
    click.echo(markdown_table(result.summary), nl=False)
    click.echo(f"{len(result.features)} images measured ({result.reused} reused) in "
               f"{result.seconds:.1f} s; {len(result.failed)} unreadable")
    for work_id, message in result.failed.items():
        click.echo(f"  unreadable: {work_id}: {message}")
    click.echo(f"report: {result.report}")
    click.echo(result.run_location)


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
    func = click.option("--keep-unlabelled", is_flag=True,
                        help="Keep the works whose record names no medium that maps, "
                             "unlabelled (outside every split; mediumnet classify labels "
                             "them), those an earlier harvest dropped too, and one copy of "
                             "each image recorded under two mediums.")(func)
    return func


def _run_harvest(source: Any, dataset_dir: str, preset: str, overrides: tuple[str, ...],
                 limit: int | None, rate: float | None, workers: int | None,
                 offline: bool, keep_unlabelled: bool, link: bool = False) -> None:
    from mediumnet.config import load_config
    from mediumnet.harvest.engine import run_harvest

    extra = list(overrides)
    if keep_unlabelled:
        extra.append("harvest.keep_unlabelled=true")
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
    if result.manifest_rows == 0:
        from mediumnet.errors import DatasetError

        raise DatasetError(result.nothing_kept_text())


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
@config_options
@errors_as_one_line
def harvest_artsy(dataset_dir: str, api_url: str | None, client_id: str | None,
                  client_secret: str | None, image_version: str | None, genes: bool,
                  artists: bool, limit: int | None, rate: float | None, workers: int | None,
                  offline: bool, keep_unlabelled: bool, preset: str,
                  overrides: tuple[str, ...]) -> None:
    """Harvest Artsy (needs credentials; Artsy retired its public API in 2025)."""
    from mediumnet.harvest.artsy import ArtsySource

    source = ArtsySource(api_url, client_id, client_secret, image_version, genes, artists)
    _run_harvest(source, dataset_dir, preset, overrides, limit, rate, workers, offline,
                 keep_unlabelled)


@harvest_group.command("met")
@click.argument("dataset_dir", type=click.Path(file_okay=False))
@click.option("--api-url", default=None, help="API root (default: the Met's public API).")
@click.option("--department-ids", default="", metavar="ID,ID,…",
              help="Only these departments, e.g. 9,11,19 (Drawings and Prints, European "
                   "Paintings, Photographs).")
@_harvest_options
@config_options
@errors_as_one_line
def harvest_met(dataset_dir: str, api_url: str | None, department_ids: str, limit: int | None,
                rate: float | None, workers: int | None, offline: bool,
                keep_unlabelled: bool, preset: str, overrides: tuple[str, ...]) -> None:
    """Harvest public-domain works of the Metropolitan Museum of Art (no key)."""
    from mediumnet.harvest.met import MetSource

    try:
        ids = [int(part) for part in department_ids.replace("|", ",").split(",")
               if part.strip()]
    except ValueError:
        raise MediumnetError(f"--department-ids {department_ids!r}: give numbers separated "
                             "by commas, e.g. 9,11,19") from None
    _run_harvest(MetSource(api_url, ids), dataset_dir, preset, overrides, limit, rate, workers,
                 offline, keep_unlabelled)


@harvest_group.command("artic")
@click.argument("dataset_dir", type=click.Path(file_okay=False))
@click.option("--api-url", default=None, help="API root (default https://api.artic.edu/api/v1).")
@click.option("--image-width", type=click.IntRange(min=64), default=1686, show_default=True,
              help="Image width asked of the IIIF server.")
@_harvest_options
@config_options
@errors_as_one_line
def harvest_artic(dataset_dir: str, api_url: str | None, image_width: int, limit: int | None,
                  rate: float | None, workers: int | None, offline: bool,
                  keep_unlabelled: bool, preset: str, overrides: tuple[str, ...]) -> None:
    """Harvest public-domain works of the Art Institute of Chicago (no key)."""
    from mediumnet.harvest.artic import ArticSource

    _run_harvest(ArticSource(api_url, image_width), dataset_dir, preset, overrides, limit, rate,
                 workers, offline, keep_unlabelled)


@harvest_group.command("folder")
@click.argument("dataset_dir", type=click.Path(file_okay=False))
@click.option("--from", "src", required=True, type=click.Path(),
              help="SRC/<medium>/*.jpg|png|tif|jp2|heic …, or a CSV with columns "
                   "path,label[,artist][,title].")
@click.option("--column", "columns", multiple=True, metavar="FIELD=HEADER",
              help="With a CSV of other headers (a collection system's export): the column "
                   "that holds FIELD (path, label, artist, title), e.g. --column label=Medium "
                   "(repeatable).")
@click.option("--link", is_flag=True, help="Hard-link images into the store instead of copying.")
@click.option("--forget-gone", is_flag=True,
              help="Leave out the works harvested before from this --from whose file (or CSV "
                   "row) is gone (without it they are kept, and counted).")
@_harvest_options
@config_options
@errors_as_one_line
def harvest_folder(dataset_dir: str, src: str, columns: tuple[str, ...], link: bool,
                   forget_gone: bool, limit: int | None, rate: float | None,
                   workers: int | None, offline: bool, keep_unlabelled: bool, preset: str,
                   overrides: tuple[str, ...]) -> None:
    """Harvest your own images from a folder tree or a CSV.

    A label may be a medium's name or a museum's medium text ("woodcut", "Watercolor over
    graphite"); a CSV may be comma-, semicolon- or tab-separated.
    """
    from mediumnet.errors import DatasetError
    from mediumnet.harvest.folder import FolderSource

    mapping = {}
    for given in columns:
        field, sep, header = given.partition("=")
        if not sep or not field.strip() or not header.strip():
            raise DatasetError(f"--column {given}: write FIELD=HEADER, e.g. --column "
                               "label=Medium")
        mapping[field.strip().lower()] = header.strip()
    if forget_gone:
        overrides = (*overrides, "harvest.forget_gone=true")
    _run_harvest(FolderSource(src, link, mapping), dataset_dir, preset, overrides, limit, rate,
                 workers, offline, keep_unlabelled, link=link)


