"""Demo data: realistic, correlated flows for tenant ``demo``, recorded through the one write path.

Every flow shares a correlation id, and each step names its cause, so the
demo shows causation chains across services (order → payment → refund,
console action → role grant, failed sign-ins → account lock …).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.keys import authenticate
from app.auth.principal import Principal
from app.config import Settings
from app.demo_keys import DemoKeys, demo_keys, keys_path
from app.ingest import Rejected, Submission, record_events
from app.store.append import Accepted, Duplicate
from app.store.engine import create_engine
from app.store.read import TenantReader

TENANT = "demo"
FIRST_EVENT_ID = "demo00001-1"
SOURCES = ["identity", "access", "checkout", "payments", "console", "exports"]
USERS = [f"u_{n}" for n in range(1, 41)]
ADMINS = ["u_admin_1", "u_admin_2"]
AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64) Firefox/131.0",
    "Mozilla/5.0 (Macintosh) Safari/17.4",
    "Mozilla/5.0 (iPhone) Mobile/15E148",
]


class Flow:
    """Builds one flow's submissions: consecutive steps, one correlation id, causes linked."""

    def __init__(self, rng: random.Random, number: int, start: dt.datetime) -> None:
        self.rng = rng
        self.prefix = f"demo{number:05d}"
        self.correlation_id = f"corr-{self.prefix}"
        self.at = start
        self.steps: list[Submission] = []
        self.trace = f"{rng.getrandbits(128):032x}"

    def step(
        self,
        source: str,
        actor: dict[str, Any],
        member: str,
        data: dict[str, Any],
        *,
        cause: str | None = None,
        target: dict[str, Any] | None = None,
        outcome: str = "SUCCESS",
    ) -> str:
        self.at += dt.timedelta(seconds=self.rng.randint(1, 90))
        event_id = f"{self.prefix}-{len(self.steps) + 1}"
        envelope = {
            "event_id": event_id,
            "source": source,
            "occurred_at": self.at,
            "tenant": TENANT,
            "actor": actor,
            "target": target,
            "outcome": outcome,
            "correlation_id": self.correlation_id,
            "causation_id": cause,
            "traceparent": f"00-{self.trace}-{self.rng.getrandbits(64) or 1:016x}-01",
        }
        self.steps.append(Submission(envelope=envelope, member=member, data=data))
        return event_id


def _user(rng: random.Random, user: str) -> dict[str, Any]:
    return {
        "type": "USER",
        "id": user,
        "display_name": user.replace("u_", "User "),
        "ip": f"198.51.100.{rng.randint(1, 254)}",
        "user_agent": rng.choice(AGENTS),
    }


def _service(name: str) -> dict[str, Any]:
    return {"type": "SERVICE", "id": name}


def sign_in(flow: Flow, user: str) -> None:
    method = flow.rng.choice(["PASSWORD", "SSO", "PASSKEY", "MAGIC_LINK"])
    flow.step(
        "identity",
        _user(flow.rng, user),
        "userSignedIn",
        {"method": method, "mfa": method == "PASSWORD", "session_id": f"s_{flow.prefix}"},
        target={"type": "user", "id": user},
    )


def failed_sign_ins(flow: Flow, user: str) -> None:
    actor = _user(flow.rng, user)
    attempts = flow.rng.randint(1, 5)
    for attempt in range(1, attempts + 1):
        reason = "ACCOUNT_LOCKED" if attempt == 5 else flow.rng.choice(["BAD_CREDENTIALS", "MFA_FAILED"])
        flow.step(
            "identity",
            actor,
            "userSignInFailed",
            {"method": "PASSWORD", "failure_reason": reason, "attempt": attempt},
            target={"type": "user", "id": user},
            outcome="FAILURE",
        )
    if attempts < 5:
        sign_in(flow, user)


def role_change(flow: Flow, admin: str, user: str) -> None:
    actor = _user(flow.rng, admin)
    role = flow.rng.choice(["billing-admin", "support", "auditor", "developer"])
    change = flow.step(
        "console",
        actor,
        "settingChanged",
        {
            "setting": f"members.{user}.roles",
            "changes": [{"field": "roles", "before": "viewer", "after": f"viewer,{role}"}],
        },
        target={"type": "user", "id": user},
    )
    grant = flow.step(
        "access",
        _service("access-control"),
        "roleGranted",
        {"role": role, "grantee_id": user, "scope": "org"},
        cause=change,
        target={"type": "user", "id": user},
    )
    if flow.rng.random() < 0.4:
        flow.step(
            "access",
            actor,
            "roleRevoked",
            {"role": role, "grantee_id": user, "scope": "org", "reason": "temporary access ended"},
            cause=grant,
            target={"type": "user", "id": user},
        )


