"""Benchmarks of the audit gateway, side by side with floors and with a PostGraphile peer, in one run.

    .venv/bin/python -m scripts.bench            # full run (needs the 1M-event databases; made once, reused)
    .venv/bin/python -m scripts.bench --quick    # a check run: small log, short loops

Modules: ``workload`` (documents, events), ``servers`` (databases, ``audit-gateway serve``), ``floors``
(what the same work costs without the gateway), ``ingest`` / ``reads`` / ``peer`` / ``worst`` (the
measurements), ``report`` (docs/benchmarks.md and the raw JSON, before → after comparison).
"""
