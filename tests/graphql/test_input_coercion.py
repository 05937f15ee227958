"""The native coercion of ``$events`` (one pydantic-core validator) answers exactly as the closures.

``compile_coercer`` checks a batch natively and hands what the native validator refuses to the closures
(app/graphql/input_coercion.py), which were proven against graphql-core by tests/graphql/test_fast_ingest.py.
Over the fast-ingest corpus, the benchmark's events and hypothesis' JSON values put anywhere in an event,
the answer must be the closures' answer: the same coerced value (same keys in the same order, same types),
or ``Unsupported`` from both. And whatever the native validator accepts alone, the closures accept alike.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
from graphql import GraphQLScalarType
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic_core import SchemaValidator, ValidationError

from app.config import Settings
from app.graphql import input_coercion
from app.graphql.input_coercion import Unsupported, compile_closures, compile_coercer
from app.graphql.scalars import NATIVE_PARSERS, _parse_bigint
from app.graphql.schema import build_schema
from scripts import generate
from scripts.bench.workload import record_input
from tests.graphql.test_fast_ingest import PER_INPUT, PER_MEMBER, TYPE_ERRORS, at, base

_MUTATION = build_schema(Settings())._schema.mutation_type
assert _MUTATION is not None
EVENTS_TYPE = _MUTATION.fields["recordEvents"].args["events"].type
CLOSURES = compile_closures(EVENTS_TYPE)
COERCE = compile_coercer(EVENTS_TYPE)
NATIVE = input_coercion._native_validator(EVENTS_TYPE)
MEMBERS = ["orderPlaced", "paymentCaptured", "userSignedIn", "userSignInFailed", "apiKeyCreated", "settingChanged"]
MEMBERS += ["dataExported", "roleGranted", "refundIssued"]


def _shape(value: Any) -> Any:
    """The value with its types and key order spelled out (== alone ignores both)."""
    if isinstance(value, dict):
        return ("dict", [(key, _shape(item)) for key, item in value.items()])
    if isinstance(value, list):
        return ("list", [_shape(item) for item in value])
    return (type(value).__name__, value)


def answer(coerce: Any, value: Any) -> Any:
    try:
        return _shape(coerce(copy.deepcopy(value)))
    except Unsupported:
        return "Unsupported"


def assert_same(value: Any) -> bool:
    """Both answer alike; True when the native validator settled it alone."""
    expected = answer(CLOSURES, value)
    assert answer(COERCE, value) == expected, value
    assert NATIVE is not None
    try:
        native = _shape(NATIVE.validate_python(copy.deepcopy(value)))
    except ValidationError:
        return False
    assert native == expected, value
    return True


def test_the_native_validator_is_built_for_this_schema() -> None:
    assert NATIVE is not None


def test_valid_events_of_every_member_are_settled_natively() -> None:
    events = [base(n, member) for n, member in enumerate(MEMBERS)]
    assert assert_same(events)
    for event in events:
        assert assert_same([event])
    stream = generate.submissions(1000, ["bench"], seed=3)
    assert assert_same([record_input(submission) for submission in stream])


def test_the_fast_ingest_corpus_coerces_alike() -> None:
    natively = 0
    for _, mutate in PER_INPUT:
        event = base(1)
        mutate(event)
        natively += assert_same([event])
    for _, member, mutate in PER_MEMBER:
        event = base(2, member)
        mutate(event)
        natively += assert_same([event])
    for _, mutate in TYPE_ERRORS:
        event = base(3)
        mutate(event)
        assert not assert_same([base(4), event])  # GraphQL refuses these: so must the native validator
    assert natively == len(PER_INPUT) + len(PER_MEMBER)


@pytest.mark.parametrize(
    "value",
    [
        None,
        [],
        [None],
        {},
        "x",
        base(1),
        (base(1),),
        [base(1), None],
        [[base(1)]],
        [{**base(1), "outcome": "SUCCESS", "tenant": None, "target": None}],
        [{**base(1), "data": {"orderPlaced": {**base(1)["data"]["orderPlaced"], "channel": None}}}],
        [{**base(1), "data": {"orderPlaced": None, "userSignedIn": {"method": "SSO", "mfa": True}}}],
        [{**base(1), "occurredAt": "2026-01-01T00:00:00+14:00"}],
        [{**base(1), "occurredAt": "9999-12-31T23:59:59-01:00"}],
        [{**base(1), "occurredAt": "2026-01-01T00:00:00Z" + " " * 30}],
        [{**base(1), "occurredAt": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}],
    ],
)
def test_edges_coerce_alike(value: Any) -> None:
    assert_same(value)


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.sampled_from([0, 1, -1, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**63 - 1, 2**63, 1.0, 2.5, -0.0])
    | st.sampled_from(["", "USER", "SUCCESS", "WEB", "2026-01-01T00:00:00Z", "2026-01-01", "12", "-3", "1e3"])
    | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=6,
)
PATHS = [
    "eventId",
    "source",
    "occurredAt",
    "tenant",
    "actor",
    "actor.type",
    "actor.id",
    "actor.ip",
    "target",
    "target.id",
    "outcome",
    "correlationId",
    "traceparent",
    "data",
    "colour",
    "actor.email",
]
DATA_PATHS = {
    "orderPlaced": ["orderId", "total", "total.amountMinor", "total.currency", "itemCount", "channel", "x"],
    "userSignedIn": ["method", "mfa", "sessionId"],
    "apiKeyCreated": ["scopes", "scopes.0", "expiresAt"],
    "settingChanged": ["changes", "changes.0", "changes.0.field", "changes.0.before"],
    "userSignInFailed": ["attempt", "failureReason"],
}


def _delete_or_set(event: dict[str, Any], path: str, value: Any) -> None:
    """Set (or, with ``...``, delete) the value at a dotted path, if the path still exists in this shape."""
    *parents, last = path.split(".")
    node: Any = event
    for part in [*parents, last]:
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            if part is last:
                node[int(part)] = None if value is ... else value
                return
            node = node[int(part)]
        elif isinstance(node, dict):
            if part is last:
                at(last, value)(node)
                return
            node = node.get(part)
        else:
            return


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    member=st.sampled_from(sorted(DATA_PATHS)),
    changes=st.lists(st.tuples(st.sampled_from(PATHS), JSON | st.just(...)), max_size=3),
    data_changes=st.lists(st.tuples(st.integers(0, 6), JSON | st.just(...)), max_size=2),
)
def test_hypothesis_values_coerce_alike(
    member: str, changes: list[tuple[str, Any]], data_changes: list[tuple[int, Any]]
) -> None:
    event = base(5, member)
    for path, value in changes:
        _delete_or_set(event, path, value)
    paths = DATA_PATHS[member]
    data = event.get("data")
    for index, value in data_changes:
        if isinstance(data, dict) and isinstance(data.get(member), dict):
            _delete_or_set(data[member], paths[index % len(paths)], value)
    assert_same([event])


BIGINT_EDGES: list[Any] = [
    *["0", "-0", "0123", "-", "", "1_000", " 1", "1 ", "+1", "1\n", "1e3", "0x10", "abc", "\u0661\u0662\u0663"],
    *["9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809"],
    *["0000000000000000001", "00000000000000000001", "-0000000000000000001"],
    *[True, False, 1.0, 2.5, None, [], {}, 5, -5, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1],
]


def _parsed(parse: Any, value: Any) -> Any:
    try:
        result = parse(value)
    except Exception:
        return "refused"
    return (type(result).__name__, result)


@given(value=st.text(alphabet="-0123456789 +_", max_size=21) | st.integers(-(2**65), 2**65) | JSON)
@settings(max_examples=2000, deadline=None)
def test_the_bigint_twin_parses_as_the_scalar(value: Any) -> None:
    """``scalars.NATIVE_PARSERS``: BigInt checked by pydantic-core gives what ``_parse_bigint`` gives, or refuses."""
    native = SchemaValidator(NATIVE_PARSERS[_parse_bigint]).validate_python
    for each in [value, *BIGINT_EDGES]:
        assert _parsed(native, each) == _parsed(_parse_bigint, each), each


@pytest.mark.parametrize("amount", BIGINT_EDGES)
def test_amounts_coerce_alike(amount: Any) -> None:
    event = base(6)
    event["data"]["orderPlaced"]["total"]["amountMinor"] = amount
    assert_same([event])


def test_bigint_is_parsed_without_python() -> None:
    """The native validator checks a BigInt itself: its schema holds the twin, and no Python call of the parser."""
    scalar = build_schema(Settings())._schema.get_type("BigInt")
    assert isinstance(scalar, GraphQLScalarType) and scalar.parse_value is _parse_bigint
    parsers: list[Any] = []
    twins = 0

    def walk(node: Any) -> None:
        nonlocal twins
        if node is NATIVE_PARSERS[_parse_bigint]:
            twins += 1
        if isinstance(node, dict):
            if node.get("type") == "function-plain":
                cells = node["function"]["function"].__closure__ or ()
                parsers.extend(cell.cell_contents for cell in cells)
            for item in node.values():
                walk(item)
        elif isinstance(node, list | tuple):
            for item in node:
                walk(item)

    walk(input_coercion._native(EVENTS_TYPE, set()))
    assert twins >= 2  # Money's amountMinor in orders, payments and refunds
    assert _parse_bigint not in parsers and parsers  # DateTime still goes through its parser
