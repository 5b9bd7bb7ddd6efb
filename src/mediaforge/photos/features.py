"""One image file -> ``PhotoFeatures``: hashes, EXIF facts, place, embedding, quality.

JPEGs are decoded with ``draft`` (the decoder scales by 1/2..1/8 while decoding), so a 24 MP
photo costs about as much as a 1 MP one. The features travel as a child job's ``result`` JSON
(``as_result`` / ``from_result``): hashes as hex, vectors as base64 float16.
"""

from __future__ import annotations

import base64
import hashlib
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mediaforge.photos import embedding as emb
from mediaforge.photos import quality as q
from mediaforge.photos.exif import read_exif
from mediaforge.photos.geo import reverse_geocode
from mediaforge.photos.hashes import dhash, phash

__all__ = ["AnalyzeOptions", "InvalidImage", "PhotoFeatures", "analyze_file", "decode_vector"]

_WORK_SIDE = 256
_DRAFT_SIDE = 512
F32 = np.ndarray[Any, np.dtype[np.float32]]


class InvalidImage(Exception):
    """The file is not an image Pillow can decode (or is too large)."""


@dataclass(frozen=True)
class AnalyzeOptions:
    embedding: str = "colour"
    """``colour`` (the colour-and-structure vector only) or ``mobilenet`` (MobileNetV2 as well)."""
    faces: bool = True
    """Count faces when mediapipe is installed."""
    max_pixels: int = 100_000_000


@dataclass
class PhotoFeatures:
    """Everything the photo actions know about one image."""

    sha256: str
    size: int
    width: int
    height: int
    phash: int
    dhash: int
    taken_at: datetime | None
    camera: str | None
    lat: float | None
    lon: float | None
    place: dict[str, str] | None
    sharpness: float
    exposure: float
    faces: int | None
    quality: float
    vector: F32
    embedding: F32 | None = None
    embedding_model: str | None = None

    def as_result(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "size": self.size,
            "width": self.width,
            "height": self.height,
            "phash": f"{self.phash:016x}",
            "dhash": f"{self.dhash:016x}",
            "taken_at": self.taken_at.isoformat() if self.taken_at else None,
            "camera": self.camera,
            "gps": None
            if self.lat is None
            else {"lat": round(self.lat, 6), "lon": round(self.lon or 0.0, 6)},
            "place": self.place,
            "sharpness": round(self.sharpness, 4),
            "exposure": round(self.exposure, 4),
            "faces": self.faces,
            "quality": self.quality,
            "vector": encode_vector(self.vector),
            "embedding": None if self.embedding is None else encode_vector(self.embedding),
            "embedding_model": self.embedding_model,
        }

    @classmethod
    def from_result(cls, result: dict[str, Any]) -> PhotoFeatures:
        gps = result.get("gps") or {}
        taken = result.get("taken_at")
        return cls(
            sha256=result["sha256"],
            size=int(result["size"]),
            width=int(result["width"]),
            height=int(result["height"]),
            phash=int(result["phash"], 16),
            dhash=int(result["dhash"], 16),
            taken_at=datetime.fromisoformat(taken) if taken else None,
            camera=result.get("camera"),
            lat=gps.get("lat"),
            lon=gps.get("lon"),
            place=result.get("place"),
            sharpness=float(result["sharpness"]),
            exposure=float(result["exposure"]),
            faces=result.get("faces"),
            quality=float(result["quality"]),
            vector=decode_vector(result["vector"]),
            embedding=decode_vector(result["embedding"]) if result.get("embedding") else None,
            embedding_model=result.get("embedding_model"),
        )


def encode_vector(vector: F32) -> str:
    return base64.b64encode(np.asarray(vector, dtype="<f2").tobytes()).decode("ascii")


def decode_vector(text: str | bytes) -> F32:
    raw = base64.b64decode(text) if isinstance(text, str) else text
    return np.frombuffer(raw, dtype="<f2").astype(np.float32)


def analyze_file(path: Path, options: AnalyzeOptions | None = None) -> PhotoFeatures:
    """Analyse the image at ``path``; raises ``InvalidImage`` when it cannot be decoded."""
    options = options or AnalyzeOptions()
    data = path.read_bytes()
    image, width, height, facts = _decode(path, options.max_pixels)
    grey = image.convert("L")
    grey_pixels = np.asarray(grey, dtype=np.float32)
    hash_p = phash(np.asarray(grey.resize((32, 32), Image.Resampling.LANCZOS), dtype=np.float32))
    hash_d = dhash(np.asarray(grey.resize((9, 8), Image.Resampling.LANCZOS), dtype=np.float32))
    sharp, exposed = q.sharpness(grey_pixels), q.exposure(grey_pixels)
    faces = q.count_faces(image) if options.faces and q.faces_available() else None
    place = reverse_geocode(facts.lat, facts.lon) if facts.lat is not None and facts.lon is not None else None
    embedding = model = None
    if options.embedding == "mobilenet":
        embedding, model = emb.mobilenet_embedding(image), emb.MOBILENET
    return PhotoFeatures(
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        width=width,
        height=height,
        phash=hash_p,
        dhash=hash_d,
        taken_at=facts.taken_at,
        camera=facts.camera,
        lat=facts.lat,
        lon=facts.lon,
        place=place.as_dict() if place else None,
        sharpness=sharp,
        exposure=exposed,
        faces=faces,
        quality=q.quality(sharp, exposed, faces),
        vector=emb.colour_structure(image),
        embedding=embedding,
        embedding_model=model,
    )


def _decode(path: Path, max_pixels: int) -> tuple[Image.Image, int, int, Any]:
    """A small RGB copy (long side 256, orientation applied), the full size, and the EXIF facts."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                if opened.width * opened.height > max_pixels:
                    raise InvalidImage(f"{opened.width}x{opened.height} is more than {max_pixels} pixels")
                facts = read_exif(opened)
                size = opened.size
                opened.draft("RGB", (_DRAFT_SIDE, _DRAFT_SIDE))
                oriented = ImageOps.exif_transpose(opened)
                rgb = oriented.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise InvalidImage(f"cannot decode the image: {exc}") from exc
    swapped = (rgb.size[0] < rgb.size[1] and size[0] > size[1]) or (
        rgb.size[0] > rgb.size[1] and size[0] < size[1]
    )
    width, height = (size[1], size[0]) if swapped else size
    rgb.thumbnail((_WORK_SIDE, _WORK_SIDE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return rgb, width, height, facts
