"""The outbox: a platform failure delays a message, never loses or doubles it."""
from __future__ import annotations

from sqlalchemy import select

from bot.services import services_of
from relay.messengers import Delivered, DeliveryError, Undeliverable
from dispatch import outbox
from store.models import Outbox


class FlakyMessenger:
    """A platform that fails the first `fail` sends, the way a real one does under load."""

    channel = "flaky"

    def __init__(self, fail: int = 0, error: Exception | None = None) -> None:
        self.fail, self.error, self.sent = fail, error, []

    async def send_text(self, to, text, options=(), *, idempotency_key=""):
        if self.fail:
            self.fail -= 1
            raise self.error or DeliveryError("busy", retryable=True, code="-1")
        self.sent.append((to.user, text))
        return Delivered(message_id=f"m{len(self.sent)}")


async def _queue(app, key="k1"):
    async with services_of(app).sessions() as s, s.begin():
        await outbox.enqueue(s, key=key, channel="flaky", kind=outbox.TEXT, user="u1",
                             payload={"template": "intake/cancelled.j2"}, now=services_of(app).clock.now())


async def _rows(app):
    async with services_of(app).sessions() as s:
        return list((await s.execute(select(Outbox))).scalars())


async def test_a_failed_send_is_retried_with_backoff(client, clock):
    app = client.app
    m = FlakyMessenger(fail=2)
    services_of(app).messengers.register(m)
    await _queue(app)
    assert await services_of(app).outbox_sender.deliver_due() == 1 and m.sent == []
    assert await services_of(app).outbox_sender.deliver_due() == 0  # backing off, not hammering
    for _ in range(3):
        clock.advance(minutes=1)
        await services_of(app).outbox_sender.deliver_due()
    assert len(m.sent) == 1 and "已取消" in m.sent[0][1]
    [row] = await _rows(app)
    assert row.status == "sent" and row.attempts == 3 and row.platform_message_id == "m1"


async def test_the_same_key_is_queued_once(client):
    app = client.app
    m = FlakyMessenger()
    services_of(app).messengers.register(m)
    await _queue(app)
    await _queue(app)  # a retried domain action
    await services_of(app).outbox_sender.deliver_due()
    assert len(m.sent) == 1


async def test_a_message_that_keeps_failing_becomes_a_visible_dead_letter(client, clock):
    """Transient failures are retried for [outbox] retry_for (an hour), then the row is dead, not dropped."""
    app = client.app
    services_of(app).messengers.register(FlakyMessenger(fail=10_000))
    await _queue(app)
    for _ in range(59):  # 59 minutes of failures: still retrying
        await services_of(app).outbox_sender.deliver_due()
        clock.advance(minutes=1)
    [row] = await _rows(app)
    assert row.status == "pending" and row.attempts > 10
    for _ in range(10):
        await services_of(app).outbox_sender.deliver_due()
        clock.advance(minutes=1)
    [row] = await _rows(app)
    assert row.status == "dead" and "busy" in row.last_error


async def test_a_permanent_error_is_never_retried(client, clock):
    app = client.app
    m = FlakyMessenger(fail=1, error=DeliveryError("invalid user", retryable=False, code="wecom:40003"))
    services_of(app).messengers.register(m)
    await _queue(app)
    await services_of(app).outbox_sender.deliver_due()
    clock.advance(hours=2)
    assert await services_of(app).outbox_sender.deliver_due() == 0 and m.sent == []
    [row] = await _rows(app)
    assert row.status == "dead" and row.attempts == 1


async def test_undeliverable_is_recorded_not_dropped(client):
    app = client.app
    services_of(app).messengers.register(FlakyMessenger(fail=1, error=Undeliverable("window closed", code="45015")))
    await _queue(app)
    await services_of(app).outbox_sender.deliver_due()
    [row] = await _rows(app)
    assert row.status == "undeliverable" and "45015" in row.last_error


async def test_a_crashed_sender_leaves_rows_to_be_taken_again(client, clock):
    """A claim is a lease: rows a dead worker held come back when it ends."""
    from relay.outbox_sender import _claim
    app = client.app
    m = FlakyMessenger()
    services_of(app).messengers.register(m)
    await _queue(app)
    claimed = await _claim(services_of(app).sessions, clock.now(), 10, "dead-process")
    assert len(claimed) == 1  # claimed, then the process "dies"
    assert await services_of(app).outbox_sender.deliver_due() == 0
    clock.advance(seconds=61)
    assert await services_of(app).outbox_sender.deliver_due() == 1 and len(m.sent) == 1


