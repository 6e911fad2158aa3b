"""Helpers of the resident-side tests: a reported ticket taken to the moment a question is asked, through the
staff actions themselves (`dispatch.actions.act`, what every card and the REST API call)."""
from __future__ import annotations

from bot.runtime import run_pending
from bot.services import services_of
from dispatch.actions import act as domain_act

REPORT = ["9栋2单元301马桶堵了", "刘女士 13912345678", "确认"]
PHONE = "13912345678"
TRADES = [{"key": "plumbing", "name": "水"}, {"key": "electrical", "name": "电"}]
STAFF = [
    {"name": "张师傅", "role": "technician", "trades": ["plumbing"], "phone": "13800000001", "sim_user": "zhangsan"},
    {"name": "王主管", "role": "supervisor", "trades": ["plumbing"], "phone": "13800000009",
     "sim_user": "wangzhuguan"},
    {"name": "孙主管", "role": "supervisor", "trades": ["electrical"], "phone": "13800000008",
     "sim_user": "sunzhuguan"},
    {"name": "周经理", "role": "manager", "trades": [], "phone": "13800000007", "sim_user": "zhoujingli"},
    {"name": "陈管家", "role": "housekeeper", "trades": [], "phone": "13800000006", "sim_user": "chenguanjia"},
]
QUOTE_ITEMS = [{"name": "更换角阀", "amount": "80"}, {"name": "人工", "amount": "40"}]


async def report(sim, user: str = "resident") -> str:
    for text in REPORT:
        replies = await sim.say(user, text)
    return replies[0].split("单号 ")[1].split()[0]


async def act(app, number: str, action: str, body: dict | None = None, *, user: str = "zhangsan",
              channel: str = "sim") -> None:
    """A staff action as a card press or the REST API makes it; then what it queued is delivered."""
    services = services_of(app)
    async with services.sessions() as session, session.begin():
        result = await domain_act(session, number, action, channel, user, services.clock.now(), body,
                                  policy=services.policy)
    assert result.outcome == "ok", (action, result.outcome, result.detail)
    await run_pending(services)


async def quoted(app, number: str, **who) -> None:
    """接单, 已到达, 报价 (BR-13): the resident is asked 同意 / 不同意."""
    await act(app, number, "accept", **who)
    await act(app, number, "arrive", **who)
    await act(app, number, "quote", {"items": QUOTE_ITEMS}, **who)


async def proposed(app, number: str, **who) -> None:
    """接单, 改约 (BR-11/12): the resident is asked whether the new time suits."""
    await act(app, number, "accept", **who)
    await act(app, number, "reschedule", {"visit_text": "明天下午3点"}, **who)


async def completed(app, number: str, **who) -> None:
    """接单, 已到达, 完工 (BR-17): the resident is asked 已修好 / 没修好 (BR-21)."""
    await act(app, number, "accept", **who)
    await act(app, number, "arrive", **who)
    await act(app, number, "complete", {"minutes": 30}, **who)


async def sent_to(client, user: str) -> list[dict]:
    """What the simulator's channel delivered to `user`, in order (replies and proactive messages)."""
    return (await (await client.get("/sim/api/sent", params={"user": user})).json())["sent"]


async def told(client, user: str) -> list[str]:
    return [i["text"] for i in await sent_to(client, user) if i["proactive"]]


def actions(ticket: dict) -> list[str]:
    return [e["action"] for e in ticket["events"]]
