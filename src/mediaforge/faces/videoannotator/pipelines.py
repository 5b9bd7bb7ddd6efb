"""The pipeline catalog: each VideoAnnotator pipeline name, the processor that runs it, its taxonomy.

Only pipelines a real processor backs are listed (identity recognition, transcription and the
like are left out until one exists). The ``config_schema`` is derived from the processor's pydantic
params model, so the schema, the validation and the job's params can never disagree. A pipeline
whose processor is not registered, or reports itself unavailable, is listed with ``enabled: false``
and refused at submit.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from mediaforge.faces.videoannotator.schemas import PipelineInfo
from mediaforge.processors.base import Availability
from mediaforge.processors.registry import Registry

__all__ = ["CATALOG", "Pipeline", "config_schema", "find", "info", "resolve"]


@dataclass(frozen=True)
class Pipeline:
    """A VideoAnnotator pipeline and its taxonomy (the contract's ``PipelineInfo`` fields)."""

    name: str
    processor: str
    display_name: str
    description: str
    family: str
    variant: str
    tasks: tuple[str, ...]
    capabilities: tuple[str, ...]
    backends: tuple[str, ...]
    outputs: tuple[dict[str, Any], ...]
    output_file: str
    """The file name of the pipeline's output, as the original server names it."""
    aliases: tuple[str, ...] = ()
    modalities: tuple[str, ...] = ("video",)
    stability: str = "stable"
    example_config: dict[str, Any] = field(default_factory=dict)

    def params(self, registry: Registry) -> type[BaseModel] | None:
        """The processor's params model, or None when the processor is not registered here."""
        return registry.get(self.processor).params if self.processor in registry else None

    def availability(self, registry: Registry) -> Availability:
        if self.processor not in registry:
            return Availability(False, f"processor {self.processor} is not installed", None)
        return registry.get(self.processor).availability()

    def examples(self) -> list[dict[str, Any]]:
        submit = f"videoannotator job submit --video input.mp4 --pipeline {self.name}"
        examples: list[dict[str, Any]] = [{"description": "Basic usage", "command": submit}]
        if self.example_config:
            settings = " ".join(f"{k}={v}" for k, v in self.example_config.items())
            examples.append(
                {
                    "description": "With configuration",
                    "command": f"{submit} --config {settings}",
                    "config": {self.name: self.example_config},
                }
            )
        return examples


CATALOG: tuple[Pipeline, ...] = (
    Pipeline(
        name="scene_detection",
        processor="video.scene_detection",
        display_name="Scene Detection",
        description="Shot and scene boundary detection from frame-to-frame content change",
        family="scene",
        variant="content",
        tasks=("scene_detection", "shot_boundary_detection"),
        capabilities=("segmentation",),
        backends=("pyav", "opencv"),
        outputs=({"format": "JSON", "types": ["scene_boundaries"]},),
        output_file="scene_detection.json",
        aliases=("scene",),
        example_config={"threshold": 30.0},
    ),
    Pipeline(
        name="person_tracking",
        processor="video.person_tracking",
        display_name="Person Tracking",
        description="Person detection, 17 COCO pose keypoints and stable track ids across frames",
        family="person",
        variant="tracking",
        tasks=("person_detection", "person_tracking", "pose_estimation"),
        capabilities=("detection", "tracking", "keypoints"),
        backends=("mediapipe", "opencv", "pyav"),
        outputs=({"format": "COCO", "types": ["detection", "tracking", "keypoints"]},),
        output_file="person_tracking.json",
        aliases=("person",),
        example_config={"confidence_threshold": 0.7},
    ),
    Pipeline(
        name="face_analysis",
        processor="video.face_analysis",
        display_name="Face Analysis",
        description="Face detection, facial landmarks and stable face ids across frames",
        family="face",
        variant="analysis",
        tasks=("face_detection", "face_tracking", "facial_landmarks"),
        capabilities=("detection", "tracking", "landmarks"),
        backends=("mediapipe", "opencv", "pyav"),
        outputs=({"format": "COCO", "types": ["detection", "tracking", "landmarks"]},),
        output_file="face_analysis.json",
        aliases=("face",),
        example_config={"detection_confidence": 0.7},
    ),
    Pipeline(
        name="audio_processing",
        processor="video.audio_processing",
        display_name="Audio Processing",
        description="Voice activity from the soundtrack as RTTM speech segments, and a WebVTT transcript "
        "where the speech-to-text model is installed",
        family="audio",
        variant="vad",
        tasks=("voice_activity_detection", "speech_transcription"),
        capabilities=("segmentation", "transcription"),
        backends=("silero-vad", "webrtcvad", "faster-whisper", "pyav"),
        outputs=(
            {"format": "RTTM", "types": ["speech_segments"]},
            {"format": "WebVTT", "types": ["transcription"]},
        ),
        output_file="audio_processing.rttm",
        aliases=("audio",),
        modalities=("audio",),
        example_config={"sample_rate": 16000},
    ),
)
_BY_NAME = {name: p for p in CATALOG for name in (p.name, *p.aliases)}


def find(name: str) -> Pipeline | None:
    """The pipeline called ``name`` (or one of its short aliases: ``scene``, ``person``, ...)."""
    return _BY_NAME.get(name.strip())


def resolve(names: list[str]) -> tuple[list[Pipeline], list[str]]:
    """(the known pipelines, in order and without repeats; the unknown names)."""
    found: list[Pipeline] = []
    unknown: list[str] = []
    for name in names:
        pipeline = find(name)
        if pipeline is None:
            unknown.append(name)
        elif pipeline not in found:
            found.append(pipeline)
    return found, unknown


# --- config_schema from a params model ---------------------------------------------------------


def config_schema(model: type[BaseModel] | None) -> dict[str, Any]:
    """``{field: {type, default, description, min?, max?, options?}}`` for each field of ``model``."""
    if model is None:
        return {}
    return {name: field_schema(info) for name, info in model.model_fields.items()}


def field_schema(info: FieldInfo) -> dict[str, Any]:
    kind, options = _kind(info.annotation)
    out: dict[str, Any] = {"type": kind, "default": info.get_default(call_default_factory=True)}
    if info.description:
        out["description"] = info.description
    for meta in info.metadata:
        if isinstance(meta, annotated_types.Ge | annotated_types.Gt):
            out["min"] = meta.ge if isinstance(meta, annotated_types.Ge) else meta.gt
            out["exclusive_min"] = isinstance(meta, annotated_types.Gt) or None
        elif isinstance(meta, annotated_types.Le | annotated_types.Lt):
            out["max"] = meta.le if isinstance(meta, annotated_types.Le) else meta.lt
            out["exclusive_max"] = isinstance(meta, annotated_types.Lt) or None
    if options is not None:
        out["options"] = options
    out["nullable"] = _nullable(info.annotation) or None
    return {k: v for k, v in out.items() if v is not None or k == "default"}


def _kind(annotation: Any) -> tuple[str, list[Any] | None]:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _kind(args[0])
    if origin is Literal:
        return "select", list(typing.get_args(annotation))
    if origin in (list, tuple, set, frozenset):
        return "list", None
    simple = {bool: "bool", int: "int", float: "float", str: "str", dict: "dict"}
    return simple.get(annotation, "str"), None


def _nullable(annotation: Any) -> bool:
    return type(None) in typing.get_args(annotation)


def info(pipeline: Pipeline, registry: Registry) -> PipelineInfo:
    """The contract's ``PipelineInfo`` for ``pipeline`` as this server has it."""
    available = pipeline.availability(registry)
    return PipelineInfo(
        name=pipeline.name,
        display_name=pipeline.display_name,
        description=pipeline.description,
        enabled=available.available,
        pipeline_family=pipeline.family,
        variant=pipeline.variant,
        tasks=list(pipeline.tasks),
        modalities=list(pipeline.modalities),
        capabilities=list(pipeline.capabilities),
        backends=list(pipeline.backends),
        stability=pipeline.stability,
        outputs=[dict(o) for o in pipeline.outputs],
        config_schema=config_schema(pipeline.params(registry)),
        examples=pipeline.examples(),
    )
