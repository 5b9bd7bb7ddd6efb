from __future__ import annotations

from typing import Any

import pydantic
import pytest

from mediaforge.workflows.dag import (
    MappingError,
    StepResult,
    StepSpec,
    StepState,
    WorkflowInvalid,
    WorkflowSpec,
    WorkflowState,
    get_path,
    ready_steps,
    resolve_params,
    set_path,
    to_resume,
    validate,
    workflow_state,
)


def spec(*steps: dict[str, Any]) -> WorkflowSpec:
    """Build a spec whose steps default to the ``noop`` processor."""
    return WorkflowSpec.model_validate({"steps": [{"type": "noop", **s} for s in steps]})


def maps(from_step: str, field: str, param: str) -> dict[str, str]:
    """Build one mapping as the API would receive it."""
    return {"from_step": from_step, "field": field, "param": param}


DIAMOND = spec(
    {"id": "d", "depends_on": ["b", "c"]},
    {"id": "b", "depends_on": ["a"]},
    {"id": "c", "depends_on": ["a"]},
    {"id": "a"},
)


@pytest.mark.parametrize(
    ("workflow", "expected"),
    [
        pytest.param(spec({"id": "a"}), ["a"], id="single"),
        pytest.param(spec({"id": "x"}, {"id": "y"}, {"id": "z"}), ["x", "y", "z"], id="independent"),
        pytest.param(spec({"id": "b", "depends_on": ["a"]}, {"id": "a"}), ["a", "b"], id="declared-late"),
        pytest.param(DIAMOND, ["a", "b", "c", "d"], id="diamond"),
        pytest.param(
            spec({"id": "a"}, {"id": "c", "depends_on": ["a"]}, {"id": "b"}),
            ["a", "c", "b"],
            id="ties-by-declaration",
        ),
        pytest.param(
            spec({"id": "a"}, {"id": "b", "depends_on": ["a", "a"]}), ["a", "b"], id="repeated-dependency"
        ),
    ],
)
def test_validate_returns_topological_order(workflow: WorkflowSpec, expected: list[str]) -> None:
    """A valid spec yields its steps in Kahn order, ties broken by declaration order."""
    assert expected == validate(workflow)


@pytest.mark.parametrize(
    ("workflow", "expected"),
    [
        pytest.param(spec({"id": "a"}, {"id": "a"}), ["duplicate step id 'a'"], id="duplicate-id"),
        pytest.param(
            spec({"id": "a", "depends_on": ["ghost"]}),
            ["step 'a' depends on unknown step 'ghost'"],
            id="unknown-dependency",
        ),
        pytest.param(spec({"id": "a", "depends_on": ["a"]}), ["step 'a' depends on itself"], id="self"),
        pytest.param(
            spec({"id": "a", "depends_on": ["b"]}, {"id": "b", "depends_on": ["a"]}),
            ["dependency cycle: a -> b -> a"],
            id="cycle-of-2",
        ),
        pytest.param(
            spec(
                {"id": "a", "depends_on": ["c"]},
                {"id": "b", "depends_on": ["a"]},
                {"id": "c", "depends_on": ["b"]},
            ),
            ["dependency cycle: a -> b -> c -> a"],
            id="cycle-of-3",
        ),
        pytest.param(
            spec(
                {"id": "z", "depends_on": ["a"]},
                {"id": "a", "depends_on": ["b"]},
                {"id": "b", "depends_on": ["a"]},
            ),
            ["dependency cycle: a -> b -> a"],
            id="cycle-upstream",
        ),
        pytest.param(
            spec({"id": "a"}, {"id": "b", "mappings": [maps("a", "x", "y")]}),
            ["step 'b' mapping a.x -> y: 'a' is not an ancestor via depends_on"],
            id="mapping-not-ancestor",
        ),
        pytest.param(
            spec({"id": "a", "mappings": [maps("b", "x", "y")]}, {"id": "b", "depends_on": ["a"]}),
            ["step 'a' mapping b.x -> y: 'b' is not an ancestor via depends_on"],
            id="mapping-from-descendant",
        ),
        pytest.param(
            spec({"id": "a", "mappings": [maps("ghost", "", "y")]}),
            ["step 'a' mapping ghost.$ -> y: unknown step 'ghost'"],
            id="mapping-unknown-step",
        ),
        pytest.param(
            spec({"id": "a"}, {"id": "b", "depends_on": ["a"], "mappings": [maps("a", "x..y", "p")]}),
            ["step 'b' mapping a.x..y -> p: malformed field path 'x..y'"],
            id="field-empty-segment",
        ),
        pytest.param(
            spec(
                {"id": "a"}, {"id": "b", "depends_on": ["a"], "mappings": [maps("a", "outputs.first", "p")]}
            ),
            [
                "step 'b' mapping a.outputs.first -> p: "
                "field 'outputs.first': outputs takes at most one integer index"
            ],
            id="field-outputs-not-index",
        ),
        pytest.param(
            spec({"id": "a"}, {"id": "b", "depends_on": ["a"], "mappings": [maps("a", "x", "opts.")]}),
            ["step 'b' mapping a.x -> opts.: malformed param path 'opts.'"],
            id="param-trailing-dot",
        ),
        pytest.param(
            spec({"id": "a"}, {"id": "b", "depends_on": ["a"], "mappings": [maps("a", "x", "$")]}),
            ["step 'b' mapping a.x -> $: malformed param path '$'"],
            id="param-whole",
        ),
    ],
)
def test_validate_reports_problem(workflow: WorkflowSpec, expected: list[str]) -> None:
    """Each structural rule violation is listed in the error details."""
    with pytest.raises(WorkflowInvalid) as caught:
        validate(workflow)
    assert expected == caught.value.details


