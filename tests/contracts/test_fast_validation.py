"""The fast validation (twins of the contract models, app/contracts/fast.py) and the reference agree exactly.

``app.ingest.validate`` asks the twins first and the contract models only for what the twins refuse. Over a
corpus of good and bad submissions (every rule of the README's validation table at its boundaries, the
benchmark's generated events, and hypothesis' strings from an alphabet of boundary characters in every
field), it must return exactly what ``validate_reference`` returns: the same ``NewEvent`` (with ``data`` in
the same key order, which the stored JSON keeps), or the same ``Rejected`` (event id, problems, codes,
messages, paths, in order). Whatever the twins accept, the reference accepts identically.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import typing
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, field_validator

from app.auth.principal import Principal, Scope
from app.config import Settings
from app.contracts.envelope import Envelope
from app.contracts.fast import twin
from app.contracts.registry import BY_INPUT_MEMBER, CURRENT
from app.contracts.values import ContractModel, Id
from app.demo import SOURCES as DEMO_SOURCES
from app.graphql.fast_ingest import _submission
from app.graphql.input_coercion import Unsupported, compile_closures
from app.graphql.schema import build_schema
from app.ingest import Rejected, Submission, validate, validate_fast, validate_reference
from app.store.records import NEW_EVENT_FIELDS, NewEvent
from scripts import generate
from scripts.bench.workload import record_input
from tests.graphql.test_fast_ingest import TENANT, TYPE_ERRORS, base, boundary_variants

SOURCES = frozenset(DEMO_SOURCES)
PRINCIPALS = {
    "one-tenant": Principal("k1", "one", frozenset({TENANT}), frozenset({Scope.WRITE}), SOURCES),
    "two-tenants": Principal("k2", "two", frozenset({TENANT, "other"}), frozenset({Scope.WRITE}), SOURCES),
    "one-source": Principal("k3", "src", frozenset({TENANT, "bench"}), frozenset({Scope.WRITE}), frozenset({"x"})),
    "bench": Principal("k4", "bench", frozenset({"bench"}), frozenset({Scope.WRITE}), SOURCES),
}
_SCHEMA = build_schema(Settings())._schema
_MUTATION = _SCHEMA.mutation_type
assert _MUTATION is not None
COERCE = compile_closures(_MUTATION.fields["recordEvents"].args["events"].type)


def coerced(events: list[dict[str, Any]]) -> list[Submission] | None:
    """The events as GraphQL hands them to the write path (None: GraphQL refuses them)."""
    try:
        return [_submission(event) for event in COERCE(copy.deepcopy(events))]
    except Unsupported:
        return None


def assert_same(submission: Submission) -> bool:
    """Both validations answer alike for every principal; True when the twins took the common case."""
    took_fast = False
    for principal in PRINCIPALS.values():
        reference = validate_reference(submission, principal)
        answer = validate(submission, principal)
        assert answer == reference, (submission, principal)
        assert type(answer) is type(reference)
        if isinstance(reference, NewEvent):
            assert isinstance(answer, NewEvent)
            assert [getattr(answer, name) for name in NEW_EVENT_FIELDS] == [
                getattr(reference, name) for name in NEW_EVENT_FIELDS
            ]
            assert json.dumps(answer.data) == json.dumps(reference.data)  # same key order as stored
            assert answer.occurred_at.tzinfo == reference.occurred_at.tzinfo
        fast = validate_fast(submission, principal)
        if fast is not None:
            took_fast = True
            assert fast == reference
        else:
            assert isinstance(reference, Rejected) or _not_common(submission)
    return took_fast


def _not_common(submission: Submission) -> bool:
    """A valid event the twins may leave to the reference: some string is not printable ASCII (an id), or some
    instant is not at offset 0, or ``occurredAt`` is not before now (the models allow five minutes ahead)."""

    def leaves(node: Any) -> list[Any]:
        if isinstance(node, dict):
            return [leaf for value in node.values() for leaf in leaves(value)]
        if isinstance(node, list):
            return [leaf for value in node for leaf in leaves(value)]
        return [node]

    def instant(leaf: Any) -> dt.datetime | None:
        if isinstance(leaf, str):
            try:
                leaf = dt.datetime.fromisoformat(leaf)  # a Python caller may hand the text itself
            except ValueError:
                return None
        return leaf if isinstance(leaf, dt.datetime) and leaf.tzinfo is not None else None

    given = leaves([submission.envelope, submission.data])
    texts = [leaf for leaf in given if isinstance(leaf, str)]
    moments = [moment for leaf in given if (moment := instant(leaf)) is not None]
    occurred = instant(submission.envelope.get("occurredAt")) if isinstance(submission.envelope, dict) else None
    return (
        any(not (text.isascii() and text.isprintable()) for text in texts)
        or any(moment.utcoffset() != dt.timedelta(0) for moment in moments)
        or (occurred is not None and occurred >= dt.datetime.now(dt.UTC))
    )


def _corpus() -> list[dict[str, Any]]:
    events = boundary_variants()  # every rule of the validation table at its boundary, per input and per member
    for n, (_, mutate) in enumerate(TYPE_ERRORS):  # those GraphQL accepts on some path still reach validation
        event = base(3000 + n)
        mutate(event)
        events.append(event)
    return events


def test_the_corpus_validates_alike() -> None:
    fast = total = 0
    for event in _corpus():
        submissions = coerced([event])
        if submissions is None:
            continue
        (submission,) = submissions
        total += 1
        fast += assert_same(submission)
    assert total > 100 and fast > 20, (total, fast)


def test_generated_events_validate_alike_and_take_the_twins() -> None:
    stream = list(generate.submissions(600, ["bench"], seed=5))
    submissions = coerced([record_input(s) for s in stream])
    assert submissions is not None
    assert all(assert_same(s) for s in submissions)  # ASCII demo data: every one settled by the twins
    for raw in stream[:100]:  # also as the generator hands them over (Python mappings, not GraphQL-coerced)
        assert_same(raw)


def test_boundaries_of_every_rule() -> None:
    """Each rule of the README's table just inside and just outside, one field at a time."""
    now = dt.datetime.now(dt.UTC)
    cases: list[tuple[str, Any]] = [
        ("eventId", ""),
        ("eventId", "e" * 200),
        ("eventId", "e" * 201),
        ("eventId", "e\u0301"),  # not NFC
        ("eventId", "\u00e9"),
        ("eventId", "a\u00a0b"),
        ("eventId", "a\u2003b"),
        ("eventId", "a\u200bb"),  # Cf
        ("eventId", "~!"),
        ("eventId", " a"),
        ("tenant", "a" * 64),
        ("tenant", "a" * 65),
        ("tenant", "-a"),
        ("tenant", "a-"),
        ("tenant", "a\n"),
        ("source", "checkout\n"),
        ("source", "check out"),
        ("occurredAt", now + dt.timedelta(minutes=4, seconds=50)),
        ("occurredAt", now + dt.timedelta(minutes=5, seconds=10)),
        ("occurredAt", dt.datetime(1970, 1, 1, tzinfo=dt.UTC)),
        ("occurredAt", dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)),
        ("occurredAt", dt.datetime(2020, 1, 1)),  # no offset (a Python caller)
        ("occurredAt", "2020-01-01T00:00:00+01:00"),
        ("occurredAt", "2020-01-01T00:00:00"),
        ("traceparent", "00-" + "0" * 31 + "1-" + "0" * 15 + "1-00"),
        ("traceparent", "fe-" + "a" * 32 + "-" + "b" * 16 + "-ff"),
        ("traceparent", "ff-" + "a" * 32 + "-" + "b" * 16 + "-00"),
        ("traceparent", "00-" + "0" * 32 + "-" + "b" * 16 + "-00"),
        ("traceparent", "00-" + "a" * 32 + "-" + "0" * 16 + "-00"),
        ("traceparent", "00-" + "a" * 32 + "-" + "b" * 16 + "-00\n"),
        ("actor.ip", "1.2.3.4"),
        ("actor.ip", "255.255.255.256"),
        ("actor.ip", "::"),
        ("actor.ip", "1.2.3.4\n"),
        ("actor.displayName", "x" * 1000),
        ("actor.displayName", "x" * 1001),
        ("actor.displayName", "tab\there"),
        ("actor.displayName", "\x7f"),
        ("actor.displayName", "\x9f"),
        ("actor.displayName", "\xa0"),
        ("actor.displayName", "~"),
        ("actor.userAgent", "\u2029"),
        ("target.displayName", ""),
        ("causationId", "ev_x"),
        ("data.orderPlaced.total.currency", "XXX"),
        ("data.orderPlaced.total.currency", "EUR "),
        ("data.orderPlaced.total.amountMinor", 0),
        ("data.orderPlaced.total.amountMinor", -1),
        ("data.orderPlaced.total.amountMinor", 2**63 - 1),
        ("data.orderPlaced.itemCount", 0),
        ("data.orderPlaced.itemCount", -1),
        ("data.orderPlaced.orderId", "o" * 200),
    ]
    for path, value in cases:
        event = base(1)
        event["occurredAt"] = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        _put(event, path, value)
        assert_same(_split(event))
        event["outcome"] = "FAILURE"  # through GraphQL's coercion too, where it accepts the value
        submissions = (
            coerced([{**event, "occurredAt": event["occurredAt"].isoformat()}]) if path != "occurredAt" else None
        )
        if submissions is not None:
            assert_same(submissions[0])


