"""The benchmarks run as the README shows them: from any folder, on a user's own set, to the end.

Each ``bench/`` script the README quotes figures from is run here once on the smallest input
that takes it through every step, the way a user runs it: a subprocess of this Python, from a
folder of its own, the data named by a path relative to it. The figures themselves are not
checked (they are measured on real sets, never in tests); that the script finishes and prints
them is. A set path read from inside the bench's work folder, not the caller's (835c7d7),
failed only when run like this; so did ``bench/transfer.py`` on a set whose pool holds fewer
works of a medium than a K asks for. ``bench/serve.py``, ``bench/score.py`` and
``bench/train_step.py`` time what ``test_serve.py``, ``test_score.py`` and ``test_train.py``
run already; they are left to their README commands.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def place(tmp_path_factory) -> Path:
    """A user's folder: ``labels.csv`` (60 synthetic works by 29 artists), ``art/``, ``icc/``."""
    from mediumnet.config import SynthConfig
    from mediumnet.data.manifest import read_manifest
    from mediumnet.data.synth import synthesize

    top = tmp_path_factory.mktemp("bench")
    synthesize(top / "art", SynthConfig(per_class=12, width=320, height=240, seed=0,
                                        workers=1, artists_per_class=6), progress=False)
    works = read_manifest(top / "art")
    pd.DataFrame({"path": "art/" + works["image_path"], "label": works["label"],
                  "artist": works["artist"]}).to_csv(top / "labels.csv", index=False)
    subprocess.run([sys.executable, "-m", "tests.iccprofiles", str(top / "icc")], cwd=REPO,
                   check=True, capture_output=True)   # as bench/colour_profiles.py says
    return top


def folder(place: Path, name: str) -> Path:
    """A new, empty folder beside ``labels.csv`` for one bench to run from."""
    (place / name).mkdir()
    return place / name


def bench(script: str, *args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run ``bench/SCRIPT`` as the README does, from ``cwd``; return what it printed."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    done = subprocess.run([sys.executable, str(REPO / "bench" / script), *args], cwd=cwd,
                          env=clean | (env or {}), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"bench/{script} {' '.join(args)}:\n{done.stderr[-3000:]}"
    return done.stdout


def test_audit_bench_reads_a_relative_csv_and_leaves_the_folder_clean(place):
    here = folder(place, "audit")
    out = bench("audit.py", "../labels.csv", "--preset", "tiny", "--seeds", "1", "--folds",
                "2", cwd=here)
    assert "60 works; the clean audit flags" in out
    assert "mean over 1 seeds: precision" in out and "recall" in out
    assert list(here.iterdir()) == []   # its store went to a temporary work folder


def test_calibration_bench_reads_a_relative_set(place):
    out = bench("calibration.py", "mine=../labels.csv", "--preset", "tiny", "--seeds", "1",
                "--folds", "2", cwd=folder(place, "calibration"))
    assert "mine: 60 works" in out
    assert "mean over 1 seeds: ECE" in out


def test_transfer_bench_prints_the_matrix_and_honest_curves(place):
    here = folder(place, "transfer")
    out = bench("transfer.py", "mine=../labels.csv", "synthetic", "--synthetic-per-class",
                "12", "--preset", "tiny", "--seeds", "2", "--ks", "5,10", "--folds", "2",
                "--work", "runs", "--json", "figures.json", cwd=here)
    assert "trained on the row's set, tested on the column's" in out
    assert "mine->synthetic" in out and "synthetic->mine" in out
    assert (here / "runs" / "mlflow.db").is_file()   # --work relative to the caller
    figures = json.loads((here / "figures.json").read_text())
    assert set(figures["curves"]) == {"mine", "synthetic"}
    # 12 works a medium, a quarter held out: no pool gives 10 of each, and the bench says so
    assert "mine: K=10 left out of the learning curve: seed 0's pool holds" in out
    assert all(list(c["summary"]["random"]) == ["5"] for c in figures["curves"].values())
    for name, curve in figures["curves"].items():
        assert f"{name}: macro-F1 on a held-out artist-grouped quarter" in out
        for run in curve["runs"]:
            for kind in ("random", "suggested"):
                for k, wrong in run["wrong"][kind].items():
                    # a quarter every work of which is answered right scores 1, whichever
                    # mediums it lacks (a lacking medium's F1 read 0 before)
                    assert wrong > 0 or run[kind][k] == 1.0, (name, kind, k)


def test_quality_bench_then_colour_profiles_on_its_champion(place):
    here = folder(place, "quality")
    out = bench("quality.py", "../labels.csv", "--preset", "tiny", "--work", "chain", cwd=here)
    assert "registered: " in out and "whole chain" in out
    out = bench("colour_profiles.py", "chain/dataset", "models:/mediumnet-ensemble@champion",
                *sorted(f"../icc/{p.name}" for p in (place / "icc").glob("*.icc")), "--limit", "6",
                cwd=here, env={"MLFLOW_TRACKING_URI": "sqlite:///chain/mlflow.db"})
    assert "6 test works of chain/dataset" in out
    assert "Adobe RGB (1998) compatible, profile embedded" in out


@pytest.mark.parametrize(("script", "args", "printed"), [
    ("boosting.py", ["--works", "120", "--features", "8", "--repeats", "1"],
     "balanced class weights: scikit-learn"),
    ("explore_speed.py", ["--images", "2"], "measuring:"),
    ("jpeg_damage.py", ["--trials", "3"], "3 copies with bytes lost"),
    ("harvest_throughput.py", ["--records", "30", "--rate", "1000"], "client headroom"),
    ("pipeline.py", ["--small", "1", "--large", "1", "--epoch-works", "4"], "second epoch"),
    ("jpeg2000_masters.py", ["IMAGES", "--limit", "2", "--large", "0.5"], "16-bit master"),
    ("png_colour_chunks.py", ["IMAGES", "--limit", "2"], "Display P3, cICP"),
    ("colour_profile_files.py", ["PROFILES"], "2 profiles measured, 2 converted"),
])
def test_bench_runs_to_its_figures(place, script, args, printed):
    where = {"IMAGES": "../art/images", "PROFILES": "../icc"}   # as a user names them
    out = bench(script, *[where.get(a, a) for a in args], cwd=folder(place, script))
    assert printed in out


def test_transfer_curve_scores_each_quarter_over_the_mediums_it_holds(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "bench"))
    transfer = importlib.import_module("transfer")
    rng = np.random.default_rng(0)
    # five mediums by three artists each: an artist-grouped quarter cannot hold all five
    y = np.repeat(np.arange(5), 12)
    groups = np.repeat(np.arange(15), 4)
    apart = 10 * np.eye(5)[y] + rng.normal(size=(len(y), 5))   # every medium told at a glance
    mine = transfer.Collection("mine", Path("."), None, y, groups, {"features": apart})
    runs = [transfer.curve(mine, [], [5], seed) for seed in range(4)]
    assert all(r["wrong"][kind][5] == 0 for r in runs for kind in ("random", "suggested"))
    assert all(r[kind][5] == 1.0 for r in runs for kind in ("random", "drawn", "suggested"))
    assert all(len(r["scored"]) < 5 for r in runs)   # what made them read 0.8 before
