"""CloudEvents 1.0 → our event object: structured mode (one JSON object) and binary mode (``ce-*`` headers).

| CloudEvents attribute | event field |
|---|---|
| ``id`` | ``eventId`` |
| ``source`` | ``source`` (must be a source name such as ``checkout``) |
| ``type`` | ``type`` (the contract name, e.g. ``order.placed``) |
| ``time`` | ``occurredAt`` (required here) |
| ``data`` | ``data`` |
| ``traceparent`` | ``traceparent`` |
| ``actortype`` ``actorid`` ``actorname`` ``actorip`` ``actoragent`` | ``actor.type/id/displayName/ip/userAgent`` |
| ``targettype`` ``targetid`` ``targetname`` | ``target.type/id/displayName`` |
| ``outcome`` ``correlationid`` ``causationid`` ``tenant`` | the same envelope fields |

``specversion`` must be ``1.0``; ``datacontenttype``, when given, must be JSON.
Any other attribute would be lost, so it is a per-item rejection
(``UNKNOWN_FIELD``) rather than silently dropped. Problems are reported at the
attribute's name (``id``, ``time``, ``actorid``…) or at ``data.<field>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from app.contracts.problems import Problem
from app.errors import Code
from app.http.items import Item, Path, from_event

SPECVERSION = "1.0"

# attribute → path in our event object
ATTRIBUTES: dict[str, Path] = {
    "id": ("eventId",),
    "source": ("source",),
    "type": ("type",),
    "time": ("occurredAt",),
    "data": ("data",),
    "traceparent": ("traceparent",),
    "actortype": ("actor", "type"),
    "actorid": ("actor", "id"),
    "actorname": ("actor", "displayName"),
    "actorip": ("actor", "ip"),
    "actoragent": ("actor", "userAgent"),
    "targettype": ("target", "type"),
    "targetid": ("target", "id"),
    "targetname": ("target", "displayName"),
    "outcome": ("outcome",),
    "correlationid": ("correlationId",),
    "causationid": ("causationId",),
    "tenant": ("tenant",),
}
CHECKED = ("specversion", "datacontenttype")
_BACK: dict[Path, str] = {path: attribute for attribute, path in ATTRIBUTES.items()}


def rename(path: Path) -> Path:
    """A path in our event object → the CloudEvents attribute it came from (``data.…`` stays)."""
    for length in (2, 1):
        attribute = _BACK.get(path[:length])
        if attribute is not None and attribute != "data":
            return (attribute, *path[length:])
    return path


def is_json(media_type: str) -> bool:
    essence = media_type.split(";", 1)[0].strip().lower()
    return essence == "application/json" or (essence.startswith("application/") and essence.endswith("+json"))


def from_structured(event: object) -> Item:
    """One CloudEvent in structured (or batch) JSON form."""
    if not isinstance(event, Mapping):
        return Item(None, None, [Problem((), Code.INVALID_TYPE, "each CloudEvent must be a JSON object")], rename)
    return _mapped(event)


def from_binary(headers: Mapping[str, str], raw_headers: list[tuple[bytes, bytes]], data: object) -> Item:
    """Binary mode: attributes in ``ce-*`` headers (percent-encoded UTF-8), the body is ``data``."""
    attributes: dict[str, Any] = {}
    for name, value in raw_headers:
        key = name.decode("latin-1").lower()
        if key.startswith("ce-"):
            attributes[key[3:]] = unquote(value.decode("utf-8", "surrogateescape"), errors="surrogateescape")
    attributes["datacontenttype"] = headers.get("content-type", "")
    attributes["data"] = data
    return _mapped(attributes)


def _mapped(attributes: Mapping[str, Any]) -> Item:
    problems: list[Problem] = []
    version = attributes.get("specversion")
    if version is None:
        problems.append(Problem(("specversion",), Code.REQUIRED, f"a CloudEvent needs specversion {SPECVERSION!r}"))
    elif version != SPECVERSION:
        problems.append(Problem(("specversion",), Code.INVALID_VALUE, f"only CloudEvents {SPECVERSION} is supported"))
    content_type = attributes.get("datacontenttype")
    if content_type is not None and not (isinstance(content_type, str) and is_json(content_type)):
        problems.append(Problem(("datacontenttype",), Code.INVALID_VALUE, "data must be JSON (application/json)"))
    event: dict[str, Any] = {"actor": {}}
    for attribute, value in attributes.items():
        path = ATTRIBUTES.get(attribute) if isinstance(attribute, str) else None
        if path is None:
            if attribute not in CHECKED:
                message = "this attribute would not be recorded; leave it out (see the CloudEvents mapping)"
                problems.append(Problem((str(attribute),), Code.UNKNOWN_FIELD, message))
            continue
        if len(path) == 2:
            event.setdefault(path[0], {})[path[1]] = value
        else:
            event[path[0]] = value
    return from_event(event, rename=rename, problems=problems)
