"""The Celery side of ``bench/engine.py``: one app and three tasks, configured from the environment.

The worker runs as ``celery -A bench.celery_app worker`` with ``BENCH_REDIS_URL`` (broker and result
backend) and ``BENCH_CELERY_QUEUE`` set by the benchmark, so a run never touches another run's keys.
"""

from __future__ import annotations

import os
import time

import redis
from celery import Celery

__all__ = ["QUEUE", "REDIS_URL", "app", "count", "noop", "stamp"]

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
QUEUE = os.environ.get("BENCH_CELERY_QUEUE", "bench-engine")

app = Celery("bench", broker=REDIS_URL, backend=REDIS_URL)
app.conf.update(
    task_default_queue=QUEUE,
    result_expires=600,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)

_redis: redis.Redis | None = None


def _client() -> redis.Redis:
    global _redis  # one connection per pool process, opened after the fork
    if _redis is None:
        _redis = redis.Redis.from_url(REDIS_URL)
    return _redis


@app.task(name="bench.noop", ignore_result=True)
def noop() -> None:
    """Does nothing: what enqueue latency publishes."""


@app.task(name="bench.stamp")
def stamp() -> float:
    """The wall-clock time this task started: dispatch latency is this minus the send time."""
    return time.time()


@app.task(name="bench.count", ignore_result=True)
def count(key: str, total: int) -> None:
    """Count a finished no-op in Redis; the first and the ``total``-th one stamp the run's window."""
    started = time.time()
    client = _client()
    done = client.incr(key)
    if done == 1:
        client.set(f"{key}:first", started)
    if done == total:
        client.set(f"{key}:last", time.time())
