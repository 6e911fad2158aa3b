"""The people of tests/test_lifecycle_paths.py on the platforms' wire formats: a WeCom app member, a Feishu user,
a 微信客服 customer, each reading only what the fake platform API received and pressing the buttons it shows.

Worlds: `wecom_world` is the simulator's demo on WeCom's wire (`create_app(demo_wecom=True)`: the demo cast,
its price and material lists; messages and clicks become encrypted callbacks through /sim/api/wecom/say|click).
`feishu_world` is a configured Feishu app with the same cast (signed, encrypted events posted to
/feishu/events and /feishu/card as Feishu posts them), residents on Feishu or on 微信客服 (a customer's
message queued on the fake kf API, the kf event posted encrypted to /wecom/callback, then sync_msg). Time
moves on the injected clock: POST /sim/api/clock in the demo, the `clock` fixture and `run_pending` (what that
route does) beside a configured platform.
"""
from __future__ import annotations

import html
import tomllib
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

import xmltodict
from aiohttp.test_utils import unused_port

from bot.app import create_app
from bot.runtime import run_pending
from bot.services import services_of
from bot.sim.feishu_api import FeishuPusher, setup_fake_feishu
from bot.sim.wecom_kf_api import setup_fake_kf
from bot.wecom.crypto import WecomCrypto
from dispatch.payloads import CardAction
from tests.conftest import auth

REPORT = ["9栋2单元301马桶堵了", "刘女士 13912345678", "确认"]
PHONE = "13912345678"
# What a person can read in a platform's payload (labels of buttons included); ids, keys and tokens are not.
VISIBLE = {"content", "title", "sub_title_text", "keyname", "value", "text", "replace_name", "replace_text",
           "desc", "head_content", "tail_content"}


def strings(obj: Any, keys=VISIBLE) -> list[str]:
    """Every readable string in a payload, in order, as the client shows it (Feishu markdown: entities decoded,
    bold marks gone)."""
    out: list[str] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, str) and k in keys:
                out.append(html.unescape(v.replace("**", "")))
            elif isinstance(v, (dict, list)) and k not in ("behaviors",):
                out.extend(strings(v, keys))
    elif isinstance(obj, list):
        for v in obj:
            out.extend(strings(v, keys))
    return out


def shown(obj: Any) -> str:
    return "\n".join(strings(obj))


def number_in(text: str) -> str:
    return text.split("单号 ")[1].split()[0]


def steady(t: dict) -> dict:
    """A ticket's JSON without what only the passing of time changes: the clocks' seconds left, and the due
    time of a paused clock (it moves on with the time it is paused for)."""
    def strip(v):
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items()
                    if k != "left_seconds" and not (k == "due_at" and v.get("paused") is True)}
        if isinstance(v, list):
            return [strip(x) for x in v]
        return v
    return strip(t)


def actions(t: dict) -> list[str]:
    return [e["action"] for e in t["events"]]


# ---- a world: one app, its clock, the REST API ------------------------------------------------------------

@dataclass
class World:
    client: Any
    app: Any
    clock: Any
    sim_clock: bool = True           # POST /sim/api/clock is mounted (the simulator plays the platforms)
    wecom: Wecom | None = None
    feishu: Feishu | None = None
    kf: Kf | None = None

    @property
    def services(self):
        return services_of(self.app)

    async def settle(self) -> None:
        await run_pending(self.services)

    async def ticket(self, number: str) -> dict:
        resp = await self.client.get(f"/api/v1/tickets/{number}", headers=auth())
        assert resp.status == 200, await resp.text()
        return await resp.json()

    async def advance(self, seconds: float) -> None:
        """Time passes: the simulator's clock route where it is mounted, else the injected clock and the
        same round of timers and sends the route runs."""
        if self.sim_clock:
            resp = await self.client.post("/sim/api/clock", json={"advance": seconds}, headers=auth())
            assert resp.status == 200, await resp.text()
        else:
            self.clock.advance(seconds=seconds)
            await self.settle()

    async def rest(self, number: str, action: str, channel: str, user: str, **body) -> tuple[int, dict]:
        """A step no card offers (`verify`, `waive`): POST /api/v1/tickets/{n}/actions/{action}."""
        resp = await self.client.post(f"/api/v1/tickets/{number}/actions/{action}", headers=auth(),
                                      json={"actor": {"channel": channel, "user": user}, **body})
        await self.settle()
        return resp.status, await resp.json()


