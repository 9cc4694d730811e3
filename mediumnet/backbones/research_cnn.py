"""The research's two shallow CNNs: composition (the whole work, shrunk) and texture (one tile)."""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from mediumnet.labels import MEDIUMS


def classification_head(x, *, head: str, dense_units: int, dropout: float,
                        num_classes: int = len(MEDIUMS)):
    """Flatten (the research) or global average pooling, then Dense → Dropout → softmax.

    The softmax is computed in float32 so that mixed precision keeps probabilities exact.
    """
    x = layers.Flatten()(x) if head == "flatten" else layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(dense_units, activation="relu")(x)
    x = layers.Dropout(dropout)(x)
    return layers.Dense(num_classes, activation="softmax", dtype="float32", name="medium")(x)


def build_composition_cnn(input_size: int = 320, *, filters: Sequence[int] = (32, 64, 128),
                          kernel_size: int = 10, dense_units: int = 128, dropout: float = 0.3,
                          head: str = "flatten", bn_momentum: float = 0.9,
                          augmentation: keras.layers.Layer | None = None,
                          num_classes: int = len(MEDIUMS)) -> keras.Model:
    """Build the composition CNN.

    Three blocks of Conv2D (``kernel_size`` x ``kernel_size``, ReLU) → MaxPooling2D →
    BatchNormalization → Dropout, then the head: Flatten → Dense → Dropout → Dense(5, softmax).

    Parameters
    ----------
    input_size : int
        Side of the square composition view.
    filters : sequence of int
        Filters of each block (one block per entry; the research used three).
    kernel_size : int
        Convolution size (the research: 10).
    dense_units, dropout : int, float
        Width of the dense layer and dropout rate.
    head : {"flatten", "gap"}
        ``flatten`` as in the research (many parameters at 320 px), or global average pooling.
    bn_momentum : float
        BatchNormalization momentum (0.9 settles faster than Keras' 0.99 on small sets).
    augmentation : keras.layers.Layer, optional
        Applied first, in training only (see :mod:`mediumnet.backbones.augment`).

    Returns
    -------
    keras.Model
        uint8-range ``(input_size, input_size, 3)`` images in, 5 probabilities out.
    """
    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = augmentation(inputs) if augmentation is not None else inputs
    x = layers.Rescaling(1.0 / 255.0)(x)
    for n in filters:
        x = layers.Conv2D(n, kernel_size, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(2)(x)
        x = layers.BatchNormalization(momentum=bn_momentum)(x)
        x = layers.Dropout(dropout)(x)
    outputs = classification_head(x, head=head, dense_units=dense_units, dropout=dropout,
                                  num_classes=num_classes)
    return keras.Model(inputs, outputs, name="composition_cnn")


def build_texture_cnn(tile: int = 320, *, filters: Sequence[int] = (32, 64),
                      kernel_size: int = 5, dense_units: int = 128, dropout: float = 0.3,
                      head: str = "flatten", bn_momentum: float = 0.9,
                      augmentation: keras.layers.Layer | None = None,
                      num_classes: int = len(MEDIUMS)) -> keras.Model:
    """Build the texture CNN for one ``tile`` x ``tile`` tile.

    Conv2D (5x5, ReLU) → BatchNormalization → MaxPooling2D → Dropout → Conv2D (5x5, ReLU) →
    BatchNormalization, then the head of :func:`classification_head`. Parameters as in
    :func:`build_composition_cnn` (``filters``: the two blocks).
    """
    if len(filters) != 2:
        from mediumnet.errors import MediumnetError

        raise MediumnetError(f"texture.filters={list(filters)}: the texture CNN has two blocks, "
                             "give two filter counts")
    inputs = keras.Input((tile, tile, 3), name="tile")
    x = augmentation(inputs) if augmentation is not None else inputs
    x = layers.Rescaling(1.0 / 255.0)(x)
    x = layers.Conv2D(filters[0], kernel_size, padding="same", activation="relu")(x)
    x = layers.BatchNormalization(momentum=bn_momentum)(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Conv2D(filters[1], kernel_size, padding="same", activation="relu")(x)
    x = layers.BatchNormalization(momentum=bn_momentum)(x)
    outputs = classification_head(x, head=head, dense_units=dense_units, dropout=dropout,
                                  num_classes=num_classes)
    return keras.Model(inputs, outputs, name="texture_cnn")

