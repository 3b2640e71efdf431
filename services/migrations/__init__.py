"""Schema migrations (Alembic)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

HERE = Path(__file__).resolve().parent


def alembic_config(url: str) -> Config:
    config = Config(str(HERE / "alembic.ini"))
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


# Written once, never changed: the hub's role may only read and append them.
APPEND_ONLY = ("audit_log", "evidence", "log_leaves", "log_nodes", "log_checkpoints")


def grant_hub_role(url: str, role: str) -> None:
    """On PostgreSQL, let the role the hub runs as use the schema the migrating role owns:
    read and write the working tables, only read and append the log's (and purge the
    audit entries' personal fields), never alter or drop a table or a trigger (it owns
    none). No-op on SQLite."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            if conn.dialect.name != "postgresql":
                return
            q = conn.dialect.identifier_preparer.quote(role)
            conn.execute(text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
            conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {q}"))
            conn.execute(text(
                f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {q}"))
            conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {q}"))
            conn.execute(text(f"REVOKE UPDATE, DELETE, TRUNCATE ON {', '.join(APPEND_ONLY)} "
                              f"FROM {q}"))
            # The audit retention purge empties an entry's personal fields: the role may
            # update those columns only, and the trigger lets only a purge through.
            # (services.audit.service.PERSONAL, and `purged`.)
            conn.execute(text("GRANT UPDATE (client_id, object, agent, purpose, request_id, "
                              f"purged) ON audit_log TO {q}"))
            conn.execute(text(f"REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM {q}"))
    finally:
        engine.dispose()