def test_validate_error_is_a_400_listing_every_problem() -> None:
    """An invalid spec raises one 400 ``workflow_invalid`` naming all of its problems."""
    workflow = spec({"id": "a"}, {"id": "a"}, {"id": "b", "depends_on": ["b", "ghost"]})
    with pytest.raises(WorkflowInvalid) as caught:
        validate(workflow)
    problems = [
        "duplicate step id 'a'",
        "step 'b' depends on itself",
        "step 'b' depends on unknown step 'ghost'",
    ]
    assert (400, "workflow_invalid", problems) == (
        caught.value.status,
        caught.value.code,
        caught.value.details,
    )
    assert "invalid workflow: " + "; ".join(problems) == caught.value.message


def test_validate_accepts_mapping_from_transitive_ancestor() -> None:
    """A mapping may read from any ancestor, not only a direct dependency."""
    workflow = spec(
        {"id": "a"},
        {"id": "b", "depends_on": ["a"]},
        {
            "id": "c",
            "depends_on": ["b"],
            "mappings": [maps("a", "outputs.0", "inputs"), maps("a", "$", "meta")],
        },
    )
    expected = ["a", "b", "c"]
    assert expected == validate(workflow)


@pytest.mark.parametrize(
    "step",
    [
        pytest.param({"id": "", "type": "noop"}, id="empty-id"),
        pytest.param({"id": "a b", "type": "noop"}, id="space-in-id"),
        pytest.param({"id": "x" * 65, "type": "noop"}, id="id-too-long"),
        pytest.param({"id": "a", "type": "noop", "unknown": 1}, id="extra-key"),
    ],
)
def test_step_spec_rejects_malformed_step(step: dict[str, Any]) -> None:
    """Step ids must be 1-64 characters of ``[A-Za-z0-9_-]`` and unknown keys are refused."""
    with pytest.raises(pydantic.ValidationError):
        StepSpec.model_validate(step)


def test_workflow_spec_rejects_empty_steps() -> None:
    """A workflow needs at least one step."""
    with pytest.raises(pydantic.ValidationError):
        WorkflowSpec(steps=[])


DOC = {"faces": {"count": 2, "boxes": [[1, 2], [3, 4]]}, "image_url": "s3://x"}


@pytest.mark.parametrize(
    ("dotted", "expected"),
    [
        pytest.param("", DOC, id="empty-is-whole"),
        pytest.param("$", DOC, id="dollar-is-whole"),
        pytest.param("image_url", "s3://x", id="top-level"),
        pytest.param("faces.count", 2, id="nested"),
        pytest.param("faces.boxes.1", [3, 4], id="list-index"),
        pytest.param("faces.boxes.1.0", 3, id="index-in-index"),
    ],
)
def test_get_path_reads_value(dotted: str, expected: Any) -> None:
    """Dotted segments walk dict keys and integer list indices."""
    assert expected == get_path(DOC, dotted)


@pytest.mark.parametrize(
    "dotted",
    [
        pytest.param("faces.missing", id="missing-key"),
        pytest.param("faces.boxes.2", id="index-out-of-range"),
        pytest.param("faces.boxes.x", id="key-on-list"),
        pytest.param("faces.count.x", id="key-on-scalar"),
        pytest.param("faces.boxes.-1", id="negative-index"),
    ],
)
def test_get_path_raises_lookup_error_on_miss(dotted: str) -> None:
    """A path that cannot be followed raises ``LookupError``."""
    with pytest.raises(LookupError):
        get_path(DOC, dotted)