def _keys(template_card: dict) -> dict[str, str]:
    return {b["text"]: b["key"] for b in template_card.get("button_list", []) if b.get("key") != "settled"}


# ---- WeCom app (企业微信自建应用) ---------------------------------------------------------------------------

@dataclass
class Wecom:
    world: World
    read: dict[str, int] = field(default_factory=dict)

    async def say(self, user: str, text: str) -> None:
        resp = await self.world.client.post("/sim/api/wecom/say", json={"user": user, "text": text})
        assert (await resp.json())["callback_status"] == 200
        await self.world.settle()

    async def click(self, user: str, task: str, key: str, *, settle: bool = True) -> None:
        # WeCom keys a click on the user and its second: two clicks are two seconds apart.
        self.world.clock.advance(seconds=2)
        resp = await self.world.client.post("/sim/api/wecom/click", json={"user": user, "task_id": task, "key": key})
        assert (await resp.json())["callback_status"] == 200
        if settle:
            await self.world.settle()

    async def sent(self, user: str) -> list[dict]:
        resp = await self.world.client.get("/sim/wecom/_sent", params={"user": user})
        return (await resp.json())["sent"]

    async def seen(self, user: str) -> list[str]:
        """Each message and card rewrite `user` got, as readable text."""
        return [shown(i["payload"]) for i in await self.sent(user)]

    async def new(self, user: str) -> str:
        """What `user` got since the last look, as one text."""
        items = await self.seen(user)
        start, self.read[user] = self.read.get(user, 0), len(items)
        return "\n".join(items[start:])

    async def card(self, user: str, number: str) -> tuple[str, dict[str, str], str]:
        """The card of `number` in `user`'s chat as it stands: (task_id, {label: key} of the buttons one can
        press, its text). A settled card's one greyed button shows the status and presses nothing."""
        tasks: set[str] = set()
        last: tuple[str, dict[str, str], str] | None = None
        for i in await self.sent(user):
            p = i["payload"]
            tc = p.get("template_card")
            if i["kind"] == "message" and tc and number in tc.get("main_title", {}).get("title", ""):
                tasks.add(tc["task_id"])
                last = (tc["task_id"], _keys(tc), shown(tc))
            elif i["kind"] == "card_update" and i["task_id"] in tasks:
                last = (i["task_id"], _keys(tc or {}), shown(p))
        assert last is not None, f"no card of {number} for {user}"
        return last

    async def press(self, user: str, number: str, label: str) -> None:
        """`user` presses `label` on their card of `number` (it must be there)."""
        task, keys, text = await self.card(user, number)
        assert label in keys, (label, list(keys), text)
        await self.click(user, task, keys[label])

    async def question(self, user: str) -> tuple[str, dict[str, str], str]:
        """The latest question card (button_interaction with answer buttons) sent to `user`."""
        for i in reversed(await self.sent(user)):
            tc = i["payload"].get("template_card")
            if i["kind"] == "message" and tc and str(tc.get("task_id", "")).startswith("ask-"):
                return tc["task_id"], {b["text"]: b["key"] for b in tc["button_list"]}, shown(tc)
        raise AssertionError(f"no question for {user}")

    async def answer(self, user: str, label: str) -> str:
        """`user` presses `label` on the latest question they were asked; that question's text."""
        task, keys, text = await self.question(user)
        assert label in keys, (label, list(keys), text)
        await self.click(user, task, keys[label])
        return text


# ---- Feishu --------------------------------------------------------------------------------------------------

