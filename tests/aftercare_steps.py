"""Steps the after-care tests share: file a ticket, finish it, verify it, move the clock, read what was sent.

Staff actions run through dispatch.actions.act, the function every card button and REST action calls.
The cast is the simulator's demo cast with a duty desk (周前台) added, who verifies public-area work.
"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.services import services_of
from tests.conftest import Sim, auth

REPORT = ["9栋2单元301马桶堵了", "刘女士 13912345678", "确认"]
DESK = "zhouqiantai"
TRADES = [{"key": "plumbing", "name": "水"}, {"key": "electrical", "name": "电"}, {"key": "elevator", "name": "电梯"}]
STAFF = [
    {"name": "张师傅", "role": "technician", "trades": ["plumbing", "civil", "other"], "phone": "13800000001",
     "sim_user": "zhangsan"},
    {"name": "赵师傅", "role": "technician", "trades": ["plumbing", "hvac"], "phone": "13800000002", "sim_user": "zhaoliu"},
    {"name": "李师傅", "role": "technician", "trades": ["electrical", "weak_current", "fire", "doors_windows", "elevator"],
     "phone": "13800000003", "sim_user": "lisi"},
    {"name": "王主管", "role": "supervisor", "trades": [], "phone": "13800000009", "sim_user": "wangzhuguan"},
    {"name": "周前台", "role": "desk", "trades": [], "phone": "13800000013", "sim_user": DESK},
]


async def report(sim, user: str = "resident", lines: list[str] | None = None) -> str:
    """A resident reports through the simulator's chat; the ticket's number."""
    for text in lines or REPORT:
        r = await sim.say(user, text)
    return r[0].split("单号 ")[1].split()[0]


async def file(client, location: str = "3栋2单元1502", area: str = "unit", description: str = "厨房水管漏水",
               **extra) -> dict:
    """The desk files a ticket by REST (代录); its JSON."""
    resp = await client.post("/api/v1/tickets", headers=auth(), json={
        "description": description, "location": location, "area": area, "reporter_name": "王女士",
        "phone": "13812345678", **extra})
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def act(client, number: str, action: str, user: str, body: dict | None = None) -> str:
    """A staff action through the domain's one entry (dispatch.actions.act, what every card and REST call
    runs); its outcome. What it queued is delivered before this returns."""
    from dispatch.actions import act as run

    services = services_of(client.app)
    async with services.sessions() as s, s.begin():
        result = await run(s, number, action, "sim", user, services.clock.now(), body or {}, policy=services.policy)
    await advance(client, 0)
    return result.outcome


async def complete(client, number: str, technician: str = "zhangsan") -> None:
    """The technician takes the job, arrives and reports it done (完工): a unit resident is asked to sign
    off, with the 24 h auto sign-off timer set (BR-21); public-area work waits for the desk."""
    for action in ("accept", "arrive", "complete"):
        assert await act(client, number, action, technician) == "ok", action


async def verify(client, number: str) -> None:
    """The work is accepted: the desk's 验收 for public-area work (BR-21), the resident's 已修好 in a unit."""
    from dispatch.aftercare import after_verified, asking
    from dispatch.job import transition
    from store.models import Ticket

    services = services_of(client.app)
    async with services.sessions() as s:
        area = (await s.execute(select(Ticket.area).where(Ticket.number == number))).scalar_one()
    if area == "public":
        assert await act(client, number, "verify", DESK) == "ok"
        return
    # The resident's 已修好 as dispatch/resident.py answers it (helper `resident`): signed off, then after-care.
    now = services.clock.now()
    async with services.sessions() as s, s.begin():
        ticket = (await s.execute(select(Ticket).where(Ticket.number == number))).scalar_one()
        survey = asking(ticket, now)
        assert await transition(s, ticket, "signoff_fixed", now, f"sim:{ticket.reporter_user}", "sim",
                                {"signoff": "fixed", "verified_at": now, "signoff_due_at": None, "awaiting": "",
                                 **survey})
        await after_verified(s, ticket, now, services.policy, asked=bool(survey))
    await advance(client, 0)


async def leave_trade(client, technician: str, trades: list[str]) -> None:
    """The configuration moves a technician to other trades (as `sync_configuration` would at start)."""
    from sqlalchemy import update

    from dispatch.people import person_for
    from store.models import Person

    services = services_of(client.app)
    async with services.sessions() as s, s.begin():
        person = await person_for(s, "sim", technician)
        await s.execute(update(Person).where(Person.id == person.id).values(trades=trades))


async def advance(client, seconds: float) -> dict:
    """Move the service's clock on through the simulator; what fell due runs before it answers."""
    resp = await client.post("/sim/api/clock", json={"advance": seconds}, headers=auth())
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def sent_to(client, user: str) -> list[str]:
    """The texts the service sent that user on its own (not replies to what they typed)."""
    items = (await (await client.get("/sim/api/sent", params={"user": user})).json())["sent"]
    return [i["text"] for i in items if i["proactive"]]


async def ticket(client, number: str) -> dict:
    resp = await client.get(f"/api/v1/tickets/{number}", headers=auth())
    assert resp.status == 200, await resp.text()
    return await resp.json()


HOUR = 3600


@pytest.fixture
async def client(aiohttp_client, make_settings, clock, backend):
    """The app with STAFF (the demo cast and a duty desk), on the frozen clock, no background loops."""
    from bot.app import create_app

    app = create_app(make_settings(staff=STAFF, trades=TRADES), clock=clock, run_background=False,
                     redis_prefix=backend.prefix)
    return await aiohttp_client(app)


@pytest.fixture
def sim(client):
    return Sim(client)