async def test_staff_see_what_could_not_be_delivered_with_a_phone_to_call(client, sim):
    """A resident whose 48 h window closed is listed with their phone, nothing silently dropped."""
    from tests.conftest import auth
    app = client.app
    await sim.say("r9", "A座大堂的灯不亮了 王女士 13812345678")
    await sim.say("r9", "确认")  # the resident is now a known person with a phone
    services_of(app).messengers.register(FlakyMessenger(fail=1, error=Undeliverable("window closed", code="45015")))
    async with services_of(app).sessions() as s, s.begin():
        await outbox.enqueue(s, key="late-1", channel="flaky", kind=outbox.TEXT, user="r9",
                             payload={"text": "问卷"}, now=services_of(app).clock.now())
    from store.models import PersonIdentity
    from dispatch.people import person_for
    async with services_of(app).sessions() as s, s.begin():
        person = await person_for(s, "sim", "r9")
        s.add(PersonIdentity(person_id=person.id, platform="flaky", external_id="r9"))
    await services_of(app).outbox_sender.deliver_due()
    resp = await client.get("/api/v1/undelivered", headers=auth())
    items = (await resp.json())["undelivered"]
    assert [(i["status"], i["call"], i["text"]) for i in items] == [("undeliverable", "13812345678", "问卷")]


class SlowMessenger(FlakyMessenger):
    """Holds the first send to a chosen user until released: shows what waits for what."""

    channel = "slow"

    def __init__(self, hold_user: str) -> None:
        super().__init__()
        self.hold_user, self.release = hold_user, None

    async def send_text(self, to, text, options=(), *, idempotency_key=""):
        import asyncio
        if to.user == self.hold_user and self.release is None:
            self.release = asyncio.Event()
            await self.release.wait()
        return await super().send_text(to, text, options, idempotency_key=idempotency_key)


async def test_replies_reach_one_person_in_order_and_do_not_wait_for_other_people(client):
    import asyncio
    from conversations.messages import Reply
    app = client.app
    m = SlowMessenger(hold_user="alice")
    services_of(app).messengers.register(m)
    await services_of(app).outbox_writer.queue_replies("slow", "alice", "", [Reply("a1"), Reply("a2")], "msg-a")
    await services_of(app).outbox_writer.queue_replies("slow", "bob", "", [Reply("b1")], "msg-b")
    for _ in range(50):  # let the courier run until Bob's reply is out
        await asyncio.sleep(0)
    assert m.sent == [("bob", "b1")]  # Alice's first send is stuck; Bob is not behind her
    m.release.set()
    await services_of(app).courier.idle()
    assert m.sent == [("bob", "b1"), ("alice", "a1"), ("alice", "a2")]
    assert {r.status for r in await _rows(app)} == {"sent"}


async def test_a_reply_the_platform_refuses_now_is_sent_later_once(client, clock):
    from conversations.messages import Reply
    app = client.app
    m = FlakyMessenger(fail=1)
    services_of(app).messengers.register(m)
    await services_of(app).outbox_writer.queue_replies("flaky", "u1", "", [Reply("hello")], "msg-1")
    # the message redelivered
    await services_of(app).outbox_writer.queue_replies("flaky", "u1", "", [Reply("hello")], "msg-1")
    await services_of(app).courier.idle()
    [row] = await _rows(app)
    assert m.sent == [] and row.status == "pending" and row.attempts == 1
    clock.advance(minutes=1)
    assert await services_of(app).outbox_sender.deliver_due() == 1
    assert m.sent == [("u1", "hello")]
    [row] = await _rows(app)
    assert row.status == "sent" and row.attempts == 2


async def test_replies_a_dead_process_wrote_but_never_sent_go_out_after_its_lease(client, clock):
    """Replies are written already claimed by the writing process; if it dies before sending, nothing is
    lost: once the lease runs out, any process's outbox loop sends them, once."""
    from relay.outbox_sender import LEASE
    app = client.app
    m = FlakyMessenger()
    services_of(app).messengers.register(m)
    rows = [dict(key="reply:flaky:m1:0", channel="flaky", user="u1", payload={"text": "收到"})]
    claimed = await services_of(app).outbox_writer._commit.add(rows)  # written; the process dies before sending
    assert claimed[0] is not None and m.sent == []
    assert await services_of(app).outbox_sender.deliver_due() == 0  # still leased to the dead process
    clock.advance(seconds=LEASE.total_seconds() + 1)
    assert await services_of(app).outbox_sender.deliver_due() == 1
    assert m.sent == [("u1", "收到")]
    [row] = await _rows(app)
    assert row.status == "sent"


