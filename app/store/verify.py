"""Recompute a tenant's hash chain from the rows, as any outside verifier could."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.errors import LimitExceeded
from app.store.chain import GENESIS_HASH, link, record_canonical
from app.store.records import EventRecord
from app.store.tables import chain_heads, events

CHUNK = 1000
"""Rows per statement; between chunks the event loop serves other requests (hashing 1000 rows takes ~20 ms)."""


@dataclass(frozen=True, slots=True)
class ChainReport:
    tenant: str
    ok: bool
    checked_count: int
    first_broken_sequence: int | None
    head_sequence: int | None
    head_hash: str | None


async def verify_chain(
    engine: AsyncEngine,
    tenant: str,
    from_sequence: int | None = None,
    to_sequence: int | None = None,
    *,
    max_range: int | None = None,
) -> ChainReport:
    """Walk the chain in sequence order; the first row that does not link is the break.

    A row breaks the chain when its sequence is not the next one (a row went
    missing), its previous hash is not the hash before it, or its own hash is
    not SHA-256 of that previous hash and its canonical bytes.

    ``max_range`` bounds how many sequences one call may cover (the API passes
    ``AUDIT_MAX_VERIFY_RANGE``; the CLI passes nothing and checks everything).
    """
    start = max(from_sequence or 1, 1)
    async with engine.connect() as connection:
        head = (await connection.execute(select(chain_heads).where(chain_heads.c.tenant == tenant))).first()
        head_sequence, head_hash = (head.last_sequence, head.last_hash) if head else (0, GENESIS_HASH)
        end = head_sequence if to_sequence is None else min(to_sequence, head_sequence)
        if max_range is not None and end - start + 1 > max_range:
            raise LimitExceeded(
                f"verifyIntegrity checks at most {max_range} sequences per call (AUDIT_MAX_VERIFY_RANGE); "
                f"sequences {start} to {end} are {end - start + 1}: give fromSequence and toSequence "
                f"and verify the chain in parts, or run `audit-gateway verify`"
            )
        expected_previous = GENESIS_HASH
        if start > 1:
            before = (
                await connection.execute(
                    select(events.c.hash).where(events.c.tenant == tenant, events.c.sequence == start - 1)
                )
            ).scalar_one_or_none()
            expected_previous = before if before is not None else ""
        checked, expected_sequence, broken = 0, start, None
        while broken is None and expected_sequence <= end:
            statement = (
                select(events)
                .where(events.c.tenant == tenant, events.c.sequence >= expected_sequence, events.c.sequence <= end)
                .order_by(events.c.sequence)
                .limit(CHUNK)
            )
            records = [EventRecord(**row._mapping) for row in await connection.execute(statement)]
            if not records:
                broken = expected_sequence  # rows up to the head are missing
                break
            for record in records:
                checked += 1
                linked = record.sequence == expected_sequence and record.previous_hash == expected_previous
                if not linked or link(record.previous_hash, record_canonical(record)) != record.hash:
                    broken = expected_sequence if record.sequence != expected_sequence else record.sequence
                    break
                expected_previous, expected_sequence = record.hash, record.sequence + 1
        if broken is None and to_sequence is None and end == head_sequence and expected_previous != head_hash:
            broken = head_sequence  # the head no longer matches the last row
    return ChainReport(
        tenant=tenant,
        ok=broken is None,
        checked_count=checked,
        first_broken_sequence=broken,
        head_sequence=head_sequence or None,
        head_hash=head_hash if head_sequence else None,
    )


async def tenants(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        return list((await connection.execute(select(chain_heads.c.tenant).order_by(chain_heads.c.tenant))).scalars())
