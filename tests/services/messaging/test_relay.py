"""The relay carries each feed entry to its recipient's topic once: a relay that died
after publishing but before marking its rows does not publish them again."""

from __future__ import annotations

from sqlalchemy import select, update

from services.feed.models import FeedHead
from services.messaging.models import TopicPosition
from services.messaging.outbox import OutboxRelay, backlog
from tests.conftest import (
    request_from,
    start_consumers,
    stop_consumers,
    wait_topic_matches_feed,
)


def test_records_published_but_not_marked_are_not_published_again(stack):
    court = stack.api("pr-marseille")
    for _ in range(3):
        assert court.post("/v1/information-requests", request_from(court.org_id)).status_code == 201
    wait_topic_matches_feed(stack, "miviludes")
    stop_consumers(stack)
    try:
        # As if the relay had died between producing and moving on: its position is back
        # at the start of the feed, whose entries are all on the topic.
        with stack.hub.db.transaction() as session:
            moved = session.execute(update(TopicPosition)
                                    .where(TopicPosition.org_id == "miviludes")
                                    .values(published_seq=0)).rowcount
            waiting = session.scalar(select(FeedHead.last_seq)
                                     .where(FeedHead.org_id == "miviludes"))
        assert moved == 1 and waiting >= 3
        for _ in range(2):
            resp = court.post("/v1/information-requests", request_from(court.org_id))
            assert resp.status_code == 201
        relay = OutboxRelay(stack.hub.db, stack.settings)  # a new process: nothing checked
        try:
            relay.drain()
        finally:
            relay.close()
    finally:
        start_consumers(stack)
    topic = wait_topic_matches_feed(stack, "miviludes")
    cursors = [int(e["cursor"]) for e in topic]
    assert cursors == list(range(1, len(cursors) + 1))


def test_a_batch_says_whether_it_left_entries_behind(stack):
    """The relay goes round again at once only when a recipient's batch was full; else it
    waits for the next commit's notification (every commit since its read has notified)."""
    court = stack.api("pr-marseille")
    stop_consumers(stack)
    relay = OutboxRelay(stack.hub.db, stack.settings, batch_size=2)
    try:
        for _ in range(3):
            resp = court.post("/v1/information-requests", request_from(court.org_id))
            assert resp.status_code == 201
        assert relay.relay_once() > 0 and relay.more
        rounds = 1
        while relay.more:
            assert relay.relay_once() > 0
            rounds += 1
            assert rounds < 1000
        with stack.hub.db.reads() as conn:
            assert backlog(conn) == 0
        assert relay.relay_once() == 0
    finally:
        relay.close()
        start_consumers(stack)
    wait_topic_matches_feed(stack, "miviludes")
