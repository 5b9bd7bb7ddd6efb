"""What ``mediaforge doctor`` reports: config, database, storage, workers, processors."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from mediaforge.config import Settings
from mediaforge.db.engine import Database
from mediaforge.processors.registry import default_registry
from mediaforge.storage import storage_from_settings
from mediaforge.workers import repository as workers

__all__ = ["diagnose"]


def diagnose(settings: Settings) -> dict[str, Any]:
    """Check each dependency; never raises, every failure is reported in place."""
    report: dict[str, Any] = {"config": settings.public(), "ok": True}
    db = Database(settings.database_url)
    try:
        with db.session(read_only=True) as session:
            session.execute(text("SELECT 1"))
            report["database"] = f"ok ({db.dialect})"
            try:
                live = workers.live(session)
                report["workers"] = f"{len(live)} live" + "".join(
                    f"; {w.id} ({w.concurrency} slots)" for w in live
                )
            except Exception:
                report["workers"] = "unknown (run `mediaforge migrate`)"
    except Exception as exc:
        report["database"] = f"error: {exc}"
        report["workers"] = "unknown"
        report["ok"] = False
    finally:
        db.dispose()
    try:
        storage_from_settings(settings).check()
        report["storage"] = f"ok ({settings.storage_url.split('://')[0]})"
    except Exception as exc:
        report["storage"] = f"error: {exc}"
        report["ok"] = False
    report["processors"] = [
        {
            "name": p.name,
            "available": (a := p.availability()).available,
            "reason": a.reason,
            "install_hint": a.hint,
            "capabilities": sorted(p.capabilities),
        }
        for p in default_registry()
    ]
    return report