def open_id(user: str) -> str:
    return user if user.startswith("ou_") else f"ou_{user}"


def feishu_buttons(content: dict) -> dict[str, dict]:
    return {e["text"]["content"]: e["behaviors"][0]["value"] for el in content.get("body", {}).get("elements", [])
            if el.get("tag") == "column_set" for c in el["columns"] for e in c["elements"]}


@dataclass
class Feishu:
    """A Feishu app: every message and click is an encrypted, signed callback (FeishuPusher), as Feishu posts it."""

    world: World
    pusher: FeishuPusher
    read: dict[str, int] = field(default_factory=dict)

    async def _push(self, path: str, payload: dict) -> dict:
        headers, body = self.pusher.request(payload)
        resp = await self.world.client.post(path, data=body, headers=headers)
        assert resp.status == 200, await resp.text()
        return await resp.json()

    async def say(self, user: str, text: str) -> None:
        await self._push("/feishu/events", self.pusher.message(open_id=open_id(user), content={"text": text}))
        await self.world.settle()

    async def click(self, user: str, message: dict, value: dict) -> dict:
        """`card.action.trigger` on `message`; Feishu's inline answer (toast, card)."""
        answer = await self._push("/feishu/card", self.pusher.card_action(
            open_id=open_id(user), value=value, chat_id=message["chat_id"], message_id=message["message_id"]))
        await self.world.settle()
        return answer

    async def sent(self, receive_id: str) -> list[dict]:
        resp = await self.world.client.get("/sim/feishu/_sent", params={"receive_id": receive_id})
        return (await resp.json())["sent"]

    async def seen(self, user: str) -> list[str]:
        return [shown(m["content"]) for m in await self.sent(open_id(user))]

    async def new(self, user: str) -> str:
        items = await self.seen(user)
        start, self.read[user] = self.read.get(user, 0), len(items)
        return "\n".join(items[start:])

    async def card(self, where: str, number: str) -> dict:
        """The ticket card of `number` in a chat (`oc_…` group or a person's 1:1) as it stands now (patched in
        place); a question card (answer buttons) is not one."""
        chat = where if where.startswith("oc_") else open_id(where)
        cards = [m for m in await self.sent(chat) if m["msg_type"] == "interactive"
                 and number in m["content"].get("header", {}).get("title", {}).get("content", "")
                 and not any(v["p"].startswith("opt|") for v in feishu_buttons(m["content"]).values())]
        assert cards, f"no card of {number} in {chat}"
        return cards[-1]

    async def press(self, user: str, number: str, label: str, where: str = "") -> dict:
        """`user` presses `label` on the card of `number` in their 1:1 chat (or `where`); the inline answer."""
        message = await self.card(where or user, number)
        buttons = feishu_buttons(message["content"])
        assert label in buttons, (label, list(buttons), shown(message["content"]))
        return await self.click(user, message, buttons[label])

    async def answer(self, user: str, label: str) -> dict:
        """`user` presses `label` on the latest question card they got."""
        for m in reversed(await self.sent(open_id(user))):
            buttons = feishu_buttons(m["content"]) if m["msg_type"] == "interactive" else {}
            if label in buttons:
                return await self.click(user, m, buttons[label])
        raise AssertionError(f"no question with {label} for {user}")


# ---- 微信客服 (WeCom kf) -------------------------------------------------------------------------------------

KF_CORP, KF_SECRET, KF_TOKEN = "ww-test-corp", "wecom-secret", "cb-token"
KF_AES = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
KFID = "wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q"
ALICE = "wmAlice000000000000000000000001"


