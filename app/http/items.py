"""One posted event object → a ``Submission`` for the one write path, or a rejection found before it.

The event object is the GraphQL envelope with the contract named by ``type`` and
``data`` being that contract's data object itself. What the write path reports
at ``data.<member>.<field>`` is reported at ``data.<field>`` here, the place in
the posted body; CloudEvents rename envelope paths to their attribute names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.contracts.problems import Problem
from app.contracts.registry import BY_NAME
from app.contracts.values import ID_MAX
from app.errors import Code
from app.ingest import Submission

Path = tuple[str, ...]
Rename = Callable[[Path], Path]

NOT_ENVELOPE = ("type", "data")


def _same(path: Path) -> Path:
    return path


@dataclass(frozen=True, slots=True)
class Item:
    """``submission`` goes to the write path; without one, ``problems`` reject the item on its own."""

    submission: Submission | None
    event_id: str | None
    problems: list[Problem] = field(default_factory=list)
    rename: Rename = _same

    def path(self, path: Path) -> Path:
        """Where a problem reported by the write path sits in the posted body."""
        if self.submission is not None and path[:2] == ("data", self.submission.member):
            path = ("data", *path[2:])
        return self.rename(path)


def given_event_id(value: object) -> str | None:
    """The caller's eventId, echoed in a rejection only when it is a plausible id."""
    if not isinstance(value, str) or not 0 < len(value) <= ID_MAX:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value


def from_event(event: object, *, rename: Rename = _same, problems: list[Problem] | None = None) -> Item:
    """Our own event object (see the README's "HTTP API"); ``problems`` are found earlier (CloudEvents)."""
    found = list(problems or [])
    if not isinstance(event, Mapping):
        return Item(None, None, [Problem((), Code.INVALID_TYPE, "each event must be a JSON object")], rename)
    event_id = given_event_id(event.get("eventId"))
    name = event.get("type")
    contract = BY_NAME.get(name) if isinstance(name, str) else None
    if name is None:
        found.append(Problem(("type",), Code.REQUIRED, "name the event's contract, e.g. order.placed"))
    elif contract is None:
        found.append(Problem(("type",), Code.UNKNOWN_CONTRACT, f"no event contract named {name!r}"))
    if "data" not in event:
        found.append(Problem(("data",), Code.REQUIRED, "the contract's data object is required"))
    if found or contract is None:
        return Item(None, event_id, found, rename)
    envelope: dict[str, Any] = {key: value for key, value in event.items() if key not in NOT_ENVELOPE}
    submission = Submission(envelope=envelope, member=contract.input_member, data=event["data"])
    return Item(submission, event_id, [], rename)
