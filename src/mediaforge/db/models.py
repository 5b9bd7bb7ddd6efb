"""Imports every model so ``Base.metadata`` is complete (for Alembic and test schemas)."""

from __future__ import annotations

from mediaforge.assets.models import Asset
from mediaforge.credits.models import CreditEntry
from mediaforge.db.base import Base
from mediaforge.events.models import Event
from mediaforge.identity.models import Account, AuthCode, Credential
from mediaforge.jobs.models import Job
from mediaforge.payments.models import BillingState
from mediaforge.photos.models import Photo
from mediaforge.webhooks.models import Attempt as WebhookAttempt
from mediaforge.webhooks.models import Cursor as WebhookCursor
from mediaforge.webhooks.models import Delivery as WebhookDelivery
from mediaforge.webhooks.models import Subscription as WebhookSubscription
from mediaforge.workers.models import Worker
from mediaforge.workflows.models import Workflow

__all__ = [
    "Account",
    "Asset",
    "AuthCode",
    "Base",
    "BillingState",
    "Credential",
    "CreditEntry",
    "Event",
    "Job",
    "Photo",
    "WebhookAttempt",
    "WebhookCursor",
    "WebhookDelivery",
    "WebhookSubscription",
    "Worker",
    "Workflow",
]
