"""Before/after table of two `scripts/bench.py --json` runs, compared by their within-run ratios.

    python scripts/compare_bench.py before.json after.json

Absolute figures drift between runs on a shared machine; each run's ratios to
its own floor (Core insert, raw SQL) do not, so those are what is compared.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(before_path: str, after_path: str) -> None:
    before, after = (json.loads(Path(p).read_text()) for p in (before_path, after_path))
    print(f"Before: commit `{before['machine']['commit'][:10]}`; after: commit `{after['machine']['commit'][:10]}`.\n")
    print("| backend | measure | before | after | after ÷ before |")
    print("|---|---|---:|---:|---:|")
    for backend in ("sqlite", "postgresql"):
        for old, new in zip(before["ingest"].get(backend, []), after["ingest"].get(backend, []), strict=True):
            print(f"| {backend} | ingest batch {old['batch']}: gateway ÷ Core | {old['ratio']:.3f} | "
                  f"{new['ratio']:.3f} | **{new['ratio'] / old['ratio']:.2f}** |")
        for old, new in zip(before["read"].get(backend, []), after["read"].get(backend, []), strict=True):
            print(f"| {backend} | {old['name']}: HTTP p50 ÷ raw | {old['gateway_over_raw']:.1f}× | "
                  f"{new['gateway_over_raw']:.1f}× | **{new['gateway_over_raw'] / old['gateway_over_raw']:.2f}** |")


if __name__ == "__main__":
    main(*sys.argv[1:3])
