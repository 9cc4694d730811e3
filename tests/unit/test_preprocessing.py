"""Preprocessors: saved with a model, rebuilt from what it saved, the same pixels as the cache."""

import io

import numpy as np
import pytest
from PIL import Image

from mediumnet.config import load_config
from mediumnet.errors import MediumnetError
from mediumnet.labels import MEDIUMS
from mediumnet.preprocessing import (
    CompositionPreprocessor,
    EffnetPreprocessor,
    FeaturesPreprocessor,
    TexturePreprocessor,
    branch_preprocessor,
    from_config,
)


def _jpeg(width=900, height=600):
    rng = np.random.default_rng(3)
    image = Image.fromarray(rng.integers(0, 255, (height // 60, width // 60, 3), np.uint8))
    buffer = io.BytesIO()
    image.resize((width, height), Image.Resampling.BICUBIC).save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


@pytest.mark.parametrize("branch", ["composition", "texture", "effnet"])
def test_a_preprocessor_survives_its_config(branch):
    config = load_config("demo")
    made = branch_preprocessor(branch, config, ("painting", "photography"))
    again = from_config(made.to_config())
    assert again == made and type(again) is type(made)
    assert again.classes == ("painting", "photography")
    assert again.example().shape[1:] == made(np.zeros((300, 400, 3), np.uint8)).shape[1:]


def test_settings_saved_before_preprocessors_existed_still_load():
    old_composition = {"view": "composition", "size": 96, "letterbox_pad": 127,
                       "classes": list(MEDIUMS)}
    old_texture = {"view": "texture", "tile": 64, "tiles_per_image": 4, "long_edge": 800,
                   "pooling": "mean_log_probability", "classes": list(MEDIUMS)}
    assert from_config(old_composition) == CompositionPreprocessor(size=96)
    assert from_config(old_texture) == TexturePreprocessor(tile=64, tiles_per_image=4,
                                                           long_edge=800)
    assert from_config({"view": "composition", "size": 32}).classes == MEDIUMS
    assert isinstance(from_config({"view": "composition", "size": 96, "branch": "effnet"}),
                      EffnetPreprocessor)
    with pytest.raises(MediumnetError, match="unknown preprocessing view 'sketch'"):
        from_config({"view": "sketch"})


def test_serving_cuts_the_views_the_cache_trained_on():
    from mediumnet.data.views import native_pixels

    data = _jpeg()
    pixels = native_pixels(data)
    texture = TexturePreprocessor(tile=64, tiles_per_image=4, long_edge=800)
    assert np.array_equal(texture(pixels), texture.grid(texture.bounded_from_file(data)))
    composition = CompositionPreprocessor(size=96)
    served = composition(pixels)[0].astype(int)
    cached = composition.from_file(data).astype(int)
    assert np.abs(served - cached).mean() < 3.0          # reduced JPEG decode: a hair apart
    values = FeaturesPreprocessor(("edge_density", "grayscale"))(pixels)
    assert len(values) == 2 and values[1] == 0.0
    assert FeaturesPreprocessor.from_config(
        FeaturesPreprocessor(("a", "b")).to_config()).names == ("a", "b")
