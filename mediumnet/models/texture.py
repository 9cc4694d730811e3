"""The research's shallow texture CNN on one native-resolution tile, and tile pooling."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import layers

from mediumnet.labels import MEDIUMS
from mediumnet.models.composition import classification_head


def build_texture_cnn(tile: int = 320, *, filters: Sequence[int] = (32, 64),
                      kernel_size: int = 5, dense_units: int = 128, dropout: float = 0.3,
                      head: str = "flatten", bn_momentum: float = 0.9,
                      augmentation: keras.layers.Layer | None = None,
                      num_classes: int = len(MEDIUMS)) -> keras.Model:
    """Build the texture CNN for one ``tile`` x ``tile`` tile.

    Conv2D (5x5, ReLU) → BatchNormalization → MaxPooling2D → Dropout → Conv2D (5x5, ReLU) →
    BatchNormalization, then the head of :func:`~mediumnet.models.composition.
    classification_head`. Parameters as in
    :func:`~mediumnet.models.composition.build_composition_cnn` (``filters``: the two blocks).
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


def pool_tiles(probabilities: np.ndarray, tiles_per_image: int) -> np.ndarray:
    """Turn per-tile probabilities into per-image ones: the mean of log-probabilities.

    Parameters
    ----------
    probabilities : numpy.ndarray
        ``(n_images * tiles_per_image, 5)``, the tiles of each image consecutive.
    tiles_per_image : int

    Returns
    -------
    numpy.ndarray
        ``(n_images, 5)``, rows summing to 1 (a geometric mean, renormalised).
    """
    logp = np.log(np.clip(probabilities, 1e-7, 1.0)).reshape(-1, tiles_per_image,
                                                             probabilities.shape[-1])
    mean = logp.mean(axis=1)
    mean -= mean.max(axis=1, keepdims=True)
    out = np.exp(mean)
    return out / out.sum(axis=1, keepdims=True)
