"""Settings, read from ``AUDIT_*`` environment variables."""

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AUDIT_", frozen=True)

    database_url: str = "sqlite+aiosqlite:///./audit.db"
    host: str = "127.0.0.1"
    port: int = 8000
    max_page_size: int = 500
    max_batch_size: int = 1000
    default_page_size: int = 50
    # An embedded SQLite database upgrades itself on start; PostgreSQL never does.
    auto_upgrade_sqlite: bool = True
    graphiql: bool = True
    introspection: bool = True
    field_suggestions: bool = True
    max_query_depth: int = 15
    max_aliases: int = 30
    max_tokens: int = 5000
    max_root_fields: int = 10
    max_body_bytes: int = 5 * 1024 * 1024
    statement_timeout_ms: int = 10_000
    pool_size: int = 10
    log_level: str = "info"
    # /openapi.json and Swagger UI at /docs (the HTTP routes themselves are always on).
    docs: bool = True
    # recordEvents requests the ingestion fast path covers skip Strawberry's input conversion (app.graphql.fast_ingest).
    fast_ingest: bool = True
    # The collector's first threshold in a serving process, after freezing the start-up heap (app/gc_tuning.py);
    # 0 leaves Python's (700).
    gc_threshold: int = 200_000
    # Hardening (#13): a request's whole life, the verify range per call, and the HTTP server's limits.
    request_timeout_ms: int = 30_000
    max_verify_range: int = 100_000
    header_timeout_seconds: float = 10.0
    keep_alive_seconds: int = 5
    max_connections: int = 1000
    max_header_bytes: int = 16 * 1024
    graceful_shutdown_seconds: int = 10
    # Cost budget of one operation: events it may return (page sizes multiplied along nested lists) plus
    # verifyIntegrity ranges; see app/graphql/cost.py.
    max_cost: int = 200_000
    # How long an authenticated API key is trusted without asking the database again (revocation delay).
    key_cache_seconds: float = 5.0
    # Serve the read operations it covers with the compiled executor (off: every request goes to Strawberry).
    compiled_reads: bool = True
    # Appends that arrive while others are in flight go to the store together (app/store/group_commit.py).
    # Off by default: on the machines measured so far it did not raise throughput (README, "Group commit").
    group_commit: bool = False
