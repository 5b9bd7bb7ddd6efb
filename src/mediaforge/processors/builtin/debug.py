"""``debug.*``: processors for tests and benchmarks (sleep, fail, fan out)."""

from __future__ import annotations

import shutil
import time

from pydantic import BaseModel, ConfigDict, Field

from mediaforge.processors.base import (
    ChildSpec,
    Context,
    EmptyParams,
    InputFile,
    Output,
    OutputFile,
    PermanentFailure,
    Processor,
    RetryPolicy,
)

__all__ = ["DEBUG_PROCESSORS"]


class SleepParams(BaseModel):
    """Sleep for ``seconds``, reporting progress; optionally fail at the end."""

    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(0.0, ge=0, le=3600)
    fail: bool = False
    fail_permanently: bool = False
    fail_attempts: int = Field(0, ge=0, description="Fail this many first attempts, then succeed.")
    echo: dict[str, object] = Field(default_factory=dict, description="Copied into the result.")
    ignore_cancel: bool = Field(False, description="Never check for cancellation (forces a hard kill).")
    allocate_mb: int = Field(0, ge=0, le=65536, description="Allocate this much memory first.")


def _sleep(ctx: Context, inputs: list[InputFile], params: SleepParams) -> Output:
    ballast = bytearray(params.allocate_mb * 1024 * 1024)
    deadline = time.monotonic() + params.seconds
    step = min(0.05, params.seconds) or 0.0
    while (left := deadline - time.monotonic()) > 0:
        if not params.ignore_cancel:
            ctx.check_cancelled()
        time.sleep(min(step, left))
        ctx.progress(100 * (1 - left / params.seconds))
    if params.fail_permanently:
        raise PermanentFailure("debug.sleep asked to fail permanently", type="debug_failure")
    if params.fail or ctx.attempt <= params.fail_attempts:
        raise RuntimeError(f"debug.sleep asked to fail (attempt {ctx.attempt})")
    return Output(
        result={
            "slept": params.seconds,
            "attempt": ctx.attempt,
            "echo": params.echo,
            "inputs": [i.asset_id for i in inputs],
            "allocated_mb": len(ballast) >> 20,
        }
    )


def _noop(ctx: Context, inputs: list[InputFile], params: EmptyParams) -> Output:
    return Output()


class FanOutParams(BaseModel):
    """Spawn ``count`` children of ``child_type``."""

    model_config = ConfigDict(extra="forbid")
    count: int = Field(1, ge=0, le=10_000)
    child_type: str = "debug.sleep"
    child_params: dict[str, object] = Field(default_factory=dict)


def _fan_out(ctx: Context, inputs: list[InputFile], params: FanOutParams) -> Output:
    children = [ChildSpec(params.child_type, dict(params.child_params)) for _ in range(params.count)]
    return Output(result={"children": params.count}, children=children)


def _copy(ctx: Context, inputs: list[InputFile], params: EmptyParams) -> Output:
    files = []
    for index, source in enumerate(inputs):
        target = ctx.tmp_dir / f"copy-{index}-{source.filename}"
        shutil.copyfile(source.path, target)
        files.append(OutputFile(target, filename=source.filename))
    return Output(result={"copied": len(files)}, files=files)


DEBUG_PROCESSORS = [
    Processor("debug.noop", _noop, description="Does nothing; the engine's fixed cost."),
    Processor(
        "debug.sleep",
        _sleep,
        SleepParams,
        description="Sleeps, reports progress, fails on request (tests and benchmarks).",
        retry=RetryPolicy(non_retryable=frozenset({"debug_failure"})),
    ),
    Processor("debug.fan_out", _fan_out, FanOutParams, description="Fans out child jobs."),
    Processor("debug.copy", _copy, description="Returns copies of its inputs as outputs.", min_inputs=1),
]
