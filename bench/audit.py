"""The whole-collection audit against planted label flips: precision and recall at its cut.

    .venv/bin/python bench/audit.py DATA [--preset demo] [--work DIR] [--share 0.05]
                                        [--seeds 3] [--folds 5] [--json FILE]

DATA is a folder of ``<medium>/`` subfolders or a CSV with ``path,label[,artist]`` (as for
``bench/quality.py``), harvested into ``--work`` (default: a temporary folder), never written
to. The collection is audited as it is first (its own doubtful labels: a real collection has
some), then, for each seed, with ``--share`` of its works given another medium of the
collection at random: the audit's flags at its default cut are scored against the planted
flips. Precision is given twice: against every flag, and without the flags the clean audit
raised too (the collection's own doubtful labels, which a planted flip cannot explain; look at
them in the clean audit's list before calling them false alarms).
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


def plant(works, share: float, seed: int):
    """Give ``share`` of the works another medium of the collection; return them and which."""
    rng = np.random.default_rng(seed)
    works = works.copy().reset_index(drop=True)
    mediums = sorted(set(works["label"]))
    chosen = rng.choice(len(works), size=max(1, round(share * len(works))), replace=False)
    for i in chosen:
        others = [m for m in mediums if m != works.at[i, "label"]]
        works.at[i, "label"] = others[rng.integers(len(others))]
    return works, set(works["id"].iloc[chosen])


def flags(root, works, config, folds):
    from mediumnet.collection.crossfit import cross_fit
    from mediumnet.ensemble.audit import flag_label_issues

    fit = cross_fit(root, works, config, folds=folds, progress=False)
    flagged, _ = flag_label_issues(fit.y, fit.probs, fit.classes)
    return fit, set(fit.works["id"][flagged])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--share", type=float, default=0.05)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    quiet()
    data = args.data.resolve()
    config = load_config(args.preset, args.overrides)
    with work_folder(args.work) as work:
        figures = run(data, work / "dataset", config, args)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")


def run(data: Path, root: Path, config, args) -> dict:
    from mediumnet.data.manifest import labelled, read_manifest
    from mediumnet.harvest.engine import run_harvest
    from mediumnet.harvest.folder import FolderSource

    if not (root / "manifest.parquet").is_file():
        run_harvest(FolderSource(data), root, config, progress=False)
    works = labelled(read_manifest(root))
    started = time.perf_counter()
    clean_fit, own = flags(root, works, config, args.folds)
    seconds = time.perf_counter() - started
    print(f"{data}: {len(clean_fit.works)} works; the clean audit flags {len(own)} "
          f"({seconds:.0f} s, measurements cached after the first run)")
    by_id = works.set_index("id")
    for work_id in sorted(own):
        row = by_id.loc[work_id]
        print(f"  own flag: {row['label']:>11s}  {row['artist'] or '-':28s} {work_id}")
    rows = []
    for seed in range(args.seeds):
        planted_works, planted = plant(works, args.share, seed)
        _, found = flags(root, planted_works, config, args.folds)
        hits = found & planted
        beyond = found - own
        precision = len(hits) / max(1, len(found))
        adjusted = len(hits) / max(1, len(beyond))
        recall = len(hits) / len(planted)
        rows.append({"seed": seed, "planted": len(planted), "flagged": len(found),
                     "hits": len(hits), "precision": precision,
                     "precision_without_own_flags": adjusted, "recall": recall})
        print(f"seed {seed}: {len(planted)} planted, {len(found)} flagged, {len(hits)} of "
              f"them planted: precision {precision:.3f} ({adjusted:.3f} without the clean "
              f"audit's own flags), recall {recall:.3f}", flush=True)
    mean = {k: float(np.mean([r[k] for r in rows]))
            for k in ("precision", "precision_without_own_flags", "recall")}
    print(f"mean over {args.seeds} seeds: precision {mean['precision']:.3f} "
          f"({mean['precision_without_own_flags']:.3f} without own flags), recall "
          f"{mean['recall']:.3f}")
    return {"works": len(clean_fit.works), "own_flags": sorted(own), "seeds": rows,
            "mean": mean, "seconds_clean_audit": round(seconds, 1)}


if __name__ == "__main__":
    main()