@dataclass
class Kf:
    world: World
    fake: Any
    crypto: WecomCrypto
    read: int = 0

    async def say(self, text: str, customer: str = ALICE) -> None:
        """The customer writes in WeChat; WeCom calls the app back (encrypted) to go and sync_msg."""
        self.fake.customer_says(KFID, customer, text)
        ts = str(int(self.world.clock.now().timestamp()))
        envelope = self.crypto.encrypt(self.fake.event_xml(KFID), timestamp=ts, nonce="n1")
        params = {"msg_signature": xmltodict.parse(envelope)["xml"]["MsgSignature"], "timestamp": ts, "nonce": "n1"}
        resp = await self.world.client.post("/wecom/callback", params=params, data=envelope)
        assert resp.status == 200, await resp.text()
        await self.world.settle()

    def sent(self, customer: str = ALICE) -> list[dict]:
        return [m for m in self.fake.sent if m.get("touser") == customer]

    def seen(self, customer: str = ALICE) -> list[str]:
        return [shown({k: v for k, v in m.items() if k in ("text", "msgmenu")}) for m in self.sent(customer)]

    def new(self) -> str:
        items = self.seen()
        start, self.read = self.read, len(items)
        return "\n".join(items[start:])


# ---- the worlds ------------------------------------------------------------------------------------------------

async def wecom_world(aiohttp_client, make_settings, clock, backend) -> World:
    """The simulator's demo played on WeCom's wire (`create_app(demo_wecom=True)`): the demo cast
    (bot/sim/demo.toml) with its price and material lists, everyone a member of the WeCom app."""
    port = unused_port()
    settings = make_settings(service={"public_url": f"http://127.0.0.1:{port}"})
    app = create_app(settings, clock=clock, run_background=False, redis_prefix=backend.prefix, demo_wecom=True)
    client = await aiohttp_client(app, server_kwargs={"port": port})
    world = World(client, app, clock)
    world.wecom = Wecom(world)
    return world


async def feishu_world(aiohttp_client, make_settings, clock, backend, *, kf: bool = False) -> World:
    """A configured Feishu app with the demo cast on it (open_id ou_<sim_user>), each trade's group
    oc_<trade>_group; residents on Feishu too, or on 微信客服 (`kf`). No simulator: in the demo the staff's
    1:1 cards go to the simulator's page, here they must reach Feishu."""
    port = unused_port()
    demo = tomllib.loads((files("bot.sim") / "demo.toml").read_text(encoding="utf-8"))
    staff = [{k: v for k, v in s.items() if k not in ("sim_user", "wecom_userid")}
             | {"feishu_open_id": open_id(s["sim_user"])} for s in demo["staff"]]
    trades = [t | {"feishu_chat_id": f"oc_{t['key']}_group"} for t in demo["trades"]]
    platforms = {"feishu": {"app_id": "cli_test", "app_secret": "s", "verification_token": "vt", "encrypt_key": "ek",
                            "api_base": f"http://127.0.0.1:{port}/sim/feishu"}}
    if kf:   # 微信客服 rides on the WeCom app's credentials
        platforms["wecom"] = {"corp_id": KF_CORP, "agent_id": 1000002, "secret": KF_SECRET, "token": KF_TOKEN,
                              "encoding_aes_key": KF_AES, "api_base": f"http://127.0.0.1:{port}/sim/wecom-kf"}
    settings = make_settings(service={"public_url": f"http://127.0.0.1:{port}"}, staff=staff, trades=trades,
                             prices=demo["prices"], materials=demo["materials"], **platforms)
    app = create_app(settings, clock=clock, run_background=False, redis_prefix=backend.prefix)
    fake_kf = setup_fake_kf(app, clock=clock, corp_id=KF_CORP, secret=KF_SECRET) if kf else None
    setup_fake_feishu(app, app_id="cli_test", app_secret="s", clock=clock)
    client = await aiohttp_client(app, server_kwargs={"port": port})
    world = World(client, app, clock, sim_clock=False)
    world.feishu = Feishu(world, FeishuPusher("vt", "ek", clock=clock))
    if kf:
        world.kf = Kf(world, fake_kf, WecomCrypto(KF_TOKEN, KF_AES, KF_CORP, clock))
    return world


def forged(action: str, number: str) -> str:
    """A staff button's payload (dispatch/payloads.py), as anyone can put it into a click event."""
    return CardAction(action, number).encode()
