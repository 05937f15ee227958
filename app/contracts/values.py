"""Value types shared by every contract: bounded strings, money, timestamps.

Each type carries its own rule, so a contract field's annotation is the whole
story of what it accepts. Rules that fail raise ``PydanticCustomError`` whose
type is the stable error code clients see (``TOO_LONG``, ``INVALID_CURRENCY``…).
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any, NewType

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    PlainSerializer,
    StringConstraints,
)
from pydantic.alias_generators import to_camel
from pydantic_core import CoreSchema, PydanticCustomError

from app.contracts.currencies import ISO_4217
from app.errors import BadUserInput, Code

BigInt = NewType("BigInt", int)
"""A signed 64-bit integer; GraphQL serializes it as a decimal string, JSON as an integer."""

BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1

ID_MAX = 200
NAME_MAX = 64
TEXT_MAX = 1000
LONG_TEXT_MAX = 4096

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_WHITESPACE = re.compile(r"\s")
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}")


class ContractModel(BaseModel):
    """Base of every contract model: frozen, strict about unknown fields, camelCase on the wire."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        use_enum_values=False,
    )


def _printable(value: str) -> str:
    # Fast check first: a printable string has no lone surrogate (Cs) and no control character (Cc).
    # Only strings with tabs, newlines or non-printable characters take the exact checks below.
    if value.isprintable():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError(Code.INVALID_UNICODE, "must be valid Unicode (no lone surrogates)") from None
    if _CONTROL.search(value):
        raise PydanticCustomError(Code.CONTROL_CHARACTER, "must not contain control characters")
    return value


def _identifier(value: str) -> str:
    _printable(value)  # first what every text must be (one validator: one call per id, same order of rules)
    # Every whitespace character but " " and every Cf character is non-printable: this settles most ids at C speed.
    if not value.isprintable() or " " in value:
        if _WHITESPACE.search(value):
            raise PydanticCustomError(Code.INVALID_ID, "must not contain whitespace")
        if any(unicodedata.category(char) == "Cf" for char in value):
            # Invisible and bidi-control characters let two ids that print the same differ.
            raise PydanticCustomError(Code.INVALID_ID, "must not contain invisible or bidirectional control characters")
    if not value.isascii() and not unicodedata.is_normalized("NFC", value):
        # "é" as one code point or as e + combining accent: one id, one spelling (the NFC one), never two events.
        raise PydanticCustomError(Code.NOT_NFC, "must be in Unicode normalization form NFC (e.g. 'é' as U+00E9)")
    return value


def _name(value: str) -> str:
    if not NAME_PATTERN.fullmatch(value):
        raise PydanticCustomError(
            Code.INVALID_NAME, "must be lower-case letters, digits, '_', '.' or '-', starting with a letter or digit"
        )
    return value


def _currency(value: str) -> str:
    if value not in ISO_4217:
        raise PydanticCustomError(Code.INVALID_CURRENCY, "must be an ISO 4217 code such as EUR or USD")
    return value


def _ip(value: str) -> str:
    # A dotted quad without leading zeros is exactly what ``ipaddress`` accepts as IPv4; anything else asks it.
    if not _IPV4.fullmatch(value) and not _is_ip(value):
        raise PydanticCustomError(Code.INVALID_IP, "must be an IPv4 or IPv6 address")
    return value


@functools.lru_cache(maxsize=4096)
def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _non_negative(value: int) -> int:
    if value < 0:
        raise PydanticCustomError(Code.NEGATIVE, "must not be negative")
    return value


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise PydanticCustomError(Code.MISSING_OFFSET, "must carry a UTC offset, e.g. 2026-01-01T12:00:00Z")
    return value.astimezone(dt.UTC)


@dataclass(frozen=True, slots=True)
class DatetimeConstraint:
    """A native constraint of pydantic-core's datetime schema, as ``Annotated`` metadata.

    E.g. ``DatetimeConstraint("tz_constraint", 0)``: only instants at offset 0 pass, in Rust.
    """

    key: str
    value: Any

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        schema = handler(source)
        if schema["type"] != "datetime":
            raise TypeError(f"{self} constrains a datetime, not a {schema['type']}")
        return {**schema, self.key: self.value}


