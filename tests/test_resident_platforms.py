"""The resident's questions and answers on the platforms' wire formats: buttons on WeCom (template_card
button_interaction) and Feishu (an interactive card) whose press is read as the answer typed; a tap menu on
微信客服; and a question the Official Account's closed 48 h window will not carry, listed for a phone call."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
import xmltodict
from aiohttp.test_utils import unused_port
from bot.app import create_app
from bot.runtime import run_pending
from bot.services import services_of
from bot.sim.feishu_api import FeishuPusher, setup_fake_feishu
from bot.sim.wecom_api import callback_xml, setup_fake_wecom
from bot.sim.wecom_kf_api import setup_fake_kf
from bot.wecom.crypto import WecomCrypto
from bot.wecom_kf.adapter import offer_kf_event
from bot.wecom_kf.event import parse_kf_event
from dispatch.payloads import CardAction
from tests.conftest import auth
from tests.resident_stage import PHONE, REPORT, act, completed

CORP, AGENT, SECRET = "wwtestcorp0001", 1000002, "app-secret"
TOKEN, AES_KEY = "QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"


def number_in(text: str) -> str:
    return text.split("单号 ")[1].split()[0]


# ---- WeCom app: a member of the company as the resident ------------------------------------------------

@dataclass
class Wecom:
    client: object
    app: object
    fake: object
    crypto: WecomCrypto
    clock: object
    msgid: int = 5000

    async def post(self, xml: str) -> None:
        ts = str(int(self.clock.now().timestamp()))
        envelope = self.crypto.encrypt(xml, timestamp=ts, nonce="n1")
        params = {"msg_signature": xmltodict.parse(envelope)["xml"]["MsgSignature"], "timestamp": ts, "nonce": "n1"}
        resp = await self.client.post("/wecom/callback", params=params, data=envelope)
        assert resp.status == 200, await resp.text()
        await run_pending(services_of(self.app))

    async def say(self, user: str, text: str) -> None:
        self.msgid += 1
        await self.post(callback_xml(CORP, user, int(self.clock.now().timestamp()), "text", AGENT, Content=text,
                                     MsgId=self.msgid))

    async def press(self, user: str, task: str, key: str) -> None:
        self.clock.advance(1)  # a second press is another event (WeCom keys events on the user and the second)
        await self.post(callback_xml(CORP, user, int(self.clock.now().timestamp()), "event", AGENT,
                                     Event="template_card_event", EventKey=key, TaskId=task,
                                     ResponseCode=self.fake.click_code(user, task), CardType="button_interaction"))

    def texts(self, user: str) -> list[str]:
        return [s["payload"]["text"]["content"] for s in self.fake.sent_to(user) if s.get("msgtype") == "text"]

    def cards(self, user: str) -> list[dict]:
        return [s["payload"]["template_card"] for s in self.fake.sent_to(user) if s.get("msgtype") == "template_card"]


@pytest.fixture
async def wecom(aiohttp_client, make_settings, clock, backend):
    port = unused_port()
    settings = make_settings(
        wecom={"corp_id": CORP, "agent_id": AGENT, "secret": SECRET, "token": TOKEN, "encoding_aes_key": AES_KEY,
               "api_base": f"http://127.0.0.1:{port}/sim/wecom"},
        trades=[{"key": "plumbing", "name": "水"}],
        staff=[{"name": "张师傅", "role": "technician", "trades": ["plumbing"], "phone": "13800000001",
                "wecom_userid": "zhangsan"}])
    app = create_app(settings, clock=clock, run_background=False, redis_prefix=backend.prefix)
    fake = setup_fake_wecom(app, corp_id=CORP, secret=SECRET, clock=clock)
    client = await aiohttp_client(app, server_kwargs={"port": port})
    services_of(app).channels["wecom"].client.backoff = 0
    return Wecom(client, app, fake, WecomCrypto(TOKEN, AES_KEY, CORP, clock), clock)


async def test_wecom_a_quote_shows_buttons_and_a_press_agrees(wecom):
    for text in REPORT:
        await wecom.say("resident01", text)
    number = number_in(wecom.texts("resident01")[-1])
    [job] = wecom.cards("zhangsan")
    await wecom.press("zhangsan", job["task_id"], CardAction("accept", number).encode())
    await act(wecom.app, number, "arrive", channel="wecom")
    await act(wecom.app, number, "quote", {"items": [{"name": "更换角阀", "amount": "80"},
                                                     {"name": "人工", "amount": "40"}]}, channel="wecom")
    [question] = [c for c in wecom.cards("resident01") if number in str(c)]
    assert question["card_type"] == "button_interaction"
    assert [(b["text"], b["key"]) for b in question["button_list"]] == [("同意", "opt|同意"), ("不同意", "opt|不同意")]
    assert "合计 120 元" in question["sub_title_text"]
    await wecom.press("resident01", question["task_id"], "opt|同意")
    resp = await wecom.client.get(f"/api/v1/tickets/{number}", headers=auth())
    assert (await resp.json())["status"] == "quote_accepted"
    assert "已确认您同意" in wecom.texts("resident01")[-1]
    assert any("已同意" in t for t in wecom.texts("zhangsan"))
    [greyed] = [s for s in wecom.fake.sent if s.get("kind") == "card_update" and s["user"] == "resident01"]
    assert greyed["payload"]["button"]["replace_name"] == "已选择「同意」"
    await wecom.press("resident01", question["task_id"], "opt|不同意")  # the same card pressed again
    assert "没有需要回复「不同意」" in wecom.texts("resident01")[-1]
    resp = await wecom.client.get(f"/api/v1/tickets/{number}", headers=auth())
    assert (await resp.json())["status"] == "quote_accepted"


# ---- 微信客服: options are a tap menu, a tap comes back as the typed word ---------------------------------

KFID, ALICE = "wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q", "wmAlice000000000000000000000001"


async def test_wecom_kf_signoff_is_a_menu_and_the_typed_answer_verifies(aiohttp_client, make_settings, clock,
                                                                          backend):
    port = unused_port()
    settings = make_settings(
        wecom={"corp_id": "ww-test-corp", "agent_id": 1000002, "secret": "wecom-secret", "token": "cb-token",
               "encoding_aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
               "api_base": f"http://127.0.0.1:{port}/sim/wecom-kf"},
        staff=[{"name": "张师傅", "role": "technician", "trades": ["plumbing"], "phone": "13800000001",
                "sim_user": "zhangsan"}])
    app = create_app(settings, clock=clock, run_background=False, redis_prefix=backend.prefix)
    fake = setup_fake_kf(app, clock=clock, corp_id="ww-test-corp", secret="wecom-secret")
    await aiohttp_client(app, server_kwargs={"port": port})
    services = services_of(app)

    async def say(text: str) -> None:
        fake.customer_says(KFID, ALICE, text)
        await offer_kf_event(services.inbox, parse_kf_event(fake.event_xml(KFID)))
        await run_pending(services)
    for text in REPORT:
        await say(text)
    number = number_in(fake.sent[-1]["text"]["content"])
    await completed(app, number)   # the technician on another platform (the simulator's account here)
    menu = fake.sent[-1]
    assert menu["touser"] == ALICE and menu["msgtype"] == "msgmenu"
    assert [i["click"]["content"] for i in menu["msgmenu"]["list"]] == ["已修好", "没修好"]
    assert number in menu["msgmenu"]["head_content"]
    await say("已修好")   # what tapping the menu entry sends
    async with services.sessions() as s:
        from dispatch.tickets import get_ticket
        t = await get_ticket(s, number)
        assert (t.status, t.signoff) == ("verified", "fixed")
    assert any("已验收" in m.get("text", {}).get("content", "") for m in fake.sent)


# ---- Feishu: an interactive card with buttons; a click is the typed answer ------------------------------

async def test_feishu_the_survey_is_a_card_and_a_click_scores(aiohttp_client, make_settings, clock, backend):
    port = unused_port()
    settings = make_settings(
        feishu={"app_id": "cli_test", "app_secret": "s", "verification_token": "vt", "encrypt_key": "ek",
                "api_base": f"http://127.0.0.1:{port}/sim/feishu"},
        trades=[{"key": "plumbing", "name": "水"}],
        staff=[{"name": "张师傅", "role": "technician", "trades": ["plumbing"], "phone": "13800000001",
                "feishu_open_id": "ou_t1"},
               {"name": "王主管", "role": "supervisor", "trades": ["plumbing"], "phone": "13800000009",
                "feishu_open_id": "ou_sup"}])
    app = create_app(settings, clock=clock, run_background=False, redis_prefix=backend.prefix)
    fake = setup_fake_feishu(app, app_id="cli_test", app_secret="s", clock=clock)
    client = await aiohttp_client(app, server_kwargs={"port": port})
    push = FeishuPusher("vt", "ek", clock=clock)

    async def post(payload: dict, path: str = "/feishu/events") -> dict:
        headers, body = push.request(payload)
        resp = await client.post(path, data=body, headers=headers)
        assert resp.status == 200, await resp.text()
        answer = await resp.json()
        await run_pending(services_of(app))
        return answer

    for text in REPORT:
        await post(push.message(open_id="ou_resident", content={"text": text}))
    [created] = [m for m in fake.sent_to("ou_resident") if "单号" in m["content"].get("text", "")]
    number = number_in(created["content"]["text"])
    await completed(app, number, channel="feishu", user="ou_t1")
    await post(push.message(open_id="ou_resident", content={"text": "已修好"}))
    [survey] = [m for m in fake.sent_to("ou_resident", "interactive") if "打分" in str(m["content"])]
    buttons = [b for el in survey["content"]["body"]["elements"] for col in el.get("columns", [])
               for b in col["elements"]]
    assert [b["text"]["content"] for b in buttons] == ["5", "4", "3", "2", "1"]
    assert buttons[0]["behaviors"][0]["value"] == {"p": "opt|5"}
    answer = await post(push.card_action(open_id="ou_resident", value={"p": "opt|5"}, chat_id=survey["chat_id"],
                                         message_id=survey["message_id"], event_id="ev-score-1"), "/feishu/card")
    assert answer["toast"]["content"] == "已选择「5」"
    # Feishu retries a click it got no answer to: the same event id scores once.
    await post(push.card_action(open_id="ou_resident", value={"p": "opt|5"}, chat_id=survey["chat_id"],
                                message_id=survey["message_id"], event_id="ev-score-1"), "/feishu/card")
    t = await (await client.get(f"/api/v1/tickets/{number}", headers=auth())).json()
    assert t["status"] == "closed" and [e["action"] for e in t["events"]].count("survey_done") == 1
    [thanks] = [m for m in fake.sent_to("ou_resident", "interactive") if "感谢您的评价" in str(m["content"])]
    assert "跳过" in str(thanks["content"])  # the comment's question, with 跳过 as its button
    # A click and a typed message are one conversation: the next message is the survey's comment.
    await post(push.message(open_id="ou_resident", content={"text": "师傅很细心"}))
    t = await (await client.get(f"/api/v1/tickets/{number}", headers=auth())).json()
    assert [e["details"] for e in t["events"] if e["action"] == "survey_comment"] == [{"comment": "师傅很细心"}]


# ---- Official Account: the 48 h window closed, the question is shown to staff with a phone --------------

async def test_a_signoff_question_outside_the_48h_window_is_listed_with_the_phone(aiohttp_client, make_settings,
                                                                                  clock, backend):
    from bot.sim.wechat_mp_api import setup_fake_mp
    from tests.test_wechat_mp import APP_ID, OPENID, SECRET as MP_SECRET, TOKEN as MP_TOKEN, Mp

    port = unused_port()
    settings = make_settings(wechat_mp={"app_id": APP_ID, "secret": MP_SECRET, "token": MP_TOKEN,
                                        "api_base": f"http://127.0.0.1:{port}/sim/mp"},
                             staff=[{"name": "张师傅", "role": "technician", "trades": ["plumbing"],
                                     "phone": "13800000001", "sim_user": "zhangsan"}])
    app = create_app(settings, clock=clock, run_background=False, redis_prefix=backend.prefix)
    fake = setup_fake_mp(app, clock=clock, app_id=APP_ID, secret=MP_SECRET)
    client = await aiohttp_client(app, server_kwargs={"port": port})
    mp = Mp(client, app, fake, clock, safe=False)
    for text in REPORT:
        fake.user_wrote(OPENID)
        assert (await mp.post(mp.xml(text))).status == 200
        await mp.drain()
    [number] = [number_in(m["text"]["content"]) for m in fake.sent if "单号" in m.get("text", {}).get("content", "")]
    await act(app, number, "accept")
    await act(app, number, "arrive")
    clock.advance(timedelta(hours=49).total_seconds())   # a long repair: the resident last wrote 49 h ago
    await act(app, number, "complete", {"minutes": 600})
    resp = await client.get("/api/v1/undelivered", headers=auth())
    [row] = [i for i in (await resp.json())["undelivered"] if i["ticket"] == number]
    assert row["status"] == "undeliverable" and row["channel"] == "wechat_mp" and row["user"] == OPENID
    assert row["call"] == PHONE and "window_closed" in row["error"]
    assert "已完工" in row["text"] and "已修好" in row["text"]   # what to ask on the phone
