"""Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from services.migrations import upgrade
from services.models import metadata


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrations_match_the_models(database_factory, backend):
    url = database_factory(backend)
    upgrade(url)
    upgrade(url)  # a second upgrade is a no-op
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()
    assert diff == []


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_topic_positions_start_below_what_the_outbox_still_had_to_send(database_factory,
                                                                       backend):
    """0012 replaces the outbox by one position per recipient: an entry not yet published
    stays to publish, one published is not published again."""
    url = database_factory(backend)
    upgrade(url, "0011")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for org in ("miviludes", "dgs", "cnop"):
                conn.execute(text("INSERT INTO organisations (id, type, name, created_at) "
                                  "VALUES (:id, 'state_service', :id, CURRENT_TIMESTAMP)"),
                             {"id": org})
            conn.execute(text("INSERT INTO feed_heads (org_id, last_seq) VALUES "
                              "('miviludes', 5), ('dgs', 3), ('cnop', 0)"))
            for org, seq, published in [("miviludes", 3, True), ("miviludes", 4, False),
                                        ("miviludes", 5, False), ("dgs", 3, True)]:
                conn.execute(text(
                    "INSERT INTO outbox (message_id, topic, key, payload, created_at, "
                    "published_at) VALUES (:m, 't', 'k', '{}', CURRENT_TIMESTAMP, "
                    + ("CURRENT_TIMESTAMP)" if published else "NULL)")),
                    {"m": f"feed:{org}:{seq}"})
        upgrade(url)
        with engine.connect() as conn:
            positions = dict(conn.execute(text(
                "SELECT org_id, published_seq FROM topic_positions")).all())
            tables = set(inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert positions == {"miviludes": 3, "dgs": 3, "cnop": 0}
    assert "outbox" not in tables
