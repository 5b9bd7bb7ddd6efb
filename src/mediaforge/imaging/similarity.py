"""SSIM (Wang et al. 2004) between two images of the same size, computed by libvips.

Luma only (Rec. 601 weights, on 0-255), a Gaussian window of sigma 1.5, K1 = 0.01, K2 = 0.03,
averaged over the whole image. Alpha is flattened onto white first, as a viewer would show it.
"""

from __future__ import annotations

from mediaforge.imaging._vips import VipsImage

__all__ = ["luma", "ssim"]

_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2
_SIGMA = 1.5


def luma(image: VipsImage) -> VipsImage:
    """A one-band float luma image, alpha flattened onto white; reuse it for many comparisons."""
    if image.hasalpha():
        image = image.flatten(background=[255] * (image.bands - 1))
    if image.bands >= 3:
        image = image.extract_band(0, n=3).recomb([[0.299, 0.587, 0.114]])
    return image.cast("float").copy_memory()


def ssim(reference: VipsImage, candidate: VipsImage) -> float:
    """Mean SSIM of ``candidate`` against ``reference`` (either a :func:`luma` image or any image)."""
    x = reference if _is_luma(reference) else luma(reference)
    y = candidate if _is_luma(candidate) else luma(candidate)
    if (x.width, x.height) != (y.width, y.height):
        raise ValueError(f"SSIM needs equal sizes, got {x.width}x{x.height} and {y.width}x{y.height}")
    mu_x, mu_y = _blur(x), _blur(y)
    mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    var_x = _blur(x * x) - mu_xx
    var_y = _blur(y * y) - mu_yy
    cov = _blur(x * y) - mu_xy
    numerator = (mu_xy * 2 + _C1) * (cov * 2 + _C2)
    denominator = (mu_xx + mu_yy + _C1) * (var_x + var_y + _C2)
    return float((numerator / denominator).avg())


def _blur(image: VipsImage) -> VipsImage:
    return image.gaussblur(_SIGMA, precision="float", min_ampl=0.01)


def _is_luma(image: VipsImage) -> bool:
    return bool(image.bands == 1 and image.format == "float")
