"""Quality on a real image set: the whole chain, then the test table and seconds per step.

    .venv/bin/python bench/quality.py DATA [--preset demo] [--work DIR] [--with BRANCH]
                                          [--cv K] [--json FILE]
                                          [--set SECTION.FIELD=VALUE ...]

DATA is a folder of ``<medium>/`` subfolders or a CSV with ``path,label[,artist]`` (paths
relative to the CSV's own folder), read where it lies: nothing is written there. The chain
(folder harvest → split → train every Keras branch of the registry but the optional ones,
which ``--with`` adds (EfficientNet) → stack) runs in
``--work`` (default: a temporary folder) with its own MLflow store, so a benchmark never
touches the project's runs. The table is the stack's: each branch, the features-only model,
the blend and the stack, with the selection score on validation (out-of-fold) and the test
accuracy and macro-F1, all over the mediums DATA holds. The split's warnings come first:
where one artist holds most of a medium's test works, the test figures measure that artist.
``--cv K`` adds the registered kind, when it is a fitted branch alone (else the features-only
model), cross-validated over every work (K folds grouped by artist), a figure that does not
hang on which artists the test split holds. ``--json FILE`` writes the figures as JSON:
``{"registered": {"kind", "test_macro_f1", "val_selection"}, "models": {NAME: {"test_macro_f1",
"val_selection"}}, "seconds": {STEP: s}, "cv": {"branch", "folds", "mean", "std", "pooled",
"works"}}`` (``models`` names the features-only model ``features``).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workfolder import work_folder  # noqa: E402  (bench/ is on the path when run)

from mediumnet.config import load_config  # noqa: E402
from mediumnet.console import quiet  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="<medium>/ folders or a path,label CSV")
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--work", type=Path, default=None,
                        help="where the data set and MLflow store go (default: a temp dir)")
    parser.add_argument("--with", dest="optional", action="append", default=[],
                        metavar="BRANCH", help="train and stack this optional branch too "
                                               "(effnet; repeatable)")
    parser.add_argument("--cv", type=int, default=0, metavar="K",
                        help="also cross-validate the features-only model over every work, "
                             "K folds grouped by artist (default: off)")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE",
                        help="also write the figures to FILE as JSON")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="SECTION.FIELD=VALUE")
    args = parser.parse_args()
    quiet()
    data = args.data.resolve()
    config = load_config(args.preset, args.overrides)
    with work_folder(args.work) as work:
        figures = run_chain(data, work / "dataset", config, args.optional, args.cv)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
        print(f"figures written to {args.json}")


def run_chain(data: Path, root: Path, config, optional: list[str], cv_folds: int = 0) -> dict:
    from mediumnet.branches import get_branch, keras_branches, standalone_names
    from mediumnet.data.manifest import read_manifest
    from mediumnet.ensemble.cv import cross_validate_branch
    from mediumnet.ensemble.stacking import STACK, ensemble_title, markdown_table, stack
    from mediumnet.harvest.engine import run_harvest
    from mediumnet.harvest.folder import FolderSource
    from mediumnet.prepare import run_split
    from mediumnet.train import train_branch

    for name in optional:
        if get_branch(name).stacking != "when_trained":
            raise SystemExit(f"--with {name}: not an optional branch")
    seconds: dict[str, float] = {}

    def timed(name, func, *a, **kw):
        started = time.perf_counter()
        value = func(*a, **kw)
        seconds[name] = time.perf_counter() - started
        print(f"{name}: {seconds[name]:.0f} s", flush=True)
        return value

    timed("harvest", run_harvest, FolderSource(data), root, config, progress=False)
    summary, _ = timed("split", run_split, root, config)
    branches = [b.name for b in keras_branches()
                if b.stacking == "always" or b.name in optional]
    left_out = {b.name: "none" for b in keras_branches() if b.name not in branches}
    results = {b: timed(f"train {b}", train_branch, root, b, config, progress=False)
               for b in branches}
    result = timed("stack", stack, root, config, progress=False, **left_out)
    cv_kind = result.kind if result.kind in standalone_names() else standalone_names()[0]
    cv = (timed(f"{cv_kind} cross-validation", cross_validate_branch, root, config, cv_kind,
                cv_folds, progress=False) if cv_folds else None)
    manifest = read_manifest(root)
    print()
    counts = "; ".join(f"{m} {'/'.join(str(int(v)) for v in row)}"
                       for m, row in summary.table.iterrows())
    print(f"data: {data}: {len(manifest)} works (train/val/test: {counts})")
    print(f"preset: {config.preset}; mediums: {', '.join(summary.table.index)}")
    for line in summary.warnings:
        print(f"split warning: {line}")
    for b, r in results.items():
        print(f"{b}: validation macro-F1 {r.val_macro_f1:.3f}"
              f"{' (collapsed)' if r.collapsed else ''}, {r.params:,} parameters")
    print()
    print(markdown_table(result.table), end="")
    print(f"registered: the {ensemble_title(result.kind) if result.kind != STACK else 'stack'}"
          " (best validation selection score; on a tie the stack is kept)")
    if cv is not None:
        folds = np.asarray(cv.fold_macro_f1)
        print(f"{cv.branch}-only, {len(folds)}-fold cross-validation over all {cv.works} works "
              f"(folds grouped by artist): macro-F1 {folds.mean():.3f} ± {folds.std():.3f} "
              f"over folds (from {folds.min():.3f} to {folds.max():.3f}), "
              f"{cv.pooled_macro_f1:.3f} pooled")
    print()
    print("| step | seconds |\n|---|---|")
    for name, value in seconds.items():
        print(f"| {name} | {value:.0f} |")
    chain = sum(v for k, v in seconds.items() if not k.endswith("cross-validation"))
    print(f"| whole chain (without the cross-validation) | {chain:.0f} |")
    return figures(result, seconds, cv)


def figures(result, seconds: dict[str, float], cv) -> dict:
    """The run's figures as plain data (what --json writes)."""
    table = result.table
    out = {"registered": {"kind": result.kind,
                          "test_macro_f1": float(table.loc[result.kind, "macro_f1"]),
                          "val_selection": float(table.loc[result.kind, "val_macro_f1"])},
           "models": {name: {"test_macro_f1": float(row.macro_f1),
                             "val_selection": float(row.val_macro_f1),
                             "test_accuracy": float(row.accuracy)}
                      for name, row in table.iterrows()},
           "seconds": {name: round(value, 1) for name, value in seconds.items()},
           "cv": {}}
    if cv is not None:
        folds = [float(f) for f in cv.fold_macro_f1]
        out["cv"] = {"branch": cv.branch, "folds": folds, "mean": float(np.mean(folds)),
                     "std": float(np.std(folds)), "pooled": float(cv.pooled_macro_f1),
                     "works": int(cv.works)}
    return out


if __name__ == "__main__":
    main()
