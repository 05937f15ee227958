"""PostgreSQL: ``audit_append`` takes each text column of the batch as one text, not as an array.

The driver checks every element of an array argument in Python before it encodes it: two ``isinstance`` calls
against ``collections.abc`` per string (an array of strings could be an array of arrays), each through a Python
frame. With a batch's ids, names, data, canonical halves… that was ~35 such calls per event, about a tenth of
the server's CPU on the ingest path. A text is encoded at once.

So a text column comes as one text: each element preceded by U+001F (unit separator), a NULL element written
as U+001E (record separator); ``string_to_array`` splits it in C. No accepted value holds either character
(every text rule refuses control characters; JSON escapes them), and ``app.store.append`` checks that before
it sends a batch: a batch it cannot write this way takes the Python path, counted. The leading separator keeps
a column of one empty string one element (``string_to_array('', …)`` is empty). ``data`` is JSON text, cast to
``jsonb[]``; the canonical halves are UTF-8 JSON text, turned back into their exact bytes by ``convert_to``.

The function of 0005 stays as it was, renamed ``audit_append_arrays``; ``audit_append`` is now a new
signature (text where 0005 took ``text[]``, ``jsonb[]``, ``bytea[]``) that splits its arguments and calls it.
Code that speaks another revision's arguments finds no such function and appends through Python, logged.

Measured by ``python -m scripts.probe_append_function`` beside the 0005 call (same rows, interleaved): the
caller's CPU per event went from 37-39 to 26 µs (batch of 1000) and from 41-43 to 24-29 µs (batch of 100);
the wall time per call, PostgreSQL's work included, was the same or lower.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ARGUMENTS_0005 = (
    "text[], text[], text[], text[], integer[], timestamptz[], timestamptz, text[], text[], text[], text[], text[], "
    "text[], text[], text[], text[], text[], text[], text[], jsonb[], bytea[], bytea[], integer"
)


def _texts(name: str) -> str:
    """A text column's elements: split at U+001F (the leading one gives an empty first element), U+001E NULL."""
    return f"(string_to_array(p_{name}, E'\\x1f', E'\\x1e'))[2:]"


def _bytes(name: str) -> str:
    """A canonical half's elements, as the exact UTF-8 bytes the caller hashed."""
    return (
        f"ARRAY(SELECT convert_to(x.half, 'UTF8') FROM unnest({_texts(name)}) WITH ORDINALITY AS x (half, n)"
        " ORDER BY x.n)"
    )


CREATE = f"""
CREATE FUNCTION audit_append(
    p_tenant text, p_event_id text, p_source text, p_type text, p_schema_version integer[],
    p_occurred_at timestamptz[], p_recorded_at timestamptz,
    p_actor_type text, p_actor_id text, p_actor_display_name text, p_actor_ip text,
    p_actor_user_agent text, p_target_type text, p_target_id text, p_target_display_name text,
    p_outcome text, p_correlation_id text, p_causation_id text, p_traceparent text,
    p_data text, p_prefix text, p_suffix text, p_count integer
) RETURNS TABLE (
    pos integer, new_sequence bigint, new_hash text, new_previous_hash text,
    tenant varchar, sequence bigint, event_id varchar, source varchar, type varchar, schema_version integer,
    occurred_at timestamptz, recorded_at timestamptz, actor_type varchar, actor_id varchar,
    actor_display_name text, actor_ip varchar, actor_user_agent text, target_type varchar, target_id varchar,
    target_display_name text, outcome varchar, correlation_id varchar, causation_id varchar,
    traceparent varchar, data jsonb, hash varchar, previous_hash varchar
) LANGUAGE sql VOLATILE AS $$
    SELECT * FROM audit_append_arrays(
        {_texts("tenant")}, {_texts("event_id")}, {_texts("source")}, {_texts("type")}, p_schema_version,
        p_occurred_at, p_recorded_at,
        {_texts("actor_type")}, {_texts("actor_id")}, {_texts("actor_display_name")}, {_texts("actor_ip")},
        {_texts("actor_user_agent")}, {_texts("target_type")}, {_texts("target_id")},
        {_texts("target_display_name")}, {_texts("outcome")}, {_texts("correlation_id")},
        {_texts("causation_id")}, {_texts("traceparent")},
        {_texts("data")}::jsonb[], {_bytes("prefix")}, {_bytes("suffix")}, p_count
    )
$$
"""

ARGUMENTS = (
    "text, text, text, text, integer[], timestamptz[], timestamptz, text, text, text, text, text, "
    "text, text, text, text, text, text, text, text, text, text, integer"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER FUNCTION audit_append({ARGUMENTS_0005}) RENAME TO audit_append_arrays")
        op.execute(CREATE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS audit_append({ARGUMENTS})")
        op.execute(f"ALTER FUNCTION audit_append_arrays({ARGUMENTS_0005}) RENAME TO audit_append")
