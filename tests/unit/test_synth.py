import subprocess
import sys

import cv2
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mediumnet.config import SynthConfig
from mediumnet.data.manifest import MANIFEST_COLUMNS, read_manifest
from mediumnet.data.synth import plan_works, render, synthesize
from mediumnet.errors import DatasetError
from mediumnet.labels import MEDIUMS, map_record


@pytest.fixture(scope="module")
def synth_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    frame = synthesize(root, SynthConfig(per_class=16, width=640, height=480, seed=1,
                                         workers=2), progress=False)
    return root, frame


def test_manifest_follows_the_contract(synth_set):
    root, frame = synth_set
    manifest = read_manifest(root)
    assert list(manifest.columns) == list(MANIFEST_COLUMNS)
    assert len(manifest) == 80
    assert manifest["id"].is_unique
    assert (manifest["label"].value_counts() == 16).all()
    assert set(manifest["label"]) == set(MEDIUMS)
    assert (manifest["source"] == "synth").all()
    # Fake artists make grouped splits possible: several works each, never two mediums.
    per_artist = manifest.groupby("artist")["label"].agg(["size", "nunique"])
    assert per_artist["nunique"].max() == 1
    assert per_artist["size"].max() > 1
    assert (manifest["phash"].str.len() == 16).all()


def test_images_decode_at_the_requested_size_and_match_their_rows(synth_set):
    root, frame = synth_set
    for row in frame.itertuples():
        path = root / row.image_path
        with Image.open(path) as im:
            assert im.format == "JPEG"
            assert im.size == (640, 480)
        assert path.stat().st_size == row.bytes


def test_medium_texts_map_back_to_their_label():
    """The free-text medium of each synthetic work is one a real source would map the same."""
    for medium_texts in plan_works(SynthConfig(per_class=30, seed=5)):
        medium, reason = map_record("artsy", "Mixed Media", medium_texts.medium_text)
        assert medium == medium_texts.medium, (medium_texts.medium_text, reason)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    config = SynthConfig(per_class=2, width=400, height=320, seed=7, workers=1)
    a = synthesize(tmp_path / "a", config, progress=False)
    b = synthesize(tmp_path / "b", config, progress=False)
    c = synthesize(tmp_path / "c", SynthConfig(per_class=2, width=400, height=320, seed=8,
                                               workers=1), progress=False)
    assert list(a["sha256"]) == list(b["sha256"])
    assert not set(a["sha256"]) & set(c["sha256"])


def test_worker_processes_draw_the_same_works_in_the_same_order(tmp_path):
    one = synthesize(tmp_path / "one", SynthConfig(per_class=2, width=400, height=320, seed=5,
                                                   workers=1), progress=False)
    two = synthesize(tmp_path / "two", SynthConfig(per_class=2, width=400, height=320, seed=5,
                                                   workers=2), progress=False)
    assert list(one["sha256"]) == list(two["sha256"])
    assert list(one["id"]) == list(two["id"])


def test_a_script_without_a_main_guard_draws_with_workers(tmp_path):
    # Python's "spawn" runs such a script again in each worker, which then fails to start.
    script = tmp_path / "chain.py"
    script.write_text(
        "from mediumnet.config import SynthConfig\n"
        "from mediumnet.data.synth import synthesize\n"
        "frame = synthesize('data', SynthConfig(per_class=1, width=400, height=320, "
        "workers=2), progress=False)\n"
        "print('drew', len(frame))\n")
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.count("drew 5") == 1
    assert len(read_manifest(tmp_path / "data")) == 5


def test_rerun_replaces_rather_than_duplicates(tmp_path):
    config = SynthConfig(per_class=2, width=400, height=320, seed=3, workers=1)
    synthesize(tmp_path, config, progress=False)
    synthesize(tmp_path, config, progress=False)
    synthesize(tmp_path, SynthConfig(per_class=1, width=400, height=320, seed=4, workers=1),
               progress=False)
    assert len(read_manifest(tmp_path)) == 10 + 5


def test_disagreeing_share_is_planned_both_ways():
    works = plan_works(SynthConfig(per_class=50, disagree_share=0.2))
    for medium in MEDIUMS:
        variants = pd.Series([w.variant for w in works if w.medium == medium]).value_counts()
        assert variants["composition_misleads"] == 5
        assert variants["texture_misleads"] == 5
        assert variants["typical"] == 40


def _cues(root, frame):
    rows = []
    for row in frame.itertuples():
        img = cv2.cvtColor(cv2.imread(str(root / row.image_path)), cv2.COLOR_BGR2RGB)
        small = cv2.resize(img, (64, 48), interpolation=cv2.INTER_AREA).astype(int)
        border = np.concatenate([small[0], small[-1], small[:, 0], small[:, -1]])
        empty = (np.abs(small - np.median(border, 0)).max(-1) < 18).mean()
        hsv = cv2.cvtColor(small.astype(np.uint8), cv2.COLOR_RGB2HSV)
        tile = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)[160:320, 240:400].astype(np.float32)
        rows.append({"label": row.label, "empty": empty, "saturation": hsv[..., 1].mean(),
                     "value": hsv[..., 2].mean(), "grey": np.ptp(small, -1).mean() < 12,
                     "sharpness": cv2.Laplacian(tile, cv2.CV_32F).var()})
    return pd.DataFrame(rows).groupby("label").agg(
        {"empty": "median", "saturation": "median", "value": "median", "grey": "mean",
         "sharpness": "median"})


def test_each_medium_carries_its_designed_cues(synth_set):
    cues = _cues(*synth_set)

    def top(feature, margin):
        ranked = cues[feature].sort_values(ascending=False)
        assert ranked.iloc[0] > ranked.iloc[1] * margin, cues[feature]
        return ranked.index[0]

    assert top("empty", 1.3) == "drawing"              # few objects, much empty paper
    assert top("saturation", 2.0) == "painting"        # many saturated colour masses
    assert cues["value"].idxmin() == "painting"        # leans to the dark end
    assert top("sharpness", 2.0) == "engraving"        # crisp lines at native resolution
    assert top("grey", 1.5) == "photography"           # often colourless


def test_large_images_work(tmp_path):
    work = plan_works(SynthConfig(per_class=1, width=4000, height=3000, seed=2))[1]
    assert render(work).shape == (3000, 4000, 3)


@pytest.mark.parametrize(("config", "min_size", "message"), [
    (SynthConfig(per_class=0), 1, "--per-class 0: ask for at least 1 image per medium"),
    (SynthConfig(width=10, height=10), 320, "--size 10x10 is below the texture tile size "
     "\\(320 px\\): ask for at least 320x320"),
    (SynthConfig(width=9000, height=100), 1, "too large"),
])
def test_bad_requests_fail_before_writing(tmp_path, config, min_size, message):
    with pytest.raises(DatasetError, match=message):
        synthesize(tmp_path / "ds", config, min_size=min_size, progress=False)
    assert not (tmp_path / "ds").exists()
