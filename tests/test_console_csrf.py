"""Every console form carries the session's CSRF token: a POST without it, or with another session's, is refused
with a 403 page and changes nothing."""
from __future__ import annotations

from tests.console_steps import PASSWORD, Desk, desk  # noqa: F401 — the fixture


async def test_an_action_posted_without_its_token_is_refused_and_changes_nothing(desk: Desk):
    number = await desk.report()
    b = await desk.signed_in("13800000009")
    await b.get(f"/admin/tickets/{number}")
    nonce = b.nonce("cancel")
    status, html = await b.post(f"/admin/tickets/{number}/actions/cancel", {"reason": "住户撤销", "form": nonce},
                                token=False)
    assert status == 403 and "安全校验码" in html
    assert (await desk.sim.ticket(number))["status"] == "dispatched"
    status, _ = await b.post(f"/admin/tickets/{number}/actions/cancel",
                             {"reason": "住户撤销", "form": nonce, "csrf": "forged"})
    assert status == 403
    assert (await desk.sim.ticket(number))["status"] == "dispatched"


async def test_another_sessions_token_does_not_do(desk: Desk):
    number = await desk.report()
    mallory = await desk.signed_in("13800000013")
    await mallory.get(f"/admin/tickets/{number}")
    token = mallory.csrf
    victim = await desk.signed_in("13800000009")
    await victim.get(f"/admin/tickets/{number}")
    status, _ = await victim.post(f"/admin/tickets/{number}/actions/cancel",
                                  {"reason": "x", "csrf": token, "form": victim.nonce("cancel")})
    assert status == 403
    assert (await desk.sim.ticket(number))["status"] == "dispatched"


async def test_the_login_form_and_logout_need_the_token_too(desk: Desk):
    b = desk.browser()
    await b.get("/admin/login")
    status, html = await b.post("/admin/login", {"username": "13800000009", "password": PASSWORD}, token=False)
    assert status == 403 and "安全校验码" in html
    b = await desk.signed_in("13800000009")
    status, _ = await b.post("/admin/logout", token=False)
    assert status == 403
    await b.get("/admin/tickets")
    assert b.url.endswith("/admin/tickets")            # still signed in


async def test_signing_in_gives_a_new_token(desk: Desk):
    b = desk.browser()
    await b.get("/admin/login")
    before = b.csrf
    await b.post("/admin/login", {"username": "13800000009", "password": PASSWORD})
    assert b.csrf != before


async def test_every_form_on_every_page_carries_the_token(desk: Desk):
    import re

    number = await desk.report()
    b = await desk.signed_in("13800000009")
    for path in ("/admin/tickets", f"/admin/tickets/{number}", "/admin/entry", "/admin/undelivered", "/admin/duty"):
        await b.get(path)
        forms = re.findall(r"<form[^>]*method=\"post\"[\s\S]*?</form>", b.html)
        assert forms, path
        assert all('name="csrf"' in f for f in forms), path
