"""GraphiQL works on a machine with no internet: a real headless Chromium, outside network closed.

The browser test serves ``make_app()`` with uvicorn on 127.0.0.1, drives Chromium over the
Chrome DevTools Protocol (CDP, via a websocket), runs ``QUERY`` through GraphiQL's UI with an
``Authorization`` header typed into the Headers editor, and checks the response pane shows
``EXPECTED``. Every request the page makes must stay on 127.0.0.1 (or ``data:``/``blob:``) and
no asset may fail to load.

To run it against the real gateway, change ``make_app()`` (and ``QUERY``/``EXPECTED``/
``AUTH_HEADERS`` if needed): the app only has to serve GraphiQL on ``GET /graphql`` (Accept:
text/html), its static files under ``/graphiql/static`` and operations on ``POST /graphql``.

Needs a Chromium binary (``apt-get install -y chromium``; skipped otherwise, unless
``AUDIT_REQUIRE_CHROMIUM=1``, which makes a missing browser a failure) and the ``websockets``
package (>= 15).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.types import ASGIApp

from app.auth.keys import create_key
from app.config import Settings
from app.graphiql import STATIC_DIR, STATIC_URL_PREFIX, graphiql_html
from app.server import create_app
from app.store.engine import create_engine
from app.store.migrate import upgrade

# ---------------------------------------------------------------------------------------------
# The app under test. Swap ``make_app`` (one line) to test the real gateway instead.
# ---------------------------------------------------------------------------------------------

TENANT = "browser"
AUTH_HEADERS: dict[str, str] = {}  # set by make_app(): a real read key of the gateway
QUERY = "{ verifyIntegrity { tenant ok } }"
EXPECTED: dict[str, Any] = {"data": {"verifyIntegrity": {"tenant": TENANT, "ok": True}}}


def make_app() -> ASGIApp:
    """The real gateway on a fresh SQLite database, with a read key a newcomer would paste."""
    directory = tempfile.mkdtemp(prefix="graphiql-browser-")
    url = f"sqlite+aiosqlite:///{directory}/audit.db"

    async def prepare() -> str:
        engine = create_engine(url)
        try:
            await upgrade(engine)
            return (await create_key(engine, name="browser", tenants=[TENANT], scopes=["events:read"], sources=[]))[1]
        finally:
            await engine.dispose()

    AUTH_HEADERS["Authorization"] = f"Bearer {asyncio.run(prepare())}"
    return create_app(Settings(database_url=url))


# ---------------------------------------------------------------------------------------------
# Static checks (no browser needed)
# ---------------------------------------------------------------------------------------------

ASSETS = ("react.production.min.js", "react-dom.production.min.js", "graphiql.min.js", "graphiql-init.js")
STYLES = ("graphiql.min.css",)
# `import x from "https://..."`, `import("//host/x")`, `export * from "http://..."`, importScripts(...)
_ABSOLUTE_IMPORT = re.compile(
    r"""(?:\bimport\s*\(?|\bfrom|\bimportScripts\s*\()\s*["'`](?:[a-z][a-z0-9+.-]*:)?//""", re.I
)


def _page_config(html: str) -> dict[str, Any]:
    match = re.search(r'<script id="graphiql-config" type="application/json">(.*?)</script>', html, re.S)
    assert match, "config block missing"
    return json.loads(match.group(1))


def test_page_loads_only_local_assets() -> None:
    html = graphiql_html()
    refs = re.findall(r"""\b(?:src|href)\s*=\s*["']([^"']*)["']""", html)
    assert refs, "the page references no assets"
    for ref in refs:
        assert ref == "data:," or ref.startswith(f"{STATIC_URL_PREFIX}/"), ref
    for name in (*ASSETS, *STYLES):
        assert f"{STATIC_URL_PREFIX}/{name}" in html
    assert "//" not in html, "protocol-relative or absolute URL in the page"
    assert "importmap" not in html.lower()
    assert not _ABSOLUTE_IMPORT.search(html)
    config = _page_config(html)
    assert config["endpoint"] == "/graphql"
    assert config["defaultHeaders"] is None
    assert "Headers" in config["defaultQuery"] and "Authorization" in config["defaultQuery"]
    assert all(line.startswith("#") for line in config["defaultQuery"].splitlines() if line)


def test_vendored_files_are_offline_and_small() -> None:
    versions = (STATIC_DIR / "VERSIONS.txt").read_text()
    for package in ("graphiql", "react ", "react-dom", "MIT"):
        assert package in versions
    total = 0
    for name in (*ASSETS, *STYLES):
        text = (STATIC_DIR / name).read_text(encoding="utf-8")
        total += len(text.encode())
        assert not _ABSOLUTE_IMPORT.search(text), f"{name} imports an absolute URL"
        assert "sourceMappingURL" not in text, f"{name} would make the browser fetch a missing .map"
    css = (STATIC_DIR / "graphiql.min.css").read_text(encoding="utf-8")
    assert "@import" not in css
    urls = re.findall(r"""url\(\s*["']?([^"')\s]{0,16})""", css)
    assert urls, "expected the fonts to be embedded"
    assert all(u.startswith(("data:", "#")) for u in urls), sorted({u for u in urls if not u.startswith("data:")})
    assert total < 3_000_000, f"vendored assets too large: {total} bytes"


def test_interpolated_values_are_escaped() -> None:
    evil = '{"Authorization": "Bearer </script><script>alert(1)</script><!--\u2028&amp;"}'
    html = graphiql_html(endpoint="/graphql", default_headers=evil)
    body = html.split('type="application/json">', 1)[1].split("</script>", 1)[0]
    assert "<" not in body and ">" not in body and "&" not in body and "\u2028" not in body
    assert json.loads(_page_config(html)["defaultHeaders"]) == json.loads(evil)
    # a hostile endpoint can neither leave the JSON block nor point at another host
    html = graphiql_html(endpoint="//evil.example/</script>")
    assert "//" not in html
    assert _page_config(html)["endpoint"].startswith("/evil.example/")
    for bad in ("not json", "[1, 2]", '"Bearer x"'):
        with pytest.raises(ValueError):
            graphiql_html(default_headers=bad)
    with pytest.raises(ValueError):
        graphiql_html(endpoint="https://elsewhere.example/graphql")


# ---------------------------------------------------------------------------------------------
# Real browser
# ---------------------------------------------------------------------------------------------

STEP_TIMEOUT = 30.0  # upper bound for any single wait
SCREENSHOT_COPY = Path("/tmp/graphiql-offline.png")
_DEVTOOLS_LINE = re.compile(r"DevTools listening on (ws://\S+)")


def _find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@contextlib.contextmanager
def _serve(app: ASGIApp) -> Iterator[str]:
    """Run ``app`` with uvicorn in a background thread on 127.0.0.1:<free port>; yield its origin."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        port = sock.getsockname()[1]
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="auto")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="graphiql-uvicorn")
        thread.daemon = True
        thread.start()
        try:
            deadline = time.monotonic() + STEP_TIMEOUT
            while not server.started:
                if not thread.is_alive():
                    raise RuntimeError("uvicorn exited during startup")
                if time.monotonic() > deadline:
                    raise TimeoutError("uvicorn did not start")
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(STEP_TIMEOUT)
            assert not thread.is_alive(), "uvicorn did not stop"
    finally:
        sock.close()


@contextlib.contextmanager
def _chromium(binary: str, profile_dir: Path) -> Iterator[str]:
    """Start headless Chromium with the outside network closed; yield its browser CDP URL."""
    args = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-quic",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile_dir}",
        "--remote-debugging-port=0",
        # Nothing but loopback is reachable: every other host goes to a dead proxy and,
        # should anything bypass it, fails to resolve.
        "--proxy-server=127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>;127.0.0.1;localhost",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--window-size=1400,900",
        "about:blank",
    ]
    proc = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,  # its own process group: we can kill Chromium and its children
    )
    lines: queue.Queue[str | None] = queue.Queue()
    log: list[str] = []

    def pump() -> None:  # keep draining stderr so Chromium never blocks on a full pipe
        assert proc.stderr is not None
        for line in proc.stderr:
            log.append(line)
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, name="chromium-stderr", daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("Chromium printed no DevTools URL:\n" + "".join(log[-30:]))
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(f"Chromium exited ({proc.poll()}):\n" + "".join(log[-30:]))
            match = _DEVTOOLS_LINE.search(line)
            if match:
                break
        yield match.group(1)
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(timeout=STEP_TIMEOUT)
        reader.join(STEP_TIMEOUT)
        if proc.stderr is not None:
            proc.stderr.close()


class _CDP:
    """Minimal synchronous CDP client: one browser websocket, one flattened page session."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.session_id: str | None = None
        self.events: list[dict[str, Any]] = []
        self._next_id = 0

    def _handle(self, raw: str | bytes) -> dict[str, Any]:
        message = json.loads(raw)
        if "method" in message:
            self.events.append(message)
        return message

    def call(self, method: str, params: dict[str, Any] | None = None, *, browser: bool = False) -> Any:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if not browser and self.session_id:
            message["sessionId"] = self.session_id
        self.ws.send(json.dumps(message))
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"CDP {method} got no answer in {STEP_TIMEOUT}s")
            reply = self._handle(self.ws.recv(timeout=remaining))
            if reply.get("id") == message["id"]:
                if "error" in reply:
                    raise RuntimeError(f"CDP {method} failed: {reply['error']}")
                return reply.get("result", {})

    def pump(self, seconds: float) -> None:
        """Collect events for ``seconds`` (also the polling delay of ``wait_for``)."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                self._handle(self.ws.recv(timeout=remaining))
            except TimeoutError:
                return

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"JS error in {expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, what: str, timeout: float = STEP_TIMEOUT) -> Any:
        deadline = time.monotonic() + timeout
        value: Any = None
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            self.pump(0.15)
        raise AssertionError(f"timed out after {timeout}s waiting for {what} (last value: {value!r})")

    def click(self, selector: str) -> None:
        """A real mouse click (Input domain) at the centre of the element."""
        box = self.wait_for(
            f"""(() => {{
                const el = document.querySelector({json.dumps(selector)});
                if (!el) return null;
                el.scrollIntoView({{block: "center"}});
                const r = el.getBoundingClientRect();
                return r.width > 0 && r.height > 0 ? {{x: r.x + r.width / 2, y: r.y + r.height / 2}} : null;
            }})()""",
            f"clickable {selector}",
        )
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            params = {"type": kind, "x": box["x"], "y": box["y"], "button": "left", "clickCount": 1}
            if kind == "mouseMoved":
                params = {"type": kind, "x": box["x"], "y": box["y"]}
            self.call("Input.dispatchMouseEvent", params)

    def set_editor(self, selector: str, text: str) -> None:
        """Set a GraphiQL (CodeMirror 5) editor's content; GraphiQL sees it as a user edit."""
        self.wait_for(
            f"""(() => {{
                const host = document.querySelector({json.dumps(selector)});
                const cm = host && host.CodeMirror;
                if (!cm) return false;
                cm.setValue({json.dumps(text)});
                cm.focus();
                return cm.getValue() === {json.dumps(text)};
            }})()""",
            f"editor {selector}",
        )

    def editor_value(self, selector: str) -> str | None:
        return self.evaluate(
            f"""(() => {{
                const host = document.querySelector({json.dumps(selector)});
                return host && host.CodeMirror ? host.CodeMirror.getValue() : null;
            }})()"""
        )


QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
HEADERS_TAB = '.graphiql-editor-tools button[data-name="headers"]'
HEADERS_EDITOR = 'section.graphiql-editor-tool[aria-label="Headers"] > .graphiql-editor:not(.hidden) .CodeMirror'
RESPONSE_EDITOR = ".graphiql-response .CodeMirror"
EXECUTE_BUTTON = "button.graphiql-execute-button"


def _response(cdp: _CDP) -> Any:
    text = cdp.editor_value(RESPONSE_EDITOR)
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _first_leaf(value: Any) -> Any:
    while isinstance(value, dict | list) and value:
        value = next(iter(value.values())) if isinstance(value, dict) else value[0]
    return value


def _run_query(cdp: _CDP, done: str, predicate: Callable[[Any], bool]) -> Any:
    cdp.click(EXECUTE_BUTTON)
    deadline = time.monotonic() + STEP_TIMEOUT
    while time.monotonic() < deadline:
        result = _response(cdp)
        if result is not None and predicate(result):
            return result
        cdp.pump(0.15)
    raise AssertionError(f"timed out waiting for {done}; response pane: {cdp.editor_value(RESPONSE_EDITOR)!r}")


def test_graphiql_runs_a_query_offline_in_chromium(tmp_path: Path) -> None:
    chromium = _find_chromium()
    if chromium is None:
        if os.environ.get("AUDIT_REQUIRE_CHROMIUM") == "1":  # set by .ci/run: missing browser is a failure there
            pytest.fail("AUDIT_REQUIRE_CHROMIUM=1 but no Chromium binary on PATH (apt-get install -y chromium)")
        pytest.skip("no Chromium binary on PATH (chromium / chromium-browser); apt-get install -y chromium")
    from websockets.sync.client import connect  # test extra: websockets>=15

    screenshot = tmp_path / "graphiql-offline.png"
    with (
        _serve(make_app()) as origin,
        _chromium(chromium, tmp_path / "chromium-profile") as browser_url,
        connect(browser_url, max_size=None, proxy=None, open_timeout=STEP_TIMEOUT) as ws,
    ):
        cdp = _CDP(ws)
        target = cdp.call("Target.createTarget", {"url": "about:blank"}, browser=True)["targetId"]
        attached = cdp.call("Target.attachToTarget", {"targetId": target, "flatten": True}, browser=True)
        cdp.session_id = attached["sessionId"]
        for domain in ("Network", "Page", "Runtime", "Log"):
            cdp.call(f"{domain}.enable")

        navigated = cdp.call("Page.navigate", {"url": f"{origin}/graphql"})
        assert "errorText" not in navigated, navigated

        # 1. GraphiQL rendered, with the Headers editor enabled and shown by default.
        cdp.wait_for("!!document.querySelector('.graphiql-container')", "GraphiQL to render")
        cdp.wait_for(f"!!document.querySelector({json.dumps(QUERY_EDITOR)})?.CodeMirror", "the query editor")
        cdp.wait_for(
            f"document.querySelector({json.dumps(HEADERS_TAB)})?.classList.contains('active')",
            "the Headers tab to be open by default",
        )
        assert "API key" in (cdp.editor_value(QUERY_EDITOR) or ""), "default query should explain the key"

        # 2. Without the key the server answers with a GraphQL error, shown in the response pane.
        cdp.set_editor(QUERY_EDITOR, QUERY)
        cdp.set_editor(HEADERS_EDITOR, "")
        denied = _run_query(cdp, "the unauthenticated error", lambda r: isinstance(r, dict) and bool(r.get("errors")))
        assert denied != EXPECTED

        # 3. Paste the key into the Headers tab (as a user would) and run again.
        cdp.click(HEADERS_TAB)
        cdp.wait_for(f"!!document.querySelector({json.dumps(HEADERS_EDITOR)})", "the Headers editor")
        cdp.set_editor(HEADERS_EDITOR, json.dumps(AUTH_HEADERS))
        result = _run_query(cdp, "the expected result", lambda r: r == EXPECTED)
        assert result == EXPECTED
        shown = cdp.evaluate("document.querySelector('.graphiql-response').innerText")
        assert json.dumps(_first_leaf(EXPECTED)) in shown, shown  # visibly rendered, not just in the model

        cdp.pump(0.5)  # let late events (e.g. a failing font) arrive before judging the network log
        png = cdp.call("Page.captureScreenshot", {"format": "png"})["data"]
        screenshot.write_bytes(base64.b64decode(png))
        events = list(cdp.events)

        # The browser really is offline: an outside fetch fails (it only reaches the dead
        # loopback proxy). Its events are left out of the checks below.
        probe = cdp.evaluate(
            # No answer within 10 s is blocked too (the dead proxy may hold the request instead of refusing it).
            "Promise.race([fetch('https://example.com/', {mode: 'no-cors', cache: 'no-store'})"
            ".then(() => 'reached', e => 'blocked: ' + e),"
            " new Promise(r => setTimeout(() => r('blocked: no answer in 10 s'), 10000))])"
        )
        assert probe.startswith("blocked"), f"outside network reachable from the test browser: {probe}"

    with contextlib.suppress(OSError):
        shutil.copyfile(screenshot, SCREENSHOT_COPY)

    # 4. Every request stayed on the gateway; nothing failed to load; no errors in the console.
    urls = [e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"]
    foreign = [u for u in urls if not (u.startswith(f"{origin}/") or u.startswith(("data:", "blob:", "about:")))]
    assert not foreign, f"requests left 127.0.0.1: {foreign}"
    for name in (*ASSETS, *STYLES):
        assert any(u.startswith(f"{origin}{STATIC_URL_PREFIX}/{name}") for u in urls), f"{name} not loaded"
    assert sum(u == f"{origin}/graphql" for u in urls) >= 4  # page, introspection, run without key, run with key

    failed = [e["params"] for e in events if e["method"] == "Network.loadingFailed"]
    assert not failed, f"failed loads: {failed}"
    bad_status = [
        (e["params"]["response"]["url"], e["params"]["response"]["status"])
        for e in events
        if e["method"] == "Network.responseReceived" and e["params"]["response"]["status"] >= 400
    ]
    assert not bad_status, f"HTTP errors: {bad_status}"
    page_headers = [
        {name.lower() for name in e["params"]["response"]["headers"]}
        for e in events
        if e["method"] == "Network.responseReceived" and e["params"]["type"] == "Document"
    ]
    assert page_headers and all("content-security-policy" in h for h in page_headers), "the page ran under its CSP"
    log_errors = [
        e["params"]["entry"]
        for e in events
        if e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] == "error"
    ]
    assert not log_errors, f"browser log errors: {log_errors}"
    console_errors = [
        e["params"] for e in events if e["method"] == "Runtime.consoleAPICalled" and e["params"]["type"] == "error"
    ]
    assert not console_errors, f"console errors: {console_errors}"
    exceptions = [e["params"] for e in events if e["method"] == "Runtime.exceptionThrown"]
    assert not exceptions, f"uncaught exceptions: {exceptions}"
