"""scripts/bench/report.py: the before → after table flags a change of plan, and only a real one."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from scripts.bench.report import compare_section

RUNS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks"


def _runs() -> tuple[dict[str, Any], dict[str, Any]]:
    before = json.loads((RUNS / "start-2026-11-26-s3-e4352db.json").read_text())
    after = json.loads((RUNS / "after-2026-11-26-s3.json").read_text())
    return before, after


def test_a_run_compared_in_the_process_that_measured_it_has_the_same_plan() -> None:
    before, after = _runs()
    measured = copy.deepcopy(after)  # as ``run`` holds it: int keys and tuples, where the JSON has str and lists
    measured["plan"]["ingest"] = {int(size): tuple(bounds) for size, bounds in after["plan"]["ingest"].items()}
    assert not any("Caution" in line for line in compare_section(before, measured))


def test_a_changed_plan_is_named() -> None:
    before, after = _runs()
    after["plan"]["peer_rounds"] = before["plan"]["peer_rounds"] + 1
    (caution,) = [line for line in compare_section(before, after) if "Caution" in line]
    assert "peer_rounds" in caution
