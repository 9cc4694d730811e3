"""ImageNet's 1000 classes, and a backbone's top-5 on photographs: the check that it is right.

The class names ship with mediumnet (``imagenet_classes.json``: WordNet id and name, in the
order of the classifier's outputs, as Keras' ``imagenet_class_index.json`` and keras-hub's
``IMAGENET_NAMES`` list them, Apache-2.0) because Keras fetches them from the internet. A
network whose ImageNet classifier names a photographed cat a cat and an espresso an espresso
was converted right.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

CLASSES_FILE = Path(__file__).with_name("imagenet_classes.json")
CROP = 0.875
"""Evaluation crop: the shorter side resized to ``size / 0.875``, the centre ``size`` kept."""


@functools.cache
def class_names() -> tuple[str, ...]:
    """Return the 1000 ImageNet class names, in the order of the classifier's outputs."""
    return tuple(name for _wnid, name in json.loads(CLASSES_FILE.read_text()))


@dataclass(frozen=True)
class Guess:
    """One ImageNet class and its probability."""

    index: int
    name: str
    p: float


def centre_crop(pixels: np.ndarray, size: int) -> np.ndarray:
    """Resize the shorter side to ``size / 0.875`` (bicubic) and cut the centre square."""
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(pixels))
    width, height = image.size
    scale = size / CROP / min(width, height)
    image = image.resize((max(size, round(width * scale)), max(size, round(height * scale))),
                         Image.Resampling.BICUBIC)
    width, height = image.size
    left, top = (width - size) // 2, (height - size) // 2
    return np.asarray(image.crop((left, top, left + size, top + size)))


def top5(model: Any, images: list[np.ndarray], size: int) -> list[list[Guess]]:
    """Return the five likeliest ImageNet classes of each image under ``model``.

    Parameters
    ----------
    model : keras.Model
        A network ending in ImageNet's 1000-class softmax, taking uint8-range images.
    images : list of numpy.ndarray
        Upright RGB pixels.
    size : int
        The network's input side.
    """
    names = class_names()
    batch = np.stack([centre_crop(pixels, size) for pixels in images]).astype(np.float32)
    probs = np.asarray(model.predict(batch, verbose=0), np.float64)
    return [[Guess(int(i), names[int(i)], float(row[i])) for i in np.argsort(row)[::-1][:5]]
            for row in probs]