def order(flow: Flow, user: str) -> None:
    order_id = f"o_{flow.prefix}"
    amount = flow.rng.randint(500, 250_000)
    currency = flow.rng.choice(["EUR", "EUR", "USD", "GBP"])
    money = {"amount_minor": amount, "currency": currency}
    placed = flow.step(
        "checkout",
        _user(flow.rng, user),
        "orderPlaced",
        {
            "order_id": order_id,
            "total": money,
            "item_count": flow.rng.randint(1, 6),
            "channel": flow.rng.choice(["WEB", "MOBILE", "POS", "API"]),
        },
        target={"type": "order", "id": order_id},
    )
    cause = placed
    if flow.rng.random() < 0.15:
        cause = flow.step(
            "payments",
            _service("payments-worker"),
            "paymentFailed",
            {
                "payment_id": f"p_{flow.prefix}_1",
                "order_id": order_id,
                "amount": money,
                "failure_code": flow.rng.choice(["card_declined", "insufficient_funds"]),
            },
            cause=placed,
            target={"type": "order", "id": order_id},
            outcome="FAILURE",
        )
    payment = flow.step(
        "payments",
        _service("payments-worker"),
        "paymentCaptured",
        {
            "payment_id": f"p_{flow.prefix}",
            "order_id": order_id,
            "amount": money,
            "provider": flow.rng.choice(["acmepay", "stripe", "adyen"]),
        },
        cause=cause,
        target={"type": "order", "id": order_id},
    )
    if flow.rng.random() < 0.2:
        flow.step(
            "payments",
            _user(flow.rng, "u_support_1"),
            "refundIssued",
            {
                "refund_id": f"r_{flow.prefix}",
                "payment_id": f"p_{flow.prefix}",
                "amount": {"amount_minor": amount // 2, "currency": currency},
                "reason": flow.rng.choice(["damaged", "late delivery", None]),
            },
            cause=payment,
            target={"type": "order", "id": order_id},
        )


def export(flow: Flow, admin: str) -> None:
    actor = _user(flow.rng, admin)
    key = flow.step(
        "identity",
        actor,
        "apiKeyCreated",
        {
            "key_id": f"k_{flow.prefix}",
            "name": "nightly export",
            "scopes": ["orders:read"],
            "expires_at": flow.at + dt.timedelta(days=30),
        },
    )
    dataset = flow.rng.choice(["orders", "customers", "payments"])
    done = flow.step(
        "exports",
        _service("export-runner"),
        "dataExported",
        {
            "dataset": dataset,
            "format": flow.rng.choice(["CSV", "JSON", "PARQUET"]),
            "record_count": flow.rng.randint(100, 90_000),
            "destination": f"s3://acme-exports/{dataset}/{flow.prefix}",
        },
        cause=key,
    )
    flow.step(
        "identity", actor, "apiKeyRevoked", {"key_id": f"k_{flow.prefix}", "reason": "export finished"}, cause=done
    )


def setting_change(flow: Flow, admin: str) -> None:
    area = flow.rng.choice(["security", "billing", "notifications"])
    if area == "security":
        changes = [
            {"field": "mfa_required", "before": "false", "after": "true"},
            {"field": "session_timeout_minutes", "before": "720", "after": "60"},
            {"field": "allowed_ip_ranges", "before": None, "after": "198.51.100.0/24"},
        ]
    elif area == "billing":
        changes = [
            {"field": "invoice_email", "before": "finance@example.com", "after": "ap@example.com"},
            {"field": "currency", "before": "EUR", "after": "USD"},
        ]
    else:
        changes = [
            {"field": "weekly_digest", "before": "true", "after": "false"},
            {"field": "alert_channel", "before": "email", "after": "slack"},
        ]
    flow.step(
        "console",
        _user(flow.rng, admin),
        "settingChanged",
        {"setting": f"org.{area}", "changes": changes},
        target={"type": "setting", "id": f"org.{area}"},
    )


def flows(approximate_events: int, seed: int = 7) -> Iterator[Flow]:
    rng = random.Random(seed)
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - dt.timedelta(days=30)
    produced, number = 0, 0
    while produced < approximate_events:
        number += 1
        flow = Flow(rng, number, start + dt.timedelta(days=29) * produced / approximate_events)
        kind = rng.choices(["sign_in", "failed", "role", "order", "export", "setting"], weights=[30, 8, 6, 45, 4, 3])[0]
        user, admin = rng.choice(USERS), rng.choice(ADMINS)
        if kind == "sign_in":
            sign_in(flow, user)
        elif kind == "failed":
            failed_sign_ins(flow, user)
        elif kind == "role":
            role_change(flow, admin, user)
        elif kind == "order":
            sign_in(flow, user)
            order(flow, user)
        elif kind == "setting":
            setting_change(flow, admin)
        else:
            export(flow, admin)
        produced += len(flow.steps)
        yield flow


async def seed_demo(settings: Settings, approximate_events: int = 3000, keys_file: Path | None = None) -> DemoKeys:
    """Record the demo flows once (a tenant that has them is left alone); return the demo's reader and writer keys.

    The keys are kept in ``keys_file`` (default: beside the database, see app/demo_keys.py) and reused.
    """
    engine = create_engine(settings.database_url)
    try:
        keys = await demo_keys(engine, keys_file or keys_path(settings.database_url), TENANT, SOURCES)
        if await TenantReader(engine, TENANT).by_event_ids([FIRST_EVENT_ID]):
            return keys
        writer = await authenticate(engine, keys.writer)
        if writer is None:
            raise RuntimeError("the demo writer key was revoked while the demo was being seeded")
        batch: list[Submission] = []
        for flow in flows(approximate_events):
            batch += flow.steps
            if len(batch) >= 500:
                await _record(engine, writer, batch)
                batch = []
        await _record(engine, writer, batch)
        return keys
    finally:
        await engine.dispose()


async def _record(engine: AsyncEngine, writer: Principal, batch: list[Submission]) -> None:
    results = await record_events(engine, writer, batch, max_batch=len(batch))
    rejected = [r for r in results if isinstance(r, Rejected)]
    if rejected:
        raise RuntimeError(f"demo events were rejected: {rejected[:3]}")
    assert all(isinstance(r, Accepted | Duplicate) for r in results)
