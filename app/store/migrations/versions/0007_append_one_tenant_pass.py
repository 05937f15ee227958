"""PostgreSQL: ``audit_append`` chains a one-tenant batch in one pass and plans its usual path once per session.

The function of 0005: same signature, same arguments, same answer, same rows (tests/store/test_append_paths.py
compares every stored column, head and result with the Python path, and walks the revisions down and up).
What changed is how much PostgreSQL does per call and per event:

* The heads are locked and read in one statement (``FOR UPDATE`` answers each row as its last holder committed
  it), instead of a count of the locked rows and then one read per tenant.
* A batch of one tenant (what a producer usually sends) is chained with three statements per event instead of
  six: no slot to look up, the sequences made in one statement. Several tenants keep 0005's loop.
* The batch's tenants come straight from a one-element column, without sorting the expanded one.
* The usual path runs on generic plans (``plan_cache_mode = force_generic_plan``): left to choose, PostgreSQL
  planned some of its statements again on every call (perf: 17% of a one-event call's CPU under
  ``GetCachedPlan``; forcing generic plans alone took such a call from 0.41-0.47 to 0.33 ms of the backend's CPU).
  The stored-keys path still plans every statement on every call (0005's reasons).

Measured interleaved in one database (the gateway's statement, 0005's function and this one called in turn with
the benchmark generator's events of one tenant, ``synchronous_commit = off`` so that the flush does not blur the
difference; median wall per call): 1 event 0.42 -> 0.35 ms; 100 events 35.4 -> 33.4 and 35.5 -> 33.9 µs per
event; 1,000 events 28.9 -> 28.3 and 28.5 -> 27.7 µs per event; 100 events of two tenants 34.2 -> 33.7.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

import importlib

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

CREATE = r"""
CREATE OR REPLACE FUNCTION audit_append(
    p_tenant text[], p_event_id text[], p_source text[], p_type text[], p_schema_version integer[],
    p_occurred_at timestamptz[], p_recorded_at timestamptz,
    p_actor_type text[], p_actor_id text[], p_actor_display_name text[], p_actor_ip text[],
    p_actor_user_agent text[], p_target_type text[], p_target_id text[], p_target_display_name text[],
    p_outcome text[], p_correlation_id text[], p_causation_id text[], p_traceparent text[],
    p_data jsonb[], p_prefix bytea[], p_suffix bytea[], p_count integer
) RETURNS TABLE (
    pos integer, new_sequence bigint, new_hash text, new_previous_hash text,
    tenant varchar, sequence bigint, event_id varchar, source varchar, type varchar, schema_version integer,
    occurred_at timestamptz, recorded_at timestamptz, actor_type varchar, actor_id varchar,
    actor_display_name text, actor_ip varchar, actor_user_agent text, target_type varchar, target_id varchar,
    target_display_name text, outcome varchar, correlation_id varchar, causation_id varchar,
    traceparent varchar, data jsonb, hash varchar, previous_hash varchar
) LANGUAGE plpgsql VOLATILE
-- Every look-up of events below (the stored-keys path) is a probe by key. PL/pgSQL would keep a session's
-- generic plans, made while the table was small (and perhaps never analysed: autovacuum may be off), where any
-- index on tenant looks as good as the key's; such a plan reads every event of the tenant per probe once the
-- table has grown. That path is planned on every call instead (with the table's current size and the batch's
-- length), as nested loops. The usual path reads no events (heads by key, an insert from the arrays): its
-- statements run on generic plans, made once per session, so no call plans them again (left to choose, PostgreSQL
-- planned some of them again on every call). plan_cache_mode is set here so that the stored-keys path's change
-- of it ends with the call.
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
#variable_conflict use_column
DECLARE
    n integer := p_count;
    tenants text[];
    locked integer;
    sequences bigint[] := array_fill(NULL::bigint, ARRAY[n]);
    hashes text[] := array_fill(NULL::text, ARRAY[n]);
    previous text[] := array_fill(NULL::text, ARRAY[n]);
    stored bigint[] := array_fill(NULL::bigint, ARRAY[n]);
    item record;
    current_tenant text;
    head_sequence bigint;
    head_hash text;
    any_stored boolean := false;
    head_sequences bigint[];
    head_hashes text[];
    slot integer;
    i integer;
    attempt integer;
    refused boolean := false;
