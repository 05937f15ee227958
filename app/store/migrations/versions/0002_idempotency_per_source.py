"""Idempotency per (tenant, source, eventId): one source can neither block nor probe another's ids.

The unique key (tenant, event_id) becomes (tenant, event_id, source). Its column order keeps lookups by a
bare eventId within a tenant (deduplication, causedBy, event(eventId)) on the same index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

OLD, NEW = "uq_events_tenant_event_id", "uq_events_tenant_event_id_source"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # DDL, not UPDATE or DELETE: the append-only triggers stay as they are.
        op.drop_constraint(OLD, "events", type_="unique")
        op.create_unique_constraint(NEW, "events", ["tenant", "event_id", "source"])
        return
    # SQLite cannot drop a table constraint: Alembic copies the table into a new one (rows as they are,
    # indexes re-created). Dropping the old table drops its triggers, so they are created again.
    with op.batch_alter_table("events", recreate="always") as batch:
        batch.drop_constraint(OLD, type_="unique")
        batch.create_unique_constraint(NEW, ["tenant", "event_id", "source"])
    for operation in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER events_no_{operation.lower()} BEFORE {operation} ON events "
            f"BEGIN SELECT RAISE(ABORT, 'audit events are append-only: {operation} refused'); END"
        )


def downgrade() -> None:
    raise NotImplementedError("ids may now repeat across sources; (tenant, event_id) cannot be made unique again")