def _split(event: dict[str, Any]) -> Submission:
    """A GraphQL-shaped event as a Python caller's submission (no coercion: any value reaches the models)."""
    envelope = dict(event)
    ((member, data),) = envelope.pop("data").items()
    return Submission(envelope=envelope, member=member, data=data)


def test_free_text_beyond_ascii_takes_the_twins() -> None:
    """Names with accents, tabs and newlines in free text are valid: the twins settle them (no slow path)."""
    (submission,) = (
        coerced([{**base(1), "actor": {"type": "USER", "id": "u_1", "displayName": "José\tMüller\n"}}]) or []
    )
    assert validate_fast(submission, PRINCIPALS["one-tenant"]) is not None
    assert assert_same(submission)


def test_every_contract_example_takes_the_twins() -> None:
    envelope = {**base(1), "occurredAt": dt.datetime(2020, 1, 1, tzinfo=dt.UTC)}
    envelope.pop("data")
    for contract in CURRENT:
        for example in contract.examples:
            assert assert_same(Submission(envelope=envelope, member=contract.input_member, data=example))


def test_every_contract_has_a_twin_with_the_same_fields() -> None:
    for model in [Envelope, *(c.model for c in BY_INPUT_MEMBER.values())]:
        fast = twin(model)
        assert fast is not None, model
        assert list(typing.get_type_hints(fast.typed_dict)) == list(model.model_fields)
        schema = TypeAdapter(fast.typed_dict).core_schema
        fields = schema["fields"] if schema["type"] == "typed-dict" else schema["schema"]["fields"]
        assert {n: f.get("validation_alias") for n, f in fields.items()} == {
            n: f.alias for n, f in model.model_fields.items()
        }


