"""The console as staff use it, for tests/test_console_*.py: a service with every role of `[[staff]]`, passwords
set as `repairbot passwd` sets them, and a browser-like client per person (its own cookies, the CSRF token of the
page it last read)."""
from __future__ import annotations

import re
from html import unescape

import aiohttp
import pytest

from bot.app import create_app
from argon2 import PasswordHasher

from bot.console.passwords import set_password
from bot.console.staff import staff_named
from bot.services import services_of
from dispatch.actions import act
from tests.conftest import Sim

PASSWORD = "correct horse battery"
STAFF = [
    {"name": "张师傅", "role": "technician", "trades": ["plumbing"], "phone": "13800000001", "sim_user": "zhangsan"},
    {"name": "赵师傅", "role": "technician", "trades": ["plumbing"], "phone": "13800000002", "sim_user": "zhaoliu"},
    {"name": "李师傅", "role": "technician", "trades": ["electrical"], "phone": "13800000003", "sim_user": "lisi"},
    {"name": "王主管", "role": "supervisor", "trades": [], "phone": "13800000009", "sim_user": "wangzhuguan"},
    {"name": "陈总监", "role": "director", "phone": "13800000011", "sim_user": "chenzongjian"},
    {"name": "刘总", "role": "leadership", "phone": "13800000012", "sim_user": "liuzong"},
    {"name": "孙管家", "role": "housekeeper", "phone": "13800000013", "sim_user": "sunguanjia"},
    {"name": "周前台", "role": "desk", "phone": "13800000014", "sim_user": "zhouqiantai"},
    {"name": "钱会计", "role": "finance", "phone": "13800000015", "sim_user": "qiankuaiji"},
]
TRADES = [{"key": "plumbing", "name": "水"}, {"key": "electrical", "name": "电"}]
PRICES = [{"key": "tap", "name": "更换水龙头", "amount": "80"}]
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
FORM = re.compile(r'name="form" value="([^"]+)"')


def settings_for(make_settings, **overrides):
    return make_settings(staff=STAFF, trades=TRADES, prices=PRICES, **overrides)


@pytest.fixture
async def desk(aiohttp_client, make_settings, clock, backend):
    client = await aiohttp_client(create_app(settings_for(make_settings), clock=clock, run_background=False,
                                             redis_prefix=backend.prefix))
    d = Desk(client, clock)
    await d.passwords()
    yield d
    await d.close()


class Desk:
    """The started service, and a browser per member of staff."""

    def __init__(self, client, clock) -> None:
        self.client, self.clock, self.sim = client, clock, Sim(client)
        self.services = services_of(client.app)
        self._browsers: list[Browser] = []

    async def passwords(self, password: str = PASSWORD) -> None:
        """Every member of staff gets `password`, as `repairbot passwd` would set it (one hash, for speed)."""
        # Cheaper parameters than the service's (bot/console/passwords.py) keep the tests quick; a hash names
        # its own parameters, so the service verifies it all the same.
        hashed = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(password)
        async with self.services.sessions() as session, session.begin():
            for s in STAFF:
                (person,) = await staff_named(session, s["phone"])
                await set_password(session, person.id, hashed, self.clock.now())

    def browser(self) -> Browser:
        b = Browser(self.client)
        self._browsers.append(b)
        return b

    async def signed_in(self, phone: str, password: str = PASSWORD) -> Browser:
        b = self.browser()
        status, _ = await b.login(phone, password)
        assert status == 200 and b.url.endswith("/admin/tickets"), (status, b.url)
        return b

    async def report(self, text: str = "3栋2单元1502厨房水龙头漏水", user: str = "resident",
                     who: str = "刘女士 13912345678") -> str:
        for line in (text, who, "确认"):
            replies = await self.sim.say(user, line)
        return re.search(r"BX\d{8}-\d{4}", replies[0]).group(0)

    async def act(self, number: str, action: str, user: str, body: dict | None = None) -> str:
        async with self.services.sessions() as session, session.begin():
            result = await act(session, number, action, "sim", user, self.clock.now(), body,
                               policy=self.services.policy)
            return result.outcome

    async def close(self) -> None:
        for b in self._browsers:
            await b.session.close()


class Browser:
    """One person's browser: its own cookie jar; posts forms with the CSRF token of the last page it read."""

    def __init__(self, client) -> None:
        self.base = str(client.make_url("")).rstrip("/")
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.html, self.url, self.headers = "", "", {}

    async def get(self, path: str) -> tuple[int, str]:
        async with self.session.get(self.base + path) as r:
            return await self._read(r)

    async def post(self, path: str, data: dict | None = None, *, token: bool = True,
                   form_of: str | None = None) -> tuple[int, str]:
        """`form_of`: the action whose form this is, so its one-time id goes along as the page gave it."""
        data = dict(data or {})
        if token and "csrf" not in data:
            data["csrf"] = self.csrf
        if form_of is not None:
            data.setdefault("form", self.nonce(form_of))
        async with self.session.post(self.base + path, data=data) as r:
            return await self._read(r)

    async def login(self, username: str, password: str) -> tuple[int, str]:
        await self.get("/admin/login")
        return await self.post("/admin/login", {"username": username, "password": password})

    async def _read(self, r) -> tuple[int, str]:
        self.html, self.url, self.headers = await r.text(errors="replace"), str(r.url), r.headers
        self.history = r.history
        return r.status, self.html

    @property
    def csrf(self) -> str:
        m = CSRF.search(self.html)
        assert m, "the page has no form with a CSRF token"
        return unescape(m.group(1))

    def nonce(self, action: str) -> str:
        part = self.html.split(f'data-action="{action}"', 1)
        assert len(part) == 2, f"the page offers no {action} form"
        return unescape(FORM.search(part[1]).group(1))

    def offers(self, action: str) -> bool:
        return f'data-action="{action}"' in self.html

    def text(self) -> str:
        """The page's words without its markup, for asserting what a person reads."""
        return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", self.html)))
