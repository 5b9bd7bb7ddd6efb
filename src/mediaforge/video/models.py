"""The mediapipe models the video pipelines run (the .tflite files ship in mediapipe 0.10.21).

* A multi-person pose *detector*: mediapipe's own ``PoseDetectionCpu`` keeps only the best
  person, so this graph wires the same calculators and model without that limit.
* The pose *landmark* model (BlazePose full, 33 points) through the legacy ``Pose`` solution.
* The BlazeFace face detectors (short range for close faces, full range for small ones).

Each model is loaded once per process on first use; mediapipe graphs are not re-entrant, so
callers hold the model's lock while they run it.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from mediaforge.tagging.lazy import Lazy

__all__ = [
    "FACE_DETECTORS",
    "POSE_DETECTOR",
    "POSE_LANDMARKS",
    "Region",
    "detect_poses",
    "mediapipe_available",
    "pose_landmarks",
]

_POSE_DETECTION_GRAPH = """
input_stream: "image"
output_stream: "detections"
node {
  calculator: "ImageToTensorCalculator"
  input_stream: "IMAGE:image"
  output_stream: "TENSORS:input_tensors"
  output_stream: "LETTERBOX_PADDING:letterbox_padding"
  options: { [mediapipe.ImageToTensorCalculatorOptions.ext] {
    output_tensor_width: 224 output_tensor_height: 224 keep_aspect_ratio: true
    output_tensor_float_range { min: -1.0 max: 1.0 } border_mode: BORDER_ZERO } }
}
node {
  calculator: "InferenceCalculator"
  input_stream: "TENSORS:input_tensors"
  output_stream: "TENSORS:detection_tensors"
  options: { [mediapipe.InferenceCalculatorOptions.ext] {
    model_path: "mediapipe/modules/pose_detection/pose_detection.tflite" delegate { xnnpack {} } } }
}
node {
  calculator: "SsdAnchorsCalculator"
  output_side_packet: "anchors"
  options: { [mediapipe.SsdAnchorsCalculatorOptions.ext] {
    num_layers: 5 min_scale: 0.1484375 max_scale: 0.75 input_size_height: 224 input_size_width: 224
    anchor_offset_x: 0.5 anchor_offset_y: 0.5 strides: 8 strides: 16 strides: 32 strides: 32 strides: 32
    aspect_ratios: 1.0 fixed_anchor_size: true } }
}
node {
  calculator: "TensorsToDetectionsCalculator"
  input_stream: "TENSORS:detection_tensors"
  input_side_packet: "ANCHORS:anchors"
  output_stream: "DETECTIONS:unfiltered_detections"
  options: { [mediapipe.TensorsToDetectionsCalculatorOptions.ext] {
    num_classes: 1 num_boxes: 2254 num_coords: 12 box_coord_offset: 0 keypoint_coord_offset: 4
    num_keypoints: 4 num_values_per_keypoint: 2 sigmoid_score: true score_clipping_thresh: 100.0
    reverse_output_order: true x_scale: 224.0 y_scale: 224.0 h_scale: 224.0 w_scale: 224.0
    min_score_thresh: 0.2 } }
}
node {
  calculator: "NonMaxSuppressionCalculator"
  input_stream: "unfiltered_detections"
  output_stream: "filtered_detections"
  options: { [mediapipe.NonMaxSuppressionCalculatorOptions.ext] {
    min_suppression_threshold: 0.3 overlap_type: INTERSECTION_OVER_UNION algorithm: WEIGHTED } }
}
node {
  calculator: "DetectionLetterboxRemovalCalculator"
  input_stream: "DETECTIONS:filtered_detections"
  input_stream: "LETTERBOX_PADDING:letterbox_padding"
  output_stream: "DETECTIONS:detections"
}
"""

_POSE_LANDMARK_GRAPH = """
input_stream: "image"
input_stream: "roi"
input_side_packet: "model_complexity"
output_stream: "landmarks"
output_stream: "auxiliary_landmarks"
node {
  calculator: "PoseLandmarkByRoiCpu"
  input_side_packet: "MODEL_COMPLEXITY:model_complexity"
  input_stream: "IMAGE:image"
  input_stream: "ROI:roi"
  output_stream: "LANDMARKS:landmarks"
  output_stream: "AUXILIARY_LANDMARKS:auxiliary_landmarks"
}
"""


def mediapipe_available() -> bool:
    return importlib.util.find_spec("mediapipe") is not None


def _pose_detector() -> Any:
    solution_base = importlib.import_module("mediapipe.python.solution_base")
    calculator_pb2 = importlib.import_module("mediapipe.framework.calculator_pb2")
    text_format = importlib.import_module("google.protobuf.text_format")
    config = text_format.Parse(_POSE_DETECTION_GRAPH, calculator_pb2.CalculatorGraphConfig())
    return solution_base.SolutionBase(graph_config=config, outputs=["detections"])


def _pose_landmarks() -> Any:
    solution_base = importlib.import_module("mediapipe.python.solution_base")
    calculator_pb2 = importlib.import_module("mediapipe.framework.calculator_pb2")
    text_format = importlib.import_module("google.protobuf.text_format")
    config = text_format.Parse(_POSE_LANDMARK_GRAPH, calculator_pb2.CalculatorGraphConfig())
    # model_complexity=1 is the only landmark model the wheel ships (0 and 2 download)
    return solution_base.SolutionBase(
        graph_config=config,
        side_inputs={"model_complexity": 1},
        outputs=["landmarks", "auxiliary_landmarks"],
    )


def _face_detectors() -> dict[int, Any]:
    solutions = importlib.import_module("mediapipe.python.solutions")
    return {
        selection: solutions.face_detection.FaceDetection(
            model_selection=selection, min_detection_confidence=0.05
        )
        for selection in (0, 1)
    }


POSE_DETECTOR: Lazy[Any] = Lazy(_pose_detector)
POSE_LANDMARKS: Lazy[Any] = Lazy(_pose_landmarks)
FACE_DETECTORS: Lazy[dict[int, Any]] = Lazy(_face_detectors)


@dataclass(frozen=True, slots=True)
class Region:
    """A square body region: centre and side in pixels, rotation in radians, and its score."""

    centre: tuple[float, float]
    side: float
    rotation: float
    score: float

    @property
    def box(self) -> tuple[float, float, float, float]:
        half = self.side / 2
        return (self.centre[0] - half, self.centre[1] - half, self.centre[0] + half, self.centre[1] + half)


def _region(hip: tuple[float, float], scale: tuple[float, float], score: float) -> Region:
    """mediapipe's rule: centred on the mid-hip, half side the distance to the scale point times 1.25,
    rotated so the body stands upright."""
    dx, dy = scale[0] - hip[0], scale[1] - hip[1]
    rotation = math.pi / 2 - math.atan2(-dy, dx)
    rotation -= 2 * math.pi * math.floor((rotation + math.pi) / (2 * math.pi))
    return Region(hip, 2 * math.hypot(dx, dy) * 1.25, rotation, score)


def detect_poses(rgb: np.ndarray, *, offset: tuple[int, int] = (0, 0)) -> list[Region]:
    """The body region of every person the BlazePose detector finds in ``rgb`` (pixels, plus ``offset``)."""
    height, width = rgb.shape[:2]
    detector = POSE_DETECTOR.get()
    with POSE_DETECTOR.lock:
        found = detector.process({"image": np.ascontiguousarray(rgb)}).detections or []
    regions = []
    for detection in found:
        points = detection.location_data.relative_keypoints
        hip = (points[0].x * width + offset[0], points[0].y * height + offset[1])
        scale = (points[1].x * width + offset[0], points[1].y * height + offset[1])
        regions.append(_region(hip, scale, float(detection.score[0])))
    return regions


def pose_landmarks(rgb: np.ndarray, region: Region) -> tuple[np.ndarray, Region] | None:
    """The 33 BlazePose landmarks (x, y in pixels, visibility) of the person in ``region``, and the
    region to look in next; ``None`` when the model sees nobody there."""
    rect_pb2 = importlib.import_module("mediapipe.framework.formats.rect_pb2")
    height, width = rgb.shape[:2]
    roi = rect_pb2.NormalizedRect(
        x_center=region.centre[0] / width,
        y_center=region.centre[1] / height,
        width=region.side / width,
        height=region.side / height,
        rotation=region.rotation,
    )
    model = POSE_LANDMARKS.get()
    with POSE_LANDMARKS.lock:
        result = model.process({"image": np.ascontiguousarray(rgb), "roi": roi})
    if result.landmarks is None or result.auxiliary_landmarks is None:
        return None
    points = np.array([(p.x * width, p.y * height, p.visibility) for p in result.landmarks.landmark])
    aux = result.auxiliary_landmarks.landmark
    following = _region(
        (aux[0].x * width, aux[0].y * height), (aux[1].x * width, aux[1].y * height), region.score
    )
    return points, following
