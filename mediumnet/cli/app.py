"""The ``mediumnet`` command group, its shared options, and the MLproject entry-point runner.

Parse, call the library, print: no logic lives in the command line.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable
from typing import Any

import click

from mediumnet.errors import MediumnetError
from mediumnet.version import __version__

_SIZE = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")


def fail(message: str) -> None:
    """Print ``mediumnet: error: MESSAGE`` on stderr and exit with status 1."""
    click.echo(f"mediumnet: error: {message}", err=True)
    sys.exit(1)


def errors_as_one_line(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a :class:`MediumnetError` into one line on stderr and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except MediumnetError as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            fail("interrupted; what was already written is kept, run the command again "
                  "to finish")

    return wrapper


def config_options(func: Callable[..., Any]) -> Callable[..., Any]:
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


def parse_size(text: str) -> tuple[int, int]:
    """Read ``WIDTHxHEIGHT`` (e.g. ``1600x1200``).

    Raises
    ------
    MediumnetError
        If the text is not of that form.
    """
    match = _SIZE.match(text)
    if not match:
        raise MediumnetError(f"--size {text!r}: write WIDTHxHEIGHT, e.g. --size 1600x1200")
    return int(match.group(1)), int(match.group(2))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mediumnet")
@click.option("--verbose", is_flag=True, envvar="MEDIUMNET_VERBOSE",
              help="Show TensorFlow's native start-up lines and Pillow's warnings about damaged "
                   "files (or MEDIUMNET_VERBOSE=1).")
def cli(verbose: bool) -> None:
    """Tell the medium of a digitised artwork from its image.

    painting, engraving, drawing, gouache_watercolor, photography. Every step is tracked in
    MLflow: with no MLFLOW_TRACKING_URI set, runs go to ./mlflow.db and ./mlruns.
    """
    from mediumnet.console import quiet

    quiet(verbose)


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
        fail(f"unknown entry point {name!r}: choose one of {', '.join(ENTRY_POINTS)}")
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
        with_branches = {k.removeprefix("with_"): v for k, v in values.items()
                         if k.startswith("with_")}
        result = run_workflow(values["source"], values["dataset_dir"], values["preset"],
                              with_branches=with_branches, src=values["src"],
                              limit=int(float(values["limit"] or 0)), overrides=values["set"],
                              columns=values["columns"],
                              echo=lambda line: click.echo(f"mediumnet main {line}"))
        click.echo(summary_text(result, result.dataset_dir))
    except MediumnetError as exc:
        fail(str(exc))
