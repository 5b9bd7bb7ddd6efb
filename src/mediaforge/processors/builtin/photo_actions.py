"""The photo actions as jobs (``photo.detect_duplicates``, ``photo.suggest_photobook``, ...).

Each reads the ``.npz`` snapshot of the user's photos that ``photos.service`` stored as its input
asset at submit time (never the database) and returns the action's result.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from mediaforge.errors import MediaforgeError
from mediaforge.photos import actions
from mediaforge.photos.photoset import PhotoSet
from mediaforge.photos.service import ACTION_JOB_TYPES, PARAMS
from mediaforge.processors.base import Context, InputFile, Output, PermanentFailure, Processor

__all__ = ["PHOTO_ACTIONS"]


def _runner(action: str) -> Any:
    def run(ctx: Context, inputs: list[InputFile], params: BaseModel) -> Output:
        try:
            photos = PhotoSet.load(inputs[0].path)
        except (OSError, ValueError, KeyError) as exc:
            raise PermanentFailure(f"unreadable photo snapshot: {exc}", type="invalid_snapshot") from exc
        ctx.progress(10, action.lower())
        try:
            result = actions.run(action, photos, params, ctx.settings)
        except MediaforgeError as exc:
            raise PermanentFailure(exc.message, type=exc.code) from exc
        return Output(result={"action": action, **result})

    return run


PHOTO_ACTIONS = [
    Processor(
        ACTION_JOB_TYPES[action],
        _runner(action),
        PARAMS[action],
        description=f"{action} over a snapshot of a user's photos (the Ifolor actions).",
        requires=("PIL", "numpy"),
        min_inputs=1,
        max_inputs=1,
        timeout=600,
    )
    for action in ACTION_JOB_TYPES
]
