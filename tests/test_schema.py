"""The exported schema is a snapshot of the code's schema and honours the shared contract."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.graphql.schema import export_sdl

ROOT = Path(__file__).resolve().parent.parent
CONTRACT_CHECK = ROOT.parent / "shared" / "api" / "contract_check.py"


def test_schema_graphql_is_up_to_date() -> None:
    assert (ROOT / "schema.graphql").read_text() == export_sdl(), (
        "schema.graphql is stale: run `.venv/bin/python scripts/export_schema.py`"
    )


@pytest.mark.skipif(not CONTRACT_CHECK.exists(), reason="../shared/api/contract_check.py is not beside this checkout")
def test_schema_honours_the_contract() -> None:
    result = subprocess.run(
        [sys.executable, str(CONTRACT_CHECK), str(ROOT / "schema.graphql")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "contract: OK" in result.stdout
