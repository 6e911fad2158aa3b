"""A Feishu click whose first attempt failed in the database is run by Feishu's retry, once (issue 8, item 3)."""
from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import func, select

from bot.services import services_of
from dispatch.payloads import CardAction
from store.models import Outbox, TicketEvent
from tests.test_feishu_adapter import _world

# The database itself refuses the first audit event written after this is installed: a sequence is
# outside every transaction, so the refusal happens exactly once however the transaction ends.
REFUSE_ONCE = """
CREATE SEQUENCE refuse_once;
CREATE FUNCTION refuse_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF nextval('refuse_once') = 1 THEN RAISE EXCEPTION 'refused once by the test'; END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse_once BEFORE INSERT ON ticket_events FOR EACH ROW EXECUTE FUNCTION refuse_once();
"""
REMOVE = """
DROP TRIGGER IF EXISTS refuse_once ON ticket_events;
DROP FUNCTION IF EXISTS refuse_once();
DROP SEQUENCE IF EXISTS refuse_once;
"""


@pytest.mark.parametrize("backend", ["pg"], indirect=True)
async def test_a_click_that_failed_is_run_by_its_retry_and_only_once(aiohttp_client, make_settings, clock, backend):
    w = await _world(aiohttp_client, make_settings, clock, backend)
    number = await w.report()
    [card] = w.cards()
    payload = w.push.card_action(open_id="ou_t1", value={"p": CardAction("transfer", number).encode()},
                                 chat_id=card["chat_id"], message_id=card["message_id"], event_id="ev_retry")
    admin = await asyncpg.connect(backend.db_url.replace("+asyncpg", ""))
    try:
        await admin.execute(REFUSE_ONCE)
        headers, body = w.push.request(payload)
        failed = await w.client.post("/feishu/card", data=body, headers=headers)
        assert failed.status == 500  # Feishu retries a click that was not answered with 200
        headers, body = w.push.request(payload)  # the retry: same event id, a fresh signature
        retried = await w.client.post("/feishu/card", data=body, headers=headers)
        assert retried.status == 200
        answer = await retried.json()
        assert answer["toast"]["type"] == "success"
        headers, body = w.push.request(payload)  # and one more delivery changes nothing
        assert (await (await w.client.post("/feishu/card", data=body, headers=headers)).json()) == answer
    finally:
        await admin.execute(REMOVE)
        await admin.close()
    async with services_of(w.app).sessions() as s:
        transfers = (await s.execute(select(func.count()).select_from(TicketEvent)
                                     .where(TicketEvent.action == "transfer_requested"))).scalar_one()
        # (Besides, with no desk person configured the supervisor also hears of the new ticket: BR-3's fallback.)
        notices = sum(1 for row in (await s.execute(select(Outbox.payload).where(
            Outbox.recipient == "user:ou_sup", Outbox.kind == "text"))).scalars()
            if row.get("template") == "notify/transfer_requested.j2")
    assert transfers == 1 and notices == 1  # the supervisor hears of it once