async def test_a_full_courier_leaves_further_replies_to_the_outbox_loop(client, clock):
    """A platform too slow to keep up must not pile replies up in one process's memory: past its limit the
    courier hands them back to the outbox, which sends them once their lease runs out."""
    from relay.outbox_sender import LEASE
    from conversations.messages import Reply
    import asyncio

    class StuckMessenger(FlakyMessenger):
        channel = "stuck"
        release = asyncio.Event()

        async def send_text(self, to, text, options=(), *, idempotency_key=""):
            await self.release.wait()  # every send hangs until the platform recovers
            return await super().send_text(to, text, options, idempotency_key=idempotency_key)
    app = client.app
    m = StuckMessenger()
    services_of(app).messengers.register(m)
    courier = services_of(app).courier
    courier.most = 2
    for n in range(4):
        await services_of(app).outbox_writer.queue_replies("stuck", f"u{n}", "", [Reply(f"r{n}")], f"msg-{n}")
    m.release.set()
    await courier.idle()
    assert sorted(m.sent) == [("u0", "r0"), ("u1", "r1")]  # the two the courier took
    clock.advance(seconds=LEASE.total_seconds() + 1)
    assert await services_of(app).outbox_sender.deliver_due() == 2
    assert sorted(m.sent) == [("u0", "r0"), ("u1", "r1"), ("u2", "r2"), ("u3", "r3")]


async def test_a_later_message_to_the_same_person_waits_for_the_one_still_retrying(client, clock):
    """Per-chat order across retries: a card queued after a reply that failed is not sent before it."""
    from conversations.messages import Reply
    app = client.app
    m = FlakyMessenger(fail=1)
    services_of(app).messengers.register(m)
    await services_of(app).outbox_writer.queue_replies("flaky", "u1", "", [Reply("first")], "msg-1")
    await services_of(app).courier.idle()            # refused: retrying later
    await services_of(app).outbox_writer.queue_replies("flaky", "u1", "", [Reply("second")], "msg-2")
    await services_of(app).outbox_writer.queue_replies("flaky", "u2", "", [Reply("other person")], "msg-3")
    await services_of(app).courier.idle()
    await _queue(app, key="later-card")        # due now, to u1 too
    await services_of(app).outbox_sender.deliver_due()
    assert m.sent == [("u2", "other person")]  # u1's later messages wait behind "first"
    clock.advance(minutes=1)
    while await services_of(app).outbox_sender.deliver_due():
        pass
    assert [t for u, t in m.sent if u == "u1"][:2] == ["first", "second"]
    assert len(m.sent) == 4 and {r.status for r in await _rows(app)} == {"sent"}


async def test_a_batch_that_outlived_its_lease_does_not_send_what_another_owner_took(client, clock):
    """The conditional UPDATE on (id, owner) decides: the old owner neither sends nor marks the row."""
    from relay.outbox_sender import LEASE, _claim
    app = client.app
    m = FlakyMessenger()
    services_of(app).messengers.register(m)
    await _queue(app, "a")
    await _queue(app, "b")
    slow = await _claim(services_of(app).sessions, clock.now(), 10, "slow-owner")  # its batch stalls past the lease
    clock.advance(seconds=LEASE.total_seconds() + 1)
    # another owner took both and sent them
    assert await services_of(app).outbox_sender.deliver_due() == 2 and len(m.sent) == 2
    for row_id in slow:
        await services_of(app).outbox_sender._deliver_one(row_id, "slow-owner")
    assert len(m.sent) == 2
    assert [(r.status, r.attempts) for r in await _rows(app)] == [("sent", 1), ("sent", 1)]


async def test_a_send_slower_than_the_lease_keeps_its_lease_and_is_sent_once(client, clock):
    import asyncio

    from relay.outbox_sender import LEASE
    app = client.app
    m = SlowMessenger(hold_user="u1")
    m.channel = "flaky"
    services_of(app).messengers.register(m)
    await _queue(app)
    first = asyncio.create_task(services_of(app).outbox_sender.deliver_due())
    while m.release is None:
        await asyncio.sleep(0.001)
    for _ in range(6):  # three leases pass while the platform holds the send
        clock.advance(seconds=LEASE.total_seconds() / 2)
        await _until(lambda: clock.sleepers() == 1)  # the lease was renewed and the renewal waits again
        assert await services_of(app).outbox_sender.deliver_due() == 0
    m.release.set()
    await first
    assert len(m.sent) == 1
    [row] = await _rows(app)
    assert row.status == "sent" and row.attempts == 1


async def _until(cond, seconds: float = 5.0) -> None:
    """Wait for work in flight (database round trips), not for a timer."""
    import asyncio
    for _ in range(int(seconds / 0.002)):
        if cond():
            return
        await asyncio.sleep(0.002)
    raise AssertionError("condition not reached")
