"""The body of an event sent to an Ifolor subscription: ``{event, subscription_id, timestamp, job}``.

Named in ``webhooks.payloads.FACE_RENDERERS``; the fan-out calls it once per event and subscription.
"""

from __future__ import annotations

from typing import Any

from mediaforge.events.models import Event
from mediaforge.faces.ifolor.translate import event_name, render_job
from mediaforge.jobs.schemas import JobView
from mediaforge.webhooks.models import Subscription

__all__ = ["payload"]


def payload(event: Event, sub: Subscription) -> dict[str, Any]:
    """``job`` is the ``JobResponse`` as it stood when the event was written (its ``updated_at``)."""
    job = render_job(JobView.model_validate(event.payload), updated_at=event.created_at)
    return {
        "event": event_name(event.type) or event.type,
        "subscription_id": sub.id,
        "timestamp": event.created_at.isoformat().replace("+00:00", "Z"),
        "job": job.model_dump(mode="json"),
    }
