"""Photo sets with known answers, made from real photographs (scikit-image's sample photos).

``photo_set`` writes JPEGs with EXIF capture times and GPS positions: distinct scenes grouped
into events (a day apart, each in its own city), plus known duplicates of some scenes: an exact
copy, a half-size recompressed copy (EXIF stripped), a low-quality recompression, a moderate
off-centre crop, and bursts (three frames a second apart, each slightly shifted and re-lit).
"""

from __future__ import annotations

import io
import itertools
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps
from tests.samples import sample_photo

COLOUR = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "hubble_deep_field.jpg",
    "retina.jpg",
    "ihc.png",
)
GREY = ("camera.png", "moon.png", "coins.png", "clock_motion.png", "brick.png", "grass.png", "gravel.png")
TINTS = (
    (255, 200, 140),
    (140, 190, 255),
    (180, 255, 160),
    (255, 150, 200),
    (255, 240, 120),
    (150, 255, 240),
    (220, 170, 255),
)
CITIES = {  # (lat, lon)
    "Zurich": (47.3769, 8.5417),
    "Paris": (48.8566, 2.3522),
    "Rome": (41.9028, 12.4964),
    "Berlin": (52.5200, 13.4050),
    "Lisbon": (38.7223, -9.1393),
}
START = datetime(2024, 6, 1, 9, 0, 0)


