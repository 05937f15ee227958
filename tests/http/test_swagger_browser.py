"""Swagger UI at ``/docs`` works on a machine with no internet: a real headless Chromium, outside network closed.

The page is loaded from the gateway (uvicorn on 127.0.0.1), a key is entered through
"Authorize", an event is sent with "Try it out" on ``POST /v1/events`` and read back
with ``GET /v1/events``. Every request must stay on 127.0.0.1, nothing may fail to
load, and the console must stay clean. Reuses the CDP helpers of the GraphiQL browser
test. Needs Chromium (skipped without, unless ``AUDIT_REQUIRE_CHROMIUM=1``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from app.auth.keys import create_key
from app.config import Settings
from app.http.swagger import STATIC_DIR, STATIC_URL_PREFIX, docs_html
from app.server import create_app
from app.store.engine import create_engine
from app.store.migrate import upgrade
from tests.graphiql.test_browser import _CDP, STEP_TIMEOUT, _chromium, _find_chromium, _serve
from tests.helpers import SOURCES

TENANT = "swagger"
SCREENSHOT_COPY = Path("/tmp/swagger-offline.png")
ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-init.js")
_ABSOLUTE_IMPORT = re.compile(r"""(?:\bimport\s*\(?|\bfrom|\bimportScripts\s*\()\s*["'`](?:[a-z][a-z0-9+.-]*:)?//""")


def test_page_references_only_local_assets() -> None:
    html = docs_html()
    refs = re.findall(r"""\b(?:src|href)\s*=\s*["']([^"']*)["']""", html)
    assert sorted(refs) == sorted(["data:,", *(f"{STATIC_URL_PREFIX}/{name}?v=5.35.0" for name in ASSETS)])
    assert "//" not in html.replace("<!doctype html>", "")
    versions = (STATIC_DIR / "VERSIONS.txt").read_text()
    assert "swagger-ui-dist  5.35.0" in versions and "Apache-2.0" in (STATIC_DIR / "LICENSES.txt").read_text()
    for name in ASSETS:
        text = (STATIC_DIR / name).read_text(encoding="utf-8")
        assert "sourceMappingURL" not in text, f"{name} would make the browser fetch a missing .map"
        assert not _ABSOLUTE_IMPORT.search(text), name
    css = (STATIC_DIR / "swagger-ui.css").read_text(encoding="utf-8")
    assert all(url.startswith(("data:", "#")) for url in re.findall(r"""url\(\s*["']?([^"')\s]{0,16})""", css))


def _key_and_app() -> tuple[str, object]:
    url = f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='swagger-browser-')}/audit.db"

    async def prepare() -> str:
        engine = create_engine(url)
        try:
            await upgrade(engine)
            return (
                await create_key(
                    engine, name="browser", tenants=[TENANT], scopes=["events:read", "events:write"], sources=SOURCES
                )
            )[1]
        finally:
            await engine.dispose()

    return asyncio.run(prepare()), create_app(Settings(database_url=url))


def _set_input(cdp: _CDP, selector: str, text: str) -> None:
    """Type into a React-controlled input or textarea (native setter + input event, as a user's typing)."""
    cdp.wait_for(
        f"""(() => {{
            const el = document.querySelector({json.dumps(selector)});
            if (!el) return false;
            const proto = el.tagName === "TEXTAREA" ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
            Object.getOwnPropertyDescriptor(proto, "value").set.call(el, {json.dumps(text)});
            el.dispatchEvent(new Event("input", {{bubbles: true}}));
            el.dispatchEvent(new Event("change", {{bubbles: true}}));
            return el.value === {json.dumps(text)};
        }})()""",
        f"input {selector}",
    )


def _text(cdp: _CDP, selector: str) -> str:
    return cdp.evaluate(f"document.querySelector({json.dumps(selector)})?.innerText || ''") or ""


def _try_it_out(cdp: _CDP, operation: str, body: str | None = None) -> str:
    """Open an operation, press "Try it out" (with ``body``), "Execute"; returns the response block's text."""
    block = f"#operations-default-{operation}"
    cdp.click(f"{block} .opblock-summary")
    cdp.click(f"{block} .try-out__btn")
    if body is not None:
        _set_input(cdp, f"{block} textarea.body-param__text", body)
    cdp.click(f"{block} button.execute")
    status = f"{block} .live-responses-table .response .response-col_status"
    cdp.wait_for(
        f"/^\\s*\\d{{3}}/.test(document.querySelector({json.dumps(status)})?.innerText || '')",
        f"{operation}'s response",
    )
    return _text(cdp, f"{block} .live-responses-table")


