"""Versioned schema migrations (yoyo-migrations over psycopg 3): ``gridwatch migrate``."""

from __future__ import annotations

from importlib.resources import files

from yoyo import get_backend, read_migrations


def _yoyo_url(database_url: str) -> str:
    scheme, _, rest = database_url.partition("://")
    if scheme not in ("postgresql", "postgres", "postgresql+psycopg"):
        raise ValueError(f"database url must start with postgresql://, got {scheme!r}")
    return f"postgresql+psycopg://{rest}"


def migrate(database_url: str) -> list[str]:
    """Apply every pending migration; return the ids applied (empty when up to date)."""
    backend = get_backend(_yoyo_url(database_url))
    migrations = read_migrations(str(files("ingest") / "migrations"))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    return [m.id for m in pending]
