"""The worst request within the limits (issue #13): measured by ``scripts/worst_request.py`` when it exists.

Contract with that script: ``python scripts/worst_request.py --database-url URL`` prints, as its last line
starting with ``{``, a JSON object with at least ``request`` (what was sent), ``seconds`` and ``peak_memory_mb``.
Anything else (script missing, failing, other output) is reported as "not measured" with the reason; the rest
of the benchmark does not depend on it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from .measure import log
from .servers import ROOT, environment

SCRIPT = ROOT / "scripts" / "worst_request.py"


def worst_request(url: str, timeout: float = 600) -> dict[str, Any]:
    if not SCRIPT.exists():
        return {"measured": False, "reason": "scripts/worst_request.py is not in this tree"}
    log(f"worst request: python scripts/worst_request.py on {url.split('/')[-1]}")
    try:
        done = subprocess.run(
            [sys.executable, str(SCRIPT), "--database-url", url],
            cwd=ROOT,
            env=environment(url),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"measured": False, "reason": f"scripts/worst_request.py ran over {timeout:.0f} s"}
    if done.returncode != 0:
        return {
            "measured": False,
            "reason": f"scripts/worst_request.py exited {done.returncode}: {done.stderr.strip()[-300:]}",
        }
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            try:
                result: dict[str, Any] = json.loads(line)
            except json.JSONDecodeError:
                break
            if {"request", "seconds", "peak_memory_mb"} <= result.keys():
                return {"measured": True, **result}
            return {"measured": False, "reason": f"unexpected fields: {sorted(result)}", "raw": result}
    return {"measured": False, "reason": "scripts/worst_request.py printed no JSON line"}