def test_swagger_ui_records_and_reads_back_offline_in_chromium(tmp_path: Path) -> None:
    chromium = _find_chromium()
    if chromium is None:
        if os.environ.get("AUDIT_REQUIRE_CHROMIUM") == "1":
            pytest.fail("AUDIT_REQUIRE_CHROMIUM=1 but no Chromium binary on PATH (apt-get install -y chromium)")
        pytest.skip("no Chromium binary on PATH (chromium / chromium-browser); apt-get install -y chromium")
    from websockets.sync.client import connect

    key, app = _key_and_app()
    event_id = f"swagger_{os.getpid()}"
    occurred = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    event = {
        "eventId": event_id,
        "type": "order.placed",
        "source": "checkout",
        "occurredAt": occurred,
        "actor": {"type": "USER", "id": "u_42"},
        "data": {
            "orderId": "o_1",
            "total": {"amountMinor": "1999", "currency": "EUR"},
            "itemCount": 2,
            "channel": "WEB",
        },
    }
    screenshot = tmp_path / "swagger-offline.png"
    with (
        _serve(app) as origin,  # type: ignore[arg-type]
        _chromium(chromium, tmp_path / "chromium-profile") as browser_url,
        connect(browser_url, max_size=None, proxy=None, open_timeout=STEP_TIMEOUT) as ws,
    ):
        cdp = _CDP(ws)
        target = cdp.call("Target.createTarget", {"url": "about:blank"}, browser=True)["targetId"]
        cdp.session_id = cdp.call("Target.attachToTarget", {"targetId": target, "flatten": True}, browser=True)[
            "sessionId"
        ]
        for domain in ("Network", "Page", "Runtime", "Log"):
            cdp.call(f"{domain}.enable")
        navigated = cdp.call("Page.navigate", {"url": f"{origin}/docs"})
        assert "errorText" not in navigated, navigated

        # 1. Rendered from /openapi.json: the three operations.
        cdp.wait_for("document.querySelectorAll('.swagger-ui .opblock').length === 3", "the three operations")
        assert "Audit gateway HTTP API" in _text(cdp, ".swagger-ui .info")

        # 2. Authorize with the key.
        cdp.click(".swagger-ui .auth-wrapper .btn.authorize")
        _set_input(cdp, ".auth-container input[type=text], .auth-container input[type=password]", key)
        cdp.click(".auth-container .auth-btn-wrapper .btn.modal-btn.auth.authorize")
        cdp.wait_for("!!document.querySelector('.auth-container .btn.modal-btn.auth.button')", "Logout button")
        cdp.click(".auth-container .btn-done")

        # 3. Send an event; 4. read it back.
        recorded = _try_it_out(cdp, "recordEvents", json.dumps(event, indent=2))
        assert '"status": "accepted"' in recorded and event_id in recorded, recorded
        listed = _try_it_out(cdp, "listEvents")
        assert event_id in listed and '"amountMinor": "1999"' in listed, listed

        cdp.pump(0.5)
        screenshot.write_bytes(base64.b64decode(cdp.call("Page.captureScreenshot", {"format": "png"})["data"]))
        events = list(cdp.events)
        probe = cdp.evaluate(
            # No answer within 10 s is blocked too (the dead proxy may hold the request instead of refusing it).
            "Promise.race([fetch('https://example.com/', {mode: 'no-cors', cache: 'no-store'})"
            ".then(() => 'reached', e => 'blocked: ' + e),"
            " new Promise(r => setTimeout(() => r('blocked: no answer in 10 s'), 10000))])"
        )
        assert probe.startswith("blocked"), f"outside network reachable from the test browser: {probe}"

    with contextlib.suppress(OSError):
        shutil.copyfile(screenshot, SCREENSHOT_COPY)

    # 5. Everything stayed on the gateway, loaded, and the console is clean.
    requests = [e["params"]["request"] for e in events if e["method"] == "Network.requestWillBeSent"]
    urls = [request["url"] for request in requests]
    foreign = [u for u in urls if not (u.startswith(f"{origin}/") or u.startswith(("data:", "blob:", "about:")))]
    assert not foreign, f"requests left 127.0.0.1: {foreign}"
    for name in ASSETS:
        assert any(u.startswith(f"{origin}{STATIC_URL_PREFIX}/{name}") for u in urls), f"{name} not loaded"
    assert f"{origin}/openapi.json" in urls
    sent = [(r["method"], r["url"].split("?")[0]) for r in requests if "/v1/events" in r["url"]]
    assert sent == [("POST", f"{origin}/v1/events"), ("GET", f"{origin}/v1/events")], sent
    failed = [e["params"] for e in events if e["method"] == "Network.loadingFailed"]
    assert not failed, f"failed loads: {failed}"
    bad_status = [
        (e["params"]["response"]["url"], e["params"]["response"]["status"])
        for e in events
        if e["method"] == "Network.responseReceived" and e["params"]["response"]["status"] >= 400
    ]
    assert not bad_status, f"HTTP errors: {bad_status}"
    errors = [
        e["params"] for e in events if e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] == "error"
    ]
    errors += [
        e["params"] for e in events if e["method"] == "Runtime.consoleAPICalled" and e["params"]["type"] == "error"
    ]
    errors += [e["params"] for e in events if e["method"] == "Runtime.exceptionThrown"]
    assert not errors, f"browser errors: {errors}"
