"""SQL about assets."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mediaforge.assets.models import Asset

__all__ = ["AssetRepository"]


class AssetRepository:
    """Queries over ``assets``, always scoped by owner when an owner is given."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, asset_id: str, *, owner_id: str | None) -> Asset | None:
        query = select(Asset).where(Asset.id == asset_id, Asset.deleted_at.is_(None))
        if owner_id is not None:
            query = query.where(Asset.owner_id == owner_id)
        return self.session.scalars(query).first()

    def many(self, ids: Iterable[str], *, owner_id: str | None) -> list[Asset]:
        wanted = list(ids)
        query = select(Asset).where(Asset.id.in_(wanted), Asset.deleted_at.is_(None))
        if owner_id is not None:
            query = query.where(Asset.owner_id == owner_id)
        by_id = {a.id: a for a in self.session.scalars(query)}
        return [by_id[i] for i in wanted if i in by_id]

    def existing_ids(self, owner_id: str, ids: Iterable[str]) -> set[str]:
        return {a.id for a in self.many(ids, owner_id=owner_id)}

    def add(self, asset: Asset) -> Asset:
        self.session.add(asset)
        self.session.flush()
        return asset

    def expired(self, now: datetime, limit: int = 500) -> list[Asset]:
        query = select(Asset).where(Asset.deleted_at.is_(None), Asset.expires_at < now).limit(limit)
        return list(self.session.scalars(query))

    def of_job(self, job_id: str) -> list[Asset]:
        query = select(Asset).where(Asset.job_id == job_id, Asset.deleted_at.is_(None))
        return list(self.session.scalars(query))
