"""The envelope every event carries, whatever its contract."""

from __future__ import annotations

import datetime as dt
import enum
import re
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from app.contracts.values import PRECHECKS, ContractModel, DatetimeConstraint, Id, IpAddress, Name, Text, Timestamp
from app.errors import Code

FUTURE_TOLERANCE = dt.timedelta(minutes=5)
EARLIEST_OCCURRED_AT = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
"""No audit event happened before the Unix epoch: earlier instants are typos or backdating (#13.6)."""
TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ZERO_TRACE, _ZERO_PARENT = "0" * 32, "0" * 16


class ActorType(enum.Enum):
    USER = "USER"
    SERVICE = "SERVICE"
    SYSTEM = "SYSTEM"
    ANONYMOUS = "ANONYMOUS"


class Outcome(enum.Enum):
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"


def _not_in_future(value: dt.datetime) -> dt.datetime:
    if value > dt.datetime.now(dt.UTC) + FUTURE_TOLERANCE:
        raise PydanticCustomError(Code.IN_FUTURE, "must not be more than 5 minutes in the future")
    return value


def _not_too_early(value: dt.datetime) -> dt.datetime:
    if value < EARLIEST_OCCURRED_AT:
        raise PydanticCustomError(Code.TOO_EARLY, "must not be before 1970-01-01T00:00:00Z")
    return value


PRECHECKS[_not_in_future] = DatetimeConstraint("now_op", "past")
"""Before now passes ``_not_in_future`` (which allows five minutes ahead); a clock ahead of ours takes the models."""
PRECHECKS[_not_too_early] = Field(ge=EARLIEST_OCCURRED_AT)


def _traceparent(value: str) -> str:
    """W3C trace context: ``00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>``, ids not all zero."""
    match = TRACEPARENT.fullmatch(value)
    if not match or match[1] == "ff" or match[2] == _ZERO_TRACE or match[3] == _ZERO_PARENT:
        raise PydanticCustomError(
            Code.INVALID_TRACEPARENT, "must be a W3C traceparent such as 00-<32 hex>-<16 hex>-<2 hex>"
        )
    return value


Traceparent = Annotated[str, Field(max_length=55), AfterValidator(_traceparent)]


def _hex_not_all_zero(length: int) -> str:
    """A regex of ``length`` lower-case hex digits, not all zero: the first non-zero digit at each place."""
    return "(?:" + "|".join(f"0{{{zeros}}}[1-9a-f][0-9a-f]{{{length - 1 - zeros}}}" for zeros in range(length)) + ")"


PRECHECKS[_traceparent] = StringConstraints(
    pattern=rf"\A(?:[0-9a-e][0-9a-f]|f[0-9a-e])-{_hex_not_all_zero(32)}-{_hex_not_all_zero(16)}-[0-9a-f]{{2}}\z"
)
"""Exactly ``_traceparent``'s rule as one native pattern (version not ff, neither id all zeros)."""


def trace_id(traceparent: str | None) -> str | None:
    return traceparent.split("-")[1] if traceparent else None


class Actor(ContractModel):
    """Who did it."""

    type: ActorType
    id: Id
    display_name: Text | None = None
    ip: IpAddress | None = None
    user_agent: Text | None = None


class Target(ContractModel):
    """What it was done to."""

    type: Id
    id: Id
    display_name: Text | None = None


class Envelope(ContractModel):
    """The fields a producer sets on every event, validated before the contract data."""

    event_id: Id = Field(description="The producer's id for the event; unique within a tenant.")
    source: Name = Field(description="The producing service; the API key must be allowed to write as it.")
    occurred_at: Annotated[Timestamp, AfterValidator(_not_in_future), AfterValidator(_not_too_early)]
    tenant: Name | None = Field(None, description="Defaults to the caller's tenant when the caller has exactly one.")
    actor: Actor
    target: Target | None = None
    outcome: Outcome = Outcome.SUCCESS
    correlation_id: Id | None = None
    causation_id: Id | None = Field(None, description="eventId of the event that directly caused this one.")
    traceparent: Traceparent | None = Field(None, description="W3C trace context header value.")

    @model_validator(mode="after")
    def _not_its_own_cause(self) -> Envelope:
        if self.causation_id is not None and self.causation_id == self.event_id:
            raise PydanticCustomError(Code.SELF_CAUSATION, "causationId must name another event")
        return self
