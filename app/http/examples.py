"""One example per contract version, built from the contract models (so an example that breaks a rule fails here).

The OpenAPI document takes every example from this one place. When the
contract catalog carries its own examples, this module should read them from there.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.contracts import CURRENT, Contract, access, commerce, data, identity
from app.contracts.registry import PREVIOUS
from app.contracts.values import BigInt, ContractModel, Money
from app.http.wire import data_json

_EUR_1999 = Money(amount_minor=BigInt(1999), currency="EUR")

DATA: dict[tuple[str, int], ContractModel] = {
    ("user.signed_in", 1): identity.UserSignedInData(method=identity.SignInMethod.SSO, mfa=True, session_id="s_9"),
    ("user.sign_in_failed", 1): identity.UserSignInFailedData(
        method=identity.SignInMethod.PASSWORD, failure_reason=identity.SignInFailureReason.BAD_CREDENTIALS, attempt=2
    ),
    ("role.granted", 1): access.RoleGrantedData(role="billing-admin", grantee_id="u_42", scope="acme"),
    ("role.revoked", 1): access.RoleRevokedData(role="billing-admin", grantee_id="u_42", reason="left the team"),
    ("api_key.created", 1): identity.ApiKeyCreatedData(
        key_id="k_1", name="ci deploys", scopes=["events:write"], expires_at=dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    ),
    ("api_key.revoked", 1): identity.ApiKeyRevokedData(key_id="k_1", reason="rotated"),
    ("order.placed", 1): commerce.OrderPlacedDataV1(order_id="o_1", total=_EUR_1999, item_count=2),
    ("order.placed", 2): commerce.OrderPlacedData(
        order_id="o_1", total=_EUR_1999, item_count=2, channel=commerce.SalesChannel.WEB
    ),
    ("payment.captured", 1): commerce.PaymentCapturedData(
        payment_id="p_1", order_id="o_1", amount=_EUR_1999, provider="acmepay"
    ),
    ("payment.failed", 1): commerce.PaymentFailedData(
        payment_id="p_2", order_id="o_1", amount=_EUR_1999, failure_code="card_declined"
    ),
    ("refund.issued", 1): commerce.RefundIssuedData(
        refund_id="r_1", payment_id="p_1", amount=Money(amount_minor=BigInt(500), currency="EUR"), reason="damaged"
    ),
    ("data.exported", 1): data.DataExportedData(
        dataset="customers", format=data.ExportFormat.CSV, record_count=1200, destination="s3://exports/customers"
    ),
    ("setting.changed", 1): data.SettingChangedData(
        setting="checkout.max_items", changes=[data.FieldChange(field="value", before="20", after="50")]
    ),
}

ENVELOPE: dict[str, Any] = {
    "eventId": "ord_1",
    "source": "checkout",
    "occurredAt": "2026-01-24T10:00:00Z",
    "actor": {"type": "USER", "id": "u_42", "ip": "203.0.113.7"},
    "target": {"type": "order", "id": "o_1"},
    "outcome": "SUCCESS",
    "correlationId": "c_77",
}


def data_example(contract: Contract) -> dict[str, Any]:
    return data_json(DATA[(contract.name, contract.version)])


def event_example(contract: Contract) -> dict[str, Any]:
    """An event object as POST /v1/events takes it."""
    return {**ENVELOPE, "type": contract.name, "data": data_example(contract)}


def cloudevent_example(contract: Contract) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": ENVELOPE["eventId"],
        "source": ENVELOPE["source"],
        "type": contract.name,
        "time": ENVELOPE["occurredAt"],
        "datacontenttype": "application/json",
        "actortype": "USER",
        "actorid": "u_42",
        "targettype": "order",
        "targetid": "o_1",
        "correlationid": "c_77",
        "data": data_example(contract),
    }


def _complete() -> None:
    missing = {(c.name, c.version) for c in CURRENT + PREVIOUS} - set(DATA)
    if missing:
        raise RuntimeError(f"contracts without an example in app/http/examples.py: {sorted(missing)}")


_complete()