@pytest.mark.parametrize(
    ("start", "dotted", "expected"),
    [
        pytest.param({}, "width", {"width": 7}, id="top-level"),
        pytest.param({}, "options.size.width", {"options": {"size": {"width": 7}}}, id="creates-dicts"),
        pytest.param(
            {"options": {"h": 1}}, "options.width", {"options": {"h": 1, "width": 7}}, id="keeps-siblings"
        ),
        pytest.param({"sizes": [1, 2]}, "sizes.1", {"sizes": [1, 7]}, id="list-index"),
        pytest.param({"sizes": [{"w": 1}]}, "sizes.0.w", {"sizes": [{"w": 7}]}, id="through-list"),
    ],
)
def test_set_path_writes_value(start: dict[str, Any], dotted: str, expected: dict[str, Any]) -> None:
    """Setting a dotted path creates missing dicts and replaces list elements in place."""
    set_path(start, dotted, 7)
    assert expected == start


@pytest.mark.parametrize(
    ("start", "dotted"),
    [
        pytest.param({"width": 1}, "width.px", id="scalar-in-the-way"),
        pytest.param({"sizes": [1]}, "sizes.3", id="index-out-of-range"),
        pytest.param({"sizes": [[1]]}, "sizes.1.0", id="parent-index-out-of-range"),
    ],
)
def test_set_path_raises_lookup_error_when_blocked(start: dict[str, Any], dotted: str) -> None:
    """A path blocked by a scalar or a missing list element raises ``LookupError``."""
    with pytest.raises(LookupError):
        set_path(start, dotted, 7)


RESULTS = {
    "detect": StepResult(result={"faces": {"count": 2}, "image_url": "s3://x"}, outputs=["as_1", "as_2"]),
    "upload": StepResult(result=None, outputs=["as_9"]),
}


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        pytest.param(maps("detect", "faces.count", "n"), ({"keep": 1, "n": 2}, ["as_0"]), id="scalar"),
        pytest.param(
            maps("detect", "faces", "options.faces"),
            ({"keep": 1, "options": {"faces": {"count": 2}}}, ["as_0"]),
            id="nested-param",
        ),
        pytest.param(
            maps("detect", "$", "meta"),
            ({"keep": 1, "meta": {"faces": {"count": 2}, "image_url": "s3://x"}}, ["as_0"]),
            id="whole-result",
        ),
        pytest.param(
            maps("detect", "outputs.1", "image"), ({"keep": 1, "image": "as_2"}, ["as_0"]), id="output"
        ),
        pytest.param(
            maps("detect", "outputs.0", "inputs"), ({"keep": 1}, ["as_0", "as_1"]), id="output-to-inputs"
        ),
        pytest.param(
            maps("detect", "outputs", "inputs"),
            ({"keep": 1}, ["as_0", "as_1", "as_2"]),
            id="outputs-to-inputs",
        ),
        pytest.param(
            maps("upload", "outputs.0", "inputs"), ({"keep": 1}, ["as_0", "as_9"]), id="outputs-no-result"
        ),
    ],
)
def test_resolve_params_applies_mapping(
    mapping: dict[str, str], expected: tuple[dict[str, Any], list[str]]
) -> None:
    """A mapping copies a value from an ancestor's result or outputs into params or inputs."""
    step = StepSpec(id="s", type="noop", params={"keep": 1}, inputs=["as_0"], mappings=[mapping])
    assert expected == resolve_params(step, RESULTS)


