"""Events, chain heads and API keys; the events table refuses UPDATE and DELETE.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    timestamp = sa.DateTime(timezone=True)
    op.create_table(
        "events",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("sequence", sa.BigInteger, nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("schema_version", sa.Integer, nullable=False),
        sa.Column("occurred_at", timestamp, nullable=False),
        sa.Column("recorded_at", timestamp, nullable=False),
        sa.Column("actor_type", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.String(200), nullable=False),
        sa.Column("actor_display_name", sa.Text),
        sa.Column("actor_ip", sa.String(45)),
        sa.Column("actor_user_agent", sa.Text),
        sa.Column("target_type", sa.String(200)),
        sa.Column("target_id", sa.String(200)),
        sa.Column("target_display_name", sa.Text),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("correlation_id", sa.String(200)),
        sa.Column("causation_id", sa.String(200)),
        sa.Column("traceparent", sa.String(55)),
        sa.Column("data", JSONB() if dialect == "postgresql" else sa.JSON(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("previous_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "sequence", name="pk_events"),
        sa.UniqueConstraint("tenant", "event_id", name="uq_events_tenant_event_id"),
    )
    for name, columns in (
        ("ix_events_type", ["tenant", "type", "sequence"]),
        ("ix_events_source", ["tenant", "source", "sequence"]),
        ("ix_events_actor", ["tenant", "actor_id", "sequence"]),
        ("ix_events_target", ["tenant", "target_type", "target_id", "sequence"]),
        ("ix_events_correlation", ["tenant", "correlation_id", "sequence"]),
        ("ix_events_causation", ["tenant", "causation_id", "sequence"]),
        ("ix_events_occurred", ["tenant", "occurred_at", "sequence"]),
        ("ix_events_recorded", ["tenant", "recorded_at", "sequence"]),
    ):
        op.create_index(name, "events", columns)
    op.create_table(
        "chain_heads",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("last_sequence", sa.BigInteger, nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("tenants", sa.JSON, nullable=False),
        sa.Column("scopes", sa.JSON, nullable=False),
        sa.Column("sources", sa.JSON, nullable=False),
        sa.Column("created_at", timestamp, nullable=False),
        sa.Column("revoked_at", timestamp),
    )
    if dialect == "postgresql":
        op.execute(
            """
            CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              RAISE EXCEPTION 'audit events are append-only: % refused', TG_OP;
            END $$
            """
        )
        op.execute(
            "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
            "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
        )
        op.execute(
            "CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()"
        )
    else:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER events_no_{operation.lower()} BEFORE {operation} ON events "
                f"BEGIN SELECT RAISE(ABORT, 'audit events are append-only: {operation} refused'); END"
            )


def downgrade() -> None:
    raise NotImplementedError("the audit log is append-only; there is no way back from its first revision")