def scenes() -> list[Image.Image]:
    """23 distinct scenes at about 1024 pixels: both halves of each colour photo, tinted greys."""
    out: list[Image.Image] = []
    for index, name in enumerate(COLOUR):
        photo = sample_photo(name)
        w, h = photo.size
        for side, box in enumerate(((0, 0, w // 2, h), (w // 2, 0, w, h))):
            half = photo.crop(box)
            if (index + side) % 2:
                half = ImageOps.mirror(ImageEnhance.Color(half).enhance(1.4))
            out.append(_upscale(half))
    for name, tint in zip(GREY, TINTS, strict=True):
        grey = sample_photo(name).convert("L")
        out.append(_upscale(ImageOps.colorize(grey, black=(20, 20, 30), white=tint)))
    return out


def _upscale(image: Image.Image, side: int = 1024) -> Image.Image:
    scale = side / max(image.size)
    return image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)


@dataclass
class Shot:
    """One generated file and what it truly is."""

    image_id: str
    path: Path
    scene: int
    event: int
    kind: str  # original | exact | resized | recompressed | cropped | burst
    taken_at: datetime | None
    city: str


@dataclass
class PhotoSet:
    shots: list[Shot] = field(default_factory=list)

    def groups(self) -> list[set[str]]:
        """The true duplicate groups (scenes with at least one duplicate)."""
        by_scene: dict[int, set[str]] = {}
        for shot in self.shots:
            by_scene.setdefault(shot.scene, set()).add(shot.image_id)
        return [ids for ids in by_scene.values() if len(ids) > 1]

    def events(self) -> list[set[str]]:
        by_event: dict[int, set[str]] = {}
        for shot in self.shots:
            if shot.taken_at is not None:
                by_event.setdefault(shot.event, set()).add(shot.image_id)
        return [by_event[k] for k in sorted(by_event)]


def pairs(groups: list[set[str]]) -> set[frozenset[str]]:
    return {frozenset(p) for g in groups for p in itertools.combinations(sorted(g), 2)}


def jpeg(
    image: Image.Image, *, taken_at: datetime | None, gps: tuple[float, float] | None, quality: int = 90
) -> bytes:
    """JPEG bytes with EXIF DateTimeOriginal, camera and GPS (each only when given)."""
    exif = Image.Exif()
    if taken_at is not None:
        exif[271], exif[272] = "Canon", "Canon EOS R6"
        exif.get_ifd(0x8769)[36867] = taken_at.strftime("%Y:%m:%d %H:%M:%S")
    if gps is not None:
        ifd = exif.get_ifd(0x8825)
        ifd[1], ifd[2] = ("N" if gps[0] >= 0 else "S"), _dms(abs(gps[0]))
        ifd[3], ifd[4] = ("E" if gps[1] >= 0 else "W"), _dms(abs(gps[1]))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, exif=exif)
    return buffer.getvalue()


def _dms(value: float) -> tuple[float, float, float]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    return float(degrees), float(minutes), round((value - degrees - minutes / 60) * 3600, 3)


def photo_set(
    folder: Path, *, events: int = 4, duplicated: int = 8, bursts: int = 4, seed: int = 7
) -> PhotoSet:
    """Write the set under ``folder``: scenes spread over ``events``; duplicates of the first scenes."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    result = PhotoSet()
    all_scenes = scenes()
    cities = list(CITIES)
    counter = itertools.count()

    def add(
        image: Image.Image | bytes,
        scene: int,
        event: int,
        kind: str,
        taken: datetime | None,
        gps: tuple[float, float] | None,
        quality: int = 90,
    ) -> None:
        image_id = f"img-{next(counter):04d}"
        data = image if isinstance(image, bytes) else jpeg(image, taken_at=taken, gps=gps, quality=quality)
        path = folder / f"{image_id}.jpg"
        path.write_bytes(data)
        result.shots.append(Shot(image_id, path, scene, event, kind, taken, cities[event]))

    for index, scene in enumerate(all_scenes):
        event = index % events
        day = START + timedelta(days=2 * event)
        taken = day + timedelta(minutes=25 * (index // events) + rng.randint(0, 5))
        lat, lon = CITIES[cities[event]]
        gps = (lat + rng.uniform(-0.01, 0.01), lon + rng.uniform(-0.01, 0.01))
        original = jpeg(scene, taken_at=taken, gps=gps)
        add(original, index, event, "original", taken, gps)
        if index < duplicated:
            kinds = ("exact", "resized", "recompressed", "cropped")
            kind = kinds[index % len(kinds)]
            if kind == "exact":
                add(original, index, event, kind, taken, gps)
            elif kind == "resized":
                small = scene.resize((scene.width // 2, scene.height // 2), Image.Resampling.LANCZOS)
                add(jpeg(small, taken_at=None, gps=None, quality=75), index, event, kind, None, None)
            elif kind == "recompressed":
                add(scene, index, event, kind, taken, gps, quality=40)
            else:
                add(_crop(scene, rng), index, event, kind, taken, gps, quality=85)
        if duplicated <= index < duplicated + bursts:
            for frame in range(1, 3):
                add(_burst(scene, rng), index, event, "burst", taken + timedelta(seconds=frame), gps)
    return result


def _crop(image: Image.Image, rng: random.Random) -> Image.Image:
    """An off-centre crop keeping 80-88% of each side."""
    keep = rng.uniform(0.80, 0.88)
    w, h = round(image.width * keep), round(image.height * keep)
    left, top = rng.randint(0, image.width - w), rng.randint(0, image.height - h)
    return image.crop((left, top, left + w, top + h))


def _burst(image: Image.Image, rng: random.Random) -> Image.Image:
    """The next frame of a burst: the camera moved by up to 4%, the light by up to 6%, sensor noise."""
    dx, dy = (round(rng.uniform(-0.04, 0.04) * s) for s in image.size)
    frame = image.transform(
        image.size, Image.Transform.AFFINE, (1, 0, dx, 0, 1, dy), Image.Resampling.BILINEAR
    )
    margin = (abs(dx) + 2, abs(dy) + 2)
    frame = frame.crop((margin[0], margin[1], image.width - margin[0], image.height - margin[1]))
    frame = ImageEnhance.Brightness(frame).enhance(rng.uniform(0.94, 1.06))
    pixels = np.asarray(frame, dtype=np.float32) + np.random.default_rng(rng.randint(0, 2**31)).normal(
        0, 3, (frame.height, frame.width, 3)
    )
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
