"""Data (pure, tracks nothing): manifest, image store, splits, views, pipelines, synthetic set.

The public API that training, evaluation, the benchmark and the serving model call::

    from mediumnet.data import composition_view, texture_tiles, splits, make_dataset
    splits.splits(manifest)        # the module mediumnet.data.splits, never rebound
"""

from mediumnet.data import splits
from mediumnet.data.cache import build_cache
from mediumnet.data.pipeline import class_weights, make_dataset
from mediumnet.data.views import ImageError, composition_view, texture_tiles

__all__ = ["ImageError", "build_cache", "class_weights", "composition_view", "make_dataset",
           "splits", "texture_tiles"]
