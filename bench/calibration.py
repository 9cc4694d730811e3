"""How honest the ensemble's confidences are on a whole collection, not only on its test split.

    .venv/bin/python bench/calibration.py SET [--preset demo] [--work DIR] [--folds 5]
                                          [--seeds 3] [--branches embedding[,features]]
                                          [--json FILE] [--set SECTION.FIELD=VALUE ...]

SET is a data set, a folder of ``<medium>/`` subfolders or a ``path,label[,artist]`` CSV, as
for ``bench/transfer.py``. A test split of a hundred-odd works by a few dozen artists gives
the expected calibration error (ECE) of one draw: on peopleart-mediums, its 95 % interval over
the test's 49 artists runs from 0.014 to 0.076 (on the split drawn before artists who would
dominate a split were kept in train, 47 of the 134 test works were Hokusai's colour woodcuts,
and they decided it). This bench measures the recipe
``mediumnet stack`` follows for a fitted-branch ensemble (each branch's learner chosen by
grouped cross-validation, probabilities averaged, a temperature fit on probabilities the
model did not learn from) on every labelled work instead:

1. **The whole collection, cross-fitted.** The works are cut into folds grouped by artist
   (as ``mediumnet audit`` cuts them); each fold is predicted by a model chosen and fit on
   the others, and its temperature is fit on those others' own out-of-fold probabilities
   (inner folds, also grouped): nothing of the fold scored is seen. Printed per seed of
   the folds: accuracy, macro-F1, ECE before and after the temperature, with 95 % intervals
   from resampling artists (:func:`mediumnet.metrics.artist_intervals`).
2. **The set's own split, if it has one**: fit on train, temperature on val, scored on
   test, which is what ``mediumnet stack`` reports, with the same intervals.

Each fold chooses its learners afresh (grouped cross-validation, as ``mediumnet stack``
does on its training split), since the regularisation chosen sets how sure a model sounds:
about three minutes a seed on peopleart-mediums' 892 works with the embedding branch alone
(2 CPU cores); the features branch's search, gradient boosting among its candidates, takes
several times longer.
"""

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from transfer import Collection, absolute, chosen_learners, measure, prepare  # noqa: E402
from workfolder import work_folder  # noqa: E402  (bench/ is on the path when run)

from mediumnet.collection.crossfit import averaged_proba  # noqa: E402
from mediumnet.config import load_config  # noqa: E402
from mediumnet.console import quiet  # noqa: E402
from mediumnet.data.manifest import SPLITS  # noqa: E402
from mediumnet.ensemble.calibration import apply_temperature, fit_temperature  # noqa: E402
from mediumnet.metrics import (  # noqa: E402
    artist_intervals,
    expected_calibration_error,
    scores,
)


def rows(c: Collection, where: np.ndarray) -> dict:
    """Each branch's inputs of the works at ``where``."""
    return {k: v[where] for k, v in c.inputs.items()}


def part(c: Collection, where: np.ndarray) -> Collection:
    """The works of ``c`` at ``where``, as a collection of their own."""
    return Collection(c.name, c.root, c.works.iloc[where], c.y[where], c.groups[where],
                      rows(c, where))


def out_of_fold(c: Collection, learners: dict, where: np.ndarray, folds: int, seed: int
                ) -> np.ndarray:
    """Out-of-fold probabilities of the works at ``where``, folds grouped by artist."""
    from sklearn.model_selection import StratifiedGroupKFold

    probs = np.zeros((len(where), 5))
    cv = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
    for rest, held in cv.split(where, c.y[where], c.groups[where]):
        probs[held] = averaged_proba(learners, rows(c, where[rest]), c.y[where[rest]],
                                     rows(c, where[held]))
    return probs


def figures(c: Collection, y: np.ndarray, raw: np.ndarray, calibrated: np.ndarray,
            groups: np.ndarray) -> dict:
    """Scores, ECE before and after, and the calibrated figures' intervals over artists."""
    measured = scores(y, calibrated, c.classes)
    measured["ece_raw"] = expected_calibration_error(y, raw)[0]
    measured["ece"] = expected_calibration_error(y, calibrated)[0]
    measured["works"] = int(len(y))
    measured["artists"] = int(len(set(groups.tolist())))
    measured["intervals"] = artist_intervals(y, calibrated, groups, c.classes)
    return measured


