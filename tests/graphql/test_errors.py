"""Error responses stay clean: codes kept, nothing internal, and always encodable."""

from __future__ import annotations

from tests.helpers import Api


async def test_a_lone_surrogate_echoed_in_an_error_is_still_a_clean_response(api: Api) -> None:
    body = b'{"query":"query($o: Outcome){ events(filter:{outcome:$o}){ totalCount } }","variables":{"o":"\\ud800"}}'
    response = await api.client.post(
        "/graphql",
        content=body,
        headers={"Authorization": f"Bearer {api.keys.reader}", "Content-Type": "application/json"},
    )
    assert response.status_code == 200
    (error,) = response.json()["errors"]
    assert "\\ud800" in error["message"] and error["extensions"]["code"]


async def test_unknown_fields_are_validation_errors_with_a_code(api: Api) -> None:
    (error,) = await api.errors("{ evnts { totalCount } }", key="reader")
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_missing_and_unknown_keys_are_unauthenticated(api: Api) -> None:
    for key in (None, "nope"):
        if key == "nope":
            api.keys.nope = "agw_0000000000000000_not-a-real-secret"  # type: ignore[attr-defined]
        (error,) = await api.errors("{ events(first: 1) { totalCount } }", key=key)
        assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_missing_scope_is_forbidden(api: Api) -> None:
    (error,) = await api.errors("{ events(first: 1) { totalCount } }", key="writer")
    assert error["extensions"]["code"] == "FORBIDDEN"
