"""The cached tf.data pipeline on a real (synthetic) dataset folder."""

import numpy as np
import pytest

from mediumnet.branches import get_branch
from mediumnet.config import SynthConfig, load_config
from mediumnet.data.manifest import read_manifest, write_manifest
from mediumnet.data.pipeline import class_weights
from mediumnet.data.splits import splits
from mediumnet.data.synth import synthesize
from mediumnet.errors import DatasetError
from mediumnet.labels import MEDIUMS

pytestmark = pytest.mark.integration


@pytest.fixture
def dataset(tmp_path):
    root = tmp_path / "ds"
    synthesize(root, SynthConfig(per_class=8, width=320, height=240, seed=2, workers=1,
                                 artists_per_class=4), progress=False)
    write_manifest(root, splits(read_manifest(root), val=0.2, test=0.2))
    return root


CONFIG = load_config("demo", ["data.tiles_per_image_train=3", "data.tiles_per_image_eval=4",
                              "composition.batch_size=5", "texture.batch_size=7"])


COMPOSITION, TEXTURE = get_branch("composition"), get_branch("texture")


def _all(ds):
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds], strict=True)
    return np.concatenate(xs), np.concatenate(ys)


def test_composition_batches_match_the_split(dataset):
    manifest = read_manifest(dataset)
    x, y = _all(COMPOSITION.dataset(dataset, "val", CONFIG))
    assert x.shape[1:] == (96, 96, 3) and x.dtype == np.uint8
    assert y.shape[1] == len(MEDIUMS) and np.allclose(y.sum(axis=1), 1)
    assert len(x) == (manifest["split"] == "val").sum()


def test_texture_train_tiles_are_fresh_every_epoch_and_eval_grid_is_fixed(dataset):
    train = TEXTURE.dataset(dataset, "train", CONFIG, shuffle=False)
    first, labels = _all(train)
    second, _ = _all(train)
    n_train = (read_manifest(dataset)["split"] == "train").sum()
    assert first.shape == (n_train * 3, 64, 64, 3)
    assert not np.array_equal(first, second)
    assert (labels.reshape(n_train, 3, -1) == labels.reshape(n_train, 3, -1)[:, :1]).all()
    test = TEXTURE.dataset(dataset, "test", CONFIG)
    a, _ = _all(test)
    b, _ = _all(test)
    assert np.array_equal(a, b) and len(a) % 4 == 0


def test_cache_is_reused_and_invalidated_by_manifest_or_view_settings(dataset):
    assert COMPOSITION.cache(dataset, CONFIG).built
    assert not COMPOSITION.cache(dataset, CONFIG).built
    # a new split changes nothing in the pixels: still reused
    write_manifest(dataset, splits(read_manifest(dataset), seed=9))
    assert not COMPOSITION.cache(dataset, CONFIG).built
    # a view setting changes the pixels: rebuilt
    bigger = load_config("demo", ["data.composition_size=80"])
    assert COMPOSITION.cache(dataset, bigger).built
    assert TEXTURE.cache(dataset, CONFIG).built
    assert not TEXTURE.cache(dataset, CONFIG).built
    # the manifest's content changes: rebuilt
    synthesize(dataset, SynthConfig(per_class=1, width=320, height=240, seed=3, workers=1),
               progress=False)
    assert COMPOSITION.cache(dataset, CONFIG).built
    assert not list((dataset / "cache").glob(".building-*"))


def test_bad_files_are_counted_and_left_out_not_fatal(dataset):
    manifest = read_manifest(dataset)
    broken = manifest.iloc[0]
    path = dataset / broken["image_path"]
    path.write_bytes(path.read_bytes()[:500])
    cache = COMPOSITION.cache(dataset, CONFIG)
    assert list(cache.failed) == [broken["id"]]
    assert "truncated or corrupt" in cache.failed[broken["id"]]
    x, _ = _all(COMPOSITION.dataset(dataset, broken["split"], CONFIG, cache=cache))
    assert len(x) == (manifest["split"] == broken["split"]).sum() - 1


def test_class_weights_penalise_rare_mediums(dataset):
    manifest = read_manifest(dataset)
    rare = manifest[~((manifest["label"] == "drawing") & (manifest.index % 2 == 0))]
    weights = class_weights(rare.assign(split="train"))
    assert weights[MEDIUMS.index("drawing")] > weights[MEDIUMS.index("painting")]
    counts = rare["label"].value_counts()
    total = sum(weights[MEDIUMS.index(m)] * counts[m] for m in counts.index)
    assert total == pytest.approx(len(rare))


def test_unsplit_manifest_is_a_clear_error(tmp_path):
    root = tmp_path / "raw"
    synthesize(root, SynthConfig(per_class=1, width=320, height=240, workers=1),
               progress=False)
    with pytest.raises(DatasetError, match=f"the manifest of {root} is not split yet: run "
                                           f"mediumnet split {root}"):
        COMPOSITION.dataset(root, "train", CONFIG)


@pytest.mark.parametrize("mix", ["mixup", "cutmix"])
def test_batch_mixing_blends_training_labels_only(dataset, mix):
    config = load_config("demo", ["composition.batch_size=8", f"train.batch_mix={mix}"])
    x, y = _all(COMPOSITION.dataset(dataset, "train", config))
    assert x.dtype == np.float32 and np.allclose(y.sum(axis=1), 1, atol=1e-5)
    assert ((y > 0.01).sum(axis=1) > 1).any()   # some labels are blends of two mediums
    _, y_val = _all(COMPOSITION.dataset(dataset, "val", config))
    assert set(np.unique(y_val)) <= {0.0, 1.0}
