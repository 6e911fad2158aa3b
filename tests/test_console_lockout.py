"""Rate-limited login: five wrong passwords lock that username for 15 minutes on the service's clock, the
right password included; counted in Redis beside PostgreSQL (every web process sees one count), in the process
on the embedded default."""
from __future__ import annotations

import pytest

from bot.console.lockout import LIMIT, LOCK
from tests.console_steps import PASSWORD, Desk, desk  # noqa: F401 — the fixture


async def wrong(b, username: str, times: int) -> list[int]:
    return [(await b.login(username, f"wrong password {i}"))[0] for i in range(times)]


async def test_five_wrong_passwords_lock_the_login_for_a_while(desk: Desk):
    b = desk.browser()
    assert await wrong(b, "13800000009", LIMIT - 1) == [401] * (LIMIT - 1)
    status, html = await b.login("13800000009", "wrong again")          # the fifth
    assert status == 429 and "锁定" in html and "15 分钟" in html
    status, html = await b.login("13800000009", PASSWORD)               # even the right one, while locked
    assert status == 429 and "锁定" in html
    await b.get("/admin/tickets")
    assert "/admin/login" in b.url
    desk.clock.advance(LOCK - 60)
    status, html = await b.login("13800000009", PASSWORD)
    assert status == 429 and "1 分钟" in html
    desk.clock.advance(61)
    status, _ = await b.login("13800000009", PASSWORD)
    assert status == 200 and b.url.endswith("/admin/tickets")


async def test_the_count_is_the_persons_whichever_of_their_names_is_typed(desk: Desk):
    b = desk.browser()
    await wrong(b, "13800000009", 2)
    await wrong(b, "wangzhuguan", 2)                                  # the same supervisor's simulator id
    status, _ = await b.login("138-0000-0009", "wrong")               # and the phone written with dashes
    assert status == 429
    status, _ = await b.login("wangzhuguan", PASSWORD)
    assert status == 429


async def test_the_lock_is_one_persons_alone_and_a_right_password_starts_the_count_again(desk: Desk):
    b = desk.browser()
    await wrong(b, "13800000009", LIMIT)
    other = await desk.signed_in("13800000011")                       # the director is not locked out
    assert other.url.endswith("/admin/tickets")
    c = desk.browser()
    await wrong(c, "13800000013", LIMIT - 1)
    assert (await c.login("13800000013", PASSWORD))[0] == 200
    await c.post("/admin/logout")
    assert await wrong(c, "13800000013", LIMIT - 1) == [401] * (LIMIT - 1)


async def test_an_unknown_name_locks_too_and_reads_like_a_known_one(desk: Desk):
    b = desk.browser()
    statuses = await wrong(b, "13999999999", LIMIT + 1)
    assert statuses == [401] * (LIMIT - 1) + [429, 429]


async def test_failures_spread_beyond_the_window_do_not_add_up(desk: Desk):
    b = desk.browser()
    await wrong(b, "13800000009", LIMIT - 1)
    desk.clock.advance(16 * 60)
    assert await wrong(b, "13800000009", LIMIT - 1) == [401] * (LIMIT - 1)
    assert (await b.login("13800000009", PASSWORD))[0] == 200


@pytest.mark.parametrize("backend", ["pg"], indirect=True)
async def test_with_redis_every_web_process_sees_the_same_count(desk: Desk, aiohttp_client, make_settings, backend):
    """Two web processes on one Redis (the second service started here on the same database and prefix): the
    fifth wrong password on one locks the username on the other."""
    from bot.app import create_app
    from tests.console_steps import Browser, settings_for

    other = await aiohttp_client(create_app(settings_for(make_settings), clock=desk.clock, run_background=False,
                                            redis_prefix=backend.prefix))
    here, there = desk.browser(), Browser(other)
    try:
        await wrong(here, "13800000009", 3)
        await wrong(there, "13800000009", 1)
        assert (await here.login("13800000009", "wrong"))[0] == 429
        assert (await there.login("13800000009", PASSWORD))[0] == 429
        keys = [k async for k in desk.services.redis.scan_iter(f"{backend.prefix}:console:login:*")]
        assert len(keys) == 1 and b"13800000009" not in keys[0]       # a digest: no phone number in Redis
    finally:
        await there.session.close()
