"""Dominant colours: k-means on a thumbnail, named in CIELAB, transparent pixels ignored."""

from __future__ import annotations

import pytest
from PIL import Image

from mediaforge.tagging.colors import color_name, dominant_colors


def halves(left: tuple[int, ...], right: tuple[int, ...], mode: str = "RGB") -> Image.Image:
    image = Image.new(mode, (200, 100), left)
    image.paste(Image.new(mode, (100, 100), right), (100, 0))
    return image


def test_a_solid_red_image_is_red() -> None:
    """One colour covering every pixel comes back alone, named red, with its exact hex."""
    [color] = dominant_colors(Image.new("RGB", (300, 200), (255, 0, 0)))
    assert ("red", "#ff0000", 1.0) == (color.name, color.hex, color.fraction)


def test_two_halves_share_the_image() -> None:
    """Blue and white halves are two colours of about half each, largest first."""
    colors = dominant_colors(halves((20, 60, 220), (255, 255, 255)))
    assert {"blue", "white"} == {c.name for c in colors}
    assert all(abs(c.fraction - 0.5) < 0.02 for c in colors)


def test_transparent_pixels_are_ignored() -> None:
    """A transparent half does not count, so the opaque green half is the whole palette."""
    [color] = dominant_colors(halves((40, 160, 40, 255), (255, 0, 0, 0), mode="RGBA"))
    assert ("green", 1.0) == (color.name, color.fraction)


def test_a_fully_transparent_image_has_no_colours() -> None:
    """Nothing visible, nothing to name."""
    assert [] == dominant_colors(Image.new("RGBA", (50, 50), (0, 0, 0, 0)))


def test_the_palette_is_deterministic() -> None:
    """The same image gives the same palette every time."""
    image = Image.radial_gradient("L").convert("RGB")
    assert dominant_colors(image) == dominant_colors(image)


def test_small_shares_are_dropped() -> None:
    """A colour under 3% of the pixels is not dominant."""
    image = Image.new("RGB", (100, 100), (255, 255, 255))
    image.paste(Image.new("RGB", (10, 10), (0, 0, 0)), (0, 0))
    assert ["white"] == [c.name for c in dominant_colors(image)]


@pytest.mark.parametrize(
    ("rgb", "name"),
    [
        ((0, 0, 0), "black"),
        ((250, 250, 250), "white"),
        ((200, 30, 40), "red"),
        ((255, 150, 10), "orange"),
        ((250, 225, 10), "yellow"),
        ((30, 150, 40), "green"),
        ((30, 70, 210), "blue"),
        ((125, 125, 125), "gray"),
        ((135, 85, 45), "brown"),
    ],
)
def test_colour_names(rgb: tuple[int, int, int], name: str) -> None:
    """Everyday colours get their everyday names."""
    assert name == color_name(rgb)
