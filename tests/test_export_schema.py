"""scripts/export_schema.py runs as the README says, from any directory, whether or not ``app`` is installed."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "export_schema.py"


def test_it_writes_the_schema_with_the_dependencies_installed_but_not_the_package(tmp_path: Path) -> None:
    # -S skips site-packages' .pth files, so the editable install of `app` is not there; the dependencies are,
    # through PYTHONPATH: what a fresh clone with `pip install -r`-style dependencies would look like.
    env = {**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"]}
    out = tmp_path / "schema.graphql"
    result = subprocess.run(
        [sys.executable, "-S", str(SCRIPT), str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert out.read_text() == (ROOT / "schema.graphql").read_text()


def test_without_the_dependencies_it_names_the_python_to_use(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-S", str(SCRIPT), str(tmp_path / "x")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "No module named" in result.stderr and ".venv/bin/python" in result.stderr
    assert not (tmp_path / "x").exists()
