"""The indexes on optional columns hold only the events that have a value: causation, correlation, target.

A filter or a look-up on these columns always names a value (``correlationId: "c-1"``, the effects of an event,
a target's type), so an index entry for an event without one is never read; yet every insert wrote one, in
each of the three indexes. Most events have no cause, and many no correlation or target: now an event adds
entries only for what it has. Each index is the same key with ``WHERE <column> IS NOT NULL``; both planners
use it for any comparison of the column with a value (``=``, ``IN``), which implies that predicate
(tests/store/test_partial_indexes.py checks each filter's plan on PostgreSQL and SQLite).

The upgrade rebuilds the three indexes in its transaction: on PostgreSQL, writes to ``events`` wait until it has
committed (reads go on); on a large table, upgrade at a quiet moment (README, "Upgrading").

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_events_target", ["tenant", "target_type", "target_id", "sequence"], "target_type"),
    ("ix_events_correlation", ["tenant", "correlation_id", "sequence"], "correlation_id"),
    ("ix_events_causation", ["tenant", "causation_id", "sequence"], "causation_id"),
)
"""Name, columns, and the column whose presence puts an event in the index (a target has a type and an id)."""


def upgrade() -> None:
    _rebuild(partial=True)


def downgrade() -> None:
    _rebuild(partial=False)


def _rebuild(*, partial: bool) -> None:
    for name, columns, present in INDEXES:
        where = sa.text(f"{present} IS NOT NULL") if partial else None
        op.drop_index(name, "events")
        op.create_index(name, "events", columns, postgresql_where=where, sqlite_where=where)
