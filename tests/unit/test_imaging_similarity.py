"""SSIM as the engine computes it: 1 for identical images, lower with more damage, symmetric."""

from __future__ import annotations

import numpy as np
import pytest

pyvips = pytest.importorskip("pyvips")

from mediaforge.imaging import ssim  # noqa: E402


def image(array: np.ndarray) -> object:
    return pyvips.Image.new_from_array(array.astype(np.uint8)).copy(interpretation="srgb")


@pytest.fixture
def pixels() -> np.ndarray:
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:96, 0:128]
    base = np.stack([x * 2, y * 2, (x + y)], axis=-1).astype(float)
    return np.clip(base + rng.normal(0, 10, base.shape), 0, 255)


def test_identical_images_score_one(pixels: np.ndarray) -> None:
    """An image compared with itself scores 1."""
    assert 1.0 == pytest.approx(ssim(image(pixels), image(pixels)), abs=1e-6)


def test_more_noise_scores_lower(pixels: np.ndarray) -> None:
    """Adding more noise lowers SSIM, and the score does not depend on argument order."""
    rng = np.random.default_rng(4)
    light = image(np.clip(pixels + rng.normal(0, 5, pixels.shape), 0, 255))
    heavy = image(np.clip(pixels + rng.normal(0, 25, pixels.shape), 0, 255))
    reference = image(pixels)
    scores = (ssim(reference, light), ssim(reference, heavy))
    assert 1.0 > scores[0] > scores[1] > 0
    assert scores[0] == pytest.approx(ssim(light, reference), abs=1e-6)


def test_different_sizes_are_an_error(pixels: np.ndarray) -> None:
    """Comparing images of different sizes raises ``ValueError``."""
    with pytest.raises(ValueError, match="equal sizes"):
        ssim(image(pixels), image(pixels[:50]))
