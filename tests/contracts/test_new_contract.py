"""Adding a contract is one declaration: it shows up in the schema, the union, the input, validation and reads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_contract_declared_once_is_everywhere(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "tests.contracts.new_contract_app", str(tmp_path / "audit.db")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(run.stdout)
    sdl = result["sdl"]

    assert "type TicketOpened implements AuditEvent & Node {" in sdl
    assert '"""ticket.opened v1: A support ticket was opened."""' in sdl
    assert "data: TicketOpenedData!" in sdl and "input TicketOpenedDataInput {" in sdl
    union = next(line for line in sdl.splitlines() if line.startswith("union AuditEventUnion"))
    assert union.endswith("| SettingChanged | TicketOpened")
    input_members = sdl.split("input EventDataInput @oneOf {")[1].split("}")[0]
    assert "ticketOpened: TicketOpenedDataInput" in input_members

    results = result["recorded"]["data"]["recordEvents"]["results"]
    assert results[0] == {"__typename": "EventAccepted"}
    assert results[1] == {
        "__typename": "EventRejected",
        "errors": [
            {"path": ["data", "ticketOpened", "subject"], "code": "EMPTY"},
            {"path": ["data", "ticketOpened", "seats"], "code": "TOO_SMALL"},
        ],
    }

    served = result["served"]["data"]
    assert served["events"]["nodes"] == [
        {
            "__typename": "TicketOpened",
            "eventId": "tk_1",
            "type": "ticket.opened",
            "data": {"ticketId": "t_1", "subject": "Cannot sign in", "seats": 3},
        }
    ]
    (ticket,) = [t for t in served["eventTypes"] if t["type"] == "ticket.opened"]
    assert ticket["graphqlType"] == "TicketOpened" and ticket["description"] == "A support ticket was opened."
    schema = ticket["dataSchema"] if isinstance(ticket["dataSchema"], dict) else json.loads(ticket["dataSchema"])
    assert set(schema["properties"]) == {"ticketId", "subject", "seats"}
    assert schema["examples"] == [{"ticketId": "t_1", "subject": "Cannot sign in", "seats": 3}]
