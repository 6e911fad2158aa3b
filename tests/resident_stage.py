"""Helpers of the resident-side tests: a reported, accepted ticket brought to the moment a question is asked.

Until the staff actions (`POST /api/v1/tickets/{n}/actions/{action}`) land, the ticket's columns are set
directly and the question asked through the domain's `ask_resident`, as those actions will.
"""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from bot.runtime import run_pending
from bot.services import services_of
from dispatch.payloads import CardAction
from dispatch.prompts import ask_resident
from dispatch.tickets import get_ticket

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


def quoted() -> dict:
    return dict(status="quoted", quote_items=QUOTE_ITEMS, quote=Decimal("120"), quote_status="pending")


def proposed(clock) -> dict:
    return dict(status="accepted", proposed_visit_text="明天下午3点", proposed_visit_at=clock.now() + timedelta(days=1))


def completed(clock) -> dict:
    return dict(status="completed", completed_at=clock.now(), signoff_due_at=clock.now() + timedelta(hours=24))


def verified(clock) -> dict:
    return dict(status="verified", signoff="fixed", verified_at=clock.now())


async def report(sim, user: str = "resident") -> str:
    for text in REPORT:
        replies = await sim.say(user, text)
    return replies[0].split("单号 ")[1].split()[0]


async def accept(client, number: str, tech: str = "zhangsan") -> None:
    resp = await client.post("/sim/api/press", json={"user": tech, "payload": CardAction("accept", number).encode()})
    assert (await resp.json())["outcome"] == "ok"


async def stage(app, number: str, kind: str | None, **cols) -> None:
    """Set the ticket's columns (a new version, as an action would) and ask the resident `kind`."""
    services = services_of(app)
    async with services.sessions() as s, s.begin():
        ticket = await get_ticket(s, number)
        for name, value in cols.items():
            setattr(ticket, name, value)
        ticket.version += 1
        if kind:
            await ask_resident(s, ticket, kind, services.clock.now())
    await run_pending(services)


async def sent_to(client, user: str) -> list[dict]:
    """What the simulator's channel delivered to `user`, in order (replies and proactive messages)."""
    return (await (await client.get("/sim/api/sent", params={"user": user})).json())["sent"]


async def told(client, user: str) -> list[str]:
    return [i["text"] for i in await sent_to(client, user) if i["proactive"]]


def actions(ticket: dict) -> list[str]:
    return [e["action"] for e in ticket["events"]]
