"""Page through a tenant's audit log with gql (https://gql.readthedocs.io), following pageInfo.

    AUDIT_KEY=$AUDIT_DEMO_READER .venv/bin/python docs/clients/python_gql.py 'type:order.*'

Needs `pip install "gql[httpx]"` (the project's test extra has it). Tested in tests/test_readme.py against a
live `audit-gateway serve`: it yields every event exactly once.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

from gql import Client, GraphQLRequest
from gql.transport.httpx import HTTPXTransport

EVENTS = """
query Events($first: Int!, $after: String, $search: String) {
  events(first: $first, after: $after, search: $search, orderBy: {field: SEQUENCE, direction: ASC}) {
    pageInfo { hasNextPage endCursor }
    edges {
      node {
        __typename
        ... on AuditEvent { id eventId type sequence occurredAt actor { type id } }
      }
    }
  }
}
"""


def events(url: str, key: str, search: str | None = None, page_size: int = 200) -> Iterator[dict[str, Any]]:
    """Every event the key's tenant holds (matching ``search``), oldest first: events recorded while paging come
    last. A cursor is bound to its search, so keep ``search`` the same for every page."""
    transport = HTTPXTransport(url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    with Client(transport=transport) as session:
        after: str | None = None
        while True:
            request = GraphQLRequest(EVENTS, variable_values={"first": page_size, "after": after, "search": search})
            page = session.execute(request)["events"]
            for edge in page["edges"]:
                yield edge["node"]
            if not page["pageInfo"]["hasNextPage"]:
                return
            after = page["pageInfo"]["endCursor"]


if __name__ == "__main__":
    url = os.environ.get("AUDIT_URL", "http://127.0.0.1:8000/graphql")
    count = 0
    for event in events(url, os.environ["AUDIT_KEY"], *sys.argv[1:2]):
        print(event["sequence"], event["occurredAt"], event["type"], event["eventId"], event["actor"]["id"])
        count += 1
    print(f"{count} events", file=sys.stderr)
