"""Augmentation inside the training model, so it runs on the accelerator with the batch.

The only module that imports keras_cv. Medium-preserving by default: flips, small rotations,
random crop-and-resize (zoom), mild brightness and contrast — never a hue shift, grayscale or
strong saturation change, since colour is evidence of the medium. ``randaugment`` adds Keras
core's RandAugment (keras-cv 0.9's own RandAugment fails inside a Keras 3 model). MixUp and
CutMix mix labels as well as images, so they act on batches in the input pipeline
(``train.batch_mix``, :mod:`mediumnet.data.pipeline`), not in the model.

keras-cv 0.9 layers called inside a Keras 3 functional model transform their input even at
inference (measured here: the flip flipped with ``training=False``); every augmentation is
therefore wrapped in :class:`TrainingOnly`, which passes the batch through untouched unless
the model is training.
"""

from __future__ import annotations

from typing import Literal

import keras

Policy = Literal["medium_preserving", "randaugment", "none"]


@keras.saving.register_keras_serializable(package="mediumnet")
class TrainingOnly(keras.layers.Layer):
    """Apply the wrapped layer in training only; the identity at inference."""

    def __init__(self, layer: keras.layers.Layer, **kwargs) -> None:
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape):
        """Build the wrapped layer for ``input_shape``."""
        if not self.layer.built:
            self.layer.build(input_shape)
        super().build(input_shape)

    def call(self, inputs, training=None):
        """Augment when ``training`` is true, else return ``inputs`` unchanged."""
        if training:
            return self.layer(inputs, training=True)
        return inputs

    def compute_output_shape(self, input_shape):
        """Return ``input_shape``: augmentation keeps the shape."""
        return input_shape

    def get_config(self):
        """Serialise the wrapped layer with the wrapper."""
        return {**super().get_config(), "layer": keras.saving.serialize_keras_object(self.layer)}

    @classmethod
    def from_config(cls, config):
        """Rebuild the wrapper and its layer."""
        config = dict(config)
        config["layer"] = keras.saving.deserialize_keras_object(config["layer"])
        return cls(**config)


def build_augmentation(size: int, policy: Policy = "medium_preserving", *,
                       seed: int | None = None) -> keras.Sequential:
    """Return the augmentation block for ``size`` x ``size`` uint8-range images.

    Parameters
    ----------
    size : int
        Input side (random crops are resized back to it).
    policy : {"medium_preserving", "randaugment", "none"}
        ``randaugment`` adds Keras core's RandAugment on top of the medium-preserving layers.
    seed : int, optional
        Seed of the random layers.
    """
    import keras_cv

    layers: list[keras.layers.Layer] = []
    if policy != "none":
        layers += [
            keras_cv.layers.RandomFlip("horizontal", seed=seed),
            keras_cv.layers.RandomRotation(0.03, fill_mode="reflect", seed=seed),
            keras_cv.layers.RandomCropAndResize(target_size=(size, size),
                                                crop_area_factor=(0.8, 1.0),
                                                aspect_ratio_factor=(0.9, 1.1), seed=seed),
            keras_cv.layers.RandomBrightness(0.08, value_range=(0, 255), seed=seed),
            keras_cv.layers.RandomContrast(value_range=(0, 255), factor=0.1, seed=seed),
        ]
    if policy == "randaugment":
        layers.append(keras.layers.RandAugment(value_range=(0, 255), seed=seed))
    return keras.Sequential([TrainingOnly(layer) for layer in layers], name="augmentation")
