"""Saved boot configurations: named plans, each change a new version with its author and time.

The plan is stored as the boot file's JSON form ({"processes": [...]}), already validated by the caller
(viewmodels/configurations.py): the store keeps what it is given, cleaned, and never interprets it. Deleting a
configuration deletes its versions (the audit trail keeps who did it and what the plan was called).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from store.db import Database
from store.models import BootConfiguration, BootConfigurationVersion, utcnow
from store.text import clean, clean_json

NAME_LEN = 128


class ConfigurationExists(Exception):
    pass


class UnknownConfiguration(Exception):
    pass


@dataclass(frozen=True)
class ConfigSummary:
    name: str
    created_by: str
    created_at: datetime
    version: int  # the newest
    author: str  # of the newest version
    updated_at: datetime
    processes: int


@dataclass(frozen=True)
class ConfigVersion:
    name: str
    version: int
    plan: dict
    author: str
    created_at: datetime
    comment: str
    created_by: str  # the configuration's creator (who may edit it besides an administrator)

    @property
    def processes(self) -> list:
        return list((self.plan or {}).get("processes") or [])


def _count(plan: dict) -> int:
    return len((plan or {}).get("processes") or [])


class BootConfigStore:
    def __init__(self, db: Database):
        self.db = db

    def create(self, name: str, plan: dict, author: str, comment: str = "") -> ConfigVersion:
        name, author, now = clean(name, NAME_LEN), clean(author, 64), utcnow()
        try:
            with self.db.session() as s:
                config = BootConfiguration(name=name, created_by=author, created_at=now)
                s.add(config)
                s.flush()
                s.add(BootConfigurationVersion(configuration_id=config.id, version=1, plan=clean_json(plan),
                                               author=author, created_at=now, comment=clean(comment, 2000)))
        except IntegrityError:
            raise ConfigurationExists(name) from None
        return self.get(name)

    def add_version(self, name: str, plan: dict, author: str, comment: str = "") -> ConfigVersion:
        """A new version (the newest + 1). Two editors at once: one of them gets ConfigurationExists (retry)."""
        name, author = clean(name, NAME_LEN), clean(author, 64)
        try:
            with self.db.session() as s:
                config = s.scalar(select(BootConfiguration).where(BootConfiguration.name == name))
                if config is None:
                    raise UnknownConfiguration(name)
                newest = s.scalar(select(func.max(BootConfigurationVersion.version))
                                  .where(BootConfigurationVersion.configuration_id == config.id)) or 0
                s.add(BootConfigurationVersion(configuration_id=config.id, version=newest + 1,
                                               plan=clean_json(plan), author=author, created_at=utcnow(),
                                               comment=clean(comment, 2000)))
        except IntegrityError:
            raise ConfigurationExists(f"{name}: another version was saved at the same moment") from None
        return self.get(name)

    def delete(self, name: str) -> bool:
        with self.db.session() as s:
            config = s.scalar(select(BootConfiguration).where(BootConfiguration.name == clean(name, NAME_LEN)))
            if config is None:
                return False
            s.delete(config)
            s.flush()
            # ON DELETE CASCADE does it on both databases; this keeps a database without FK enforcement clean too
            s.execute(BootConfigurationVersion.__table__.delete()
                      .where(BootConfigurationVersion.configuration_id == config.id))
        return True

    def get(self, name: str, version: int | None = None) -> ConfigVersion | None:
        V, C = BootConfigurationVersion, BootConfiguration  # noqa: N806 - table aliases
        stmt = (select(C.name, C.created_by, V.version, V.plan, V.author, V.created_at, V.comment)
                .join(V, V.configuration_id == C.id).where(C.name == clean(name, NAME_LEN)))
        stmt = stmt.where(V.version == int(version)) if version is not None else stmt.order_by(V.version.desc())
        with self.db.engine.connect() as conn:
            row = conn.execute(stmt.limit(1)).first()
        if row is None:
            return None
        return ConfigVersion(row.name, row.version, row.plan or {}, row.author, row.created_at, row.comment,
                             row.created_by)

    def versions(self, name: str) -> list[ConfigVersion]:
        V, C = BootConfigurationVersion, BootConfiguration  # noqa: N806
        stmt = (select(C.name, C.created_by, V.version, V.plan, V.author, V.created_at, V.comment)
                .join(V, V.configuration_id == C.id).where(C.name == clean(name, NAME_LEN))
                .order_by(V.version.desc()))
        with self.db.engine.connect() as conn:
            return [ConfigVersion(r.name, r.version, r.plan or {}, r.author, r.created_at, r.comment, r.created_by)
                    for r in conn.execute(stmt)]

    def list(self) -> list[ConfigSummary]:
        """Every configuration with its newest version, by name."""
        V, C = BootConfigurationVersion, BootConfiguration  # noqa: N806
        newest = (select(V.configuration_id, func.max(V.version).label("v")).group_by(V.configuration_id)
                  .subquery())
        stmt = (select(C.name, C.created_by, C.created_at, V.version, V.author, V.created_at.label("updated"),
                       V.plan)
                .join(newest, newest.c.configuration_id == C.id)
                .join(V, (V.configuration_id == C.id) & (V.version == newest.c.v))
                .order_by(C.name))
        with self.db.engine.connect() as conn:
            return [ConfigSummary(r.name, r.created_by, r.created_at, r.version, r.author, r.updated, _count(r.plan))
                    for r in conn.execute(stmt)]
