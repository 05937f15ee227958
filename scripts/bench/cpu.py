"""CPU seconds spent by a server's process tree and by PostgreSQL (every postgres process on the machine) over a
harness run, read from ``/proc``: nothing else may use the database meanwhile.

Client, server and database share the machine's CPUs, so a side's requests per second is bounded by the CPU
its server and PostgreSQL spend per request. ``/proc/<pid>/stat`` gives each live process's user + system
time; PostgreSQL's backends come and go, so its total also counts what its exited children spent (the
postmaster's ``cutime``/``cstime``). Linux only; elsewhere a snapshot is empty and nothing is reported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PROC = Path("/proc")


@dataclass(frozen=True)
class Snapshot:
    server: float
    postgres: float


def _stats() -> dict[int, tuple[str, int, list[str]]]:
    """pid → (command name, parent pid, the fields after the command name)."""
    found: dict[int, tuple[str, int, list[str]]] = {}
    for entry in PROC.iterdir() if PROC.exists() else []:
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        found[int(entry.name)] = (name, int(fields[1]), fields)
    return found


def _seconds(fields: list[str], *, children: bool = False) -> float:
    # After the command name: state, ppid, …; utime and stime are fields 14 and 15 of stat(5), cutime and
    # cstime 16 and 17, i.e. indexes 11-14 here.
    total = int(fields[11]) + int(fields[12])
    if children:
        total += int(fields[13]) + int(fields[14])
    return total / TICKS


def snapshot(server_pid: int | None) -> Snapshot | None:
    """CPU seconds so far of ``server_pid`` and its descendants, and of every PostgreSQL process (None: no /proc)."""
    stats = _stats()
    if not stats:
        return None
    children: dict[int, list[int]] = {}
    for pid, (_, parent, _) in stats.items():
        children.setdefault(parent, []).append(pid)
    server, todo = 0.0, [server_pid] if server_pid in stats else []
    while todo:
        pid = todo.pop()
        server += _seconds(stats[pid][2])
        todo += children.get(pid, [])
    postgres = 0.0
    for name, parent, fields in stats.values():
        if name.startswith("postgres") or name.startswith("postmaster"):
            postmaster = stats.get(parent, ("",))[0] not in ("postgres", "postmaster")
            postgres += _seconds(fields, children=postmaster)
    return Snapshot(server, postgres)


def spent(before: Snapshot | None, after: Snapshot | None) -> dict[str, float] | None:
    """CPU seconds between two snapshots: ``server`` and ``postgres``."""
    if before is None or after is None:
        return None
    return {"server": after.server - before.server, "postgres": after.postgres - before.postgres}
