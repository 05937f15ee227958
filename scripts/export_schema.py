"""Write schema.graphql from the code: `python scripts/export_schema.py`."""

from pathlib import Path

from app.graphql.schema import export_sdl

target = Path(__file__).resolve().parent.parent / "schema.graphql"
target.write_text(export_sdl())
print(f"wrote {target}")
