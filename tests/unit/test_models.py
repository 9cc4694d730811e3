"""Model builders and augmentation (Keras 3 on TensorFlow, CPU)."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from mediumnet.backbones.augment import build_augmentation  # noqa: E402
from mediumnet.backbones.effnet import build_effnet, set_stage  # noqa: E402
from mediumnet.backbones.research_cnn import (  # noqa: E402
    build_composition_cnn,
    build_texture_cnn,
)
from mediumnet.errors import MediumnetError  # noqa: E402

BATCH = np.random.default_rng(0).integers(0, 255, (2, 64, 64, 3)).astype("uint8")


@pytest.mark.parametrize(("build", "kwargs"), [
    (build_composition_cnn, {"filters": (4, 8, 8), "kernel_size": 5, "dense_units": 8}),
    (build_composition_cnn, {"filters": (4, 8, 8), "kernel_size": 5, "dense_units": 8,
                             "head": "gap"}),
    (build_texture_cnn, {"filters": (4, 8), "dense_units": 8}),
])
@pytest.mark.parametrize("size", [48, 64])
def test_builders_output_five_probabilities(build, kwargs, size):
    model = build(size, **kwargs)
    x = np.random.default_rng(1).integers(0, 255, (2, size, size, 3)).astype("uint8")
    p = np.asarray(model.predict(x, verbose=0))
    assert p.shape == (2, 5)
    assert np.allclose(p.sum(axis=1), 1, atol=1e-5)


def test_gap_head_has_far_fewer_parameters_than_flatten_at_320():
    flat = build_composition_cnn(320, head="flatten")
    gap = build_composition_cnn(320, head="gap")
    assert flat.count_params() > 20 * gap.count_params()


@pytest.mark.parametrize("size", [32, 48])
def test_effnet_builds_and_stages_unfreeze_as_specified(size):
    model = build_effnet("B0", size, weights=None)
    assert np.allclose(np.asarray(model.predict(BATCH[:, :size, :size], verbose=0)).sum(1), 1,
                       atol=1e-5)
    backbone = model.get_layer("backbone")

    def trainable_share():
        layers = [layer for layer in backbone.layers if layer.weights]
        return sum(layer.trainable and backbone.trainable for layer in layers) / len(layers)

    assert not backbone.trainable and model.trainable_weights  # stage 1: the head only
    head_only = len(model.trainable_weights)
    set_stage(model, 2)
    assert 0.2 < trainable_share() < 0.6
    set_stage(model, 3)
    assert trainable_share() > 0.6
    assert len(model.trainable_weights) > head_only
    bn = [layer for layer in backbone.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert bn and not any(layer.trainable for layer in bn)


def test_effnet_bad_weights_and_variant():
    with pytest.raises(MediumnetError, match="no such file"):
        build_effnet("B0", 32, weights="/nowhere/b0.weights.h5")
    with pytest.raises(MediumnetError, match="unknown EfficientNet variant 'B9'"):
        build_effnet("B9", 32, weights=None)


def test_augmentation_changes_training_batches_and_is_identity_at_inference():
    aug = build_augmentation(64, seed=3)
    inputs = keras.Input((64, 64, 3))
    model = keras.Model(inputs, aug(inputs))
    x = BATCH.astype("float32")
    assert np.abs(np.asarray(model(x, training=True)) - x).mean() > 1.0
    assert np.array_equal(np.asarray(model(x, training=False)), x)
    assert np.array_equal(np.asarray(model.predict(x, verbose=0)), x)


def test_a_model_with_augmentation_inside_fits_and_saves(tmp_path):
    aug = build_augmentation(48, seed=1)
    model = build_texture_cnn(48, filters=(4, 8), dense_units=8, head="gap",
                              augmentation=aug)
    model.compile("adam", "categorical_crossentropy")
    x = np.random.default_rng(2).integers(0, 255, (8, 48, 48, 3)).astype("float32")
    y = np.eye(5)[np.arange(8) % 5]
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert np.allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