def test_a_model_the_twins_do_not_mirror_has_no_twin() -> None:
    """A validator of another kind than ``mode="after"`` on the model: its events take the contract models."""

    class Checked(ContractModel):
        name: Id

        @field_validator("name")
        @classmethod
        def _lower(cls, value: str) -> str:
            return value.lower()

    class Holder(ContractModel):
        checked: Checked

    assert twin(Checked) is None
    assert twin(Holder) is None


def test_the_envelopes_model_validator_runs_on_the_twin() -> None:
    """``causationId`` equal to ``eventId`` is refused by the twin, so the reference reports SELF_CAUSATION."""
    (submission,) = coerced([{**base(1), "causationId": base(1)["eventId"]}]) or []
    assert validate_fast(submission, PRINCIPALS["one-tenant"]) is None
    rejected = validate(submission, PRINCIPALS["one-tenant"])
    assert isinstance(rejected, Rejected) and [p.code for p in rejected.problems] == ["SELF_CAUSATION"]


def test_from_values_builds_the_keyword_constructors_event() -> None:
    (submission,) = coerced([base(7)]) or []
    event = validate_reference(submission, PRINCIPALS["one-tenant"])
    assert isinstance(event, NewEvent)
    values = tuple(getattr(event, name) for name in NEW_EVENT_FIELDS)
    assert NewEvent.from_values(values) == event
    with pytest.raises(TypeError):
        NewEvent.from_values(values[:-1])


