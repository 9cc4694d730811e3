"""How a model does on a collection it was not trained on, and what a few of its labels buy.

    .venv/bin/python bench/transfer.py SET [SET ...] [--preset demo] [--work DIR]
                                       [--folds 5] [--seeds 3] [--ks 5,10,20,40]
                                       [--synthetic-per-class 60] [--json FILE]
                                       [--without-doubtful N] [--pool-factor 5]
                                       [--set SECTION.FIELD=VALUE ...]

A SET is ``[NAME=]WHERE``: a mediumnet data set (a folder with ``manifest.parquet``, used in
place: its caches of measurements are completed there), a folder of ``<medium>/`` subfolders
or a ``path,label[,artist]`` CSV (harvested into ``--work``, default a temporary folder), or
the word ``synthetic`` (the procedural set, drawn into ``--work``). The model is the one
``mediumnet audit`` cross-fits: the fitted branches that are on (the embedding of a frozen
pretrained backbone and the visual features), each with its learner, their probabilities
averaged.

It prints two things.

1. **The train-on-A / test-on-B matrix.** Off the diagonal: fit on every labelled work of A
   (each branch's learner chosen by grouped cross-validation on A), scored on the works of B
   whose medium A knows, macro-F1 over the mediums they share (as ``mediumnet evaluate
   MODEL B --split all`` scores it). On the diagonal: A's own cross-validated figure (folds
   grouped by artist), the figure a user sees before trusting the model elsewhere.
2. **The learning curve of B's own labels.** An artist-grouped quarter of B is held out as
   the test part; the rest plays the unlabelled collection. With ``K`` labelled works per medium
   (``K`` in ``--ks``), a model is fit on those alone (each branch: scaled logistic regression,
   balanced, ``C = 0.1``, the best fixed C for random picks on peopleart-mediums and
   wikiart-watercolor together; no search on so few) and scored on the test part: *random* picks
   ``K`` works of each medium at random, as if every work's medium were known (the harder
   baseline to beat while few are labelled, the one the gaps below are taken against); *drawn*
   labels ``K x mediums`` works drawn at random from the whole pool, mediums unknown (what comes
   to a curator's hand); *suggested* labels ``K x mediums`` works in all, picked by ``mediumnet
   suggest``'s rule in rounds of ``5 x mediums`` (the collection's typical works while fewer
   than 10 a medium are labelled, each round's in the regions no labelled work holds yet; then
   the least certain under the model that is scored, each branch's learner fit on the works
   labelled so far, spread over the embedding), not knowing which medium a work is; *pooled*
   adds every work of the other sets, of B's mediums, to the random picks. Means (and standard
   deviations) over ``--seeds``, each seed its own test part. The lines under each curve say
   with how few suggested labels per medium the random curve's last figure is reached, on
   average and seed by seed, and how many of the test part's works the random and suggested
   picks' models answer wrong. A K beyond a medium's works in some seed's pool is left out of
   the curve, and said; macro-F1 is taken over the mediums the test part holds (a medium of few
   artists may have none there), and the heading says how many seeds' test parts lacked one.

``--without-doubtful N`` leaves out of each set, before everything, the ``N`` works its last
``mediumnet audit`` ranks most doubtful (a set with no audit table is refused). The curves
take a set's labels as the curator's answers; where a collection's records are wrong, the
suggested picks, which go to the works a model is least sure of, meet more of those wrong
answers than random picks do (on peopleart-mediums, under the rule before the audit's model
was asked, 10 % of the suggested picks at K = 20 were among the 40 works the audit doubts
most, 5 % of the pool and of the random picks at K = 40, over 240 seeds), answers a curator
looking at the work would not give. Run it both ways to see how much of the curves that
moves.

``--pool-factor P`` spreads each round's suggested picks over the ``P x round`` most uncertain
works instead of ``mediumnet suggest``'s 5 x round, to measure how much that choice matters.
"""

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workfolder import work_folder  # noqa: E402  (bench/ is on the path when run)

