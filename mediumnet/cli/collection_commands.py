"""The collection commands: audit every work, classify the unlabelled, suggest, merge labels."""

from __future__ import annotations

import click

from mediumnet.cli.app import cli, config_options, errors_as_one_line

SHOWN = 10
"""The flagged works an audit prints (all are in its table and page)."""


@cli.command("audit")
@click.argument("dataset_dir", type=click.Path(file_okay=False))
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Where the table goes (default DATASET_DIR/audit/audit.csv; the page "
                   "beside it, .html).")
@click.option("--folds", type=click.IntRange(min=2), default=5, show_default=True,
              help="Cross-fitting folds, grouped by artist.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@config_options
@errors_as_one_line
def audit_command(dataset_dir: str, out: str | None, folds: int, quiet: bool, preset: str,
                  overrides: tuple[str, ...]) -> None:
    """Audit every labelled work of DATASET_DIR: which recorded mediums look wrong.

    Every work, train included, is judged by models that did not learn from it or from its
    artist (the fitted branches, cross-fitted); confident learning flags the doubtful ones.
    Writes a CSV and an HTML page with thumbnails, and logs both to an MLflow run.
    """
    from mediumnet.collection.audit import run_audit
    from mediumnet.config import load_config

    result = run_audit(dataset_dir, load_config(preset, overrides), out=out, folds=folds,
                       progress=not quiet)
    click.echo(f"{result.flagged} of {len(result.table)} labelled works flagged "
               f"({result.folds} folds grouped by artist; branches: "
               f"{', '.join(result.branches)}; out-of-fold macro-F1 {result.macro_f1:.3f}; "
               f"{result.seconds:.0f} s)")
    for row in result.table[result.table["flagged"]].head(SHOWN).itertuples():
        by = f"  by {row.artist}" if isinstance(row.artist, str) and row.artist else ""
        click.echo(f"  {row.rank:4d}  {row.label} -> {row.suggested_label}?  score "
                   f"{row.score:.2f}  {row.id}{by}")
    if result.flagged > SHOWN:
        click.echo(f"  … and {result.flagged - SHOWN} more flagged, in the table and the page")
    for note in result.notes:
        click.echo(note)
    if result.left_out:
        click.echo(f"{result.left_out} labelled works could not be read and are left out")
    if result.unlabelled:
        click.echo(f"{result.unlabelled} unlabelled works are not audited (mediumnet "
                   "classify suggests their medium)")
    click.echo(f"table: {result.csv}; page: {result.page}")
    click.echo(result.run_location)


@cli.command("classify")
@click.argument("dataset_dir", type=click.Path(file_okay=False))
@click.option("--model", "model_uri", metavar="URI", default=None,
              help="Model to use (default: models:/mediumnet-ensemble@champion).")
@click.option("--precision", type=click.FloatRange(0, 1, min_open=True), default=0.95,
              show_default=True,
              help="Precision wanted of the answers kept: the abstention threshold is chosen "
                   "on the validation works for it.")
@click.option("--threshold", type=float, default=None,
              help="Abstain below this confidence instead of choosing a threshold.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Where the table goes (default DATASET_DIR/classify/classified.csv).")
@config_options
@errors_as_one_line
def classify_command(dataset_dir: str, model_uri: str | None, precision: float,
                     threshold: float | None, out: str | None, preset: str,
                     overrides: tuple[str, ...]) -> None:
    """Suggest a medium for every unlabelled work of DATASET_DIR, abstaining when unsure.

    The unlabelled works are those kept by harvest --keep-unlabelled. Writes a CSV and an
    HTML page with thumbnails, most confident first, and logs both to an MLflow run.
    """
    from mediumnet.collection.classify import (
        run_classify,
        threshold_text,
        unknown_mediums_text,
    )
    from mediumnet.config import load_config
    from mediumnet.metrics import confidence_text

    result = run_classify(dataset_dir, load_config(preset, overrides), model_uri=model_uri,
                          precision=precision, threshold=threshold, out=out)
    t = result.threshold
    abstained = int(result.table["abstained"].sum())
    failed = int(result.table["error"].notna().sum())
    said = (f"{result.answered} given a medium, {abstained} abstained below confidence "
            f"{confidence_text(t.confidence)} ({threshold_text(t, precision)})" if t.reached else
            f"none given a medium, {threshold_text(t, precision)}")
    click.echo(f"{len(result.table)} unlabelled works: {said}"
               + (f", {failed} unreadable" if failed else ""))
    if result.unknown_mediums:
        click.echo("note: " + unknown_mediums_text(result.model_mediums,
                                                   result.unknown_mediums))
    counts = result.table.loc[~result.table["abstained"] & result.table["error"].isna(),
                              "suggested_label"].value_counts()
    if len(counts):
        click.echo("given: " + ", ".join(f"{m} {n}" for m, n in counts.items()))
    click.echo(f"table: {result.csv}; page: {result.page}")
    click.echo(result.run_location)


@cli.command("suggest")
@click.argument("dataset_dir", type=click.Path(file_okay=False))
@click.option("--budget", type=click.IntRange(min=1), required=True,
              help="How many works to pick.")
@click.option("--doubtful", is_flag=True,
              help="Also consider the works the last mediumnet audit flagged (not those "
                   "relabelled or reviewed by a curator since).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@config_options
@errors_as_one_line
def suggest_command(dataset_dir: str, budget: int, doubtful: bool, quiet: bool, preset: str,
                    overrides: tuple[str, ...]) -> None:
    """Pick the works of DATASET_DIR whose labels would help most, as a sheet to fill in.

    Candidates are the unlabelled works (and, with --doubtful, what the audit flagged): the
    least certain under the audit's model of the labelled works, spread over the collection;
    while fewer than 10 works a medium are labelled (or one medium only), the typical works
    where no labelled work lies yet. Fill the label column of the sheet and take it back with
    mediumnet label DATASET_DIR --from SHEET.
    """
    from mediumnet.collection.suggest import run_suggest
    from mediumnet.config import load_config

    result = run_suggest(dataset_dir, load_config(preset, overrides), budget=budget,
                         doubtful=doubtful, progress=not quiet)
    rule = f" (typical works: {result.typical})" if result.typical else ""
    click.echo(f"{len(result.table)} of {result.candidates} candidates picked{rule}: fill the "
               f"label column of {result.csv} (page: {result.page}), then run mediumnet label "
               f"{dataset_dir} --from {result.csv}")
    if result.reviewed_since:
        n = result.reviewed_since
        click.echo(f"left out: {n} work{'' if n == 1 else 's'} the audit flagged, relabelled or "
                   "reviewed by a curator since it ran (mediumnet audit judges them again)")
    click.echo(result.run_location)


@cli.command("label")
@click.argument("dataset_dir", type=click.Path(file_okay=False))
@click.option("--from", "table", required=True, type=click.Path(dir_okay=False),
              help="A CSV with id and label columns: a filled suggestion sheet, an audit "
                   "table with corrections.")
@click.option("--column", default="label", show_default=True,
              help="The column that holds the mediums; suggested_label takes the model's "
                   "answers of a classify table (not those it abstained on) or an audit "
                   "table (the flagged works).")
@errors_as_one_line
def label_command(dataset_dir: str, table: str, column: str) -> None:
    """Give the works named in a filled sheet the mediums it says (a labels merge).

    A label is a medium's name or a technique of one (woodcut, oil on canvas, charcoal).
    Empty cells are skipped; nothing else of a work changes, and nothing is written when a
    row names an unknown work, no medium or two, or a work another row gives another medium.
    A newly labelled work joins a split at the next mediumnet split. On a suggestion sheet,
    writing the medium a doubtful work already has upholds it: a curator's from then on, not
    flagged by the next audit or offered by the next suggest --doubtful. With --column
    suggested_label the model's answers are taken, only those the table stands behind, and
    each label's reason says it was the model's. The merge is an MLflow run: the sheet, the
    labels that changed, the dataset digest before and after.
    """
    from mediumnet.prepare import run_label

    result, location = run_label(dataset_dir, table, column=column)
    labelled, blank = result.labelled, result.blank
    click.echo(f"{labelled} unlabelled work{'' if labelled == 1 else 's'} labelled, "
               f"{result.relabelled} relabelled, {result.unchanged} unchanged, "
               f"{blank} row{'' if blank == 1 else 's'} left blank")
    if result.confirmed:
        click.echo(f"{result.confirmed} work{'' if result.confirmed == 1 else 's'} whose medium "
                   "was a model's answer confirmed: a curator's now, measured against from "
                   "the next split on")
    if result.upheld:
        click.echo(f"{result.upheld} recorded medium{'' if result.upheld == 1 else 's'} upheld "
                   "by a curator: a curator's now, not flagged by mediumnet audit or offered by "
                   "suggest --doubtful again")
    if result.model_answers:
        left = result.left_out
        kept = (f"; {result.kept_curator} work{'' if result.kept_curator == 1 else 's'} keep "
                "the medium a curator gave" if result.kept_curator else "")
        click.echo(f"the labels are the model's answers, each label_reason says so with its "
                   f"confidence; left out: {left} answer{'' if left == 1 else 's'} "
                   f"{result.left_out_why} (a curator's mediums for those go in a label "
                   f"column){kept}")
    if result.labelled or result.confirmed:
        click.echo(f"run mediumnet split {dataset_dir} to give the newly labelled works a "
                   "split")
    click.echo(location)