BEGIN
    -- p_count events. A column the same for every event may come as one element (p_event_id, p_prefix and
    -- p_suffix never do): it stands for that element n times. A NULL array is a column no event has: unnest
    -- pads it with NULLs.
    IF cardinality(p_event_id) IS DISTINCT FROM n OR cardinality(p_prefix) IS DISTINCT FROM n
        OR cardinality(p_suffix) IS DISTINCT FROM n THEN
        RAISE EXCEPTION 'audit_append: % events, but % ids and % canonical halves', n,
            cardinality(p_event_id), cardinality(p_prefix) USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The batch's tenants, sorted: read before a one-element column stands for n.
    IF cardinality(p_tenant) = 1 THEN
        tenants := p_tenant;
    ELSE
        SELECT array_agg(DISTINCT t ORDER BY t) INTO tenants FROM unnest(p_tenant) AS t;
    END IF;
    IF n > 1 THEN
        IF cardinality(p_tenant) = 1 THEN
            p_tenant := array_fill(p_tenant[1], ARRAY[n]);
        END IF;
        IF cardinality(p_source) = 1 THEN
            p_source := array_fill(p_source[1], ARRAY[n]);
        END IF;
        IF cardinality(p_type) = 1 THEN
            p_type := array_fill(p_type[1], ARRAY[n]);
        END IF;
        IF cardinality(p_schema_version) = 1 THEN
            p_schema_version := array_fill(p_schema_version[1], ARRAY[n]);
        END IF;
        IF cardinality(p_occurred_at) = 1 THEN
            p_occurred_at := array_fill(p_occurred_at[1], ARRAY[n]);
        END IF;
        IF cardinality(p_actor_type) = 1 THEN
            p_actor_type := array_fill(p_actor_type[1], ARRAY[n]);
        END IF;
        IF cardinality(p_actor_id) = 1 THEN
            p_actor_id := array_fill(p_actor_id[1], ARRAY[n]);
        END IF;
        IF cardinality(p_actor_display_name) = 1 THEN
            p_actor_display_name := array_fill(p_actor_display_name[1], ARRAY[n]);
        END IF;
        IF cardinality(p_actor_ip) = 1 THEN
            p_actor_ip := array_fill(p_actor_ip[1], ARRAY[n]);
        END IF;
        IF cardinality(p_actor_user_agent) = 1 THEN
            p_actor_user_agent := array_fill(p_actor_user_agent[1], ARRAY[n]);
        END IF;
        IF cardinality(p_target_type) = 1 THEN
            p_target_type := array_fill(p_target_type[1], ARRAY[n]);
        END IF;
        IF cardinality(p_target_id) = 1 THEN
            p_target_id := array_fill(p_target_id[1], ARRAY[n]);
        END IF;
        IF cardinality(p_target_display_name) = 1 THEN
            p_target_display_name := array_fill(p_target_display_name[1], ARRAY[n]);
        END IF;
        IF cardinality(p_outcome) = 1 THEN
            p_outcome := array_fill(p_outcome[1], ARRAY[n]);
        END IF;
        IF cardinality(p_correlation_id) = 1 THEN
            p_correlation_id := array_fill(p_correlation_id[1], ARRAY[n]);
        END IF;
        IF cardinality(p_causation_id) = 1 THEN
            p_causation_id := array_fill(p_causation_id[1], ARRAY[n]);
        END IF;
        IF cardinality(p_traceparent) = 1 THEN
            p_traceparent := array_fill(p_traceparent[1], ARRAY[n]);
        END IF;
        IF cardinality(p_data) = 1 THEN
            p_data := array_fill(p_data[1], ARRAY[n]);
        END IF;
    END IF;
    -- Lock the heads in tenant order (the Python path's order: no deadlock between the two either), reading
    -- each as locked (FOR UPDATE answers the row as its last holder committed it); a tenant's first batch
    -- creates its head, then locks them all again, in order.
    FOR attempt IN 1 .. 2 LOOP
        locked := 0;
        FOR item IN
            SELECT h.tenant, h.last_sequence, h.last_hash FROM chain_heads h
            WHERE h.tenant = ANY (tenants) ORDER BY h.tenant FOR UPDATE
        LOOP
            locked := locked + 1;
            slot := array_position(tenants, item.tenant::text);
            head_sequences[slot] := item.last_sequence;
            head_hashes[slot] := item.last_hash;
        END LOOP;
        EXIT WHEN locked = cardinality(tenants) OR attempt = 2;
        INSERT INTO chain_heads (tenant, last_sequence, last_hash)
        SELECT t, 0, repeat('0', 64) FROM unnest(tenants) AS t
        ON CONFLICT (tenant) DO NOTHING;
    END LOOP;
    IF locked < cardinality(tenants) THEN
        RAISE EXCEPTION 'audit_append: % chain heads for % tenants', locked, cardinality(tenants);
    END IF;
    -- The usual batch: every key is new. Chain it in position order from the locked heads and insert it as a
    -- whole, without looking any key up: the unique key (tenant, event_id, source) refuses it if one is already
    -- stored (we hold the heads, so only a committed event can hold it), and the look-up below then settles
    -- each event. A stored key is the only way here to answer a stored row: the caller counts which way ran.
    IF cardinality(tenants) = 1 THEN
        -- One tenant (the usual batch): its chain in one pass, the sequences in one statement.
        head_sequence := head_sequences[1];
        head_hash := head_hashes[1];
        FOR i IN 1 .. n LOOP
            previous[i] := head_hash;
            -- DESIGN.md: hex(SHA-256(previous_hash_hex_ascii || canonical_bytes)), the sequence spliced in.
            head_hash := encode(sha256(
                convert_to(head_hash, 'UTF8') || p_prefix[i]
                || convert_to((head_sequence + i)::text, 'UTF8') || p_suffix[i]
            ), 'hex');
            hashes[i] := head_hash;
        END LOOP;
        sequences := ARRAY(SELECT generate_series(head_sequence + 1, head_sequence + n));
        head_sequences[1] := head_sequence + n;
        head_hashes[1] := head_hash;
    ELSE
        FOR i IN 1 .. n LOOP
            slot := array_position(tenants, p_tenant[i]);
            previous[i] := head_hashes[slot];
            head_sequences[slot] := head_sequences[slot] + 1;
            -- DESIGN.md: hex(SHA-256(previous_hash_hex_ascii || canonical_bytes)), the sequence spliced in.
            head_hashes[slot] := encode(sha256(
                convert_to(head_hashes[slot], 'UTF8') || p_prefix[i]
                || convert_to(head_sequences[slot]::text, 'UTF8') || p_suffix[i]
            ), 'hex');
            sequences[i] := head_sequences[slot];
            hashes[i] := head_hashes[slot];
        END LOOP;
    END IF;
    BEGIN
        INSERT INTO events (
            tenant, sequence, event_id, source, type, schema_version, occurred_at, recorded_at,
            actor_type, actor_id, actor_display_name, actor_ip, actor_user_agent,
            target_type, target_id, target_display_name, outcome, correlation_id, causation_id, traceparent,
            data, hash, previous_hash
        )
        SELECT u.tenant, u.sequence, u.event_id, u.source, u.type, u.schema_version, u.occurred_at,
            p_recorded_at, u.actor_type, u.actor_id, u.actor_display_name, u.actor_ip, u.actor_user_agent,
            u.target_type, u.target_id, u.target_display_name, u.outcome, u.correlation_id, u.causation_id,
            u.traceparent, u.data, u.hash, u.previous_hash
        FROM unnest(
            p_tenant, sequences, p_event_id, p_source, p_type, p_schema_version, p_occurred_at,
            p_actor_type, p_actor_id, p_actor_display_name, p_actor_ip, p_actor_user_agent,
            p_target_type, p_target_id, p_target_display_name, p_outcome, p_correlation_id, p_causation_id,
            p_traceparent, p_data, hashes, previous
        ) WITH ORDINALITY AS u (
            tenant, sequence, event_id, source, type, schema_version, occurred_at,
            actor_type, actor_id, actor_display_name, actor_ip, actor_user_agent,
            target_type, target_id, target_display_name, outcome, correlation_id, causation_id,
            traceparent, data, hash, previous_hash, pos
        )
        ORDER BY u.pos;
    EXCEPTION WHEN unique_violation THEN
        -- Rolled back to the block's start: nothing of this attempt stays; the heads stay locked.
        refused := true;
    END;
    IF NOT refused THEN
        UPDATE chain_heads h SET last_sequence = head_sequences[s.slot], last_hash = head_hashes[s.slot]
        FROM unnest(tenants) WITH ORDINALITY AS s (tenant, slot)
        WHERE h.tenant = s.tenant;
        RETURN QUERY
            SELECT u.pos::integer, u.sequence, u.hash, u.previous_hash,
                NULL::varchar, NULL::bigint, NULL::varchar, NULL::varchar, NULL::varchar, NULL::integer,
                NULL::timestamptz, NULL::timestamptz, NULL::varchar, NULL::varchar, NULL::text, NULL::varchar,
                NULL::text, NULL::varchar, NULL::varchar, NULL::text, NULL::varchar, NULL::varchar, NULL::varchar,
                NULL::varchar, NULL::jsonb, NULL::varchar, NULL::varchar
            FROM unnest(sequences, hashes, previous) WITH ORDINALITY AS u (sequence, hash, previous_hash, pos)
            ORDER BY u.pos;
        RETURN;
    END IF;
    sequences := array_fill(NULL::bigint, ARRAY[n]);
    hashes := array_fill(NULL::text, ARRAY[n]);
    previous := array_fill(NULL::text, ARRAY[n]);
    PERFORM set_config('plan_cache_mode', 'force_custom_plan', true);  -- see the function's SET clause
    -- Each statement below sees what every earlier holder of these locks committed (READ COMMITTED).
    FOR item IN
        SELECT i.pos, i.tenant, e.sequence AS stored_sequence
        FROM unnest(p_tenant, p_event_id, p_source) WITH ORDINALITY AS i (tenant, event_id, source, pos)
        -- The key's index (tenant, event_id, source) probed on (tenant, event_id), source checked on the row:
        -- written plainly, a table without statistics makes (tenant, source, sequence) look as good, and
        -- that one reads every event of the source per probe.
        LEFT JOIN events e ON e.tenant = i.tenant AND e.event_id = i.event_id AND e.source || '' = i.source
        ORDER BY i.tenant, i.pos
    LOOP
        IF item.tenant IS DISTINCT FROM current_tenant THEN
            current_tenant := item.tenant;
            SELECT h.last_sequence, h.last_hash INTO STRICT head_sequence, head_hash
            FROM chain_heads h WHERE h.tenant = current_tenant;
        END IF;
        IF item.stored_sequence IS NOT NULL THEN
            stored[item.pos] := item.stored_sequence;
            any_stored := true;
            CONTINUE;
        END IF;
        previous[item.pos] := head_hash;
        head_sequence := head_sequence + 1;
        -- DESIGN.md: hex(SHA-256(previous_hash_hex_ascii || canonical_bytes)), the sequence spliced in.
        head_hash := encode(sha256(
            convert_to(head_hash, 'UTF8') || p_prefix[item.pos]
            || convert_to(head_sequence::text, 'UTF8') || p_suffix[item.pos]
        ), 'hex');
        sequences[item.pos] := head_sequence;
        hashes[item.pos] := head_hash;
    END LOOP;
    INSERT INTO events (
        tenant, sequence, event_id, source, type, schema_version, occurred_at, recorded_at,
        actor_type, actor_id, actor_display_name, actor_ip, actor_user_agent,
        target_type, target_id, target_display_name, outcome, correlation_id, causation_id, traceparent,
        data, hash, previous_hash
    )
    SELECT u.tenant, u.sequence, u.event_id, u.source, u.type, u.schema_version, u.occurred_at, p_recorded_at,
        u.actor_type, u.actor_id, u.actor_display_name, u.actor_ip, u.actor_user_agent,
        u.target_type, u.target_id, u.target_display_name, u.outcome, u.correlation_id, u.causation_id,
        u.traceparent, u.data, u.hash, u.previous_hash
    FROM unnest(
        p_tenant, sequences, p_event_id, p_source, p_type, p_schema_version, p_occurred_at,
        p_actor_type, p_actor_id, p_actor_display_name, p_actor_ip, p_actor_user_agent,
        p_target_type, p_target_id, p_target_display_name, p_outcome, p_correlation_id, p_causation_id,
        p_traceparent, p_data, hashes, previous
    ) WITH ORDINALITY AS u (
        tenant, sequence, event_id, source, type, schema_version, occurred_at,
        actor_type, actor_id, actor_display_name, actor_ip, actor_user_agent,
        target_type, target_id, target_display_name, outcome, correlation_id, causation_id,
        traceparent, data, hash, previous_hash, pos
    )
    WHERE u.sequence IS NOT NULL
    ORDER BY u.pos;
    UPDATE chain_heads h SET last_sequence = x.sequence, last_hash = x.hash
    FROM (
        SELECT DISTINCT ON (u.tenant) u.tenant, u.sequence, u.hash
        FROM unnest(p_tenant, sequences, hashes) AS u (tenant, sequence, hash)
        WHERE u.sequence IS NOT NULL
        ORDER BY u.tenant, u.sequence DESC
    ) AS x
    WHERE h.tenant = x.tenant;
    IF NOT any_stored THEN
        -- Every event is new (the usual batch): its new link, no stored row to read back.
        RETURN QUERY
            SELECT u.pos::integer, u.sequence, u.hash, u.previous_hash,
                NULL::varchar, NULL::bigint, NULL::varchar, NULL::varchar, NULL::varchar, NULL::integer,
                NULL::timestamptz, NULL::timestamptz, NULL::varchar, NULL::varchar, NULL::text, NULL::varchar,
                NULL::text, NULL::varchar, NULL::varchar, NULL::text, NULL::varchar, NULL::varchar, NULL::varchar,
                NULL::varchar, NULL::jsonb, NULL::varchar, NULL::varchar
            FROM unnest(sequences, hashes, previous) WITH ORDINALITY AS u (sequence, hash, previous_hash, pos)
            ORDER BY u.pos;
        RETURN;
    END IF;
    RETURN QUERY
        SELECT u.pos::integer, u.sequence, u.hash, u.previous_hash,
            e.tenant, e.sequence, e.event_id, e.source, e.type, e.schema_version, e.occurred_at, e.recorded_at,
            e.actor_type, e.actor_id, e.actor_display_name, e.actor_ip, e.actor_user_agent,
            e.target_type, e.target_id, e.target_display_name, e.outcome, e.correlation_id, e.causation_id,
            e.traceparent, e.data, e.hash, e.previous_hash
        FROM unnest(p_tenant, sequences, hashes, previous, stored) WITH ORDINALITY
            AS u (tenant, sequence, hash, previous_hash, stored_sequence, pos)
        LEFT JOIN LATERAL (
            SELECT * FROM events e
            WHERE u.stored_sequence IS NOT NULL AND e.tenant = u.tenant AND e.sequence = u.stored_sequence
        ) AS e ON true
        ORDER BY u.pos;
END $$

"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CREATE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        previous = importlib.import_module("app.store.migrations.versions.0005_append_without_lookup")
        op.execute(previous.CREATE)
