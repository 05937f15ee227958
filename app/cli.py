"""The ``audit-gateway`` command: serve, db upgrade, keys create, verify, demo."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from app.auth.principal import Scope
from app.config import Settings

HTTP_PROTOCOLS = ("httptools", "h11")
"""``serve --http``: uvicorn's HTTP/1.1 parser, both guarded (app/serving.py); the first is the default."""
EVENT_LOOPS = ("uvloop", "asyncio") if sys.platform != "win32" else ("asyncio",)
"""``serve --loop``: the event loop; the first is the default (uvloop is not installed on Windows)."""
EPILOG = "Settings come from AUDIT_* environment variables, e.g. AUDIT_DATABASE_URL (see README)."


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="audit-gateway", description=__doc__, epilog=EPILOG)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the GraphQL server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, help="worker processes (default: one per CPU on PostgreSQL, 1 on SQLite)")
    serve.add_argument(
        "--http", choices=HTTP_PROTOCOLS, default=HTTP_PROTOCOLS[0], help="HTTP/1.1 parser (%(default)s)"
    )
    serve.add_argument("--loop", choices=EVENT_LOOPS, default=EVENT_LOOPS[0], help="event loop (%(default)s)")

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply migrations to AUDIT_DATABASE_URL")

    keys = commands.add_parser("keys", help="API keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser("create", help="create an API key; its secret is the last line of output")
    create.add_argument("--name", required=True)
    create.add_argument("--tenant", action="append", required=True, dest="tenants")
    create.add_argument(
        "--scope", action="append", required=True, dest="scopes", choices=[scope.value for scope in Scope]
    )
    create.add_argument("--source", action="append", default=[], dest="sources")
    key_commands.add_parser("list", help="list keys (ids, names, rights; never secrets)")
    revoke = key_commands.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")

    verify = commands.add_parser("verify", help="recompute hash chains; exit 1 on a break")
    verify.add_argument("--tenant", action="append", dest="tenants")

    demo = commands.add_parser("demo", help="seed a demo tenant, print its reader and writer keys, serve")
    demo.add_argument("--host")
    demo.add_argument("--port", type=int)
    demo.add_argument("--events", type=int, default=3000, help="about how many demo events (default 3000)")
    demo.add_argument("--no-serve", action="store_true", help="seed and print the keys, but do not serve")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings()
    try:
        match args.command:
            case "serve":
                return serve(settings, args.host, args.port, args.workers, args.http, args.loop)
            case "db":
                return asyncio.run(_db_upgrade(settings))
            case "keys":
                return asyncio.run(_keys(settings, args))
            case "verify":
                return asyncio.run(_verify(settings, args.tenants))
            case "demo":
                return demo(settings, args)
    except CliError as error:
        print(f"audit-gateway: {error}", file=sys.stderr)
        return 2
    except (SQLAlchemyError, OSError) as error:  # the database failed or cannot be reached: say which, no traceback
        print(f"audit-gateway: {_database_error(settings.database_url, error)}", file=sys.stderr)
        return 3
    return 2


def _database_error(database_url: str, error: BaseException) -> str:
    """``database error (URL, password hidden): Type: first line``, and what to do when the database is missing."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    cause = getattr(error, "orig", None) or error.__cause__ or error
    lines = str(cause).strip().splitlines()
    reason = lines[0][:300] if lines else ""
    message = f"database error ({url.render_as_string(hide_password=True)}): {type(cause).__name__}: {reason}"
    if url.get_backend_name() == "postgresql" and "does not exist" in reason:
        message += (
            f"\ncreate it first, e.g. `createdb -h {url.host or '127.0.0.1'} -U {url.username or 'postgres'} "
            f"{url.database}`, then run `audit-gateway db upgrade` (README: PostgreSQL from zero)"
        )
    return message


class CliError(Exception):
    pass


async def _db_upgrade(settings: Settings) -> int:
    from app.store.engine import create_engine
    from app.store.migrate import head_revision, upgrade

    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    print(f"database is at revision {head_revision()}")
    return 0


async def ensure_schema(settings: Settings) -> None:
    """Refuse an out-of-date database; the embedded SQLite default upgrades itself."""
    from app.store.engine import create_engine
    from app.store.migrate import current_revision, head_revision, upgrade

    engine = create_engine(settings.database_url)
    try:
        current = await current_revision(engine)
        if current == head_revision():
            return
        if settings.database_url.startswith("sqlite") and settings.auto_upgrade_sqlite:
            await upgrade(engine)
            return
        raise CliError(
            f"the database is at revision {current or 'none'}, this gateway needs {head_revision()}: "
            "run `audit-gateway db upgrade` first"
        )
    finally:
        await engine.dispose()


async def _keys(settings: Settings, args: argparse.Namespace) -> int:
    from app.auth.keys import create_key, list_keys, revoke_key
    from app.store.engine import create_engine

    await ensure_schema(settings)
    engine = create_engine(settings.database_url)
    try:
        if args.keys_command == "list":
            for key, created, revoked in await list_keys(engine):
                state = f"revoked {revoked:%Y-%m-%d %H:%M}" if revoked else "active"
                print(
                    f"{key.key_id}  {key.name!r}  tenants={','.join(sorted(key.tenants))} "
                    f"scopes={','.join(sorted(key.scopes))} sources={','.join(sorted(key.sources)) or '-'} "
                    f"created {created:%Y-%m-%d %H:%M}  {state}"
                )
            return 0
        if args.keys_command == "revoke":
            if not await revoke_key(engine, args.key_id):
                raise CliError(f"no active key with id {args.key_id}")
            print(f"revoked key {args.key_id}")
            return 0
        principal, secret = await create_key(
            engine, name=args.name, tenants=args.tenants, scopes=args.scopes, sources=args.sources
        )
    except ValueError as error:
        raise CliError(str(error)) from None
    finally:
        await engine.dispose()
    print(
        f"created key {principal.key_id} '{principal.name}': tenants={','.join(sorted(principal.tenants))} "
        f"scopes={','.join(sorted(principal.scopes))} sources={','.join(sorted(principal.sources)) or '-'}"
    )
    print("the secret is shown once, on the next line:")
    print(secret)
    return 0


async def _verify(settings: Settings, tenants: list[str] | None) -> int:
    from app.store.engine import create_engine
    from app.store.verify import tenants as all_tenants
    from app.store.verify import verify_chain

    await ensure_schema(settings)
    engine = create_engine(settings.database_url)
    broken = 0
    try:
        for tenant in tenants or await all_tenants(engine):
            report = await verify_chain(engine, tenant)
            if report.ok:
                print(f"{tenant}: ok, {report.checked_count} events, head {report.head_sequence} {report.head_hash}")
            else:
                broken += 1
                print(
                    f"{tenant}: BROKEN at sequence {report.first_broken_sequence} "
                    f"({report.checked_count} events checked)"
                )
    finally:
        await engine.dispose()
    return 1 if broken else 0


def default_workers(settings: Settings) -> int:
    """One process per CPU on PostgreSQL; one on SQLite (a single writer; processes would queue on its lock)."""
    if settings.database_url.startswith("sqlite"):
        return 1
    return max(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, 1)


def serve(
    settings: Settings,
    host: str | None,
    port: int | None,
    workers: int | None = None,
    http: str = HTTP_PROTOCOLS[0],
    loop: str = EVENT_LOOPS[0],
) -> int:
    import logging

    import uvicorn

    from app.server import create_app
    from app.serving import ENVIRONMENT_PROTOCOLS, raise_file_limit, uvicorn_options

    workers = default_workers(settings) if workers is None else workers
    if workers < 1:
        raise CliError("--workers must be at least 1")
    asyncio.run(ensure_schema(settings))
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    raise_file_limit(settings)
    options: dict[str, Any] = {
        "host": host or settings.host,
        "port": port or settings.port,
        "log_level": settings.log_level,
        **uvicorn_options(settings, http, loop),
    }
    if workers == 1:
        uvicorn.Server(uvicorn.Config(create_app(settings), **options)).run()
    else:
        # Several workers each build their app (and the guarded protocol, named by import path so a worker process
        # can load it) from the same AUDIT_* environment; each worker applies the connection limits on its own.
        options["http"] = ENVIRONMENT_PROTOCOLS[http]
        uvicorn.run("app.server:create_app", factory=True, workers=workers, **options)
    return 0


def demo(settings: Settings, args: argparse.Namespace) -> int:
    from app.demo import seed_demo
    from app.demo_keys import keys_path

    asyncio.run(ensure_schema(settings))
    host, port = args.host or settings.host, args.port or settings.port
    keys = asyncio.run(seed_demo(settings, approximate_events=args.events))
    print(
        f"\nDemo tenant 'demo' is ready. Its keys (kept in {keys_path(settings.database_url)}, mode 0600, "
        "and reused by the next `demo` run):\n\n"
        f"export AUDIT_DEMO_READER={keys.reader}\n"
        f"export AUDIT_DEMO_WRITER={keys.writer}\n"
    )
    if args.no_serve:
        print("Not serving (--no-serve): `audit-gateway serve` serves this database.")
        return 0
    print(
        f"Open http://{host}:{port}/graphql and paste this into the Headers tab (the writer key instead to record):\n\n"
        f'  {{"Authorization": "Bearer {keys.reader}"}}\n\n'
        'then try: { events(first: 10, search: "type:order.*") { edges { node { __typename '
        "... on AuditEvent { eventId occurredAt actor { id } } } } } }\n",
        flush=True,
    )
    return serve(settings, host, port)