PRECHECKS: dict[object, object] = {
    _identifier: StringConstraints(pattern=r"\A[!-~]*\z"),
    _name: StringConstraints(pattern=r"\A[a-z0-9][a-z0-9_.-]*\z"),
    _non_negative: Field(ge=0),
    _currency: StringConstraints(pattern=rf"\A(?:{'|'.join(sorted(ISO_4217))})\z"),
    _utc: DatetimeConstraint("tz_constraint", 0),
}
"""Rule → a native (Rust) constraint that only values the rule accepts unchanged can pass.

``app.contracts.fast`` puts these in place of the Python rules in its twins of the contract models:
visible ASCII (no space) passes ``_identifier`` (printable, no whitespace or Cf, ASCII so NFC);
``_name``'s pattern itself; ``_non_negative`` as ``ge=0``; the currency codes as one pattern; ``_utc`` as
offset 0 (the instant it would return, equal, its ``tzinfo`` aside: another offset takes the models). Rules
declared elsewhere add theirs (``envelope._traceparent``). Free text keeps ``_printable`` (one C-speed
``isprintable``): an ASCII-only pattern would send every name with an accent the slow way (twin, then
the models: ~2× the validation), for no measurable gain on ASCII.
"""


def check_text(value: str, where: str) -> str:
    """Read-side guard for strings that reach SQL: valid Unicode, no control characters."""
    try:
        _printable(value)
    except PydanticCustomError as error:
        raise BadUserInput(f"{where}: {error.message()}") from None
    return value


def canonical_timestamp(value: dt.datetime) -> str:
    """The one text form of an instant: ``2026-03-01T10:30:15.123456Z``, always with a 4-digit year.

    (``strftime("%Y")`` writes year 1 as ``1`` on glibc, which is not the ``YYYY`` of DESIGN.md's recipe.)
    ``isoformat`` of the UTC instant always writes a 4-digit year and ``+00:00``, and the microseconds unless
    they are 0: cut and completed, it is that form at two thirds of the cost of formatting each field (2.3 ->
    1.5 µs a call, medians of 21 interleaved timeit rounds; every event hashes two).
    tests/contracts/test_timestamps.py compares both forms over every year and offset.
    """
    u = value if value.tzinfo is dt.UTC else value.astimezone(dt.UTC)  # most already are: no copy
    return u.isoformat()[:-6] + ("Z" if u.microsecond else ".000000Z")


Id = Annotated[str, Field(min_length=1, max_length=ID_MAX), AfterValidator(_identifier)]
"""An identifier: 1–200 characters, no whitespace or control characters."""

Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX), AfterValidator(_name)]
"""A tenant or source name such as ``checkout``: 1–64 of ``[a-z0-9_.-]``."""

Label = Annotated[str, Field(min_length=1, max_length=TEXT_MAX), AfterValidator(_printable)]
"""A required free-text label (role, provider, dataset…): 1–1000 characters."""

Text = Annotated[str, Field(max_length=TEXT_MAX), AfterValidator(_printable)]
"""Optional free text (display names, reasons): up to 1000 characters."""

LongText = Annotated[str, Field(max_length=LONG_TEXT_MAX), AfterValidator(_printable)]
"""Setting values before and after a change: up to 4096 characters."""

IpAddress = Annotated[str, Field(max_length=45), AfterValidator(_ip)]

Currency = Annotated[str, Field(json_schema_extra={"pattern": "^[A-Z]{3}$"}), AfterValidator(_currency)]

AmountMinor = Annotated[BigInt, Field(ge=BIGINT_MIN, le=BIGINT_MAX), AfterValidator(_non_negative)]

Count = Annotated[int, Field(ge=0, le=2**31 - 1)]

Timestamp = Annotated[
    dt.datetime,
    AfterValidator(_utc),
    PlainSerializer(canonical_timestamp, return_type=str, when_used="json"),
]
"""An instant with an offset; stored and hashed as ``canonical_timestamp``."""


class Money(ContractModel):
    """An amount in a currency's minor unit (cents for EUR)."""

    amount_minor: Annotated[AmountMinor, Field(description="Amount in the currency's minor unit (cents for EUR).")]
    currency: Annotated[Currency, Field(description="ISO 4217 code, three upper-case letters.")]
