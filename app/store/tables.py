"""SQLAlchemy Core tables. Every read filter has an index ending in ``sequence``."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect

metadata = MetaData()


class UtcDateTime(TypeDecorator[dt.datetime]):
    """An aware UTC instant with microseconds: TIMESTAMPTZ on PostgreSQL, sortable naive-UTC text on SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to UtcDateTime")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


Json = JSON().with_variant(JSONB(), "postgresql")


def _only_present(name: str, *columns: str, present: str) -> Index:
    """An index of the events whose ``present`` column has a value, on both backends."""
    where = text(f"{present} IS NOT NULL")
    return Index(name, *columns, postgresql_where=where, sqlite_where=where)


events = Table(
    "events",
    metadata,
    Column("tenant", String(64), nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("source", String(64), nullable=False),
    Column("type", String(100), nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("actor_type", String(16), nullable=False),
    Column("actor_id", String(200), nullable=False),
    Column("actor_display_name", Text),
    Column("actor_ip", String(45)),
    Column("actor_user_agent", Text),
    Column("target_type", String(200)),
    Column("target_id", String(200)),
    Column("target_display_name", Text),
    Column("outcome", String(16), nullable=False),
    Column("correlation_id", String(200)),
    Column("causation_id", String(200)),
    Column("traceparent", String(55)),
    Column("data", Json, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("previous_hash", String(64), nullable=False),
    PrimaryKeyConstraint("tenant", "sequence", name="pk_events"),
    UniqueConstraint("tenant", "event_id", "source", name="uq_events_tenant_event_id_source"),
    Index("ix_events_type", "tenant", "type", "sequence"),
    Index("ix_events_source", "tenant", "source", "sequence"),
    Index("ix_events_actor", "tenant", "actor_id", "sequence"),
    # Optional columns: only the events that have a value (a filter always names one; migration 0006).
    _only_present("ix_events_target", "tenant", "target_type", "target_id", "sequence", present="target_type"),
    _only_present("ix_events_correlation", "tenant", "correlation_id", "sequence", present="correlation_id"),
    _only_present("ix_events_causation", "tenant", "causation_id", "sequence", present="causation_id"),
    Index("ix_events_occurred", "tenant", "occurred_at", "sequence"),
    Index("ix_events_recorded", "tenant", "recorded_at", "sequence"),
)

chain_heads = Table(
    "chain_heads",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("last_sequence", BigInteger, nullable=False),
    Column("last_hash", String(64), nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("tenants", JSON, nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("sources", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
)