def test_resolve_params_leaves_step_and_results_untouched() -> None:
    """Resolved params are deep copies, so neither the spec nor the results are mutated."""
    step = StepSpec(id="s", type="noop", params={"o": {"a": 1}}, mappings=[maps("detect", "faces", "o.f")])
    params, _ = resolve_params(step, RESULTS)
    params["o"]["f"]["count"] = 99
    expected = ({"o": {"a": 1}}, {"count": 2})
    assert expected == (step.params, get_path(RESULTS["detect"].result, "faces"))


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        pytest.param(
            maps("detect", "faces.missing", "n"),
            "step 's' mapping detect.faces.missing -> n: path 'faces.missing' not found at 'missing'",
            id="missing-field",
        ),
        pytest.param(
            maps("detect", "outputs.5", "image"),
            "step 's' mapping detect.outputs.5 -> image: path 'outputs.5' not found at '5'",
            id="missing-output",
        ),
        pytest.param(
            maps("ghost", "x", "n"),
            "step 's' mapping ghost.x -> n: no result from step 'ghost'",
            id="no-result",
        ),
        pytest.param(
            maps("upload", "x", "n"),
            "step 's' mapping upload.x -> n: the step produced no result",
            id="null-result",
        ),
        pytest.param(
            maps("detect", "faces", "inputs"),
            "step 's' mapping detect.faces -> inputs: inputs need an asset id or a list of them, got dict",
            id="inputs-not-ids",
        ),
        pytest.param(
            maps("detect", "image_url", "keep.x"),
            "step 's' mapping detect.image_url -> keep.x: cannot set 'keep.x': no container at 'x'",
            id="param-blocked",
        ),
    ],
)
def test_resolve_params_raises_mapping_error(mapping: dict[str, str], expected: str) -> None:
    """A mapping that cannot be applied at run time raises a 400 ``mapping_failed`` with a clear message."""
    step = StepSpec(id="s", type="noop", params={"keep": 1}, mappings=[mapping])
    with pytest.raises(MappingError) as caught:
        resolve_params(step, RESULTS)
    assert (400, "mapping_failed", expected) == (caught.value.status, caught.value.code, caught.value.message)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        pytest.param({}, ["a"], id="nothing-started"),
        pytest.param({"a": "running"}, [], id="root-running"),
        pytest.param({"a": "succeeded"}, ["b", "c"], id="root-done"),
        pytest.param({"a": "succeeded", "b": "succeeded", "c": "pending"}, ["c"], id="one-branch-done"),
        pytest.param({"a": "succeeded", "b": "succeeded", "c": "running"}, [], id="join-waits"),
        pytest.param({"a": "succeeded", "b": "succeeded", "c": "succeeded"}, ["d"], id="join-ready"),
        pytest.param({"a": "succeeded", "b": "failed"}, ["c"], id="failed-branch"),
        pytest.param({"a": "failed"}, [], id="root-failed"),
    ],
)
def test_ready_steps_after_partial_completion(status: dict[str, StepState], expected: list[str]) -> None:
    """Ready steps are the unstarted ones whose dependencies all succeeded, in declaration order."""
    workflow = spec(
        {"id": "a"},
        {"id": "b", "depends_on": ["a"]},
        {"id": "c", "depends_on": ["a"]},
        {"id": "d", "depends_on": ["b", "c"]},
    )
    assert expected == ready_steps(workflow, status)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        pytest.param({}, ["a", "b", "c"], id="nothing-started"),
        pytest.param({"a": "succeeded", "b": "failed"}, ["b", "c"], id="failed-and-blocked"),
        pytest.param({"a": "succeeded", "b": "cancelled", "c": "cancelled"}, ["b", "c"], id="cancelled"),
        pytest.param({"a": "succeeded", "b": "running"}, ["c"], id="running-kept"),
        pytest.param({"a": "succeeded", "b": "succeeded", "c": "succeeded"}, [], id="all-done"),
        pytest.param({"a": "failed", "b": "succeeded", "c": "pending"}, ["a", "c"], id="succeeded-kept"),
    ],
)
def test_to_resume_selects_unfinished_steps(status: dict[str, StepState], expected: list[str]) -> None:
    """A resume reruns failed, cancelled and unstarted steps and keeps succeeded and running ones."""
    workflow = spec({"id": "a"}, {"id": "b", "depends_on": ["a"]}, {"id": "c", "depends_on": ["b"]})
    assert expected == to_resume(workflow, status)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        pytest.param({}, "running", id="nothing-started"),
        pytest.param({"a": "running"}, "running", id="step-running"),
        pytest.param(dict.fromkeys("abcde", "succeeded"), "succeeded", id="all-succeeded"),
        pytest.param({"a": "failed"}, "failed", id="failed-blocks-all-transitively"),
        pytest.param({"a": "succeeded", "b": "failed", "c": "running"}, "running", id="failed-but-running"),
        pytest.param({"a": "succeeded", "b": "failed"}, "running", id="failed-but-sibling-runnable"),
        pytest.param({"a": "succeeded", "b": "failed", "c": "succeeded"}, "failed", id="failed-rest-blocked"),
        pytest.param({"a": "cancelled"}, "cancelled", id="cancelled-blocks-all"),
        pytest.param(
            {"a": "succeeded", "b": "cancelled", "c": "failed"}, "failed", id="failed-beats-cancelled"
        ),
        pytest.param(
            {"a": "succeeded", "b": "cancelled", "c": "running"}, "running", id="cancelled-but-running"
        ),
        pytest.param(
            {"a": "succeeded", "b": "cancelled", "c": "succeeded"}, "cancelled", id="cancelled-rest-blocked"
        ),
        pytest.param(
            {"a": "succeeded", "b": "succeeded", "c": "succeeded", "d": "succeeded", "e": "failed"},
            "failed",
            id="last-step-failed",
        ),
    ],
)
def test_workflow_state_derivation(status: dict[str, StepState], expected: WorkflowState) -> None:
    """The workflow state follows from its steps' states, counting blocked steps as never runnable."""
    workflow = spec(
        {"id": "a"},
        {"id": "b", "depends_on": ["a"]},
        {"id": "c", "depends_on": ["a"]},
        {"id": "d", "depends_on": ["b", "c"]},
        {"id": "e", "depends_on": ["d"]},
    )
    assert expected == workflow_state(workflow, status)
