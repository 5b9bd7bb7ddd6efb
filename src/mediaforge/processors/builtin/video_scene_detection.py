"""``video.scene_detection``: shot boundaries (content-based cuts) with container-exact times."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mediaforge.processors.base import Context, InputFile, Output, OutputFile, Processor
from mediaforge.processors.builtin.video_common import (
    VIDEO_INSTALL_HINT,
    VIDEO_RETRY,
    Ticker,
    probe_input,
    video_facts,
    write_json,
)
from mediaforge.video.scenes import detect_scenes

__all__ = ["VIDEO_SCENE_DETECTION", "SceneDetectionParams"]


class SceneDetectionParams(BaseModel):
    """How different two frames must be to call a cut, and how short a shot may be."""

    model_config = ConfigDict(extra="forbid")
    threshold: float = Field(
        27.0,
        ge=1.0,
        le=255.0,
        description="Content change (mean HSV difference, 0-255) that makes a cut; lower finds more cuts "
        "(PySceneDetect's ContentDetector scale and default).",
    )
    min_scene_length: float = Field(
        0.6, ge=0.0, le=60.0, description="Shortest shot in seconds; a cut sooner after the last is ignored."
    )
    method: Literal["content", "adaptive"] = Field(
        "content",
        description="'content': a cut where the change reaches the threshold; 'adaptive': also "
        "adaptive_ratio times the change around it (ignores fast camera moves).",
    )
    adaptive_ratio: float = Field(
        3.0, ge=1.0, le=20.0, description="For method 'adaptive': how far a cut stands above its neighbours."
    )
    analysis_size: int = Field(
        256, ge=64, le=1024, description="Frames are compared at about this many pixels on their long side."
    )


def _scene_detection(ctx: Context, inputs: list[InputFile], params: SceneDetectionParams) -> Output:
    info = probe_input(inputs[0])
    expected = info.frame_count or max(1, round(info.duration_seconds * info.fps))
    tick = Ticker(ctx, expected, end=99, message="comparing frames")
    found = detect_scenes(
        inputs[0].path,
        threshold=params.threshold,
        min_scene_length=params.min_scene_length,
        fps=info.fps,
        method=params.method,
        adaptive_ratio=params.adaptive_ratio,
        max_side=params.analysis_size,
        on_frame=tick,
    )
    scenes = [scene.as_dict() for scene in found.scenes]
    cuts = [
        {"frame": cut, "time": round(float(found.times[cut]), 6), "score": round(float(found.scores[cut]), 3)}
        for cut in found.cuts
    ]
    video = video_facts(info)
    document = {
        "format": "JSON",
        "pipeline": "scene_detection",
        "video": video,
        "parameters": params.model_dump(),
        "annotations": [{"type": "scene", **scene} for scene in scenes],
        "cuts": cuts,
    }
    path = write_json(ctx.tmp_dir / "scene_detection.json", document)
    ctx.progress(100, "done")
    return Output(
        result={
            "format": "JSON",
            "annotation_count": len(scenes),
            "frames_processed": len(found.times),
            "video": video,
            "scene_count": len(scenes),
            "scenes": scenes,
            "cuts": cuts,
        },
        files=[OutputFile(path, "scene_detection.json", role="annotations")],
    )


VIDEO_SCENE_DETECTION = Processor(
    "video.scene_detection",
    _scene_detection,
    SceneDetectionParams,
    description="Shot boundaries: content-based cuts with frame-exact times from the container.",
    requires=("av", "numpy", "cv2"),
    install_hint=VIDEO_INSTALL_HINT,
    min_inputs=1,
    max_inputs=1,
    timeout=3600,
    retry=VIDEO_RETRY,
)
