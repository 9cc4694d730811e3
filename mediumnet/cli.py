"""The ``mediumnet`` command line: parse, call the library, print. No logic lives here."""

from __future__ import annotations

import functools
import re
import sys
import time
from collections.abc import Callable
from typing import Any

import click

from mediumnet import __version__
from mediumnet.errors import MediumnetError

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
        help="Named settings: seed (the research), demo (minutes on a CPU) or full.",
    )(func)


def _parse_size(text: str) -> tuple[int, int]:
    match = _SIZE.match(text)
    if not match:
        raise MediumnetError(f"--size {text!r}: write WIDTHxHEIGHT, e.g. --size 1600x1200")
    return int(match.group(1)), int(match.group(2))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mediumnet")
def cli() -> None:
    """Tell the medium of a digitised artwork from its image.

    painting, engraving, drawing, gouache_watercolor, photography. Every step is tracked in
    MLflow: with no MLFLOW_TRACKING_URI set, runs go to ./mlflow.db and ./mlruns.
    """


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
@_config_options
@_errors_as_one_line
def synth_command(dataset_dir: str, per_class: int | None, size: str | None, seed: int | None,
                  workers: int | None, preset: str, overrides: tuple[str, ...]) -> None:
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
    config = load_config(preset, extra)

    from mediumnet.data.synth import run_synth

    started = time.perf_counter()
    result = run_synth(dataset_dir, config)
    seconds = time.perf_counter() - started
    click.echo(result.summary)
    click.echo(f"{result.n_images} images written to {result.dataset_dir} in {seconds:.1f} s "
               f"(manifest: {result.manifest_path}, digest {result.digest})")
    click.echo(result.run_location)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``mediumnet`` console script."""
    cli.main(args=argv, prog_name="mediumnet")
