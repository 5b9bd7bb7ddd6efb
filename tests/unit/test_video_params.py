"""The video processors' params: every field has a default, a description and bounds."""

from __future__ import annotations

import typing

import pytest
from pydantic import BaseModel, ValidationError

from mediaforge.processors.builtin.video_audio_processing import AudioProcessingParams
from mediaforge.processors.builtin.video_face_analysis import FaceAnalysisParams
from mediaforge.processors.builtin.video_person_tracking import PersonTrackingParams
from mediaforge.processors.builtin.video_scene_detection import SceneDetectionParams

MODELS = [SceneDetectionParams, PersonTrackingParams, FaceAnalysisParams, AudioProcessingParams]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_field_has_a_default_and_a_description(model: type[BaseModel]) -> None:
    """Defaults make ``{}`` valid; descriptions feed VideoAnnotator's config_schema."""
    model.model_validate({})
    assert [] == [
        name for name, field in model.model_fields.items() if field.is_required() or not field.description
    ]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_numbers_are_bounded_and_unknown_keys_refused(model: type[BaseModel]) -> None:
    """Each number has a lower and an upper bound; an unknown key is an error."""
    unbounded = []
    for name, field in model.model_fields.items():
        if field.annotation in (int, float):
            kinds = {type(m).__name__ for m in field.metadata}
            if not ({"Ge", "Gt"} & kinds and {"Le", "Lt"} & kinds):
                unbounded.append(name)
        elif typing.get_origin(field.annotation) is not typing.Literal:
            assert field.annotation is bool, name
    assert [] == unbounded
    with pytest.raises(ValidationError):
        model.model_validate({"no_such_option": 1})


def test_the_contract_examples_use_these_names() -> None:
    """confidence_threshold, detection_confidence, enable_landmarks and sample_rate as in the contract."""
    assert (0.5, 0.5, True, 16000) == (
        PersonTrackingParams().confidence_threshold,
        FaceAnalysisParams().detection_confidence,
        FaceAnalysisParams().enable_landmarks,
        AudioProcessingParams().sample_rate,
    )
    with pytest.raises(ValidationError):
        PersonTrackingParams(confidence_threshold=1.5)
