"""The model commands: train, stack, evaluate, predict and score.

The branches they name come from the registry (:mod:`mediumnet.branches`): ``train``'s choices
and help, and ``stack``'s options, one per branch.
"""

from __future__ import annotations

import click

from mediumnet.branches import BRANCHES, keras_branches
from mediumnet.cli.app import cli, config_options, errors_as_one_line, fail
from mediumnet.data.manifest import EVALUATION_SPLITS
from mediumnet.errors import MediumnetError


def _train_help() -> str:
    """Return the help of ``train``: one line per Keras branch of the registry."""
    return "\n\n".join([
        "Train one branch on a split DATASET_DIR, track it in MLflow and register the model.",
        "\b\nBRANCH is one of:\n" + "\n".join(f"  {b.name}: {b.summary}"
                                              for b in keras_branches()),
        "A killed training started again with the same settings resumes from its last "
        "finished epoch."])


@cli.command("train", help=_train_help())
@click.argument("branch", type=click.Choice([b.name for b in keras_branches()]))
@click.argument("dataset_dir", type=click.Path(file_okay=False))
@click.option("--no-register", is_flag=True, help="Log the model but do not register it.")
@click.option("--quiet", is_flag=True, help="No per-batch progress bar.")
@config_options
@errors_as_one_line
def train_command(branch: str, dataset_dir: str, no_register: bool, quiet: bool, preset: str,
                  overrides: tuple[str, ...]) -> None:
    """Train one branch (the help text is built from the registry)."""
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
        click.echo(f"registered as version {result.version} of "
                   f"{BRANCHES[branch].model_name} (model {result.model_uri})")
    click.echo(result.run_location)


def _branch_options(func):
    """One ``stack`` option per branch: a model URI, or ``--<name>/--no-<name>`` if fitted."""
    for branch in reversed(list(BRANCHES.values())):
        if branch.stacking == "switch":
            option = click.option(f"--{branch.name}/--no-{branch.name}", default=None,
                                  help=f"Add {branch.title} (default: on).")
        else:
            default = ("used if one was trained on DATASET_DIR; 'none' leaves it out"
                       if branch.stacking == "when_trained"
                       else "the champion/newest trained on DATASET_DIR")
            option = click.option(f"--{branch.name}", metavar="URI", default=None,
                                  help=f"{branch.title} model (default: {default}).")
        func = option(func)
    return func


