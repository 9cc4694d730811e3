"""Batch scoring with `mediumnet score`: local and Spark give the same answers, bad rows apart."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from mediumnet.ensemble.classifier import OUTPUT_COLUMNS, PROBABILITY_COLUMNS
from tests.conftest import REPO
from tests.integration.conftest import BAD_IMAGES, jpeg_bytes

pytestmark = [pytest.mark.integration, pytest.mark.slow]

needs_spark = pytest.mark.skipif(
    shutil.which("java") is None or __import__("importlib").util.find_spec("pyspark") is None,
    reason="Spark needs pyspark (mediumnet[spark]) and Java")


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """200 generated JPEGs in a folder, and a CSV of them with bad rows mixed in."""
    root = tmp_path_factory.mktemp("score")
    folder = root / "scans"
    folder.mkdir()
    for i in range(200):
        (folder / f"work{i:03d}.jpg").write_bytes(jpeg_bytes(160, 120, seed=i))
    (folder / "truncated.jpg").write_bytes(BAD_IMAGES["truncated"]())
    (folder / "page.jpg").write_bytes(BAD_IMAGES["not_an_image"]())
    rows = [{"path": f"scans/work{i:03d}.jpg", "inventory": f"inv-{i}"} for i in range(200)]
    rows[17]["path"] = "scans/truncated.jpg"
    rows[101]["path"] = "scans/page.jpg"
    rows[150]["path"] = "scans/missing.jpg"
    table = pd.DataFrame(rows)
    table.to_csv(root / "scans.csv", index=False)
    return root


def _score(args, cwd, env=None):
    return subprocess.run([sys.executable, "-m", "mediumnet", "score", *map(str, args)],
                          cwd=cwd, capture_output=True, text=True, timeout=900,
                          env={**os.environ, **(env or {})})


@needs_spark
def test_spark_and_local_give_the_same_answers_row_for_row(in_store, images):
    local = images / "local.parquet"
    spark = images / "spark.parquet"
    done = _score([images / "scans.csv", local, "--quiet"], in_store.home)
    assert done.returncode == 0, done.stderr
    assert "200 rows scored (3 with an error)" in done.stdout
    done = _score([images / "scans.csv", spark, "--engine", "spark", "--master", "local[2]",
                   "--batch", "32"], in_store.home)
    assert done.returncode == 0, done.stderr
    a, b = pd.read_parquet(local), pd.read_parquet(spark)
    assert list(a.columns) == ["path", "inventory", *OUTPUT_COLUMNS] == list(b.columns)
    assert len(a) == len(b) == 200
    assert list(a["inventory"]) == [f"inv-{i}" for i in range(200)]   # input order kept
    assert list(a["path"]) == list(b["path"])
    assert (a["label"].fillna("") == b["label"].fillna("")).all()
    probs_a = a[list(PROBABILITY_COLUMNS)].to_numpy(float)
    probs_b = b[list(PROBABILITY_COLUMNS)].to_numpy(float)
    assert np.allclose(np.nan_to_num(probs_a, nan=-1), np.nan_to_num(probs_b, nan=-1),
                       atol=1e-6)
    failed = a["error"].notna()
    assert list(np.flatnonzero(failed)) == [17, 101, 150]
    assert (a["error"].fillna("") == b["error"].fillna("")).all()
    assert "truncated or corrupt" in a.loc[17, "error"]
    assert "not an image" in a.loc[101, "error"]
    assert "no such image file" in a.loc[150, "error"]
    assert a.loc[~failed, "label"].notna().all()
    assert np.allclose(probs_a[~failed].sum(axis=1), 1.0)


def test_a_folder_and_a_parquet_table_with_base64_rows(in_store, images, tmp_path):
    done = _score([images / "scans", tmp_path / "folder.parquet", "--quiet"], in_store.home)
    assert done.returncode == 0, done.stderr
    folder = pd.read_parquet(tmp_path / "folder.parquet")
    assert len(folder) == 202 and folder["path"].is_monotonic_increasing
    table = pd.DataFrame({"image": [base64.b64encode((images / "scans" / f"work{i:03d}.jpg")
                                                     .read_bytes()).decode() for i in range(3)]
                          + ["%% not base64"]})
    table.to_parquet(tmp_path / "in.parquet")
    done = _score([tmp_path / "in.parquet", tmp_path / "b64.parquet", "--quiet"], in_store.home)
    assert done.returncode == 0, done.stderr
    out = pd.read_parquet(tmp_path / "b64.parquet")
    assert list(out["error"].notna()) == [False, False, False, True]
    by_path = folder.set_index("path").loc[[str(images / "scans" / f"work{i:03d}.jpg")
                                            for i in range(3)]]
    assert np.allclose(out.loc[:2, list(PROBABILITY_COLUMNS)].to_numpy(float),
                       by_path[list(PROBABILITY_COLUMNS)].to_numpy(float))


@pytest.mark.parametrize(("make", "args", "message"), [
    (None, ["nowhere.csv", "out.parquet"], "no such file or folder"),
    ("no_column", ["in.csv", "out.parquet"], "no path, url or image column"),
    ("ok", ["in.csv", "out.csv"], "the output is a Parquet table"),
    ("ok", ["in.csv", "out.parquet", "--model", "models:/mediumnet-ensemble/999"],
     "cannot load model"),
    ("ok", ["in.csv", "out.parquet", "--master", "local[2]"], "--master is for --engine spark"),
])
def test_bad_calls_fail_in_one_line_and_keep_the_old_output(in_store, images, tmp_path, make,
                                                           args, message):
    if make == "no_column":
        pd.DataFrame({"file": ["a.jpg"]}).to_csv(tmp_path / "in.csv", index=False)
    elif make == "ok":
        pd.DataFrame({"path": [str(images / "scans" / "work000.jpg")]}).to_csv(
            tmp_path / "in.csv", index=False)
    (tmp_path / "out.parquet").write_bytes(b"an earlier table")
    done = _score(args, tmp_path, env={"MLFLOW_TRACKING_URI":
                                       f"sqlite:///{in_store.home / 'mlflow.db'}"})
    assert done.returncode != 0
    assert message in done.stderr and done.stderr.strip().count("\n") == 0, done.stderr
    assert (tmp_path / "out.parquet").read_bytes() == b"an earlier table"
    assert not list(tmp_path.glob(".out.parquet.*"))


def test_spark_without_java_or_pyspark_says_so(in_store, images, tmp_path):
    env = {"PATH": os.path.dirname(sys.executable), "JAVA_HOME": ""}
    done = _score([images / "scans.csv", tmp_path / "o.parquet", "--engine", "spark"],
                  in_store.home, env=env)
    assert done.returncode == 1 and "needs Java" in done.stderr
    code = ("import sys; sys.modules['pyspark'] = None; sys.argv = ['mediumnet', 'score', "
            f"{str(images / 'scans.csv')!r}, {str(tmp_path / 'o.parquet')!r}, '--engine', "
            "'spark']; from mediumnet.cli import main; main()")
    done = subprocess.run([sys.executable, "-c", code], cwd=in_store.home, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 1 and "pip install 'mediumnet[spark]'" in done.stderr
    assert not (tmp_path / "o.parquet").exists()


@needs_spark
def test_the_readme_spark_example_runs(in_store, images, tmp_path):
    readme = (REPO / "README.md").read_text()
    block = textwrap.dedent(re.search(r"```py\n( *import os\n\n *import mlflow\n *from pyspark"
                                      r".*?)```", readme, re.S).group(1))
    scans = tmp_path / "scans"
    shutil.copytree(images / "scans", scans)
    pd.DataFrame({"path": [str(scans / f"work{i:03d}.jpg") for i in range(20)]}).to_parquet(
        scans / "scans.parquet")
    code = block.replace('SCANS = "/mnt/scans"', f"SCANS = {str(scans)!r}")
    assert code != block
    done = subprocess.run([sys.executable, "-c", code], cwd=in_store.home, capture_output=True,
                          text=True, timeout=600,
                          env={**os.environ, "PYSPARK_PYTHON": sys.executable})
    assert done.returncode == 0, done.stderr[-3000:]
    out = pd.read_parquet(scans / "mediums.parquet")
    assert len(out) == 20 and out["error"].isna().all()
    assert set(out["label"]) <= {c[2:] for c in PROBABILITY_COLUMNS}
