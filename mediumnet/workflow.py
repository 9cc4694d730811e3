"""The whole chain as one MLflow multistep workflow, reusing the steps already done.

:func:`run_workflow` is the MLproject entry point ``main``: synth (or a harvest) → split →
explore → train every Keras branch of the registry (EfficientNet optional) → stack →
evaluate, each launched as its own entry point with ``mlflow.projects.run`` and attached as a
nested child of one parent run. As in MLflow's own multistep example, a step whose entry
point already ran to the end with the same parameters and the same code version (git commit)
is not run again: its run is reused. mediumnet adds what makes reuse safe for data: a data
step is reused only while its data is still there (the manifest exists; for split: splitting
again would change nothing), a later step only while the dataset digest it recorded is the
current one, and once one step runs afresh every step after it does too.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mediumnet.errors import MediumnetError
from mediumnet.names import (
    TAG_COMMIT,
    TAG_DATASET_DIGEST,
    TAG_ENSEMBLE_VERSION,
    TAG_ENTRY_POINT,
    TAG_PARENT,
    TAG_REUSED,
    TAG_SOURCE,
    TAG_STEP_RUN_PREFIX,
)

if TYPE_CHECKING:
    from mediumnet.config import Config

SOURCES = ("synth", "artsy", "met", "artic", "folder")


@dataclass
class StepOutcome:
    """One step of the workflow: its run and whether it was reused."""

    entry_point: str
    run_id: str
    reused: bool
    seconds: float


@dataclass
class WorkflowResult:
    """What :func:`run_workflow` did."""

    parent_run_id: str
    dataset_dir: Path
    steps: list[StepOutcome] = field(default_factory=list)
    ensemble_version: str | None = None
    table: Any = None


def _manifest_state(dataset_dir: Path, config: Config) -> tuple[bool, bool, str | None]:
    """Tell whether the manifest exists, whether its split is done, and its digest.

    The split is done when splitting again would change nothing: works kept without a medium
    (``harvest.keep_unlabelled``), and a model's answers whose artists' works are in val or
    test, stay outside every split by design; a work labelled since has no split yet.
    """
    from mediumnet.data.manifest import manifest_digest, manifest_path, read_manifest
    from mediumnet.data.splits import SPLIT_NAMES, splits

    if not manifest_path(dataset_dir).is_file():
        return False, False, None
    try:
        manifest = read_manifest(dataset_dir)
    except MediumnetError:
        return False, False, None
    split_done = manifest["split"].isin(SPLIT_NAMES).any()
    if split_done:
        d = config.data
        try:
            again = splits(manifest, d.val_fraction, d.test_fraction, d.split_seed,
                           min_groups=d.min_groups)
        except MediumnetError:   # the split step will say what is wrong
            return True, False, manifest_digest(manifest)
        split_done = (again["split"].astype(str).to_numpy()
                      == manifest["split"].fillna("").astype(str).to_numpy()).all()
    return True, bool(split_done), manifest_digest(manifest)


def find_finished_run(entry_point: str, parameters: dict[str, str], commit: str | None,
                      experiment_id: str, *, dataset_digest: str | None = None):
    """Return the newest finished run of ``entry_point`` with these parameters, or None.

    Parameters
    ----------
    entry_point : str
    parameters : dict
        Every parameter the step is launched with (compared as strings).
    commit : str or None
        The code version; a run of another commit is not reused (None: not compared).
    experiment_id : str
    dataset_digest : str, optional
        When given, the run must have recorded this dataset digest.
    """
    from mlflow import MlflowClient

    client = MlflowClient()
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{TAG_ENTRY_POINT}` = '{entry_point}' and "
                      "attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"], max_results=200)

    def logged(value: str | None) -> str | None:
        # `mlflow run` logs an empty parameter as its shell quoting, ''.
        return "" if value in ("''", '""') else value

    for run in runs:
        params = run.data.params
        if any(logged(params.get(k)) != str(v) for k, v in parameters.items()):
            continue
        if commit and run.data.tags.get(TAG_COMMIT) != commit:
            continue
        if dataset_digest and run.data.tags.get(TAG_DATASET_DIGEST) != dataset_digest:
            continue
        return run
    return None


def _plan(source: str, dataset_dir: str, preset: str, optional: dict[str, bool], src: str,
          limit: int, overrides: str = "", columns: str = ""
          ) -> list[tuple[str, dict[str, str]]]:
    """List the steps to run, with every parameter of each entry point (from the table).

    ``optional``: each branch that is not always trained → whether it is this time.
    """
    from mediumnet.branches import keras_branches
    from mediumnet.entry_points import step_parameters

    common = {"dataset_dir": dataset_dir, "preset": preset, "set": overrides}
    first = (("synth", step_parameters("synth", **common)) if source == "synth" else
             ("harvest", step_parameters("harvest", source=source, limit=limit, src=src,
                                         columns=columns, **common)))
    steps = [first, *((name, step_parameters(name, **common)) for name in ("split", "explore"))]
    steps += [(f"train_{b.name}", step_parameters(f"train_{b.name}", **common))
              for b in keras_branches() if optional.get(b.name, True)]
    left_out = {name: "none" for name, wanted in optional.items() if not wanted}
    steps.append(("stack", step_parameters("stack", **left_out, **common)))
    steps.append(("evaluate", step_parameters("evaluate", model_uri="", **common)))
    return steps


def optional_branches(choices: Mapping[str, str | bool], preset: str) -> dict[str, bool]:
    """Resolve ``with_<branch>`` for each branch that is not always trained.

    ``auto`` (or no choice) follows the branch's own rule for the preset (EfficientNet: off
    in the demo and tiny presets).

    Raises
    ------
    MediumnetError
        On a choice that is not auto, true or false, or a branch that is always trained.
    """
    from mediumnet.branches import keras_branches

    optional = {b.name: b for b in keras_branches() if b.stacking == "when_trained"}
    unknown = set(choices) - set(optional)
    if unknown:
        raise MediumnetError(f"with_{sorted(unknown)[0]}: only these branches are optional: "
                             f"{', '.join(optional) or 'none'}")
    out = {}
    for name, branch in optional.items():
        choice = choices.get(name, "auto")
        if not isinstance(choice, str):
            out[name] = bool(choice)
            continue
        text = choice.strip().lower()
        if text not in ("auto", "true", "false", "1", "0", "yes", "no", "on", "off"):
            raise MediumnetError(f"with_{name}={choice!r}: use auto, true or false")
        out[name] = branch.in_workflow(preset) if text == "auto" else \
            text in ("true", "1", "yes", "on")
    return out


def _reusable(entry_point: str, params: dict[str, str], root: Path, commit: str | None,
              experiment_id: str, config: Config):
    """Find the finished run that can stand for this step now, if its data is still there."""
    exists, split_done, digest = _manifest_state(root, config)
    if entry_point in ("synth", "harvest"):
        ok = exists
    elif entry_point == "split":
        ok = split_done
    else:
        ok = split_done and digest is not None
    if not ok:
        return None
    return find_finished_run(entry_point, params, commit, experiment_id,
                             dataset_digest=None if entry_point in ("synth", "harvest", "split")
                             else digest)


def _launch(project: Path, entry_point: str, params: dict[str, str], experiment_id: str,
            parent_id: str) -> str:
    """Run one entry point with ``mlflow.projects.run``, nested under the parent; its run id.

    Raises
    ------
    MediumnetError
        If the step failed (its run named).
    """
    import mlflow
    from mlflow import MlflowClient

    submitted = mlflow.projects.run(str(project), entry_point=entry_point, parameters=params,
                                    env_manager="local", experiment_id=experiment_id,
                                    synchronous=False)
    ok = submitted.wait()
    MlflowClient().set_tag(submitted.run_id, TAG_PARENT, parent_id)  # nested under main
    if not ok:
        raise MediumnetError(f"step {entry_point} failed (run {submitted.run_id}); its output "
                             "is above. Fix the cause and run main again: finished steps are "
                             "reused")
    return submitted.run_id


def run_workflow(source: str = "synth", dataset_dir: str = "data/synth", preset: str = "demo",
                 *, with_branches: Mapping[str, str | bool] | None = None, src: str = "",
                 limit: int = 0, overrides: str = "", columns: str = "",
                 project_dir: str | os.PathLike[str] | None = None,
                 echo: Callable[[str], None] = print) -> WorkflowResult:
    """Run the whole chain as nested MLflow runs under one parent, reusing finished steps.

    Parameters
    ----------
    source : {"synth", "artsy", "met", "artic", "folder"}
        Where the works come from (``synth``: the procedural set of the preset).
    dataset_dir : str
        The dataset folder (a relative path is relative to the project folder).
    preset : str
        Settings of every step.
    with_branches : mapping, optional
        For each branch that is not always trained (EfficientNet): ``auto``, True or False,
        to train and stack it (:func:`optional_branches`; default: ``auto`` for all).
    src, limit :
        The folder source's folder or CSV; the harvest's work limit (0: all).
    overrides : str
        ``--set`` overrides for every step (``section.field=value``, separated by spaces).
    columns : str
        A CSV's own headers, ``FIELD=HEADER`` separated by semicolons (``label=Medium``), as
        ``harvest folder --column`` takes them.
    project_dir : path-like, optional
        The MLflow project (default: the checkout this module belongs to).
    echo : callable
        Where the progress line of each step goes.

    Returns
    -------
    WorkflowResult

    Raises
    ------
    MediumnetError
        Unknown source or preset, or a step that failed (named, with its run id).
    """
    import mlflow
    from mlflow import MlflowClient

    from mediumnet.config import load_config
    from mediumnet.tracking import git_commit, start_run

    if source not in SOURCES:
        raise MediumnetError(f"unknown source {source!r}: choose one of {', '.join(SOURCES)}")
    optional = optional_branches(with_branches or {}, preset)
    config = load_config(preset, overrides.replace(";", " ").split())
    project = Path(project_dir) if project_dir else Path(__file__).resolve().parents[1]
    if not (project / "MLproject").is_file():
        raise MediumnetError(f"{project} holds no MLproject: run from a mediumnet checkout")
    root = Path(dataset_dir)
    if not root.is_absolute():
        root = (project / root).resolve()
    steps = _plan(source, str(root), preset, optional, src, limit, overrides, columns)
    commit = git_commit(project)
    # The entry point's own parameters are already logged by `mlflow run`; what they resolve
    # to goes under other names (MLflow refuses to change a logged param).
    with start_run("main", config=config, dataset_dir=root, tags={TAG_SOURCE: source},
                   params={f"{name}_branch": on for name, on in optional.items()}) as parent:
        result = WorkflowResult(parent.info.run_id, root)
        experiment_id = parent.info.experiment_id
        fresh = False  # once a step runs, every later step runs too
        for number, (entry_point, params) in enumerate(steps, start=1):
            started = time.perf_counter()
            if entry_point == "evaluate":
                params = dict(params, model_uri=_ensemble_uri(result))
            reusable = None if fresh else _reusable(entry_point, params, root, commit,
                                                    experiment_id, config)
            echo(f"[{number}/{len(steps)}] {entry_point}: "
                 + (f"reusing finished run {reusable.info.run_id}" if reusable else "running"))
            if reusable is not None:
                run_id = reusable.info.run_id
            else:
                fresh = True
                run_id = _launch(project, entry_point, params, experiment_id,
                                 parent.info.run_id)
            # A reused run stays under the parent that made it; this parent names it.
            mlflow.set_tag(f"{TAG_STEP_RUN_PREFIX}{entry_point}", run_id)
            seconds = time.perf_counter() - started
            result.steps.append(StepOutcome(entry_point, run_id, reusable is not None,
                                            seconds))
            mlflow.log_metric(f"step_seconds_{entry_point}", seconds)
            if entry_point == "stack":
                result.ensemble_version = MlflowClient().get_run(run_id).data.tags.get(
                    TAG_ENSEMBLE_VERSION)
        mlflow.set_tag(TAG_REUSED, ",".join(s.entry_point for s in result.steps if s.reused))
    return result


def _ensemble_uri(result: WorkflowResult) -> str:
    from mediumnet.registry import model_uri

    if result.ensemble_version:
        return model_uri("ensemble", version=int(result.ensemble_version))
    return model_uri("ensemble")


def stack_verdict(table_csv: str | os.PathLike[str]) -> str:
    """Say whether the stack beat every branch alone on test macro-F1, with the figures."""
    import pandas as pd

    from mediumnet.branches import keras_branches
    from mediumnet.ensemble.stacking import STACK, ensemble_title, kept_kind

    table = pd.read_csv(table_csv, index_col="model")
    branches = table.loc[[b.name for b in keras_branches() if b.name in table.index]]
    best = branches["macro_f1"].idxmax()
    stack_f1, best_f1 = table.loc[STACK, "macro_f1"], branches.loc[best, "macro_f1"]
    if stack_f1 > best_f1:
        verdict = (f"The stack beats every branch alone: test macro-F1 {stack_f1:.3f} against "
                   f"{best_f1:.3f} for the best branch ({best}).")
    else:
        verdict = (f"Warning: the stack (test macro-F1 {stack_f1:.3f}) does not beat the best "
                   f"branch ({best}, {best_f1:.3f}); see the label audit and the evaluation "
                   "report.")
    kind = kept_kind(table)
    if kind != STACK:
        verdict += (f" The {ensemble_title(kind)} scored higher on the validation works "
                    f"({table.loc[kind, 'val_macro_f1']:.3f} against "
                    f"{table.loc[STACK, 'val_macro_f1']:.3f} for the stack): it is the "
                    "registered version.")
    return verdict


def _random_start_notes(result: WorkflowResult) -> list[str]:
    """Say which trained branches started from random weights where pretrained ones exist."""
    import mlflow

    from mediumnet.branches import keras_branches

    notes = []
    for branch in keras_branches():
        steps = [s for s in result.steps if s.entry_point == f"train_{branch.name}"]
        if (branch.random_start_note and steps and mlflow.get_run(
                steps[0].run_id).data.params.get("start_weights") == "none"):
            notes += [branch.random_start_note, ""]
    return notes


def summary_text(result: WorkflowResult, dataset_dir: str | os.PathLike[str]) -> str:
    """Say what a person needs after the workflow: the test table, where runs are, what next.

    Parameters
    ----------
    result : WorkflowResult
    dataset_dir : path-like
        The dataset the workflow ran on.
    """
    import mlflow

    from mediumnet.data.manifest import read_manifest
    from mediumnet.registry import model_uri

    root = Path(dataset_dir)
    here = Path.cwd()

    def short(path: Path) -> str:
        try:
            return str(path.resolve().relative_to(here))
        except ValueError:
            return str(path)

    done = ", ".join(f"{s.entry_point} {'(reused)' if s.reused else f'{s.seconds:.0f} s'}"
                     for s in result.steps)
    lines = ["", f"Steps: {done}.", ""]
    table = root / "stack" / "table.md"
    if table.is_file():
        lines += ["Each model: the selection score on val (it alone chooses the champion), then "
                  "test accuracy and macro-F1 (for reporting):", "",
                  table.read_text().rstrip(), ""]
        lines += [stack_verdict(root / "stack" / "table.csv"), ""]
    lines += _random_start_notes(result)
    uri = mlflow.get_tracking_uri()
    lines += [f"Runs and models are in {uri} (parent run {result.parent_run_id}); look at "
              f"them with `make ui` or `mlflow ui --backend-store-uri {uri}`."]
    if result.ensemble_version:
        version = model_uri("ensemble", version=int(result.ensemble_version))
        lines.append(f"Registered ensemble: {version}; the one to serve: "
                     f"{model_uri('ensemble')}.")
    manifest = read_manifest(root)
    test = manifest[manifest["split"] == "test"]
    example = short(root / test["image_path"].iloc[0]) if len(test) else "IMAGE.jpg"
    bin_dir = short(Path(sys.executable).parent)
    lines += ["", "Try next (or `make serve`):",
              f'  PATH="{Path(sys.executable).parent}:$PATH" {bin_dir}/mlflow models serve -m '
              f"{model_uri('ensemble')} --env-manager local -h 127.0.0.1 -p 5000",
              f"  {bin_dir}/mediumnet predict {example}"]
    return "\n".join(lines)