def say(what: str, m: dict, extra: str = "") -> None:
    """Print one line of figures."""
    ece_low, ece_high = m["intervals"].get("expected_calibration_error", (np.nan, np.nan))
    f1_low, f1_high = m["intervals"].get("macro_f1", (np.nan, np.nan))
    print(f"  {what}: {m['works']} works by {m['artists']} artists, accuracy "
          f"{m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f} ({f1_low:.3f}-{f1_high:.3f}), "
          f"ECE {m['ece_raw']:.3f} -> {m['ece']:.3f} ({ece_low:.3f}-{ece_high:.3f})" + extra,
          flush=True)


def whole(c: Collection, config, folds: int, seed: int) -> dict:
    """Cross-fit every work; each fold's learners and temperature from the other folds alone.

    The learners are chosen on the other folds (grouped cross-validation), the temperature
    fit on those folds' own out-of-fold probabilities: nothing of the fold scored is seen.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    raw = np.zeros((len(c.y), 5))
    calibrated = np.zeros_like(raw)
    temperatures = []
    cv = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
    for rest, held in cv.split(c.y, c.y, c.groups):
        learners = chosen_learners(part(c, rest), config)
        raw[held] = averaged_proba(learners, rows(c, rest), c.y[rest], rows(c, held))
        inner = out_of_fold(c, learners, rest, folds, seed)
        temperature = fit_temperature(c.y[rest], inner).temperature
        temperatures.append(temperature)
        calibrated[held] = apply_temperature(raw[held], temperature)
    out = figures(c, c.y, raw, calibrated, c.groups)
    out["temperatures"] = temperatures
    return out


def own_split(c: Collection, config) -> dict | None:
    """Learners chosen and fit on train, temperature on val, scored on test (as ``stack``)."""
    split = c.works["split"].fillna("").to_numpy() if "split" in c.works else None
    if split is None or not all((split == s).any() for s in SPLITS):
        return None
    train, val, test = (np.flatnonzero(split == s) for s in SPLITS)
    learners = chosen_learners(part(c, train), config)
    # One fit on train predicts val and test alike.
    probs = averaged_proba(learners, rows(c, train), c.y[train],
                           rows(c, np.concatenate([val, test])))
    val_probs, test_probs = probs[:len(val)], probs[len(val):]
    temperature = fit_temperature(c.y[val], val_probs).temperature
    out = figures(c, c.y[test], test_probs, apply_temperature(test_probs, temperature),
                  c.groups[test])
    out["temperature"] = temperature
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("set", metavar="SET")
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--branches", default=None,
                        help="fitted branches to average (default: those on)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    quiet()
    warnings.filterwarnings("ignore", category=UserWarning)
    config = load_config(args.preset, args.overrides)
    spec = absolute(args.set)   # before the work folder is entered
    with work_folder(args.work) as work:
        c = measure(*prepare(spec, work, config, 60), config)
        if args.branches:
            wanted = args.branches.split(",")
            unknown = [b for b in wanted if b not in c.inputs]
            if unknown:
                sys.exit(f"calibration.py: error: {', '.join(unknown)}: not a fitted branch "
                         f"that is on (on: {', '.join(c.inputs)})")
            c.inputs = {k: v for k, v in c.inputs.items() if k in wanted}
        print(f"\n{c.name}, branches {', '.join(c.inputs)}: expected calibration error "
              "(10 bins) before -> after the temperature; 95 % intervals resample artists")
        result = {"branches": list(c.inputs), "whole": [], "split": None}
        for seed in range(args.seeds):
            m = whole(c, config, args.folds, seed)
            result["whole"].append(m)
            say(f"whole collection, cross-fitted, seed {seed}", m,
                f", temperatures {', '.join(f'{t:.2f}' for t in m['temperatures'])}")
        print(f"  mean over {args.seeds} seeds: ECE "
              f"{np.mean([m['ece_raw'] for m in result['whole']]):.3f} -> "
              f"{np.mean([m['ece'] for m in result['whole']]):.3f}, macro-F1 "
              f"{np.mean([m['macro_f1'] for m in result['whole']]):.3f}")
        split = own_split(c, config)
        if split:
            result["split"] = split
            say("its own split (train / temperature on val / test)", split,
                f", temperature {split['temperature']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=float) + "\n")
        print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
