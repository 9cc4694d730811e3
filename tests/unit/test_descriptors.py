"""Texture descriptors: each measures what its meaning says, on images made to show it."""

import numpy as np
import pytest

from mediumnet.study.descriptors import (
    GABOR_ORIENTATIONS,
    GABOR_WAVELENGTHS,
    LBP_BINS,
    describe,
    descriptor_meaning,
    descriptor_names,
    gabor_energies,
    glcm_statistics,
    lbp_histogram,
)
from mediumnet.study.features import DESCRIPTOR_NAMES, FEATURE_NAMES, feature_meaning


def _stripes(period: int, vertical: bool, size: int = 128) -> np.ndarray:
    wave = (127 + 120 * np.sin(2 * np.pi * np.arange(size) / period)).astype(np.uint8)
    return np.tile(wave, (size, 1)) if vertical else np.tile(wave[:, None], (1, size))


def test_lbp_of_a_flat_image_is_all_flat_and_a_bright_dot_is_a_peak():
    flat = np.full((20, 20), 90, np.uint8)
    histogram = lbp_histogram(flat, 1)
    assert histogram.sum() == pytest.approx(1.0)
    assert histogram[8] == pytest.approx(1.0)        # every neighbour at least as bright
    dot = flat.copy()
    dot[10, 10] = 250
    assert lbp_histogram(dot, 1)[0] == pytest.approx(1 / 18 ** 2)   # the dot: no brighter one
    assert lbp_histogram(np.zeros((5, 5), np.uint8), 3).sum() == 0  # no full ring fits


def test_lbp_of_noise_is_mostly_not_one_arc():
    noise = np.random.default_rng(0).integers(0, 256, (128, 128)).astype(np.uint8)
    smooth = np.tile(np.arange(128, dtype=np.uint8), (128, 1))
    assert lbp_histogram(noise, 1)[LBP_BINS - 1] > 0.3
    assert lbp_histogram(smooth, 1)[LBP_BINS - 1] == 0


def test_glcm_tells_fine_hatching_from_a_wash():
    hatching = np.tile(np.array([40, 220], np.uint8), (128, 64))   # 1-px dark/light lines
    wash = np.tile(np.linspace(100, 140, 128).astype(np.uint8), (128, 1))
    h, w = glcm_statistics(hatching), glcm_statistics(wash)
    contrast_d1, homogeneity_d1 = 0, 3                   # property-major, 3 distances each
    assert h[contrast_d1] > 10 * w[contrast_d1]
    assert h[homogeneity_d1] < w[homogeneity_d1]
    assert glcm_statistics(np.full((16, 16), 7, np.uint8))[9] == 1.0  # flat: correlation 1


@pytest.mark.parametrize("wavelength", GABOR_WAVELENGTHS)
def test_gabor_energy_peaks_at_the_strokes_orientation_and_spacing(wavelength):
    names = [(w, o) for w in GABOR_WAVELENGTHS for o in GABOR_ORIENTATIONS]
    vertical = gabor_energies(_stripes(wavelength, vertical=True))
    assert names[int(vertical.argmax())] == (wavelength, 0)
    horizontal = gabor_energies(_stripes(wavelength, vertical=False))
    assert names[int(horizontal.argmax())] == (wavelength, 90)
    assert gabor_energies(np.full((32, 32), 50, np.uint8)).sum() == 0


def test_every_descriptor_and_feature_has_a_name_and_a_meaning():
    names = descriptor_names()
    assert len(names) == len(set(names)) == len(describe(_stripes(4, True)))
    assert all(descriptor_meaning(n) for n in names)
    assert len(DESCRIPTOR_NAMES) == 3 * len(names)
    meanings = {n: feature_meaning(n) for n in FEATURE_NAMES}
    assert all(meanings.values())
    assert "native-resolution tiles" in meanings["lbp_r1_other_tiles"]
    assert "thumbnail" in meanings["gabor_w8_o45_thumb"]
    with pytest.raises(KeyError):
        feature_meaning("no_such_feature")


def test_describe_handles_tiny_and_flat_images():
    for grey in (np.zeros((3, 3), np.uint8), np.full((40, 7), 200, np.uint8)):
        values = describe(grey)
        assert np.isfinite(values).all()
