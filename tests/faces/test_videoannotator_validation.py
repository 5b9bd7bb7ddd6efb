"""The VideoAnnotator face's pure parts: config_schema, validation, status mapping, GPU facts."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from mediaforge.clock import new_id, utcnow
from mediaforge.faces.videoannotator.errors import InvalidConfig
from mediaforge.faces.videoannotator.pipelines import CATALOG, config_schema, find, resolve
from mediaforge.faces.videoannotator.probes import compatibility, parse_smi
from mediaforge.faces.videoannotator.service import parse_config, parse_selection
from mediaforge.faces.videoannotator.translate import FACE, Tree, progress_of, render, status_of
from mediaforge.faces.videoannotator.validation import check_value, validate
from mediaforge.jobs.models import Job
from mediaforge.processors.base import Output, Processor
from mediaforge.processors.registry import Registry


class TrackingParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    confidence_threshold: float = Field(0.5, ge=0.0, le=1.0, description="Minimum detection confidence.")
    max_people: int = Field(10, ge=1, description="At most this many tracks.")
    iou: float = Field(0.3, gt=0.0, lt=1.0, description="Overlap that links boxes.")
    tracker: Literal["bytetrack", "iou"] = Field("bytetrack", description="Which tracker.")
    draw: bool = Field(False, description="Render boxes.")
    label: str | None = Field(None, description="A label.")


def _registry() -> Registry:
    return Registry(
        [Processor("video.person_tracking", lambda ctx, inputs, params: Output(), TrackingParams)]
    )


def test_config_schema_mirrors_the_params_model() -> None:
    """Types, defaults, bounds (inclusive and exclusive), options and nullability come from the model."""
    schema = config_schema(TrackingParams)
    assert schema["confidence_threshold"] == {
        "type": "float",
        "default": 0.5,
        "description": "Minimum detection confidence.",
        "min": 0.0,
        "max": 1.0,
    }
    assert (schema["max_people"]["type"], schema["max_people"]["min"], "max" in schema["max_people"]) == (
        "int",
        1,
        False,
    )
    assert (schema["iou"]["exclusive_min"], schema["iou"]["exclusive_max"]) == (True, True)
    assert (schema["tracker"]["type"], schema["tracker"]["options"]) == ("select", ["bytetrack", "iou"])
    assert (schema["draw"]["type"], schema["label"]["type"], schema["label"]["nullable"]) == (
        "bool",
        "str",
        True,
    )


def test_a_missing_processor_has_an_empty_schema() -> None:
    """No model, nothing to describe."""
    assert config_schema(None) == {}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("confidence_threshold", 1.5, "Invalid value for confidence_threshold (must be between 0 and 1)"),
        ("confidence_threshold", "high", "Invalid value for confidence_threshold (must be a number)"),
        ("confidence_threshold", True, "Invalid value for confidence_threshold (must be a number)"),
        ("max_people", 0, "Invalid value for max_people (must be at least 1)"),
        ("max_people", 2.5, "Invalid value for max_people (must be an integer)"),
        ("iou", 1.0, "Invalid value for iou (must be between 0 and 1)"),
        ("tracker", "sort", "Invalid value for tracker (must be one of bytetrack, iou)"),
        ("draw", "yes", "Invalid value for draw (must be a boolean)"),
        ("draw", None, "Invalid value for draw (must be a boolean)"),
    ],
)
def test_bad_values_get_the_seeds_message(key: str, value: object, message: str) -> None:
    """Wrong type, out of range and invalid option each say what is allowed."""
    problem = check_value(key, value, config_schema(TrackingParams)[key])
    assert problem is not None
    assert (problem.field, problem.message, problem.severity) == (key, message, "error")


@pytest.mark.parametrize(
    ("key", "value"), [("max_people", 3.0), ("confidence_threshold", 1), ("label", None), ("iou", 0.99)]
)
def test_acceptable_values_pass(key: str, value: object) -> None:
    """An integral float is an integer, an int is a number, None is fine where the model allows it."""
    assert check_value(key, value, config_schema(TrackingParams)[key]) is None


def test_out_of_range_suggests_the_nearest_bound() -> None:
    """The suggestion the web viewer shows is the bound that was crossed."""
    problem = check_value("confidence_threshold", 1.5, config_schema(TrackingParams)["confidence_threshold"])
    assert problem is not None
    assert (problem.error_code, problem.suggested_value) == ("OUT_OF_RANGE", 1.0)


def test_validation_keeps_known_keys_coerced_and_warns_about_the_rest() -> None:
    """Unknown keys are dropped with a warning; values come out as the model makes them."""
    outcome = validate(
        {"person_tracking": {"max_people": 4.0, "shiny": 1}, "scene_detection": {"threshold": 1}},
        ["person_tracking"],
        _registry(),
    )
    assert outcome.valid
    assert outcome.params == {"person_tracking": {"max_people": 4}}
    assert [(w.pipeline, w.field, w.error_code) for w in outcome.warnings] == [
        ("scene_detection", None, "PIPELINE_NOT_SELECTED"),
        ("person_tracking", "shiny", "UNKNOWN_PARAMETER"),
    ]


def test_without_a_selection_the_config_names_the_pipelines() -> None:
    """``selected_pipelines`` absent: the sections of known pipelines are checked, aliases included."""
    outcome = validate({"person": {"confidence_threshold": 2}}, None, _registry())
    assert outcome.validated == ["person_tracking"]
    assert outcome.summary() == (
        "Configuration validation failed: person_tracking: "
        "Invalid value for confidence_threshold (must be between 0 and 1)"
    )


def test_a_section_that_is_not_an_object_is_an_error() -> None:
    """``{"person_tracking": 0.7}`` cannot be a pipeline's parameters."""
    outcome = validate({"person_tracking": 0.7}, ["person_tracking"], _registry())
    assert [(e.pipeline, e.error_code) for e in outcome.errors] == [("person_tracking", "INVALID_TYPE")]