from mediumnet.collection.crossfit import averaged_proba  # noqa: E402
from mediumnet.collection.suggest import POOL  # noqa: E402
from mediumnet.config import load_config  # noqa: E402
from mediumnet.console import quiet  # noqa: E402
from mediumnet.data.splits import present_mediums  # noqa: E402
from mediumnet.labels import MEDIUMS  # noqa: E402

KINDS = ("random", "drawn", "suggested", "pooled")
"""The learning curve's kinds of pick, in the order printed."""


@dataclass
class Collection:
    """One set, measured: its works, labels, artist groups and each branch's inputs."""

    name: str
    root: Path
    works: object
    y: np.ndarray
    groups: np.ndarray
    inputs: dict

    @property
    def classes(self) -> tuple[str, ...]:
        return present_mediums(MEDIUMS[i] for i in self.y)


def absolute(spec: str) -> str:
    """A SET with its path made absolute: the same place once the work folder is entered."""
    name, sep, where = spec.rpartition("=")
    return spec if where == "synthetic" else f"{name}{sep}{Path(where).resolve()}"


def prepare(spec: str, work: Path, config, per_class: int) -> tuple[str, Path]:
    """Return the name and data set folder of a SET, harvesting or drawing it if need be."""
    from mediumnet.harvest.engine import run_harvest
    from mediumnet.harvest.folder import FolderSource

    name, _, where = spec.rpartition("=")
    if where == "synthetic":
        root = work / (name or "synthetic") / "dataset"
        if not (root / "manifest.parquet").is_file():
            from mediumnet.config import SynthConfig
            from mediumnet.data.synth import synthesize

            synthesize(root, SynthConfig(per_class=per_class, width=640, height=480, seed=11,
                                         artists_per_class=max(4, per_class // 5)),
                       progress=False)
        return name or "synthetic", root
    path = Path(where).resolve()
    if (path / "manifest.parquet").is_file():
        return name or (path.parent.name if path.name == "dataset" else path.name), path
    label = name or (path.parent.name if path.suffix == ".csv" else path.name)
    root = work / label / "dataset"
    if not (root / "manifest.parquet").is_file():
        run_harvest(FolderSource(path), root, config, progress=False)
    return label, root


def measure(name: str, root: Path, config, without_doubtful: int = 0) -> Collection:
    """Measure every labelled work of a data set with the fitted branches that are on.

    With ``without_doubtful``, the works the set's audit table ranks most doubtful are left
    out first (the set must have been audited).
    """
    import pandas as pd

    from mediumnet.collection.audit import AUDIT_CSV, AUDIT_DIR
    from mediumnet.collection.crossfit import chosen_branches, measured_inputs
    from mediumnet.data.manifest import labelled, read_manifest
    from mediumnet.data.splits import artist_groups

    started = time.perf_counter()
    works = labelled(read_manifest(root))
    if without_doubtful:
        table = root / AUDIT_DIR / AUDIT_CSV
        if not table.is_file():
            sys.exit(f"transfer.py: error: {name} has no audit table ({table}): run "
                     f"mediumnet audit {root} first, or leave --without-doubtful out")
        doubtful = pd.read_csv(table).sort_values("rank")["id"].head(without_doubtful)
        dropped = works["id"].isin(set(doubtful))
        works = works[~dropped]
        print(f"{name}: left out the {int(dropped.sum())} works its audit doubts most")
    works, inputs = measured_inputs(root, works, chosen_branches(config, None), config,
                                    progress=False)
    y = np.array([MEDIUMS.index(v) for v in works["label"]])
    counts = ", ".join(f"{m} {int((y == i).sum())}" for i, m in enumerate(MEDIUMS)
                       if (y == i).any())
    print(f"{name}: {len(works)} works ({counts}); measured in "
          f"{time.perf_counter() - started:.0f} s", flush=True)
    return Collection(name, root, works, y, artist_groups(works).to_numpy(), inputs)


def chosen_learners(a: Collection, config) -> dict:
    """Each branch's learner, chosen by grouped cross-validation on all of ``a``."""
    from mediumnet.branches import get_branch
    from mediumnet.ensemble.meta import fit_meta_learner

    return {name: fit_meta_learner(x, a.y, get_branch(name).learner(config), groups=a.groups,
                                   seed=config.train.seed, classes=a.classes,
                                   split=a.name).estimator
            for name, x in a.inputs.items()}


def across(a: Collection, b: Collection, learners: dict) -> dict:
    """Fit on all of ``a``; score on ``b``'s works of the mediums ``a`` knows."""
    from mediumnet.metrics import macro_f1

    shared = tuple(m for m in b.classes if m in a.classes)
    if not shared:
        return {"macro_f1": None, "works": 0, "shared": []}
    keep = np.isin(b.y, [MEDIUMS.index(m) for m in shared])
    probs = averaged_proba(learners, a.inputs, a.y, {k: v[keep] for k, v in b.inputs.items()})
    pred = probs.argmax(axis=1)
    return {"macro_f1": macro_f1(b.y[keep], pred, shared), "works": int(keep.sum()),
            "accuracy": float((pred == b.y[keep]).mean()), "shared": list(shared)}


def within(a: Collection, config, folds: int) -> dict:
    """``a``'s own grouped cross-validated macro-F1 (what ``mediumnet audit`` cross-fits)."""
    from mediumnet.collection.crossfit import cross_fit
    from mediumnet.metrics import macro_f1

    fit = cross_fit(a.root, a.works, config, folds=folds, progress=False)
    pred = fit.probs.argmax(axis=1)
    return {"macro_f1": macro_f1(fit.y, pred, fit.classes), "works": len(fit.y),
            "accuracy": float((pred == fit.y).mean()), "shared": list(fit.classes)}


def small_learners(names) -> dict:
    """The learner of the learning curve: no search on a handful of works."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {n: make_pipeline(StandardScaler(), LogisticRegression(
        C=0.1, max_iter=3000, class_weight="balanced")) for n in names}


def held_out(b: Collection, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """An artist-grouped, medium-stratified quarter of ``b`` as test; the rest as the pool."""
    from sklearn.model_selection import StratifiedGroupKFold

    cv = StratifiedGroupKFold(4, shuffle=True, random_state=seed)
    pool, test = next(cv.split(b.y, b.y, b.groups))
    return pool, test


def curve(b: Collection, others: list[Collection], ks: list[int], seed: int,
          pool_factor: int = POOL) -> dict:
    """Macro-F1 on ``b``'s test part for K labels per medium: random, drawn, suggested, pooled."""
    from mediumnet.collection.suggest import suggest_picks
    from mediumnet.metrics import macro_f1

    rng = np.random.default_rng(seed)
    pool, test = held_out(b, seed)
    classes = b.classes
    # a medium of few artists may have none in the quarter: its F1 would read 0, not unknown
    scored = present_mediums(MEDIUMS[i] for i in b.y[test])
    learners = small_learners(b.inputs)
    space = b.inputs[list(b.inputs)[-1]]  # the last fitted branch on: the embedding, if on
    x_test = {k: v[test] for k, v in b.inputs.items()}

    def score(rows: np.ndarray, extra: list = ()) -> tuple[float, int]:
        """Macro-F1 on the test part, and how many of its works are answered wrong."""
        x = {k: np.concatenate([v[rows]] + [o.inputs[k][keep] for o, keep in extra])
             for k, v in b.inputs.items()}
        y = np.concatenate([b.y[rows]] + [o.y[keep] for o, keep in extra])
        if len(set(y.tolist())) < 2:
            return 0.0, len(test)
        pred = averaged_proba(learners, x, y, x_test).argmax(axis=1)
        return macro_f1(b.y[test], pred, scored), int((pred != b.y[test]).sum())

    shuffled = {m: rng.permutation(pool[b.y[pool] == MEDIUMS.index(m)]) for m in classes}
    drawn = rng.permutation(pool)   # what comes to hand: no medium known
    out = {kind: {} for kind in KINDS} | {"wrong": {kind: {} for kind in KINDS},
                                          "test_works": int(len(test)), "scored": scored}
    pooled_from = [(o, np.isin(o.y, [MEDIUMS.index(m) for m in classes])) for o in others]
    pooled_from = [(o, keep) for o, keep in pooled_from if keep.any()]
    for k in ks:
        rows = np.concatenate([shuffled[m][:k] for m in classes])
        out["random"][k], out["wrong"]["random"][k] = score(rows)
        out["drawn"][k], out["wrong"]["drawn"][k] = score(drawn[:k * len(classes)])
        if pooled_from:
            out["pooled"][k], out["wrong"]["pooled"][k] = score(rows, pooled_from)
    step = 5 * len(classes)
    picked: list[int] = []   # the first round, nothing labelled: typical works
    for k in sorted(ks):
        while len(picked) < k * len(classes):
            rest = np.setdiff1d(np.arange(len(pool)), picked)
            known = pool[picked]
            chosen, _ = suggest_picks(space[known], b.y[known], space[pool[rest]],
                                      min(step, k * len(classes) - len(picked)),
                                      scored={n: (x[known], x[pool[rest]])
                                              for n, x in b.inputs.items()},
                                      seed=seed, pool_factor=pool_factor)
            picked += [int(rest[i]) for i in chosen]
        out["suggested"][k], out["wrong"]["suggested"][k] = score(
            pool[picked[:k * len(classes)]])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+", metavar="SET")
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--ks", default="5,10,20,40")
    parser.add_argument("--synthetic-per-class", type=int, default=60)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--without-doubtful", type=int, default=0, metavar="N")
    parser.add_argument("--pool-factor", type=int, default=POOL, metavar="P")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    if args.pool_factor < 1:
        parser.error(f"--pool-factor {args.pool_factor}: give 1 or more")
    quiet()
    config = load_config(args.preset, args.overrides)
    ks = [int(k) for k in args.ks.split(",")]
    specs = [absolute(s) for s in args.sets]   # before the work folder is entered
    with work_folder(args.work) as work:
        sets = [measure(*prepare(s, work, config, args.synthetic_per_class), config,
                        args.without_doubtful) for s in specs]
        figures = {"matrix": matrix(sets, config, args.folds),
                   "curves": curves(sets, ks, args.seeds, args.pool_factor)}
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
        print(f"figures written to {args.json}")


def matrix(sets: list[Collection], config, folds: int) -> dict:
    """Print and return the train-on-A / test-on-B matrix."""
    cells: dict = {}
    for a in sets:
        learners = chosen_learners(a, config)
        for b in sets:
            cells[f"{a.name}->{b.name}"] = (within(a, config, folds) if a is b
                                            else across(a, b, learners))
    width = max(len(s.name) for s in sets) + 2
    print("\nmacro-F1, trained on the row's set, tested on the column's (diagonal: "
          f"CV grouped by artist, up to {folds} folds); over the mediums both share")
    print(" " * width + "".join(f"{b.name:>{width}s}" for b in sets))
    for a in sets:
        line = f"{a.name:<{width}s}"
        for b in sets:
            cell = cells[f"{a.name}->{b.name}"]
            value = "-" if cell["macro_f1"] is None else f"{cell['macro_f1']:.3f}"
            line += f"{value:>{width}s}"
        print(line)
    for key, cell in cells.items():
        print(f"  {key}: {cell['works']} works of {', '.join(cell['shared']) or 'no shared medium'}"
              + (f", accuracy {cell['accuracy']:.3f}" if cell.get("accuracy") is not None
                 else ""))
    return cells


def over_last_random(runs: list[dict], ks: list[int]) -> dict[int, np.ndarray]:
    """Seed by seed, suggested at each K minus random at the largest K.

    Each seed's two kinds of pick share its test part and pool, so the difference is paired.
    ``runs`` holds one mapping per seed with ``"suggested"`` and ``"random"`` figures by K
    (a curve's macro-F1, or its ``"wrong"`` counts).
    """
    return {k: np.array([r["suggested"][k] - r["random"][max(ks)] for r in runs]) for k in ks}


def fitting(b: Collection, ks: list[int], seeds: int) -> list[int]:
    """The Ks whose picks every seed's pool can give, each medium; say which are left out.

    A K beyond a medium's works in the pool would compare fewer picks than it names (and the
    suggested picks would run out of works to ask about).
    """
    fewest: dict[str, tuple[int, int]] = {}   # medium: (fewest works in a pool, its seed)
    for seed in range(seeds):
        pool, _ = held_out(b, seed)
        for m in b.classes:
            n = int((b.y[pool] == MEDIUMS.index(m)).sum())
            fewest[m] = min(fewest.get(m, (n, seed)), (n, seed))
    medium, (n, seed) = min(fewest.items(), key=lambda item: item[1])
    fit = [k for k in ks if k <= n]
    if len(fit) < len(ks):
        left = ", ".join(str(k) for k in ks if k > n)
        print(f"\n{b.name}: K={left} left out of the learning curve: seed {seed}'s pool holds "
              f"{n} works of {medium}" + ("" if fit else "; no K left, no learning curve"))
    return fit


def curves(sets: list[Collection], ks: list[int], seeds: int,
           pool_factor: int = POOL) -> dict:
    """Print and return each set's learning curve."""
    out = {}
    for b in sets:
        if len(b.classes) < 2:
            print(f"\n{b.name}: one medium only, no learning curve")
            continue
        fit = fitting(b, ks, seeds)
        if not fit:
            continue
        others = [o for o in sets if o is not b]
        runs = [curve(b, others, fit, seed, pool_factor) for seed in range(seeds)]
        summary = {kind: {k: (float(np.mean([r[kind][k] for r in runs])),
                              float(np.std([r[kind][k] for r in runs])))
                          for k in fit if all(k in r[kind] for r in runs)}
                   for kind in KINDS}
        short = sum(len(r["scored"]) < len(b.classes) for r in runs)
        print(f"\n{b.name}: macro-F1 on a held-out artist-grouped quarter "
              f"({runs[0]['test_works']} works, seed 0) with K labelled works per medium "
              f"(mean ± sd over {seeds} seeds)" + (
                  f"; {short} of {seeds} quarters lack a medium, scored over the mediums "
                  "each holds" if short else ""))
        print(f"  {'K':>4s}" + "".join(f" {kind:>14s}" for kind in KINDS if summary[kind]))
        for k in fit:
            line = f"  {k:>4d}"
            for kind in KINDS:
                if k in summary[kind]:
                    mean, sd = summary[kind][k]
                    line += f" {mean:>8.3f} ± {sd:.3f}"
            print(line)
        goal = summary["random"][max(fit)][0]
        reached = [k for k in fit if summary["suggested"][k][0] >= goal]
        print(f"  random picks reach {goal:.3f} at K={max(fit)}; suggested picks "
              + (f"reach it at K={min(reached)}" if reached else "do not reach it"))
        paired = {k: {"mean": float(gap.mean()), "sd": float(gap.std()),
                      "standard_error": float(gap.std() / np.sqrt(len(gap))),
                      "seeds_reaching": int((gap >= 0).sum())}
                  for k, gap in over_last_random(runs, fit).items()}
        print("  suggested at K minus random at K=" + str(max(fit)) + ", seed by seed: "
              + "; ".join(f"K={k} {v['mean']:+.3f} ± {v['sd']:.3f} (standard error "
                          f"{v['standard_error']:.3f}; {v['seeds_reaching']} of {seeds} seeds "
                          "at or above)" for k, v in paired.items()))
        wrong = {kind: {k: float(np.mean([r["wrong"][kind][k] for r in runs])) for k in fit}
                 for kind in ("random", "suggested")}
        more = over_last_random([r["wrong"] for r in runs], fit)
        half = {k: 1.96 * v.std() / np.sqrt(len(v)) for k, v in more.items()}
        print(f"  test works answered wrong (of {runs[0]['test_works']} at seed 0), mean over "
              "seeds: random " + ", ".join(f"K={k} {wrong['random'][k]:.1f}" for k in fit)
              + "; suggested " + ", ".join(
                  f"K={k} {wrong['suggested'][k]:.1f} ({more[k].mean():+.1f} against random "
                  f"at K={max(fit)}, 95 % {more[k].mean() - half[k]:+.1f} to "
                  f"{more[k].mean() + half[k]:+.1f})" for k in fit))
        out[b.name] = {"runs": runs, "summary": summary, "goal": goal,
                       "suggested_reach_k": min(reached) if reached else None,
                       "paired_gap": paired, "wrong": wrong}
    return out


if __name__ == "__main__":
    main()
