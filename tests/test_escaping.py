"""Resident text stays text: no link, heading, bold, tag or @mention in WeCom markdown or text, Feishu cards,
the Official Account's text, or the simulator page (autoescaped HTML)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from aiohttp.test_utils import unused_port

from bot.app import create_app
from bot.runtime import run_pending
from bot.services import services_of
from bot.feishu import render as feishu_render
from bot.sim.wecom_api import FAKE_WECOM
from bot.wecom import render
from dispatch.cards import Card
from templates.texts import Texts
from tests.conftest import Sim
from tests.test_wechat_mp import OPENID as MP_OPENID
from tests.test_wechat_mp import make_mp  # noqa: F401 (a fixture)
from tests.test_wecom_kf import ALICE, BOB, _customer_wrote, kf  # noqa: F401 (kf is a fixture)

HOSTILE = [
    "[点我](http://evil.example)",
    "# 标题",
    "**粗**",
    "<@all>",
    '<a href="http://evil.example">点我</a>',
    "`code` _斜_ ~~删~~ > 引用 &#91;x&#93;",
    "<font color=\"warning\">红</font>",
    "水管爆了\n# 假标题\n> 电话：110",
]


def _inert_markdown(md: str, hostile: str) -> None:
    """Nothing of `hostile` forms WeCom markdown; its words are still there to read."""
    assert "](" not in md and "://" not in md.replace("](http://testserver", "")
    assert "<@" not in md and "<a" not in md.lower() and "**粗**" not in md
    assert not any(line.lstrip().startswith("#") for line in md.splitlines())
    assert md.count("<font") == md.count("</font>") == sum(1 for _ in re.finditer(r'<font color="', md))
    for word in re.findall(r"[\u4e00-\u9fff]+|evil\.example|all|code", hostile):
        assert word in md, word


@pytest.mark.parametrize("hostile", HOSTILE)
def test_wecom_markdown_shows_resident_text_as_typed_and_inert(hostile):
    card = Card(title="水维修 · BX20261129-0001", fields=(("地点", hostile), ("问题", hostile),
                                                          ("报修人", f"{hostile} 138****8000")),
                status=hostile, emergency=True)
    md = render.markdown(card)
    _inert_markdown(md, hostile)
    # Exactly our own lines: a title, one quote line per field, the status.
    assert len(md.splitlines()) == 1 + 3 + 1
    assert all(line.startswith("> ") for line in md.splitlines()[1:4])
    assert "138＊＊＊＊8000" in md   # a masked phone does not turn bold


def test_wecom_text_messages_break_link_tags_and_keep_the_characters():
    text = '问题：<a href="http://evil.example">点我</a> < A HREF=x>y</ a>'
    for payload in (render.text_payload("u", text)["text"]["content"], render.chat_text("c", text)["text"]["content"]):
        assert not re.search(r"<\s*/?\s*a\b", payload, re.IGNORECASE)
        assert payload.replace("\u200b", "") == text


async def test_a_hostile_description_reaches_the_trades_wecom_group_inert(aiohttp_client, make_settings, clock,
                                                                            backend):
    """End to end: a resident's description in the markdown notice posted to the plumbers' group chat."""
    port = unused_port()
    settings = make_settings(service={"public_url": f"http://127.0.0.1:{port}"},
                             trades=[{"key": "plumbing", "name": "水", "wecom_chat_id": "wr_plumbing"}])
    app = create_app(settings, clock=clock, run_background=False, redis_prefix=backend.prefix, demo_wecom=True)
    client = await aiohttp_client(app, server_kwargs={"port": port})
    app[FAKE_WECOM].add_chat("wr_plumbing")
    hostile = "[点我](http://evil.example) **粗** <@all> # 标题"
    for text in (f"3栋2单元1502卫生间水管爆了 {hostile} 王女士 13812345678", "确认"):
        resp = await client.post("/sim/api/wecom/say", json={"user": "r1", "text": text})
        assert (await resp.json())["callback_status"] == 200
        await run_pending(services_of(app))
    group = [s for s in app[FAKE_WECOM].sent if s["kind"] == "appchat" and s["msgtype"] == "markdown"]
    assert len(group) == 1
    md = group[0]["payload"]["markdown"]["content"]
    assert "BX20261129-0001" in md and "水管爆了" in md and "点我" in md and "evil" in md
    _inert_markdown(md, "点我 粗 all 标题")


@pytest.mark.parametrize("hostile", HOSTILE)
def test_feishu_card_markdown_escapes_resident_text(hostile):
    card = feishu_render.card(Card(title=hostile, fields=(("问题", hostile),), body=hostile, status=hostile))
    assert card["header"]["title"] == {"tag": "plain_text", "content": hostile}   # plain text: shown as typed
    for el in card["body"]["elements"]:
        assert el["tag"] == "markdown"
        content = el["content"].removeprefix("**问题**：")
        if content.startswith("**") and content.endswith("**"):   # the status, bold by us
            content = content[2:-2]
        assert not re.search(r"[\\`*_~\[\]()#<>]|://", re.sub(r"&#\d+;", "", content)), content
        decoded = re.sub(r"&#(\d+);", lambda m: chr(int(m.group(1))), content)
        assert decoded == hostile   # Feishu decodes the numeric entities: the reader sees what was typed


def test_feishu_text_messages_break_at_tags():
    body = feishu_render.text_content('<at user_id="all"></at> 水管爆了')["text"]
    assert "<at" not in body and body.replace("\u200b", "") == '<at user_id="all"></at> 水管爆了'


async def test_a_watchers_official_account_notice_keeps_anothers_link_tag_inert(make_mp):
    """BR-4 shows the second reporter the first one's description: on the Official Account, as text."""
    h = await make_mp()
    alice = "oAlice00000000000000000000001"
    h.fake.user_wrote(alice)
    for text in ('3栋2单元1502卫生间水管爆了 <a href="http://evil.example">点我</a> 王女士 13812345678', "确认"):
        await h.post(h.xml(text, openid=alice))
        await h.drain()
    assert await Sim(h.client).tickets()
    h.fake.sent.clear()
    h.fake.user_wrote(MP_OPENID)
    await h.post(h.xml("3栋2单元1502卫生间水管爆了"))
    await h.drain()
    sent = [m.get("text", {}).get("content") or m.get("msgmenu", {}).get("head_content", "") for m in h.fake.sent]
    notice = next(t for t in sent if "BX20261129-0001" in t)
    assert "点我" in notice and not re.search(r"<\s*/?\s*a\b", notice, re.IGNORECASE)