def test_a_pipeline_without_its_processor_is_a_warning_in_validation() -> None:
    """Its parameters cannot be checked here; submit refuses it separately."""
    outcome = validate({"face_analysis": {"detection_confidence": 9}}, ["face_analysis"], _registry())
    assert (outcome.valid, outcome.validated) == (True, [])
    assert [w.error_code for w in outcome.warnings] == ["PIPELINE_UNAVAILABLE"]


def test_unknown_selected_pipelines_are_errors() -> None:
    """Names outside the catalog (identity, transcription) are refused."""
    outcome = validate({}, ["person_tracking", "openface3_identity"], _registry())
    assert [(e.pipeline, e.error_code) for e in outcome.errors] == [
        ("openface3_identity", "PIPELINE_NOT_FOUND")
    ]
    assert outcome.message == "Configuration has 1 error(s)"


def test_catalog_names_and_aliases_resolve_once_each() -> None:
    """``scene`` and ``scene_detection`` are one pipeline; repeats collapse; unknowns are reported."""
    found, unknown = resolve(["scene", "scene_detection", "audio", "face_recognition"])
    assert ([p.name for p in found], unknown) == (
        ["scene_detection", "audio_processing"],
        ["face_recognition"],
    )
    assert find("person") is find("person_tracking")
    assert len({p.name for p in CATALOG}) == len(CATALOG)


def test_selection_and_config_fields_parse_as_the_cli_sends_them() -> None:
    """Comma-separated names (blanks and repeats ignored) and a JSON object."""
    assert parse_selection(" person_tracking, ,scene_detection,person_tracking ") == [
        "person_tracking",
        "scene_detection",
    ]
    assert parse_selection("  ") is None
    assert parse_config('{"a": {"b": 1}}') == {"a": {"b": 1}}
    assert parse_config("") is None
    with pytest.raises(InvalidConfig, match="Invalid JSON in config"):
        parse_config("{")


def test_old_gpus_get_the_compatibility_warning() -> None:
    """Below compute capability 7.0 (Volta) the contract's warning is added; 7.0 and up get none."""
    warning = compatibility("6.1")
    assert warning is not None
    assert warning["compatibility_warning"].startswith(
        "GPU compute capability 6.1 is below PyTorch 2.5.0 minimum requirement (7.0)."
    )
    assert warning["min_compute_capability"] == 7.0
    assert compatibility("7.0") is None
    assert compatibility("9.0") is None


