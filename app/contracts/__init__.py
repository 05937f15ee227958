"""Event contracts: the one declaration of every event type, its validation and versions."""

from app.contracts.envelope import Actor, ActorType, Envelope, Outcome, Target
from app.contracts.problems import Problem
from app.contracts.registry import BY_INPUT_MEMBER, BY_NAME, CURRENT, Contract, decode

__all__ = [
    "BY_INPUT_MEMBER",
    "BY_NAME",
    "CURRENT",
    "Actor",
    "ActorType",
    "Contract",
    "Envelope",
    "Outcome",
    "Problem",
    "Target",
    "decode",
]
