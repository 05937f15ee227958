# placeholder until the offline GraphiQL assets land (helper-1 replaces this file)
from pathlib import Path

STATIC_DIR = Path(__file__).with_name("static")
STATIC_DIR.mkdir(exist_ok=True)
STATIC_URL_PREFIX = "/graphiql/static"


def graphiql_html(endpoint: str = "/graphql", default_headers: str | None = None) -> str:
    return "<html><body>GraphiQL</body></html>"
