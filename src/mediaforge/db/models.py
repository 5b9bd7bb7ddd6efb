"""Imports every model so ``Base.metadata`` is complete (for Alembic and test schemas)."""

from __future__ import annotations

from mediaforge.assets.models import Asset
from mediaforge.db.base import Base
from mediaforge.events.models import Event
from mediaforge.jobs.models import Job
from mediaforge.webhooks.models import Attempt as WebhookAttempt
from mediaforge.webhooks.models import Cursor as WebhookCursor
from mediaforge.webhooks.models import Delivery as WebhookDelivery
from mediaforge.webhooks.models import Subscription as WebhookSubscription
from mediaforge.workers.models import Worker
from mediaforge.workflows.models import Workflow

__all__ = [
    "Asset",
    "Base",
    "Event",
    "Job",
    "WebhookAttempt",
    "WebhookCursor",
    "WebhookDelivery",
    "WebhookSubscription",
    "Worker",
    "Workflow",
]
