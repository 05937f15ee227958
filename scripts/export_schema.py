"""Write schema.graphql from the code: `.venv/bin/python scripts/export_schema.py [PATH]`, from any directory.

The project's own ``app`` is found beside this script, installed or not; its
dependencies must be installed in the Python that runs it (the project's venv).
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

try:
    from app.graphql.schema import export_sdl
except ModuleNotFoundError as error:
    sys.exit(
        f"{error}. Run this with the project's virtual environment, e.g.\n"
        f"  {ROOT / '.venv/bin/python'} {Path(__file__).resolve()}"
    )

target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "schema.graphql"
target.write_text(export_sdl())
print(f"wrote {target}")