# Characters at the edges of the rules: ASCII edges, whitespace of every kind, controls, Cf, combining
# marks, non-NFC, surrogates, astral, and the characters of names, hex and addresses.
ALPHABET = (
    "aZz09_.-:~!/ \t\n\r\x00\x1f\x7f\x80\x85\x9f\xa0\xad\u00e9e\u0301\u200b\u200d\u2028\u2029\u202e\u3000"
    "\ufeff\ud800\U0001f600ABCDEFabcdef"
)
TEXT = st.text(alphabet=ALPHABET, max_size=8) | st.sampled_from(
    ["", "a" * 200, "a" * 201, "a" * 64, "a" * 65, "x" * 1000, "x" * 1001, "1.2.3.4", "::1", "01.2.3.4"]
)
FIELDS = [
    "eventId",
    "source",
    "tenant",
    "actor.id",
    "actor.displayName",
    "actor.ip",
    "actor.userAgent",
    "target.type",
    "target.id",
    "target.displayName",
    "correlationId",
    "causationId",
    "traceparent",
]
DATA_FIELDS = {
    "orderPlaced": ["orderId", "total.currency"],
    "paymentCaptured": ["paymentId", "orderId", "provider", "amount.currency"],
    "roleGranted": ["role", "granteeId", "scope"],
    "settingChanged": ["setting", "changes.0.field", "changes.0.before", "changes.0.after"],
    "apiKeyCreated": ["keyId", "name", "scopes.0"],
    "dataExported": ["dataset", "destination"],
    "refundIssued": ["refundId", "paymentId", "reason"],
    "userSignedIn": ["sessionId"],
}


def _put(node: Any, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    member=st.sampled_from(sorted(DATA_FIELDS)),
    envelope_changes=st.lists(st.tuples(st.sampled_from(FIELDS), TEXT), max_size=3),
    data_changes=st.lists(st.tuples(st.integers(0, 3), TEXT), max_size=2),
    amount=st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
)
def test_hypothesis_strings_validate_alike(
    member: str, envelope_changes: list[tuple[str, str]], data_changes: list[tuple[int, str]], amount: int | None
) -> None:
    event = base(9, member)
    event["occurredAt"] = "2020-01-01T00:00:00Z"
    for path, value in envelope_changes:
        _put(event, path, value)
    paths = DATA_FIELDS[member]
    for index, value in data_changes:
        _put(event["data"][member], paths[index % len(paths)], value)
    if amount is not None and member in ("orderPlaced", "paymentCaptured", "refundIssued"):
        _put(event["data"][member], "total.amountMinor" if member == "orderPlaced" else "amount.amountMinor", amount)
    submissions = coerced([event])
    if submissions is not None:
        assert_same(submissions[0])


def _native_accepts(model_field_type: Any, value: str) -> bool:
    from pydantic import TypeAdapter, ValidationError

    try:
        TypeAdapter(model_field_type).validate_python(value)
    except ValidationError:
        return False
    return True


def test_the_currency_precheck_is_the_currency_rule() -> None:
    """Exhaustive over three letters: the native pattern accepts exactly the ISO 4217 codes."""
    import itertools
    import string

    from pydantic_core import SchemaValidator, ValidationError
    from pydantic_core import core_schema as cs

    from app.contracts.currencies import ISO_4217
    from app.contracts.values import PRECHECKS, _currency

    pattern = SchemaValidator(cs.str_schema(pattern=PRECHECKS[_currency].pattern))  # type: ignore[attr-defined]
    accepted = set()
    for letters in itertools.product(string.ascii_uppercase, repeat=3):
        code = "".join(letters)
        try:
            pattern.validate_python(code)
        except ValidationError:
            continue
        accepted.add(code)
    assert accepted == ISO_4217
    for near in ("EUR\n", "eur", " EUR", "EU", "EURO", ""):
        with pytest.raises(ValidationError):
            pattern.validate_python(near)


@settings(max_examples=600, deadline=None)
@given(
    st.one_of(
        st.text(alphabet="0123456789abcdefABF-\n", min_size=50, max_size=57),
        st.builds(
            lambda v, t, p, f: f"{v}-{t}-{p}-{f}",
            st.sampled_from(["00", "01", "fe", "ff", "ef", "f0", "0f", "0g"]),
            st.sampled_from(["0" * 32, "0" * 31 + "1", "1" + "0" * 31, "0" * 16 + "a" * 16, "a" * 31, "a" * 33]),
            st.sampled_from(["0" * 16, "0" * 15 + "f", "f" + "0" * 15, "b" * 15]),
            st.sampled_from(["00", "01", "ff", "0", "000"]),
        ),
    )
)
def test_the_traceparent_precheck_is_the_traceparent_rule(value: str) -> None:
    from pydantic_core import SchemaValidator
    from pydantic_core import core_schema as cs

    from app.contracts.envelope import Traceparent, _traceparent
    from app.contracts.values import PRECHECKS

    pattern = SchemaValidator(cs.str_schema(pattern=PRECHECKS[_traceparent].pattern))  # type: ignore[attr-defined]
    try:
        pattern.validate_python(value)
        native = True
    except Exception:
        native = False
    assert native == _native_accepts(Traceparent, value)