async def test_a_watchers_wecom_kf_notice_keeps_anothers_link_tag_inert(kf):  # noqa: F811
    """The same on WeCom 微信客服: the duplicate notice for Bob carries Alice's description as text."""
    for text in ('3栋2单元1502卫生间水管爆了 <a href="http://evil.example">点我</a> 王女士 13812345678', "确认"):
        await _customer_wrote(kf, ALICE, text)
    await _customer_wrote(kf, BOB, "3栋2单元1502卫生间水管爆了")
    texts = [m.get("text", {}).get("content") or m.get("msgmenu", {}).get("head_content", "")
             for m in kf.fake.sent if m.get("touser") == BOB]
    notice = next(t for t in texts if "BX20261129-0001" in t)
    assert "点我" in notice and not re.search(r"<\s*/?\s*a\b", notice, re.IGNORECASE)


# --- the simulator page: jinja autoescaping for every HTML template --------------------------------

HTML_TEMPLATES = sorted(p.relative_to(Path(Texts().env.loader.searchpath[0])).as_posix()
                        for p in Path(Texts().env.loader.searchpath[0]).rglob("*")
                        if p.is_file() and ".htm" in p.name)


def test_there_is_an_html_template_to_check():
    assert "sim/index.html.j2" in HTML_TEMPLATES


@pytest.mark.parametrize("name", HTML_TEMPLATES)
def test_every_html_template_is_autoescaped(name):
    env = Texts().env
    assert env.autoescape(name) if callable(env.autoescape) else env.autoescape


def test_html_templates_escape_and_chat_templates_do_not(tmp_path):
    (tmp_path / "page.html.j2").write_text("<p>{{ v }}</p>", encoding="utf-8")
    (tmp_path / "page.html").write_text("<p>{{ v }}</p>", encoding="utf-8")
    (tmp_path / "chat.j2").write_text("问题：{{ v }}", encoding="utf-8")
    texts = Texts(directory=str(tmp_path))
    v = "<script>alert(1)</script>"
    for name in ("page.html.j2", "page.html"):
        assert texts.render(name, v=v) == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
    assert texts.render("chat.j2", v=v) == f"问题：{v}"   # a chat message is text, not HTML


def test_the_simulator_page_inserts_text_never_html():
    """Every sentence on the page arrives as data (resident text included): it must go in as text."""
    page = (Path(Texts().env.loader.searchpath[0]) / "sim" / "index.html.j2").read_text(encoding="utf-8")
    assert "insertAdjacentHTML" not in page and "outerHTML" not in page and "document.write" not in page
    assert re.findall(r"innerHTML\s*=\s*([^;]+);", page) == ["''"] * len(re.findall(r"innerHTML", page))