def test_nvidia_smi_output_becomes_the_gpu_section() -> None:
    """Names, byte counts and the compute capability as a string, from ``nvidia-smi --query-gpu``."""
    gpu = parse_smi(
        "0, NVIDIA H100 80GB HBM3, 81559, 4, 81008, 9.0\n1, Tesla P100-PCIE-16GB, 16280, 0, 16276, 6.0\n"
    )
    assert gpu is not None
    assert (gpu["available"], gpu["device_count"], gpu["device_name"], gpu["compute_capability"]) == (
        True,
        2,
        "NVIDIA H100 80GB HBM3",
        "9.0",
    )
    assert gpu["memory_total"] == 81559 * 1024**2
    assert "compatibility_warning" not in gpu
    assert parse_smi("") is None
    old = parse_smi("0, Tesla P100-PCIE-16GB, 16280, 0, 16276, 6.0")
    assert old is not None
    assert old["min_compute_capability"] == 7.0


def _job(status: str, *, pipeline: str | None = None, error: str | None = None) -> Job:
    meta = {FACE: {"pipeline": pipeline}} if pipeline else {FACE: {"selected_pipelines": ["a", "b"]}}
    now = utcnow()
    return Job(
        id=new_id(),
        type="video.x" if pipeline else "videoannotator.job",
        status=status,
        meta=meta,
        error={"type": "permanent_failure", "message": error} if error else None,
        created_at=now,
        started_at=now if status != "queued" else None,
        finished_at=now if status in ("succeeded", "failed", "cancelled") else None,
        progress=50.0 if status == "running" else 0.0,
        inputs=[],
        outputs=[],
    )


def test_one_failed_pipeline_leaves_the_job_completed_and_says_which() -> None:
    """The core fails a parent only when every child failed; the face says which pipelines did."""
    parent = _job("succeeded")
    children = [
        _job("succeeded", pipeline="scene_detection"),
        _job("failed", pipeline="face_analysis", error="boom"),
    ]
    rendered = render(Tree(parent, children, None))
    assert (rendered.status, rendered.error_message) == (
        "completed",
        "1 of 2 pipelines failed: face_analysis: boom",
    )


@pytest.mark.parametrize(
    ("parent", "children", "expected"),
    [
        ("waiting", ["queued", "queued"], "pending"),
        ("waiting", ["running", "queued"], "running"),
        ("waiting", ["succeeded", "queued"], "running"),
        ("succeeded", ["succeeded"], "completed"),
        ("failed", ["failed"], "failed"),
        ("cancelled", ["cancelled", "succeeded"], "cancelled"),
        ("expired", ["expired"], "completed"),
    ],
)
def test_statuses_map_to_the_contracts_five_words(parent: str, children: list[str], expected: str) -> None:
    """pending until a pipeline starts, running until all end, then the parent's outcome."""
    tree = Tree(_job(parent), [_job(c, pipeline=f"p{i}") for i, c in enumerate(children)], None)
    assert status_of(tree.parent, tree.children) == expected


def test_progress_is_the_mean_over_pipelines() -> None:
    """A running pipeline at 50 % and a finished one make 75 %."""
    tree = Tree(_job("waiting"), [_job("running", pipeline="a"), _job("succeeded", pipeline="b")], None)
    assert progress_of(tree) == 75.0


def test_flat_keys_reach_every_selected_pipeline_that_has_them() -> None:
    """``{"max_people": 3}`` is person_tracking's; a key no selected pipeline has is a warning."""
    outcome = validate({"max_people": 3, "gamma": 2}, ["person_tracking"], _registry())
    assert outcome.params == {"person_tracking": {"max_people": 3}}
    assert [(w.pipeline, w.field, w.error_code) for w in outcome.warnings] == [
        (None, "gamma", "UNKNOWN_PARAMETER")
    ]


def test_a_pipelines_own_section_wins_over_a_flat_key() -> None:
    """Flat keys are defaults for the sections, not overrides."""
    outcome = validate(
        {"max_people": 3, "person_tracking": {"max_people": 5}}, ["person_tracking"], _registry()
    )
    assert outcome.params == {"person_tracking": {"max_people": 5}}


def test_selection_as_a_json_array() -> None:
    """The original's tests send ``'["a", "b"]'``; anything else that looks like JSON must be a name list."""
    assert parse_selection('["scene_detection", "audio"]') == ["scene_detection", "audio"]
    with pytest.raises(InvalidConfig):
        parse_selection("[1, 2]")
