"""One writer at a time in a data set: a second harvest, split, label or synth is refused.

Without the lock two harvests into one folder both ended well and left the manifest of the
last to finish: 1,000 rows where 1,999 works were kept.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock, Timeout
from PIL import Image

from mediumnet.config import load_config
from mediumnet.data.manifest import manifest_frame, read_manifest, write_manifest
from mediumnet.data.writer_lock import HOLDER_NAME, LOCK_NAME, writing
from mediumnet.errors import DatasetError
from mediumnet.harvest.folder import FolderSource
from mediumnet.harvest.loop import harvest
from mediumnet.prepare import run_label, run_split, run_synth
from mediumnet.settings import HarvestConfig

pytestmark = pytest.mark.integration


@pytest.fixture
def collection(workdir: Path) -> Path:
    """A harvested-looking data set of 12 works by 6 artists, never split."""
    rows = [{"id": f"w{i}", "source": "met", "label": ("painting", "drawing")[i % 2],
             "label_reason": "given", "artist": f"artist {i % 6}", "image_path":
             f"images/w{i}.jpg", "sha256": f"{i:064x}", "width": 10, "height": 10, "bytes": 9,
             "split": ""} for i in range(12)]
    (workdir / "ds").mkdir()
    write_manifest(workdir / "ds", manifest_frame(rows))
    return workdir / "ds"


def held_elsewhere(root: Path) -> FileLock:
    """Take the folder's lock as another process would (a lock of its own on the file)."""
    lock = FileLock(root / LOCK_NAME, timeout=0)
    lock.acquire()
    (root / HOLDER_NAME).write_text(json.dumps({"step": "harvest", "pid": 4242,
                                                "since": "2026-12-06 04:10:05"}))
    return lock


def test_a_second_process_that_would_write_the_set_is_refused_in_one_line(
        collection, workdir, mediumnet_exe):
    before = (collection / "manifest.parquet").read_bytes()
    (workdir / "sheet.csv").write_text("id,label\nw0,drawing\n")
    with writing(collection, "harvest"):   # this process harvests; a curator runs split
        for command in (["split", "ds"], ["label", "ds", "--from", "sheet.csv"]):
            out = subprocess.run([mediumnet_exe, *command], cwd=workdir, capture_output=True,
                                 text=True, timeout=300)
            assert out.returncode == 1
            line = out.stderr.strip()
            assert line.startswith(f"mediumnet: error: ds is being written by mediumnet "
                                   f"harvest (process {os.getpid()}, since ")
            assert line.endswith(f"then run {command[0]} again; one step at a time writes a "
                                 "data set")
            assert "\n" not in line
    assert (collection / "manifest.parquet").read_bytes() == before
    assert not (workdir / "mlflow.db").exists()        # refused before any run began
    assert not (collection / HOLDER_NAME).exists()     # the holder's note goes with the lock
    done = subprocess.run([mediumnet_exe, "split", "ds"], cwd=workdir, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert set(read_manifest(collection)["split"]) > {"train"}


def test_every_step_that_writes_takes_the_lock_and_gives_it_back(collection, workdir):
    src = workdir / "src" / "painting"
    src.mkdir(parents=True)
    Image.fromarray(np.full((40, 40, 3), 90, np.uint8)).save(src / "one.jpg")
    (workdir / "sheet.csv").write_text("id,label\nw0,drawing\n")
    config = load_config("tiny")
    steps = {"harvest": lambda: harvest(FolderSource(workdir / "src"), collection,
                                        HarvestConfig(), progress=False),
             "split": lambda: run_split(collection, config),
             "label": lambda: run_label(collection, workdir / "sheet.csv"),
             "synth": lambda: run_synth(collection, config, progress=False)}
    before = (collection / "manifest.parquet").read_bytes()
    other = held_elsewhere(collection)
    for step, call in steps.items():
        with pytest.raises(DatasetError, match=(
                f"ds is being written by mediumnet harvest \\(process 4242, since 2026-12-06 "
                f"04:10:05\\): wait for it to finish \\(or stop it\\), then run {step} again")):
            call()
    assert (collection / "manifest.parquet").read_bytes() == before
    other.release()
    (collection / HOLDER_NAME).unlink()

    for step in ("harvest", "split", "label"):   # done, and the lock is free again
        steps[step]()
        free = FileLock(collection / LOCK_NAME, timeout=0)
        free.acquire()
        free.release()
    assert read_manifest(collection).set_index("id").loc["w0", "label"] == "drawing"
    assert not (collection / HOLDER_NAME).exists()


def test_a_step_that_fails_gives_the_lock_back(collection):
    with pytest.raises(DatasetError, match="no manifest"):   # a folder never harvested
        run_split(collection.parent / "elsewhere", load_config("tiny"))
    assert not (collection.parent / "elsewhere").exists()     # not created to be locked
    with pytest.raises(RuntimeError), writing(collection, "split"):
        raise RuntimeError("killed mid-step")
    try:
        FileLock(collection / LOCK_NAME, timeout=0).acquire()
    except Timeout:
        pytest.fail("the lock outlived the step that failed")
