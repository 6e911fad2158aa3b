"""Steps the after-care tests share: file a ticket, finish it, verify it, move the clock, read what was sent.

`complete` and `verify` set the ticket's columns directly and call the domain's after-care hook, as the
staff actions will (dispatch.actions.act); once those land the tests can press the REST actions instead.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.services import services_of
from tests.conftest import auth

REPORT = ["9栋2单元301马桶堵了", "刘女士 13912345678", "确认"]


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


async def complete(client, number: str, technician: str = "zhangsan") -> None:
    """The technician reports the work done: accepted by them, completed now, the resident asked to sign
    off and the auto sign-off timer set (BR-21)."""
    from dispatch.people import person_for
    from dispatch.prompts import ask_resident
    from dispatch.timers import schedule
    from store.models import Ticket, TicketEvent

    services = services_of(client.app)
    now = services.clock.now()
    async with services.sessions() as s, s.begin():
        ticket = (await s.execute(select(Ticket).where(Ticket.number == number))).scalar_one()
        tech = await person_for(s, "sim", technician)
        before = ticket.status
        ticket.assignee_id, ticket.accepted_at, ticket.arrived_at = tech.id, now, now
        ticket.status, ticket.completed_at, ticket.version = "completed", now, ticket.version + 1
        ticket.signoff, ticket.signoff_due_at = "", now + timedelta(seconds=services.policy.signoff_wait)
        s.add(TicketEvent(ticket_id=ticket.id, at=now, actor=f"sim:{technician}", channel="sim", action="completed",
                          from_status=before, to_status="completed", details={}))
        await s.flush()
        await ask_resident(s, ticket, "signoff", now)
        await schedule(s, ticket, "signoff_auto", ticket.signoff_due_at)


async def verify(client, number: str) -> None:
    """The work is accepted (the desk's 验收, or the resident's 已修好): verified, then the after-care hook."""
    from dispatch.aftercare import after_verified
    from store.models import Ticket, TicketEvent

    services = services_of(client.app)
    now = services.clock.now()
    async with services.sessions() as s, s.begin():
        ticket = (await s.execute(select(Ticket).where(Ticket.number == number))).scalar_one()
        if ticket.status != "completed":
            ticket.status, ticket.completed_at = "completed", ticket.completed_at or now
        ticket.status, ticket.verified_at, ticket.signoff, ticket.awaiting = "verified", now, "verified", ""
        ticket.version += 1
        s.add(TicketEvent(ticket_id=ticket.id, at=now, actor="api:desk", channel="api", action="verified",
                          from_status="completed", to_status="verified", details={}))
        await s.flush()
        await after_verified(s, ticket, now, services.policy)


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