@cli.command("stack")
@click.argument("dataset_dir", type=click.Path(file_okay=False))
@_branch_options
@click.option("--no-register", is_flag=True, help="Log the ensemble but do not register it.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@config_options
@errors_as_one_line
def stack_command(dataset_dir: str, no_register: bool, quiet: bool, preset: str,
                  overrides: tuple[str, ...], **branches: str | bool | None) -> None:
    """Fit the stacking ensemble over the branch models of a split DATASET_DIR.

    Fits the fitted branches (the features branch) on the training split, then compares each
    branch alone (a fitted branch alone is, e.g., the features-only model), the blend (mean
    of branch probabilities) and the stack: a selection score on val (out-of-fold for the
    stack) and test scores for reporting; lists the works whose label the models doubt; logs
    and registers the better of the stack and each fitted branch alone on val as
    mediumnet-ensemble; moves the alias champion to it if its selection score is at least
    the champion's on the same validation works. The test split never chooses.
    """
    from mediumnet.config import load_config
    from mediumnet.ensemble.stacking import STACK, ensemble_title, markdown_table, stack

    result = stack(dataset_dir, load_config(preset, overrides), register=not no_register,
                   progress=not quiet, **branches)
    if result.failed:
        click.echo(f"{len(result.failed)} unreadable images left out")
    click.echo(markdown_table(result.table), nl=False)
    cal = result.calibration
    if cal:
        how = (f"temperature {cal['calibration_temperature']:.2f}, fit on val"
               if cal["calibration_temperature"] != 1.0 else "no temperature helped on val")
        click.echo(f"calibration ({how}): expected calibration error on test "
                   f"{cal['test_ece_uncalibrated']:.3f} -> {cal['test_ece_calibrated']:.3f}"
                   + (" (95 % interval over the test's artists "
                      f"{cal['test_ece_calibrated_low']:.3f}-{cal['test_ece_calibrated_high']:.3f})"
                      if "test_ece_calibrated_low" in cal else ""))
    doubted = len(result.label_issues)
    click.echo(f"label audit: {doubted} work{'' if doubted == 1 else 's'} to re-check in "
               f"{result.out_dir / 'label_issues.csv'} (gallery label_issues.png)")
    if result.version:
        state = "now champion" if result.promoted else "not promoted"
        what = (f"the {ensemble_title(result.kind)} (it beat the stack on val)"
                if result.kind != STACK else "the stack")
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
@errors_as_one_line
def score_command(source: str, output: str, model_uri: str | None, engine: str,
                  master: str | None, batch: int, quiet: bool) -> None:
    """Score a folder or table of images into one Parquet table.

    INPUT is a folder of images, or a CSV / Parquet table with a path, url or image column.
    OUTPUT gets the input columns, then label, confidence, p_<medium> and error, one row
    per input row: a bad row gets an error, the others are answered.
    """
    from mediumnet.ensemble.classifier import untrained_mediums_warning
    from mediumnet.serving.score import score

    if master and engine != "spark":
        raise MediumnetError("--master is for --engine spark: add --engine spark, or leave "
                             "--master out")
    result = score(source, output, model_uri=model_uri, engine=engine, master=master,
                   batch=batch, progress=not quiet)
    click.echo(f"{result.rows} rows scored ({result.failed} with an error) in "
               f"{result.seconds:.1f} s on {engine}: {result.output}")
    caution = untrained_mediums_warning(result.mediums)
    if caution:
        click.echo(f"warning: {caution}", err=True)


@cli.command("evaluate")
@click.argument("model_uri")
@click.argument("dataset_dir", type=click.Path(file_okay=False))
@click.option("--split", type=click.Choice(EVALUATION_SPLITS), default="test",
              show_default=True,
              help="The split to evaluate on; all: every labelled work (a data set never "
                   "split, e.g. a new collection).")
@config_options
@errors_as_one_line
def evaluate_command(model_uri: str, dataset_dir: str, split: str, preset: str,
                     overrides: tuple[str, ...]) -> None:
    """Evaluate MODEL_URI (any mediumnet model) on a split of DATASET_DIR.

    Accuracy, balanced accuracy, macro-F1, per-class scores, confusion matrix, the most
    confused pairs, calibration and a gallery of the most confident mistakes, written to
    DATASET_DIR/evaluation/ and logged to an MLflow run.
    """
    from pathlib import Path

    from mediumnet.config import load_config
    from mediumnet.study.evaluate import (
        evaluate_model,
        interval_text,
        macro_f1_coverage_text,
    )

    report = evaluate_model(model_uri, dataset_dir, split=split,
                            config=load_config(preset, overrides))
    m = {k.removeprefix(f"{split}_"): v for k, v in report.metrics.items()}
    click.echo(f"{model_uri} on {split} ({int(m['works'])} works): accuracy "
               f"{m['accuracy']:.3f}, balanced accuracy {m['balanced_accuracy']:.3f}, "
               f"macro-F1 {m['macro_f1']:.3f}, calibration error "
               f"{m['expected_calibration_error']:.3f}")
    if "macro_f1_low" in m:
        click.echo(f"95 % intervals over {int(m['artists'])} artists: {interval_text(m)}")
    click.echo(f"scores cover the mediums the model knows: "
               f"{', '.join(report.per_class['medium'])}")
    coverage = macro_f1_coverage_text(report.per_class)
    if coverage:
        click.echo(coverage)
    if report.left_out:
        click.echo(f"left out: {sum(report.left_out.values())} works of mediums the model "
                   "does not know (" + ", ".join(f"{m} {n}" for m, n in
                                                  report.left_out.items()) + ")")
    if report.answers_left_out:
        click.echo(f"left out: {report.answers_left_out} works whose medium is a model's "
                   "answer (mediumnet label --column suggested_label): no model is measured "
                   "against one")
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
@errors_as_one_line
def predict_command(images: tuple[str, ...], model_uri: str | None, as_json: bool) -> None:
    """Tell the medium of each IMAGE (a file, or a folder's images) with the champion or --model.

    Exits with status 1 when an image could not be classified (its error column says why).
    """
    from pathlib import Path

    import mediumnet
    from mediumnet.data.images import images_in
    from mediumnet.ensemble.classifier import untrained_mediums_warning

    paths = [str(p) for given in images
             for p in (images_in(given) if Path(given).is_dir() else [given])]
    frame = mediumnet.classify(paths, model=model_uri)
    caution = untrained_mediums_warning(mediumnet.load_model(model_uri).classes)
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
    if caution:
        click.echo(f"warning: {caution}", err=True)
    failed = int(frame["error"].notna().sum())
    if failed:
        fail(f"{failed} of {len(frame)} images could not be classified (see the error "
              "column)")


