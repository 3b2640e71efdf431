"""Deadlines, for every exchange: overdue items are flagged in the API and counted."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.db import utcnow
from services.exchanges.models import Item
from services.exchanges.registry import EXCHANGES
from tests.conftest import example_for


@pytest.mark.parametrize("name", sorted(EXCHANGES))
def test_overdue_items_are_flagged_and_counted(stack, name):
    sender, body = example_for(name)
    api = stack.api(sender)
    item = api.post(f"/v1/{name}", body).json()
    assert item["overdue"] is False
    with stack.hub.db.transaction() as session:
        session.get(Item, item["id"]).due_at = utcnow() - timedelta(minutes=1)
    assert api.get(f"/v1/{name}/{item['id']}").json()["overdue"] is True
    late = api.get(f"/v1/{name}", overdue="true").json()["items"]
    assert item["id"] in [i["id"] for i in late]
    on_time = api.get(f"/v1/{name}", overdue="false").json()["items"]
    assert item["id"] not in [i["id"] for i in on_time]
    metrics = stack.http.get("/metrics").text
    line = next(m for m in metrics.splitlines()
                if m.startswith(f'vigie_items_overdue{{exchange="{name}"}}'))
    assert float(line.split()[-1]) >= 1
    if EXCHANGES[name].delivery_target is not None:
        assert f'vigie_items_delivery_late{{exchange="{name}"}}' in metrics


def test_delivery_latency_is_measured_per_exchange(stack):
    for name in EXCHANGES:
        sender, body = example_for(name)
        item = stack.api(sender).post(f"/v1/{name}", body).json()
        stack.api(item["recipient"]).wait_delivered(item["id"])
        lane = item["lane"]
        assert f'vigie_delivery_latency_seconds_count{{exchange="{name}",lane="{lane}"}}' in \
            stack.http.get("/metrics").text
