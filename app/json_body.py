"""Request bodies parsed by orjson, with exactly the outcome of ``json.loads(body.decode("utf-8"))``.

The stdlib parse is the reference: every value, type, key order and error stays the same. orjson answers only
where it provably agrees, and the stdlib answers everything else:

* any orjson error (bad UTF-8, a byte order mark, lone surrogate escapes, NaN/Infinity, numbers that overflow
  a double, bad syntax): the stdlib then gives its own outcome, a value or an error;
* a run of 19 or more digits anywhere (orjson turns an integer beyond 64 bits into a float; the stdlib keeps
  the ``int``, or refuses one over 4300 digits);
* nesting ``MAX_DEPTH`` deep or deeper: the stdlib's limit is the interpreter's recursion limit less the
  caller's stack (about 1000 less a few dozen frames), so a body nested that deep may be a ``RecursionError``
  there. A body with fewer opening brackets than ``MAX_DEPTH`` cannot nest that deep; for one with more,
  ``orjson.dumps`` of the value tells: it refuses exactly that depth (its own limit), and costs about a
  seventh of the parse.

Duplicate keys agree (the first key's position, the last value), and so do whitespace, escapes, surrogate
pairs and floats (both round correctly). tests/test_json_body.py compares the two over hostile corpora.
"""

from __future__ import annotations

import json

import orjson

MAX_DEPTH = 255
"""Bodies nested this deep or deeper are parsed by the stdlib: ``orjson.dumps`` refuses values this deep
(a constant of orjson, pinned by tests/test_json_body.py)."""

_MARKS = bytes(0 if b in b"0123456789" else 2 if b in b"[{" else 1 for b in range(256))
"""A ``bytes.translate`` table: each digit to 0, each ``[`` and ``{`` to 2, every other byte to 1."""
_LONG_DIGITS = bytes(19)
_OPENING = b"\x02"


def loads(data: bytes | str) -> object:
    """``json.loads(data.decode("utf-8"))`` for bytes (``json.loads(data)`` for str); raises as it does."""
    if isinstance(data, str):
        return json.loads(data)
    marks = data.translate(_MARKS)
    if _LONG_DIGITS not in marks:
        try:
            parsed = orjson.loads(data)
            if marks.count(_OPENING) >= MAX_DEPTH:
                orjson.dumps(parsed)  # refuses a value nested MAX_DEPTH deep or deeper
            return parsed
        except (orjson.JSONDecodeError, orjson.JSONEncodeError):
            pass
    return json.loads(data.decode("utf-8"))
