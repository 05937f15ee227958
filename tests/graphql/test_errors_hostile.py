"""Masking (app/graphql/errors.py): an unexpected failure is INTERNAL with an id, logged, and survived; no SQL leaks."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from app.store.read import TenantReader
from tests.helpers import SQLITE_ONLY, Api, graphql, healthy

# The api fixture answers an unhandled exception with the 500 a server sends, which these tests refuse.
pytestmark = pytest.mark.hostile


@SQLITE_ONLY
async def test_an_unexpected_failure_is_masked_logged_with_its_id_and_survived(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def explode(*_: Any, **__: Any) -> None:
        raise RuntimeError("boom in /work/main/app/store/verify.py running SELECT secret_hash FROM api_keys")

    monkeypatch.setattr("app.graphql.query.verify_chain", explode)
    with caplog.at_level(logging.ERROR, logger="app.errors"):
        (error,) = (await graphql(api, "{ verifyIntegrity { ok } }"))["errors"]
    assert error["extensions"]["code"] == "INTERNAL", error
    error_id = error["extensions"]["errorId"]
    assert error["message"] == f"Internal error (id {error_id})." and "boom" not in error["message"]
    (logged,) = [r for r in caplog.records if error_id in r.getMessage()]
    assert logged.exc_info is not None and "boom" in str(logged.exc_info[1])
    await healthy(api)


@SQLITE_ONLY
async def test_a_database_error_is_masked_without_its_sql(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    async def fail(*_: Any, **__: Any) -> None:
        raise OperationalError("SELECT * FROM events WHERE tenant = ?", {"tenant": "x"}, Exception("disk I/O error"))

    monkeypatch.setattr(TenantReader, "page", fail)
    body = await graphql(api, "{ events(first: 1) { totalCount } }", key="reader")
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "INTERNAL" and "disk" not in json.dumps(body), body
    monkeypatch.undo()
    await healthy(api)
