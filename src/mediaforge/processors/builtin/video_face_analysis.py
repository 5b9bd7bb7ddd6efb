"""``video.face_analysis``: faces (mediapipe BlazeFace) with landmarks and stable face ids, as COCO."""

from __future__ import annotations

from collections import Counter
from pathlib import PurePath
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mediaforge.processors.base import Context, InputFile, Output, OutputFile, Processor
from mediaforge.processors.builtin.video_common import (
    ML_VIDEO_INSTALL_HINT,
    VIDEO_RETRY,
    Ticker,
    probe_input,
    video_facts,
    write_json,
)

__all__ = ["VIDEO_FACE_ANALYSIS", "FaceAnalysisParams"]


class FaceAnalysisParams(BaseModel):
    """Which detector, how sure it must be, and how often frames are analysed."""

    model_config = ConfigDict(extra="forbid")
    detection_confidence: float = Field(
        0.5, ge=0.0, le=1.0, description="Minimum confidence threshold for face detection (0.0-1.0)"
    )
    enable_landmarks: bool = Field(
        True, description="Extract facial landmarks (eyes, nose tip, mouth, ears) for alignment"
    )
    model: Literal["full_range", "short_range"] = Field(
        "full_range",
        description="BlazeFace model: 'full_range' finds small and distant faces too; 'short_range' "
        "is tuned for faces close to the camera (within about 2 m).",
    )
    sample_fps: float = Field(
        5.0, gt=0.0, le=60.0, description="Frames analysed per second of video (every frame if higher)."
    )
    max_faces: int = Field(20, ge=1, le=100, description="Most faces kept in one frame (best first).")
    track_buffer: float = Field(
        1.0, ge=0.0, le=60.0, description="Seconds a face may go unseen and keep its id."
    )
    analysis_size: int = Field(
        960, ge=128, le=3840, description="Frames are analysed at most this many pixels on their long side."
    )


def _face_analysis(ctx: Context, inputs: list[InputFile], params: FaceAnalysisParams) -> Output:
    from mediaforge.video.coco import coco_document
    from mediaforge.video.faces import FACE_KEYPOINTS, face_annotation, track_faces

    info = probe_input(inputs[0])
    video_id = PurePath(inputs[0].filename).stem or "video"
    expected = info.frame_count or max(1, round(info.duration_seconds * info.fps))
    faces, frames, started = track_faces(
        inputs[0].path,
        fps=info.fps,
        video_width=info.width,
        sample_fps=params.sample_fps,
        model=params.model,
        min_score=params.detection_confidence,
        max_faces=params.max_faces,
        max_side=params.analysis_size,
        max_age=params.track_buffer,
        on_frame=Ticker(ctx, expected, end=99, message="finding faces"),
    )
    annotations = [
        face_annotation(face, index, video_id, landmarks=params.enable_landmarks)
        for index, face in enumerate(faces, 1)
    ]
    category = {"id": 1, "name": "face", "supercategory": "person"}
    if params.enable_landmarks:
        category["keypoints"] = FACE_KEYPOINTS
    video = video_facts(info)
    document = coco_document(
        description="mediaforge video.face_analysis (mediapipe BlazeFace, tracked)",
        video_id=video_id,
        video=video,
        frames=frames,
        annotations=annotations,
        categories=[category],
    )
    path = write_json(ctx.tmp_dir / "face_analysis.json", document)
    ctx.progress(100, "done")
    per_frame = Counter(a["frame_number"] for a in annotations)
    tracks = Counter(a["track_id"] for a in annotations)
    return Output(
        result={
            "format": "COCO",
            "annotation_count": len(annotations),
            "frames_processed": len(frames),
            "video": video,
            "face_track_count": started,
            "frames_with_faces": len(per_frame),
            "max_faces_in_frame": max(per_frame.values(), default=0),
            "faces": [
                {"track_id": track_id, "face_id": f"face_{video_id}_{track_id:03d}", "detections": count}
                for track_id, count in sorted(tracks.items())
            ],
        },
        files=[OutputFile(path, "face_analysis.json", role="annotations")],
    )


VIDEO_FACE_ANALYSIS = Processor(
    "video.face_analysis",
    _face_analysis,
    FaceAnalysisParams,
    description="Faces with six landmarks and stable face ids across frames (mediapipe BlazeFace), as COCO.",
    requires=("av", "numpy", "cv2", "mediapipe", "matplotlib"),
    install_hint=ML_VIDEO_INSTALL_HINT,
    min_inputs=1,
    max_inputs=1,
    timeout=3600,
    retry=VIDEO_RETRY,
)
