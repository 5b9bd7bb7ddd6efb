"""Prometheus metrics: request counters from middleware, job gauges refreshed at scrape."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy.orm import Session

from mediaforge.jobs.repository import JobRepository
from mediaforge.workers import repository as workers

__all__ = ["HTTP_LATENCY", "HTTP_REQUESTS", "REGISTRY", "refresh_gauges"]

REGISTRY = CollectorRegistry()
HTTP_REQUESTS = Counter(
    "mediaforge_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=REGISTRY
)
HTTP_LATENCY = Histogram(
    "mediaforge_http_request_seconds", "HTTP request latency", ["route"], registry=REGISTRY
)
JOBS = Gauge("mediaforge_jobs", "Jobs by status", ["status"], registry=REGISTRY)
QUEUE_DEPTH = Gauge(
    "mediaforge_queue_depth", "Unfinished jobs by queue and status", ["queue", "status"], registry=REGISTRY
)
WORKERS = Gauge("mediaforge_workers_live", "Workers with a recent heartbeat", registry=REGISTRY)


def refresh_gauges(session: Session) -> None:
    repo = JobRepository(session)
    JOBS.clear()
    for status, n in repo.counts_by_status().items():
        JOBS.labels(status).set(n)
    QUEUE_DEPTH.clear()
    for (queue, status), n in repo.queue_depths().items():
        QUEUE_DEPTH.labels(queue, status).set(n)
    WORKERS.set(len(workers.live(session)))
